"""Giving way: a pending workload's plan yields its room to a running workload's move.

This module's one job is a pass of `wattbit.core.planner.decide`, after moves are assigned and
before room is made. Pending workloads are placed before running ones move, so a pending plan
(often a wait for a cheap slot) may hold the only room a running workload could move into,
and the running one stays with `InsufficientCapacity`. When the move saves more than the
pending workload's next plan costs it extra, by the policy's minimum for a change of plan,
the pending workload takes that next plan and the running one moves.

This is the converse of making room (`wattbit.core.displace`): there a running workload moves
out for a pending one; here a pending one steps aside for a running one.

WARNING: pure; no clock, no I/O. One pending plan gives way per move, and a plan that gave
way once in a call is not asked again; the running workloads capacity blocked are tried the
largest saving first, a bounded number of them (`MAX_MOVERS` and the limits beside it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from wattbit.core.assignment import CapacityLedger, Option
from wattbit.core.context import PlanContext, change_minimum_jpy, money
from wattbit.core.model import Decision, DecisionKind, Reason, WorkloadSnapshot
from wattbit.core.moves import MoveTargets, write_moves
from wattbit.core.starts import PendingPlan, start_decisions


@dataclass(frozen=True, slots=True, kw_only=True)
class _GiveWay:
    """A pending plan that yields to a move, and what it costs."""

    placed_at: int
    """Index into `PendingPlan.placed`."""
    instead: Option
    """The pending workload's next plan."""
    saving_jpy: float
    """What the move saves, above its own minimum."""
    extra_jpy: float
    """What the next plan costs the pending workload more."""
    required_jpy: float


MAX_MOVERS = 32
"""Running workloads capacity blocked that are tried per call, the largest saving first."""
TARGETS_PER_MOVER = 2
"""Target regions tried per running workload, among those where a pending plan is in the way."""
PLANS_PER_TARGET = 4
"""Pending plans in the way tried per target region (these three bound the pass's time in a
large, tight reconcile)."""


def give_way(
    *,
    workloads: Sequence[WorkloadSnapshot],
    moves: MoveTargets | None,
    pending: PendingPlan | None,
    ledger: CapacityLedger,
    decisions: list[Decision | None],
    ctx: PlanContext,
) -> None:
    """Let pending plans yield to moves capacity blocked (see the module docstring)."""
    if moves is None or pending is None or not pending.placed:
        return
    saving = moves.stay_cost_jpy[:, None] - moves.plan_cost_jpy - moves.required_jpy
    blocked = [
        row
        for row, index in enumerate(moves.indices)
        if not moves.drain[row]
        and (decision := decisions[index]) is not None
        and decision.kind is DecisionKind.STAY
        and decision.reason is Reason.INSUFFICIENT_CAPACITY
    ]
    if not blocked:
        return
    best = np.where(moves.survivors, saving, -np.inf).max(axis=1, initial=-np.inf)
    blocked.sort(key=lambda row: (-best[row], row))
    by_region: dict[int, list[int]] = {}
    for placed_at, (_, held) in enumerate(pending.placed):
        by_region.setdefault(held.region, []).append(placed_at)
    yielded: set[int] = set()
    picks: list[tuple[int, Option]] = []
    for row in blocked[:MAX_MOVERS]:
        workload = workloads[moves.indices[row]]
        targets = np.flatnonzero(moves.survivors[row] & (saving[row] > 0))
        ranked = targets[np.argsort(-saving[row, targets], kind="stable")]
        tried = 0
        for region in ranked.tolist():
            if tried == TARGETS_PER_MOVER:
                break
            move = Option(
                workload=row,
                region=region,
                first_slot=0,
                end_slot=int(max(1, moves.leave_slot[row, region])),
                gpus=float(workload.gpus),
                power_kw=workload.busy_kw * float(ctx.grid.pue[region]),
                cost_jpy=float(moves.plan_cost_jpy[row, region]),
            )
            in_the_way = [
                placed_at
                for placed_at in by_region.get(region, ())
                if pending.placed[placed_at][0] not in yielded
                and pending.placed[placed_at][1].first_slot < move.end_slot
            ]
            if not in_the_way:
                continue  # something else fills it: nothing here can give way
            tried += 1
            found = _yielding_plan(
                move, float(saving[row, region]), in_the_way[:PLANS_PER_TARGET], pending, ledger
            )
            if found is None:
                continue
            _apply(found, workload, pending, decisions, ctx)
            by_region[region].remove(found.placed_at)
            by_region.setdefault(found.instead.region, []).append(found.placed_at)
            yielded.add(pending.placed[found.placed_at][0])
            picks.append((row, move))
            break
    write_moves(workloads, moves, picks, decisions, ctx)


def _yielding_plan(
    move: Option,
    saving_jpy: float,
    in_the_way: list[int],
    pending: PendingPlan,
    ledger: CapacityLedger,
) -> _GiveWay | None:
    """The first pending plan of `in_the_way` (indices into `pending.placed`) whose next plan
    costs less extra than the move saves, by the minimum; the ledger is left booked for it
    (or untouched if none)."""
    options = pending.options
    for placed_at in in_the_way:
        row, held = pending.placed[placed_at]
        ledger.release(held)
        if not ledger.fits(move):
            ledger.reserve(held)
            continue
        ledger.reserve(move)
        # Its short list: the cheapest options, then each region's best and starting now.
        instead = options.first_fit(row, options.short_index[row], ledger)
        extra = np.inf if instead is None else instead.cost_jpy - held.cost_jpy
        required = change_minimum_jpy(held.cost_jpy, pending.policy)
        if instead is not None and saving_jpy - extra > required:
            return _GiveWay(
                placed_at=placed_at,
                instead=instead,
                saving_jpy=saving_jpy,
                extra_jpy=extra,
                required_jpy=required,
            )
        if instead is not None:
            ledger.release(instead)
        ledger.release(move)
        ledger.reserve(held)
    return None


def _apply(
    found: _GiveWay,
    mover: WorkloadSnapshot,
    pending: PendingPlan,
    decisions: list[Decision | None],
    ctx: PlanContext,
) -> None:
    """Record the pending workload's next plan and say why it changed."""
    row, held = pending.placed[found.placed_at]
    pending.placed[found.placed_at] = (row, found.instead)
    planned = start_decisions(pending.options, [(row, found.instead)], ctx)[0]
    names = ctx.grid.names
    name = names[found.instead.region]
    at = ctx.horizon.slot_start(found.instead.first_slot).isoformat()
    when = (
        f"run now in {name}"
        if planned.kind is DecisionKind.RUN_NOW
        else f"wait: start in {name} at {at}"
    )
    cost = planned.figures.adjusted_cost_jpy if planned.figures is not None else 0.0
    decisions[pending.indices[row]] = replace(
        planned,
        reason=Reason.GAVE_WAY,
        message=f"{when} for {money(cost)}: gave way in {names[held.region]} to "
        f"{mover.workload_id}, whose move there saves {money(found.saving_jpy)} above its "
        f"minimum; this plan costs {money(found.extra_jpy)} more (net "
        f"{money(found.saving_jpy - found.extra_jpy)}, minimum {money(found.required_jpy)})",
    )
