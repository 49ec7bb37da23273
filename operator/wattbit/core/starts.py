"""Where and when pending workloads start: cost every (region, start slot), assign under capacity.

This module's one job is the pending half of `wattbit.core.planner.decide`:

- every feasible option is costed at once with numpy (energy x carbon-adjusted rate,
  integrated over the run); a later start is charged the policy's minimum saving, so waiting
  wins only when it saves at least that much;
- options are assigned under free GPUs and power per slot: greedily, urgent work first, each
  workload its cheapest option that fits (spilling to the next region or slot: no herding), or
  exactly with HiGHS (`wattbit.core.assignment`) when capacity forced a choice and the problem
  is small;
- carbon-agnostic fallbacks (`DeadlineAtRisk`, `SignalsUnavailable`) run now, home first.

WARNING: pure; the rule chains have already settled holds (`wattbit.core.rules`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from wattbit.core.assignment import CapacityLedger, Option, assign_exactly
from wattbit.core.context import (
    EPS,
    PlanContext,
    build_figures,
    describe,
    hold,
    money,
    windows,
)
from wattbit.core.cost import FloatArray
from wattbit.core.model import (
    SECONDS_PER_DAY,
    Decision,
    DecisionKind,
    Policy,
    Reason,
    WorkloadSnapshot,
)
from wattbit.core.rules import Verdict

WAIT_CHARGE_PERIOD_S = SECONDS_PER_DAY / 2
"""A wait must save the policy's minimum share per this much waiting (`waiting_charge`)."""


def place_agnostic(
    workload: WorkloadSnapshot,
    verdict: Verdict,
    eligible: NDArray[np.bool_],
    ledger: CapacityLedger,
    ctx: PlanContext,
) -> Decision:
    """Run now: on stale signals home first, then any region that fits; when the deadline
    is at risk, the cheapest fresh region over the run that fits (the start is now wherever
    it runs, so choosing the region risks nothing; home-first gave that saving away)."""
    grid = ctx.grid
    end = ctx.start + ctx.runtime_slots(workload)
    now_rate = grid.unit_cost_jpy_per_it_kwh[:, 0]
    home = grid.index(workload.home_region)
    regions: list[int] = np.flatnonzero(eligible).tolist()
    if verdict.reason is Reason.DEADLINE_AT_RISK:
        run_cost = ctx.curve.between(np.array(regions, dtype=np.intp), ctx.start, end).tolist()
        rank = dict(zip(regions, run_cost, strict=True))
        order = sorted(
            regions,
            key=lambda r: (not grid.fresh[r], rank[r] if grid.fresh[r] else 0.0, r != home, r),
        )
    else:
        order = sorted(
            regions,
            key=lambda r: (r != home, not grid.fresh[r], now_rate[r] if grid.fresh[r] else 0.0, r),
        )
    for region in order:
        option = Option(
            workload=0,
            region=int(region),
            first_slot=0,
            end_slot=ctx.end_slot(end),
            gpus=float(workload.gpus),
            power_kw=workload.busy_kw * float(grid.pue[region]),
            cost_jpy=0.0,
        )
        if ledger.fits(option):
            ledger.reserve(option)
            plan = ctx.window(int(region), ctx.start, end, workload)
            name = grid.names[region]
            return Decision(
                workload_id=workload.workload_id,
                kind=DecisionKind.RUN_NOW,
                reason=verdict.reason,
                message=f"{verdict.message}; placed in {name}",
                region=name,
                start_at=ctx.now,
                figures=build_figures(workload, plan, None, None, ctx, end=end),
                occupancy=(option.first_slot, option.end_slot),
            )
    return hold(
        workload,
        Reason.INSUFFICIENT_CAPACITY,
        f"{verdict.message}, but no eligible region has {workload.gpus} GPUs "
        "and the power free now",
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class StartOptions:
    """Every (region, start slot) option of a batch of pending workloads, costed.

    Flat option index = region * slots + slot; slot 0 starts now, slot k at its beginning.
    """

    batch: Sequence[WorkloadSnapshot]
    positions: FloatArray
    """Start position (slots from the horizon's start) of each start slot."""
    runtime: FloatArray
    latest: FloatArray
    """Latest start (slots) of each workload."""
    it_kwh: FloatArray
    """GPU energy per full slot of each workload."""
    cost: FloatArray
    """workloads x options: carbon-adjusted cost, plus the waiting charge; inf if infeasible."""
    now_cost: FloatArray
    """workloads x regions: cost of starting now (inf where not allowed or stale)."""
    required: FloatArray
    """workloads x start slots: the saving a start in each slot must show over starting now
    (`waiting_charge`; 0 for now)."""
    ranked: NDArray[np.intp]
    """workloads x K: the cheapest options, cheapest first."""
    short_index: NDArray[np.intp]
    """workloads x (K + 2 regions): the ranked options, then each region's best and now."""
    end_slots: NDArray[np.intp]
    """workloads x slots: first slot after the run for each start slot."""
    pue: list[float]

    @property
    def slots(self) -> int:
        return int(self.positions.size)

    def option(self, row: int, flat_index: int) -> Option:
        region, slot = divmod(flat_index, self.slots)
        workload = self.batch[row]
        return Option(
            workload=row,
            region=region,
            first_slot=slot,
            end_slot=int(self.end_slots[row, slot]),
            gpus=float(workload.gpus),
            power_kw=workload.busy_kw * self.pue[region],
            cost_jpy=float(self.cost[row, flat_index]),
        )

    def first_fit(self, row: int, indices: NDArray[np.intp], room: CapacityLedger) -> Option | None:
        """The first of `indices` (cheapest first) that is feasible and fits; reserved."""
        workload = self.batch[row]
        gpus, busy_kw = float(workload.gpus), workload.busy_kw
        values, ends = self.cost[row], self.end_slots[row]
        for flat_index in indices.tolist():
            if not math.isfinite(values[flat_index]):
                continue
            region, slot = divmod(flat_index, self.slots)
            if room.fits_range(region, slot, int(ends[slot]), gpus, busy_kw * self.pue[region]):
                option = self.option(row, flat_index)
                room.reserve(option)
                return option
        return None

    def fitting_per_region(self, row: int, room: CapacityLedger) -> list[Option]:
        """Each region's cheapest option that fits `room` on its own (capacity-aware
        candidates: the short list may hold only starts that are already taken)."""
        regions = self.cost.shape[1] // self.slots
        by_region = self.cost[row].reshape(regions, self.slots)
        workload = self.batch[row]
        found = []
        for region in range(regions):
            for slot in np.argsort(by_region[region], kind="stable").tolist():
                if not math.isfinite(by_region[region, slot]):
                    break
                end = int(self.end_slots[row, slot])
                power_kw = workload.busy_kw * self.pue[region]
                if room.fits_range(region, slot, end, float(workload.gpus), power_kw):
                    found.append(self.option(row, region * self.slots + slot))
                    break
        return found

    def short_list(self, row: int) -> list[Option]:
        """The short list's feasible options, without repeats."""
        unique = dict.fromkeys(int(i) for i in self.short_index[row])
        return [self.option(row, i) for i in unique if math.isfinite(self.cost[row, i])]


def cost_starts(
    batch: Sequence[WorkloadSnapshot],
    eligible: NDArray[np.bool_],
    ctx: PlanContext,
    room: CapacityLedger,
) -> StartOptions:
    """Cost every start option of `batch` (eligible: workloads x regions) at once.

    `room` says which regions could take each workload now; the best of those is what a wait
    must beat (all eligible regions when none could).
    """
    grid, policy = ctx.grid, ctx.policy
    regions, slots = grid.adjusted_jpy_per_kwh.shape
    runtime = np.array([ctx.runtime_slots(w) for w in batch])
    latest = np.array([ctx.latest_start(w) for w in batch])
    it_kwh = np.array([w.busy_kw for w in batch]) * ctx.slot_h
    positions = np.arange(slots, dtype=np.float64)
    positions[0] = ctx.start
    start_ok = positions[None, :] <= latest[:, None] + EPS
    if not policy.allow_waiting:
        start_ok[:, 1:] = False
    region_ok = eligible & grid.fresh[None, :]
    region_index = np.arange(regions)
    cost = ctx.curve.windows(positions, runtime)
    cost *= it_kwh[:, None, None]
    end_slots = np.minimum(
        slots, np.maximum(1, np.ceil(positions[None, :] + runtime[:, None] - EPS))
    ).astype(np.intp)
    fits_now = _fits_now(batch, end_slots[:, 0], room, grid.pue)
    now_ok = region_ok & fits_now
    now_ok[~now_ok.any(axis=1)] = region_ok[~now_ok.any(axis=1)]
    now_cost = np.where(now_ok, cost[:, :, 0], np.inf)
    share = policy.min_saving_fraction + policy.forecast_uncertainty_fraction
    required = np.maximum(policy.min_saving_jpy, share * np.abs(now_cost.min(axis=1)))
    charge = waiting_charge(required, positions - ctx.start, ctx)
    cost[:, :, 1:] += charge[:, None, 1:]
    # In place: a boolean mask as large as `cost` would cost more than the arithmetic.
    cost[~region_ok] = np.inf
    cost += np.where(start_ok, 0.0, np.inf)[:, None, :]
    flat = cost.reshape(len(batch), regions * slots)
    ranked = _cheapest(flat, min(policy.options_per_workload, regions * slots))
    # Each region's cheapest start and its start now as well: the exact assignment then
    # always has somewhere else to put a workload.
    region_best = np.argmin(cost, axis=2) + region_index[None, :] * slots
    region_now = np.broadcast_to(region_index[None, :] * slots, (len(batch), regions))
    return StartOptions(
        batch=batch,
        positions=positions,
        runtime=runtime,
        latest=latest,
        it_kwh=it_kwh,
        cost=flat,
        now_cost=now_cost,
        required=charge,
        ranked=ranked,
        short_index=np.concatenate([ranked, region_best, region_now], axis=1),
        end_slots=end_slots,
        pue=grid.pue.tolist(),
    )


def _cheapest(cost: FloatArray, keep: int) -> NDArray[np.intp]:
    """rows x `keep`: each row's `keep` cheapest columns, cheapest first (stable on ties).

    In blocks of rows: `argpartition` builds an index array as large as its input.
    """
    ranked = np.empty((cost.shape[0], keep), dtype=np.intp)
    for first in range(0, cost.shape[0], _RANK_BLOCK_ROWS):
        block = cost[first : first + _RANK_BLOCK_ROWS]
        top = np.argpartition(block, keep - 1, axis=1)[:, :keep]
        order = np.argsort(np.take_along_axis(block, top, axis=1), axis=1, kind="stable")
        ranked[first : first + _RANK_BLOCK_ROWS] = np.take_along_axis(top, order, axis=1)
    return ranked


_RANK_BLOCK_ROWS = 512


def waiting_charge(required: FloatArray, delay_slots: FloatArray, ctx: PlanContext) -> FloatArray:
    """workloads x start slots: what a start `delay_slots` later must save over starting now.

    The minimum share is asked per half day of waiting (`WAIT_CHARGE_PERIOD_S`), so the
    charge grows linearly with the wait. A flat charge on every later start (as before) is
    not time-consistent: re-decided each hour, a wait planned for a cheap window erodes as that
    window nears (the best start now gets cheaper while the charge stays) and the workload
    starts early, giving back up to the whole minimum. A linear charge moves every later start
    by the same amount from one hour to the next, so the planned start stays the best. Half a
    day reaches the next trough of the daily cycle for about the old flat minimum; longer
    waits, which rest on hours past the forecast, must save more. `min_saving_jpy` stays a
    flat floor.
    """
    period_slots = max(1.0, WAIT_CHARGE_PERIOD_S / ctx.horizon.slot_s)
    per_slot = (required / period_slots)[:, None]
    flat = np.where(delay_slots > EPS, ctx.policy.min_saving_jpy, 0.0)[None, :]
    return np.asarray(np.maximum(flat, per_slot * delay_slots[None, :]), dtype=np.float64)


def _fits_now(
    batch: Sequence[WorkloadSnapshot],
    end_slot: NDArray[np.intp],
    room: CapacityLedger,
    pue: FloatArray,
) -> NDArray[np.bool_]:
    """workloads x regions: the region has the GPUs and power for the run starting now."""
    # The least free over [0, end) is a running minimum, read at end - 1.
    gpus_min = np.minimum.accumulate(room.free_gpus, axis=1)[:, end_slot - 1].T
    power_min = np.minimum.accumulate(room.power_headroom_kw, axis=1)[:, end_slot - 1].T
    gpus = np.array([w.gpus for w in batch], dtype=np.float64)[:, None]
    power = np.array([w.busy_kw for w in batch])[:, None] * pue[None, :]
    return np.asarray((gpus_min >= gpus - EPS) & (power_min >= power - EPS), dtype=np.bool_)


def assign_starts(
    options: StartOptions, ledger: CapacityLedger, max_exact_options: int
) -> tuple[list[int], list[Option | None]]:
    """Assign the options under `ledger` (reserved there); returns the order and the picks.

    Greedy: urgent first (earliest latest start), then bigger workloads first (the hardest to
    fit later), each its cheapest option that fits. If capacity forced anyone off their
    cheapest option and the problem is small, HiGHS solves it exactly instead, with each
    workload's greedy pick among its options so the answer is never worse.
    """
    batch = options.batch
    order = sorted(range(len(batch)), key=lambda row: (options.latest[row], -batch[row].gpus, row))
    before = CapacityLedger(ledger.free_gpus, ledger.power_headroom_kw)
    greedy = CapacityLedger(ledger.free_gpus, ledger.power_headroom_kw)
    chosen: list[Option | None] = []
    contended = False
    for row in order:
        pick = options.first_fit(row, options.short_index[row], greedy)
        if pick is None:  # the short list did not fit: every option, cheapest first
            pick = options.first_fit(row, np.argsort(options.cost[row], kind="stable"), greedy)
        first_choice = int(options.ranked[row, 0])
        contended |= pick is None or pick.region * options.slots + pick.first_slot != first_choice
        chosen.append(pick)
    result = greedy
    if contended and len(order) * options.short_index.shape[1] <= 2 * max_exact_options:
        candidates = []
        for position, row in enumerate(order):
            listed = options.short_list(row) + options.fitting_per_region(row, before)
            pick = chosen[position]
            if pick is not None:
                listed.append(pick)
            candidates.append(list(dict.fromkeys(listed)))
        if sum(len(listed) for listed in candidates) <= max_exact_options:
            exact = assign_exactly(candidates, before)
            if exact is not None:
                chosen, result = exact, before
    ledger.free_gpus[:] = result.free_gpus
    ledger.power_headroom_kw[:] = result.power_headroom_kw
    return order, chosen


@dataclass(frozen=True, slots=True, kw_only=True)
class PendingPlan:
    """What `place_pending` decided, for the passes after it."""

    options: StartOptions
    policy: Policy
    indices: list[int]
    """Workload index of each row of `options`."""
    placed: list[tuple[int, Option]]
    """(row, option) of every workload that got a start, in assignment order."""


def place_pending(
    *,
    workloads: Sequence[WorkloadSnapshot],
    normal: list[int],
    eligible: NDArray[np.bool_],
    ledger: CapacityLedger,
    decisions: list[Decision | None],
    ctx: PlanContext,
) -> PendingPlan | None:
    """Cost, assign and explain the pending workloads at `normal` (indices into workloads)."""
    if not normal:
        return None
    batch = [workloads[i] for i in normal]
    options = cost_starts(batch, eligible[normal], ctx, ledger)
    order, chosen = assign_starts(options, ledger, ctx.policy.exact_assignment_max_options)
    for position, row in enumerate(order):
        if chosen[position] is None:
            workload = batch[row]
            decisions[normal[row]] = hold(
                workload,
                Reason.INSUFFICIENT_CAPACITY,
                f"held: no eligible region has {workload.gpus} GPUs and the power free "
                "in any slot that meets the deadline",
            )
    placed = [(order[p], option) for p, option in enumerate(chosen) if option is not None]
    for (row, _), decision in zip(placed, start_decisions(options, placed, ctx), strict=True):
        decisions[normal[row]] = decision
    return PendingPlan(options=options, policy=ctx.policy, indices=normal, placed=placed)


def start_decisions(
    options: StartOptions, placed: list[tuple[int, Option]], ctx: PlanContext
) -> list[Decision]:
    """A RunNow or Wait for each placed workload, with figures against its home region."""
    grid = ctx.grid
    rows = np.array([row for row, _ in placed], dtype=np.intp)
    begin = options.positions[np.array([o.first_slot for _, o in placed], dtype=np.intp)]
    best_now = np.argmin(options.now_cost, axis=1)
    home = np.array([grid.index(w.home_region) for w in options.batch], dtype=np.intp)
    base_region = np.where(home >= 0, home, best_now)
    if rows.size == 0:
        return []
    plans = windows(
        ctx,
        np.array([o.region for _, o in placed], dtype=np.intp),
        begin,
        begin + options.runtime[rows],
        options.it_kwh[rows],
    )
    bases = windows(
        ctx,
        base_region[rows],
        np.full(rows.size, ctx.start),
        ctx.start + options.runtime[rows],
        options.it_kwh[rows],
    )
    out = []
    for (row, option), plan, baseline in zip(placed, plans, bases, strict=True):
        workload = options.batch[row]
        slot = option.first_slot
        base_name = grid.names[base_region[row]]
        name = grid.names[option.region]
        required = float(options.required[row, slot])
        if slot == 0:
            message = (
                f"run now in {name}: {money(plan.adjusted_cost_jpy)} ({describe(plan)}) "
                f"vs {money(baseline.adjusted_cost_jpy)} in {base_name}"
            )
            kind, reason, start_at = DecisionKind.RUN_NOW, Reason.LOWEST_COST, ctx.now
        else:
            start_at = ctx.horizon.slot_start(slot)
            best = int(best_now[row])
            saving = float(options.now_cost[row, best]) - plan.adjusted_cost_jpy
            kind, reason = DecisionKind.WAIT, Reason.WAITING_FOR_GREENER_WINDOW
            if saving >= required:
                message = (
                    f"wait: starting in {name} at {start_at.isoformat()} costs "
                    f"{money(plan.adjusted_cost_jpy)} ({describe(plan)}), {money(saving)} less "
                    f"than the best start now in {grid.names[best]} "
                    f"(minimum {money(required)})"
                )
            else:
                # Not a greener window: the cheaper starts are taken by other workloads
                # (running, or placed in this same call), and this is the best plan left.
                reason = Reason.WAITING_FOR_ROOM
                message = (
                    f"wait for room: the cheaper starts are taken by other workloads; "
                    f"starting in {name} at {start_at.isoformat()} costs "
                    f"{money(plan.adjusted_cost_jpy)} ({describe(plan)}), the best plan left"
                )
        out.append(
            Decision(
                workload_id=workload.workload_id,
                kind=kind,
                reason=reason,
                message=message,
                region=name,
                start_at=start_at,
                figures=build_figures(
                    workload,
                    plan,
                    baseline,
                    base_name,
                    ctx,
                    end=float(options.positions[slot] + options.runtime[row]),
                    required_jpy=required if slot > 0 else 0.0,
                ),
                occupancy=(option.first_slot, option.end_slot),
            )
        )
    return out
