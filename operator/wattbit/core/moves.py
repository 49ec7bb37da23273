"""Whether running workloads move: filter targets by the ordered checks, cost the plans, assign.

This module's one job is the running half of `wattbit.core.planner.decide`. Targets pass the
target checks of `wattbit.core.rules` in order (eligible, fresh, cheaper now, linked, stable
for the whole stability window, deadline with the move's delay, gain over the full move cost);
each surviving target is valued with `wattbit.core.move_cost.plan_moves` (one way, or a round
trip); moves are assigned best saving first under free capacity; every stay says which check
stopped it. Regions marked unavailable are drained whatever the gain.

WARNING: pure; no clock, no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from wattbit.core.assignment import CapacityLedger, Option
from wattbit.core.context import EPS, PlanContext, build_figures, money, stay, windows
from wattbit.core.cost import FloatArray, PlanFigures, move_cost
from wattbit.core.model import (
    Decision,
    DecisionKind,
    LinkSnapshot,
    Reason,
    WorkloadSnapshot,
)
from wattbit.core.move_cost import MovePlans, move_tensors, plan_moves
from wattbit.core.rules import MOVE_TARGET_CHECKS, apply_target_checks


@dataclass(frozen=True, slots=True, kw_only=True)
class MoveTargets:
    """Move candidates of the running workloads that reached the target checks."""

    indices: list[int]
    """Workload indices, aligned with the arrays."""
    drain: NDArray[np.bool_]
    current: NDArray[np.intp]
    stay_cost_jpy: FloatArray
    move_now_jpy: FloatArray
    """workloads x regions: cost of moving now (inf where impossible)."""
    plan_cost_jpy: FloatArray
    """workloads x regions: move now plus the onward plan (inf where not a target)."""
    survivors: NDArray[np.bool_]
    candidates: NDArray[np.bool_]
    """Targets that passed every check before the gain check."""
    failed: NDArray[np.intp]
    """Index into the checks of the one that removed the last target; -1 if none did."""
    checks: tuple[str, ...]
    required_jpy: FloatArray
    """workloads x regions: the saving each target's plan must show."""
    end_unit: FloatArray
    """workloads x regions: GPU-kWh rate of each region when the run ends."""
    leave_slot: NDArray[np.intp]
    """workloads x regions: when the onward plan leaves the target (end of reservation)."""


def end_unit_rates(end_position: FloatArray, ctx: PlanContext) -> FloatArray:
    """workloads x regions: each region's GPU-kWh rate when each run ends (where the work a
    move appends will run); past the horizon, the curve's tail rate."""
    unit = ctx.grid.unit_cost_jpy_per_it_kwh
    slots = unit.shape[1]
    last = np.minimum(np.floor(end_position).astype(np.intp), slots - 1)
    return np.where((end_position < slots)[:, None], unit[:, last].T, ctx.curve.tail_rate[None, :])


BLOCK_WORKLOADS = 64
"""Workloads whose moves are costed together: the move tensors (workloads x regions x
regions, and x slots for round trips) of a block stay in the CPU cache, where those of 10,000
workloads take hundreds of MB to allocate and fill."""


def _blocks(rows: NDArray[np.intp]) -> list[NDArray[np.intp]]:
    return np.array_split(rows, -(-rows.size // BLOCK_WORKLOADS)) if rows.size else []


@dataclass(frozen=True, slots=True, kw_only=True)
class MoveDelays:
    """workloads x targets: what a move out of each workload's current region, and back
    into it, costs in time."""

    out_s: FloatArray
    """How much later the run ends after moving current -> target."""
    back_s: FloatArray
    """How much later the run ends after moving target -> current."""
    out_downtime_s: FloatArray
    """How long the move current -> target keeps the workload from working."""

    @classmethod
    def of(
        cls, batch: Sequence[WorkloadSnapshot], current: NDArray[np.intp], ctx: PlanContext
    ) -> MoveDelays:
        regions = ctx.grid.adjusted_jpy_per_kwh.shape[0]
        out_s, back_s, downtime_s = (np.zeros((len(batch), regions)) for _ in range(3))
        targets = np.arange(regions)[None, :]
        for block in _blocks(np.arange(len(batch))):
            tensors = move_tensors([batch[i] for i in block], ctx.links, ctx.policy, ctx.now)
            rows, here = np.arange(block.size)[:, None], current[block][:, None]
            out_s[block] = tensors.delay_s(rows, here, targets)
            back_s[block] = tensors.delay_s(rows, targets, here)
            downtime_s[block] = tensors.downtime_s(rows, here, targets)
        return cls(out_s=out_s, back_s=back_s, out_downtime_s=downtime_s)


def evaluate_moves(
    workloads: Sequence[WorkloadSnapshot],
    indices: list[int],
    drains: set[int],
    eligible: NDArray[np.bool_],
    ctx: PlanContext,
) -> MoveTargets | None:
    if not indices:
        return None
    grid, policy = ctx.grid, ctx.policy
    regions, slots = grid.adjusted_jpy_per_kwh.shape
    batch = [workloads[i] for i in indices]
    count = len(batch)
    rows = np.arange(count)
    current = np.array([grid.index(w.current_region) for w in batch], dtype=np.intp)
    drain = np.array([i in drains for i in indices], dtype=np.bool_)
    runtime = np.array([ctx.runtime_slots(w) for w in batch])
    end_position = ctx.start + runtime
    it_kwh = np.array([w.busy_kw for w in batch]) * ctx.slot_h
    safe_current = np.maximum(current, 0)
    stay_cost = ctx.curve.between(safe_current, ctx.start, end_position) * it_kwh
    unit = grid.unit_cost_jpy_per_it_kwh
    end_unit = end_unit_rates(end_position, ctx)

    other = np.ones((count, regions), dtype=np.bool_)
    other[rows, safe_current] = False
    window_end = max(
        1, min(slots, math.ceil(ctx.start + policy.stability_window_s / ctx.horizon.slot_s))
    )
    cheaper = unit[None, :, :window_end] < unit[safe_current, :window_end][:, None, :]
    delays = MoveDelays.of(batch, safe_current, ctx)
    delay_slots = delays.out_s / ctx.horizon.slot_s
    deadline_position = np.array(
        [ctx.horizon.position(w.deadline) if w.deadline else np.inf for w in batch]
    )
    margin = np.array([ctx.margin_slots(w) for w in batch])
    masks: dict[str, NDArray[np.bool_]] = {
        "eligible": eligible[indices] & other,
        "cheaper_now": cheaper[:, :, 0] | drain[:, None],
        "fresh": np.broadcast_to(grid.fresh[None, :], (count, regions)),
        "linked": ctx.links.usable[safe_current],
        "stable": cheaper.all(axis=2) | drain[:, None],
        "deadline_ok": (
            end_position[:, None] + delay_slots + margin[:, None]
            <= deadline_position[:, None] + EPS
        )
        | drain[:, None],
    }
    checks = MOVE_TARGET_CHECKS
    failed = np.full(count, -1, dtype=np.intp)
    failed[~other.any(axis=1)] = 0
    before_gain = len(checks) - 1
    # Drains skip the comparison checks (they must leave; their masks are all True there)
    # but not eligibility, freshness or links.
    survivors = apply_target_checks(checks[:before_gain], masks, other, failed)

    planned = np.flatnonzero(survivors.any(axis=1))
    # A round trip needs two moves of budget, a link back, and both delays before the
    # deadline; drains never return.
    two_moves = np.array([w.move_count + 2 <= policy.max_moves for w in batch])
    return_ok = (
        end_position[:, None]
        + (delays.out_s + delays.back_s) / ctx.horizon.slot_s
        + margin[:, None]
        <= deadline_position[:, None] + EPS
    )
    plans = _plan_in_blocks(
        batch,
        planned,
        current=safe_current,
        end_position=end_position,
        it_kwh=it_kwh,
        end_unit=end_unit,
        may_return=(two_moves & ~drain)[:, None] & return_ok,
        # Back only once the move out has ended and the cooldown after it has passed.
        earliest_return=(
            ctx.start + (delays.out_downtime_s + policy.cooldown_s) / ctx.horizon.slot_s
        ),
        stay_cost=stay_cost,
        ctx=ctx,
    )
    gain_margin = plans.margin_jpy
    masks["gain_ok"] = (gain_margin >= -EPS) | drain[:, None]
    candidates = survivors.copy()
    survivors = apply_target_checks(
        checks[before_gain:], masks, survivors, failed, first_check=before_gain
    )
    return MoveTargets(
        indices=indices,
        drain=drain,
        current=current,
        stay_cost_jpy=stay_cost,
        move_now_jpy=plans.move_now_jpy,
        plan_cost_jpy=plans.cost_jpy,
        survivors=survivors,
        candidates=candidates,
        failed=failed,
        checks=tuple(check.mask for check in checks),
        required_jpy=plans.required_jpy,
        end_unit=end_unit,
        leave_slot=plans.return_slot,
    )


def _plan_in_blocks(
    batch: Sequence[WorkloadSnapshot],
    planned: NDArray[np.intp],
    *,
    current: NDArray[np.intp],
    end_position: FloatArray,
    it_kwh: FloatArray,
    end_unit: FloatArray,
    may_return: NDArray[np.bool_],
    earliest_return: FloatArray,
    stay_cost: FloatArray,
    ctx: PlanContext,
) -> MovePlans:
    """`plan_moves` for the `planned` rows of `batch`, one block of workloads at a time (a
    round trip is costed at every return slot: a block's workloads x regions x slots tensors
    stay in the CPU cache). Other rows get no plan; `return_slot` is when each plan leaves
    its target (the end of its reservation there)."""
    count, (regions, slots) = len(batch), ctx.grid.adjusted_jpy_per_kwh.shape
    out = MovePlans(
        cost_jpy=np.full((count, regions), np.inf),
        margin_jpy=np.full((count, regions), -np.inf),
        required_jpy=np.zeros((count, regions)),
        move_now_jpy=np.full((count, regions), np.inf),
        return_slot=np.full((count, regions), slots, dtype=np.intp),
    )
    policy = ctx.policy
    for block in _blocks(planned):
        plans = plan_moves(
            tensors=move_tensors([batch[i] for i in block], ctx.links, policy, ctx.now),
            grid=ctx.grid,
            curve=ctx.curve,
            current=current[block],
            start_position=ctx.start,
            end_position=end_position[block],
            it_kwh_per_slot=it_kwh[block],
            end_unit=end_unit[block],
            may_return=may_return[block],
            earliest_return=earliest_return[block],
            stay_cost_jpy=stay_cost[block],
            saving_share=policy.min_saving_fraction + policy.forecast_uncertainty_fraction,
            saving_min_jpy=policy.min_saving_jpy,
        )
        out.margin_jpy[block] = plans.margin_jpy
        out.required_jpy[block] = plans.required_jpy
        out.move_now_jpy[block] = plans.move_now_jpy
        out.cost_jpy[block] = plans.cost_jpy
        ends = np.array([ctx.end_slot(float(end_position[i])) for i in block])
        out.return_slot[block] = np.minimum(plans.return_slot, ends[:, None])
    return out


def assign_moves(
    workloads: Sequence[WorkloadSnapshot],
    moves: MoveTargets | None,
    ledger: CapacityLedger,
    decisions: list[Decision | None],
    ctx: PlanContext,
    *,
    drains_only: bool,
) -> None:
    """Give each moving workload its best target that fits; explain every stay."""
    if moves is None:
        return
    grid = ctx.grid
    rows = [row for row in range(len(moves.indices)) if bool(moves.drain[row]) == drains_only]
    saving = moves.stay_cost_jpy[:, None] - moves.plan_cost_jpy
    best_saving = np.where(moves.survivors, saving, -np.inf).max(axis=1)
    if drains_only:
        # Everyone must leave; the staying cost is moot (and unknown when the drained region
        # is stale, whose signals must never change a decision). Biggest first, so the most
        # fit (first-fit decreasing).
        rows.sort(key=lambda row: (-workloads[moves.indices[row]].gpus, row))
    else:
        rows.sort(key=lambda row: (-best_saving[row], row))
    picks: list[tuple[int, Option]] = []
    for row in rows:
        index = moves.indices[row]
        workload = workloads[index]
        targets = np.flatnonzero(moves.survivors[row])
        if targets.size == 0:
            decisions[index] = _explain_stay(workload, row, moves, ctx)
            continue
        targets = targets[np.argsort(-saving[row, targets], kind="stable")]
        picked: Option | None = None
        for region in targets:
            option = Option(
                workload=row,
                region=int(region),
                first_slot=0,
                end_slot=int(max(1, moves.leave_slot[row, region])),
                gpus=float(workload.gpus),
                power_kw=workload.busy_kw * float(grid.pue[region]),
                cost_jpy=float(moves.plan_cost_jpy[row, region]),
            )
            if ledger.fits(option):
                picked = option
                break
        if picked is None:
            prefix = "cannot drain" if moves.drain[row] else "staying"
            decisions[index] = stay(
                workload,
                Reason.INSUFFICIENT_CAPACITY,
                f"{prefix}: no better region has {workload.gpus} GPUs and the power free",
            )
            continue
        ledger.reserve(picked)
        picks.append((row, picked))
    write_moves(workloads, moves, picks, decisions, ctx)


def write_moves(
    workloads: Sequence[WorkloadSnapshot],
    moves: MoveTargets,
    picks: list[tuple[int, Option]],
    decisions: list[Decision | None],
    ctx: PlanContext,
) -> None:
    """The Move decision of each (row, option) picked, figures and itemised cost included."""
    if not picks:
        return
    # Figures of every move at once: the rest of the run there, and where it is now.
    pick_rows = np.array([row for row, _ in picks], dtype=np.intp)
    it_kwh = np.array([workloads[moves.indices[r]].busy_kw for r in pick_rows]) * ctx.slot_h
    ends = ctx.start + np.array([ctx.runtime_slots(workloads[moves.indices[r]]) for r in pick_rows])
    starts = np.full(pick_rows.size, ctx.start)
    targets = np.array([option.region for _, option in picks], dtype=np.intp)
    there = windows(ctx, targets, starts, ends, it_kwh)
    here = windows(ctx, moves.current[pick_rows], starts, ends, it_kwh)
    for item, (row, option) in enumerate(picks):
        index = moves.indices[row]
        decisions[index] = _move(
            workload=workloads[index],
            row=row,
            option=option,
            moves=moves,
            ctx=ctx,
            end=float(ends[item]),
            plan=there[item],
            baseline=here[item],
        )


def _move(
    *,
    workload: WorkloadSnapshot,
    row: int,
    option: Option,
    moves: MoveTargets,
    ctx: PlanContext,
    end: float,
    plan: PlanFigures,
    baseline: PlanFigures,
) -> Decision:
    """The Move decision, with the move's itemised cost in its figures and message."""
    grid = ctx.grid
    target = option.region
    current = int(moves.current[row])
    cost = move_cost(
        workload=workload,
        link=link_snapshot(ctx, current, target),
        policy=ctx.policy,
        now=ctx.now,
        target_adjusted_jpy_per_kwh=float(grid.adjusted_jpy_per_kwh[target, 0]),
        target_pue=float(grid.pue[target]),
        extension_adjusted_jpy_per_kwh=float(moves.end_unit[row, target] / grid.pue[target]),
    )
    net = float(moves.stay_cost_jpy[row] - moves.plan_cost_jpy[row, target])
    completion_end = end + cost.delay_s / ctx.horizon.slot_s
    figures = build_figures(
        workload,
        plan,
        baseline,
        grid.names[current],
        ctx,
        end=completion_end,
        move=cost,
        saving_jpy=net,
        required_jpy=float(moves.required_jpy[row, target]),
    )
    drain = bool(moves.drain[row])
    reason = Reason.REGION_DRAINING if drain else Reason.GREENER_REGION
    why = (
        f"{grid.names[current]} is unavailable: draining"
        if drain
        else f"saves {money(net)} over the remaining run after the move's cost"
    )
    return Decision(
        workload_id=workload.workload_id,
        kind=DecisionKind.MOVE,
        reason=reason,
        message=(
            f"move {grid.names[current]} -> {grid.names[target]}: {why} "
            f"(stay {money(float(moves.stay_cost_jpy[row]))}, move "
            f"{money(cost.cost_jpy)}: {cost.downtime_s / 60:.0f} min down, "
            f"{cost.lost_work_s / 60:.0f} min of work redone, {cost.energy_kwh:.1f} kWh)"
        ),
        region=grid.names[target],
        start_at=ctx.now,
        figures=figures,
        occupancy=(option.first_slot, option.end_slot),
        releases=(0, ctx.end_slot(end)),
    )


def link_snapshot(ctx: PlanContext, source: int, target: int) -> LinkSnapshot:
    """The link table's best link from `source` to `target`, as a snapshot."""
    grid, table = ctx.grid, ctx.links
    return LinkSnapshot(
        from_region=grid.names[source],
        to_region=grid.names[target],
        latency_ms=float(table.latency_ms[source, target]),
        bandwidth_gbps=float(table.bandwidth_gbps[source, target]),
        energy_kwh_per_gb=float(table.energy_kwh_per_gb[source, target]),
    )


def _explain_stay(
    workload: WorkloadSnapshot, row: int, moves: MoveTargets, ctx: PlanContext
) -> Decision:
    failed = int(moves.failed[row])
    check = MOVE_TARGET_CHECKS[failed if failed >= 0 else 0]
    reason = check.reason
    detail = check.explains
    if reason is Reason.GAIN_BELOW_MOVE_COST:
        saving = moves.stay_cost_jpy[row] - moves.plan_cost_jpy[row]
        usable = moves.candidates[row] & np.isfinite(saving)
        if usable.any():
            best = int(np.argmax(np.where(usable, saving, -np.inf)))
            back = int(moves.leave_slot[row, best])
            trip = (
                f" and back at {ctx.horizon.slot_start(back).isoformat()}"
                if back < ctx.slots
                else ""
            )
            detail = (
                f"moving to {ctx.grid.names[best]}{trip} would save "
                f"{money(float(saving[best]))} net of a "
                f"{money(float(moves.move_now_jpy[row, best]))} move; the minimum is "
                f"{money(float(moves.required_jpy[row, best]))}"
            )
    prefix = "cannot drain" if moves.drain[row] else "staying"
    return stay(workload, reason, f"{prefix}: {detail}")
