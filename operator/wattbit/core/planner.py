"""Batch spatio-temporal placement and migration: one call decides for every workload.

This module's one job is `decide`: given region snapshots (signals, forecast, free GPUs and
power per slot), APN links, workloads, the policy and `now`, it returns one `Decision` per
workload, in the order given. It orchestrates:

1. the rule chains (`wattbit.core.rules`), which settle holds, stays and carbon-agnostic
   fallbacks first, each with the reason of the first failing rule;
2. drains of regions marked unavailable (`wattbit.core.moves`);
3. pending workloads: every (region, start slot) option costed at once and assigned under
   capacity, greedily or exactly with HiGHS (`wattbit.core.starts`);
4. running workloads: move targets filtered by the ordered target checks, valued one way or
   as a round trip, and assigned under what capacity is left (`wattbit.core.moves`);
5. giving way: a running workload that capacity kept from moving moves after all when the
   pending plan in its way can take its next plan for less than the move saves
   (`wattbit.core.giveway`);
6. making room: a pending workload that capacity pushed off its cheapest plan gets it after
   all when moving one staying workload out of the way saves more than the move costs, now
   or at a planned slot (`wattbit.core.displace`).

No region gets more GPUs or power than it has free in any slot, counting everything decided
in the same call; the capacity a move frees is reused in that call only by the workload it
makes room for (`Decision.releases` says which slots it gives back).

WARNING: pure. No I/O, no clock (`now` is a parameter), no Kubernetes. It must not mutate its
inputs, and its output depends neither on the order of regions nor on that of links.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

import numpy as np
from numpy.typing import NDArray

from wattbit.core.assignment import CapacityLedger
from wattbit.core.context import EPS, PlanContext, fill_stay_figures, hold, stay
from wattbit.core.cost import CostCurve, FigureCurves, build_region_grid
from wattbit.core.displace import make_room
from wattbit.core.giveway import give_way
from wattbit.core.model import (
    SECONDS_PER_DAY,
    SECONDS_PER_HOUR,
    Decision,
    DecisionKind,
    Horizon,
    LinkSnapshot,
    Policy,
    RegionName,
    RegionSnapshot,
    WorkloadSnapshot,
    WorkloadState,
)
from wattbit.core.move_cost import build_link_table, last_move_downtime_s
from wattbit.core.moves import assign_moves, evaluate_moves
from wattbit.core.rules import (
    PENDING_RULES,
    RUNNING_RULES,
    PendingFacts,
    RunningFacts,
    Verdict,
    first_verdict,
)
from wattbit.core.starts import place_agnostic, place_pending


def default_horizon(now: datetime, regions: Sequence[RegionSnapshot]) -> Horizon:
    """Hourly slots from `now`, as many as the longest forecast given (at least one)."""
    longest = max(
        (max(len(r.carbon_forecast_g_per_kwh), len(r.price_forecast_jpy_per_kwh)) for r in regions),
        default=1,
    )
    return Horizon(start=now, slot_s=SECONDS_PER_HOUR, slot_count=max(1, longest))


def decide(
    *,
    regions: Sequence[RegionSnapshot],
    workloads: Sequence[WorkloadSnapshot],
    policy: Policy,
    now: datetime,
    links: Sequence[LinkSnapshot] = (),
    horizon: Horizon | None = None,
) -> tuple[Decision, ...]:
    """Decide for every workload at once (see the module docstring); one call per reconcile."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    grid_horizon = horizon or default_horizon(now, regions)
    start = grid_horizon.position(now)
    if not 0.0 <= start < 1.0:
        raise ValueError("now must fall within the horizon's first slot")
    grid = build_region_grid(regions, grid_horizon, policy, now)
    # Past the forecast, each curve repeats the last day (see `CostCurve`).
    day = round(SECONDS_PER_DAY / grid_horizon.slot_s)
    ctx = PlanContext(
        grid=grid,
        curve=CostCurve.from_rates(grid.unit_cost_jpy_per_it_kwh, day),
        curves=FigureCurves.from_grid(grid, day),
        links=build_link_table(links, grid.names, policy),
        policy=policy,
        now=now,
        horizon=grid_horizon,
        start=start,
    )
    eligible = _eligibility(workloads, ctx)
    decisions: list[Decision | None] = [None] * len(workloads)
    ledger = CapacityLedger(grid.free_gpus, grid.power_headroom_kw)

    urgent, normal = _triage_pending(workloads, eligible, decisions, ctx)
    movers, drains = _triage_running(workloads, decisions, ctx)

    urgent.sort(key=lambda item: (ctx.latest_start(workloads[item[0]]), item[0]))
    for index, verdict in urgent:
        decisions[index] = place_agnostic(workloads[index], verdict, eligible[index], ledger, ctx)

    moves = evaluate_moves(workloads, drains + movers, set(drains), eligible, ctx)
    assign_moves(workloads, moves, ledger, decisions, ctx, drains_only=True)
    pending = place_pending(
        workloads=workloads,
        normal=normal,
        eligible=eligible,
        ledger=ledger,
        decisions=decisions,
        ctx=ctx,
    )
    assign_moves(workloads, moves, ledger, decisions, ctx, drains_only=False)
    give_way(
        workloads=workloads,
        moves=moves,
        pending=pending,
        ledger=ledger,
        decisions=decisions,
        ctx=ctx,
    )
    make_room(
        workloads=workloads,
        pending=pending,
        movers=movers,
        eligible=eligible,
        ledger=ledger,
        decisions=decisions,
        ctx=ctx,
    )

    fill_stay_figures(workloads, decisions, ctx)
    missing = [i for i, decision in enumerate(decisions) if decision is None]
    if missing:  # every branch above decides; this guards future edits
        raise AssertionError(f"no decision for workloads {missing}")
    return tuple(d for d in decisions if d is not None)


def _triage_pending(
    workloads: Sequence[WorkloadSnapshot],
    eligible: NDArray[np.bool_],
    decisions: list[Decision | None],
    ctx: PlanContext,
) -> tuple[list[tuple[int, Verdict]], list[int]]:
    """Run the pending rule chain: holds are decided here; returns the carbon-agnostic
    fallbacks (with their verdicts) and the workloads to place by cost."""
    grid = ctx.grid
    urgent: list[tuple[int, Verdict]] = []
    normal: list[int] = []
    names_by_row: dict[bytes, tuple[tuple[RegionName, ...], tuple[RegionName, ...]]] = {}
    for index, workload in enumerate(workloads):
        if workload.state is not WorkloadState.PENDING:
            continue
        key = eligible[index].tobytes()
        if key not in names_by_row:
            rows_ok = np.flatnonzero(eligible[index])
            names_by_row[key] = (
                tuple(grid.names[r] for r in rows_ok),
                tuple(grid.names[r] for r in rows_ok if grid.fresh[r]),
            )
        regions_ok, fresh_ok = names_by_row[key]
        verdict = first_verdict(
            PENDING_RULES,
            PendingFacts(
                workload=workload,
                now=ctx.now,
                policy=ctx.policy,
                eligible_regions=regions_ok,
                fresh_regions=fresh_ok,
                meets_deadline_now=ctx.latest_start(workload) >= ctx.start - EPS,
            ),
        )
        if verdict is None:
            normal.append(index)
        elif verdict.kind is DecisionKind.RUN_NOW:
            urgent.append((index, verdict))
        else:
            decisions[index] = hold(workload, verdict.reason, verdict.message)
    return urgent, normal


def _triage_running(
    workloads: Sequence[WorkloadSnapshot], decisions: list[Decision | None], ctx: PlanContext
) -> tuple[list[int], list[int]]:
    """Run the running rule chain: stays are decided here; returns the workloads whose move
    targets to check, and those to drain."""
    grid = ctx.grid
    movers: list[int] = []
    drains: list[int] = []
    for index, workload in enumerate(workloads):
        if workload.state is not WorkloadState.RUNNING:
            continue
        current = grid.index(workload.current_region)
        verdict = first_verdict(
            RUNNING_RULES,
            RunningFacts(
                workload=workload,
                now=ctx.now,
                policy=ctx.policy,
                # An unknown region is treated as stale: it never sources a move.
                current_available=current < 0 or bool(grid.available[current]),
                current_fresh=current >= 0 and bool(grid.fresh[current]),
                last_move_downtime_s=last_move_downtime_s(
                    workload, ctx.links, grid.names, ctx.policy
                ),
            ),
        )
        if verdict is None:
            movers.append(index)
        elif verdict.kind is DecisionKind.MOVE:
            drains.append(index)
        else:
            decisions[index] = stay(workload, verdict.reason, verdict.message)
    return movers, drains


# ---------------------------------------------------------------- eligibility


def _eligibility(workloads: Sequence[WorkloadSnapshot], ctx: PlanContext) -> NDArray[np.bool_]:
    """workloads x regions: allowed, available and within the workload's latency limit."""
    grid = ctx.grid
    names = grid.names
    rows: dict[tuple[object, ...], NDArray[np.bool_]] = {}
    out = np.zeros((len(workloads), len(names)), dtype=np.bool_)
    for index, workload in enumerate(workloads):
        anchor = workload.data_region or workload.home_region or workload.current_region
        key = (workload.allowed_regions, anchor, workload.max_latency_ms)
        row = rows.get(key)
        if row is None:
            row = grid.available.copy()
            if workload.allowed_regions is not None:
                row &= np.array([name in workload.allowed_regions for name in names], dtype=bool)
            if workload.max_latency_ms is not None:
                origin = grid.index(anchor)
                if origin < 0:
                    row &= False
                else:
                    row &= ctx.links.latency_ms[origin] <= workload.max_latency_ms
            rows[key] = row
        out[index] = row
    return out


def decide_by_policy(
    *,
    regions: Sequence[RegionSnapshot],
    groups: Sequence[tuple[Policy, Sequence[WorkloadSnapshot]]],
    now: datetime,
    links: Sequence[LinkSnapshot] = (),
    horizon: Horizon | None = None,
) -> tuple[Decision, ...]:
    """`decide` for workloads under different policies: one call per policy, in the order
    given, each seeing the GPUs and power that the groups before it reserved (a move's
    release is not handed on, which errs on the side of capacity)."""
    remaining = list(regions)
    out: list[Decision] = []
    for policy, workloads in groups:
        decisions = decide(
            regions=remaining,
            workloads=workloads,
            policy=policy,
            now=now,
            links=links,
            horizon=horizon,
        )
        out.extend(decisions)
        remaining = _after_reservations(remaining, workloads, decisions)
    return tuple(out)


def _after_reservations(
    regions: Sequence[RegionSnapshot],
    workloads: Sequence[WorkloadSnapshot],
    decisions: Sequence[Decision],
) -> list[RegionSnapshot]:
    """Regions with the GPUs and power of `decisions`' occupancy taken out."""
    by_id = {w.workload_id: w for w in workloads}
    free = {r.name: list(r.free_gpus) for r in regions}
    headroom = {r.name: list(r.power_headroom_kw) for r in regions}
    pue = {r.name: r.pue for r in regions}
    for decision in decisions:
        if decision.occupancy is None or decision.region not in free:
            continue
        workload = by_id[decision.workload_id]
        first, end = decision.occupancy
        gpus, kw = free[decision.region], headroom[decision.region]
        # Keep one untouched slot past `end`: a shorter tuple repeats its last value, which
        # must stay what was free after this workload ends, not what it left during its run.
        if end >= len(gpus):
            gpus.extend([gpus[-1]] * (end + 1 - len(gpus)))
        if kw and end >= len(kw):
            kw.extend([kw[-1]] * (end + 1 - len(kw)))
        for slot in range(first, end):
            gpus[slot] = max(0, gpus[slot] - workload.gpus)
            if kw:
                kw[slot] = max(0.0, kw[slot] - workload.busy_kw * pue[decision.region])
    return [
        replace(r, free_gpus=tuple(free[r.name]), power_headroom_kw=tuple(headroom[r.name]))
        for r in regions
    ]
