"""Making room: a running workload moves out of a region so a pending one saves more there.

This module's one job is the last pass of `wattbit.core.planner.decide`. Capacity pushes some
pending workloads off their cheapest plan (to a dearer region or a later start). Such a
workload may get a better plan after all if one running workload moves out of the way: the
pending workload's saving, less everything the move costs the moved one (its checkpoint,
transfer, restart and redone work, and the rest of its run at the target's rates instead of
its region's), must beat the policy's minimum saving. The saving is counted against the best
plan without room made, and one such plan is to start where placed and move in once the
blocker ends on its own (a long run otherwise counts its whole length as the saving).

The moved workload passes the same rules as any move: it is a move candidate (budget,
cooldown, fresh signals), its target is eligible, fresh, linked and has room for the rest of
its run, and its deadline holds with the move's delay. The pending workload starts only
after the moved one's checkpoint is written, and still meets its own deadline.

Room is made now (the running workload gets a `Move` with reason `MakingRoom`, the pending one
`RunNow` with `RoomMade`) or planned for a later slot (the pending one waits, `WaitingForRoom`;
the running one stays for now). A plan is not a promise: each reconcile derives it afresh.

WARNING: pure; no clock, no I/O. One running workload makes room for one pending workload,
at most once per call; candidates are the pending workloads capacity cost the most.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from wattbit.core.assignment import CapacityLedger, Option
from wattbit.core.context import (
    EPS,
    PlanContext,
    build_figures,
    change_minimum_jpy,
    money,
    windows,
)
from wattbit.core.cost import FloatArray, move_cost, move_cost_jpy
from wattbit.core.model import (
    Decision,
    DecisionKind,
    Reason,
    WorkloadSnapshot,
)
from wattbit.core.move_cost import MoveTensors, move_tensors
from wattbit.core.moves import end_unit_rates, link_snapshot
from wattbit.core.starts import PendingPlan, start_decisions

MAX_CANDIDATES = 16
"""Pending workloads considered per call, those capacity cost the most first."""
BLOCKERS_PER_REGION = 4
"""Running workloads costed per candidate and region (these two bound the pass's time in a
large reconcile)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class _Blockers:
    """The running workloads that could make room, with what their moves would cost."""

    indices: list[int]
    """Workload index of each blocker."""
    batch: list[WorkloadSnapshot]
    region: NDArray[np.intp]
    eligible: NDArray[np.bool_]
    """blockers x regions."""
    end_position: FloatArray
    end_slot: NDArray[np.intp]
    it_kwh: FloatArray
    latest_end: FloatArray
    """The deadline minus the safety margin, in slots; inf without a deadline."""
    end_unit: FloatArray
    """blockers x regions: each region's GPU-kWh rate when the run ends."""
    tensors: MoveTensors
    by_region: dict[int, list[int]]
    """Blockers per region, those ending soonest first."""


@dataclass(frozen=True, slots=True, kw_only=True)
class _Room:
    """The best way found to make room for one pending workload."""

    value_jpy: float
    saving_jpy: float
    """The pending workload's saving over its plan without room made."""
    moves_in_later: bool
    """That plan starts where it was placed and moves into `region` once the blocker ends."""
    loss_jpy: float
    """What the move costs the moved workload (the move, and the rest of its run there)."""
    required_jpy: float
    region: int
    slot: int
    blocker: int
    """Index into `_Blockers`."""
    target: int


def make_room(
    *,
    workloads: Sequence[WorkloadSnapshot],
    pending: PendingPlan | None,
    movers: list[int],
    eligible: NDArray[np.bool_],
    ledger: CapacityLedger,
    decisions: list[Decision | None],
    ctx: PlanContext,
) -> None:
    """Improve the plans of pending workloads by moving running ones (module docstring)."""
    if pending is None or not movers:
        return
    candidates = _candidates(pending)
    staying = [i for i in movers if (d := decisions[i]) is not None and d.kind is DecisionKind.STAY]
    if not candidates or not staying:
        return
    blockers = _blockers(workloads, staying, eligible, ctx)
    used: set[int] = set()
    for row, chosen in candidates:
        ledger.release(chosen)
        best: _Room | None = None
        for region, blocker in _pairs(
            row, chosen, pending=pending, blockers=blockers, used=used, ledger=ledger
        ):
            room = _room_via(
                row,
                chosen,
                region,
                blocker,
                pending=pending,
                blockers=blockers,
                ledger=ledger,
                ctx=ctx,
            )
            if room is not None and (best is None or room.value_jpy > best.value_jpy):
                best = room
        if best is None:
            ledger.reserve(chosen)
            continue
        used.add(best.blocker)
        _apply(
            best,
            row,
            chosen,
            pending=pending,
            blockers=blockers,
            ledger=ledger,
            decisions=decisions,
            ctx=ctx,
        )


def _candidates(pending: PendingPlan) -> list[tuple[int, Option]]:
    """Placed pending workloads whose plan costs more than their cheapest option by more
    than the saving a change must show; those capacity cost the most first."""
    options = pending.options
    scored = []
    for row, option in pending.placed:
        cheapest = float(options.cost[row, options.ranked[row, 0]])
        extra = option.cost_jpy - cheapest
        if extra > _required(option, pending) + EPS:
            scored.append((-extra, row, option))
    scored.sort(key=lambda item: (item[0], item[1]))
    return [(row, option) for _, row, option in scored[:MAX_CANDIDATES]]


def _required(chosen: Option, pending: PendingPlan) -> float:
    """The saving making room must show: the policy's minimum, as for any change of plan."""
    return change_minimum_jpy(chosen.cost_jpy, pending.policy)


def _pairs(
    row: int,
    chosen: Option,
    *,
    pending: PendingPlan,
    blockers: _Blockers,
    used: set[int],
    ledger: CapacityLedger,
) -> list[tuple[int, int]]:
    """(region, blocker) pairs worth costing: in each region with a cheaper option than the
    plan, the running workloads that could free enough GPUs, those ending soonest (the
    cheapest to move out) first, a few per region."""
    options = pending.options
    costs = options.cost[row].reshape(-1, options.slots)
    cheaper = np.flatnonzero(np.min(costs, axis=1) < chosen.cost_jpy - _required(chosen, pending))
    gpus = options.batch[row].gpus
    pairs = []
    for region in cheaper.tolist():
        short = gpus - float(ledger.free_gpus[region].max())
        found = 0
        for blocker in blockers.by_region.get(region, ()):
            if found == BLOCKERS_PER_REGION:
                break
            if blocker not in used and blockers.batch[blocker].gpus >= short - EPS:
                pairs.append((region, blocker))
                found += 1
    return pairs


def _blockers(
    workloads: Sequence[WorkloadSnapshot],
    staying: list[int],
    eligible: NDArray[np.bool_],
    ctx: PlanContext,
) -> _Blockers:
    batch = [workloads[i] for i in staying]
    end_position = ctx.start + np.array([ctx.runtime_slots(w) for w in batch])
    latest_end = np.array(
        [
            ctx.horizon.position(w.deadline) - ctx.margin_slots(w)
            if w.deadline is not None
            else np.inf
            for w in batch
        ]
    )
    region = np.array([ctx.grid.index(w.current_region) for w in batch], dtype=np.intp)
    by_region: dict[int, list[int]] = {}
    for blocker in np.argsort(end_position, kind="stable").tolist():
        by_region.setdefault(int(region[blocker]), []).append(blocker)
    return _Blockers(
        indices=staying,
        batch=batch,
        region=region,
        eligible=eligible[staying],
        end_position=end_position,
        end_slot=np.array([ctx.end_slot(float(e)) for e in end_position], dtype=np.intp),
        it_kwh=np.array([w.busy_kw for w in batch]) * ctx.slot_h,
        latest_end=latest_end,
        end_unit=end_unit_rates(end_position, ctx),
        tensors=move_tensors(batch, ctx.links, ctx.policy, ctx.now),
        by_region=by_region,
    )


def _range_min(values: FloatArray, starts: NDArray[np.intp], ends: NDArray[np.intp]) -> FloatArray:
    """min(values[s:e]) for each (s, e); inf where the range is empty (slots are few)."""
    index = np.arange(values.size)
    inside = (index[None, :] >= starts[:, None]) & (index[None, :] < ends[:, None])
    return np.asarray(np.where(inside, values[None, :], np.inf).min(axis=1), dtype=np.float64)


def _room_via(
    row: int,
    chosen: Option,
    region: int,
    blocker: int,
    *,
    pending: PendingPlan,
    blockers: _Blockers,
    ledger: CapacityLedger,
    ctx: PlanContext,
) -> _Room | None:
    """The best room `blocker` can make for pending `row` in `region`, if any beats the
    minimum: over every start slot of the pending workload and target of the blocker."""
    options = pending.options
    workload = options.batch[row]
    mover = blockers.batch[blocker]
    grid, slot_s = ctx.grid, ctx.horizon.slot_s
    slots = options.slots
    index = np.arange(slots)
    starts = index.astype(np.intp)
    pue = grid.pue
    end_position = float(blockers.end_position[blocker])

    # The pending workload: it fits in `region` from slot s once the blocker's GPUs are back
    # (but not without them: then no one needs to move), after its checkpoint is written.
    freed = index < blockers.end_slot[blocker]
    ends = options.end_slots[row]
    need_kw = workload.busy_kw * float(pue[region])
    free_gpus = ledger.free_gpus[region]
    with_room = _range_min(free_gpus + mover.gpus * freed, starts, ends) >= workload.gpus - EPS
    without = _range_min(free_gpus, starts, ends) >= workload.gpus - EPS
    if ledger.capped[region]:
        headroom = ledger.power_headroom_kw[region]
        moved_kw = mover.busy_kw * float(pue[region]) * freed
        with_room &= _range_min(headroom + moved_kw, starts, ends) >= need_kw - EPS
        without &= _range_min(headroom, starts, ends) >= need_kw - EPS
    tensors = blockers.tensors
    written = options.positions + float(tensors.write_s[blocker]) / slot_s
    cost_here = options.cost[row, region * slots : (region + 1) * slots]
    start_ok = (
        with_room
        & ~without
        & (written <= options.latest[row] + EPS)
        & np.isfinite(cost_here)
        & (options.positions < end_position)
    )
    if not start_ok.any():
        return None

    # The blocker: eligible, fresh, linked targets where its deadline holds with the delay.
    delay = tensors.delay_s(blocker, region, np.arange(tensors.transfer_s.shape[2])) / slot_s
    target_ok = blockers.eligible[blocker] & grid.fresh & ctx.links.usable[region]
    target_ok[region] = False
    target_ok &= end_position + delay <= blockers.latest_end[blocker] + EPS
    targets = np.flatnonzero(target_ok)
    if targets.size == 0:
        return None
    stops = np.array([ctx.end_slot(end_position + float(delay[t])) for t in targets])
    fits = np.empty((targets.size, slots), dtype=np.bool_)
    for k, (target, stop) in enumerate(zip(targets.tolist(), stops.tolist(), strict=True)):
        ranges = np.full(slots, stop, dtype=np.intp)
        fits[k] = _range_min(ledger.free_gpus[target], starts, ranges) >= mover.gpus - EPS
        if ledger.capped[target]:
            kw = mover.busy_kw * float(pue[target])
            fits[k] &= _range_min(ledger.power_headroom_kw[target], starts, ranges) >= kw - EPS

    loss = _blocker_loss(blocker, region, targets, options.positions, blockers=blockers, ctx=ctx)
    later = _moving_in_later(
        row, chosen, region, end_position, pending=pending, ledger=ledger, ctx=ctx
    )
    baseline = chosen.cost_jpy if later is None else min(chosen.cost_jpy, later)
    saving = baseline - cost_here
    required = _required(chosen, pending)
    value = np.where(start_ok[None, :] & fits, saving[None, :] - loss - required, -np.inf)
    k, slot = (int(v) for v in np.unravel_index(int(np.argmax(value)), value.shape))
    if not value[k, slot] > EPS:
        return None
    return _Room(
        value_jpy=float(value[k, slot]),
        saving_jpy=float(saving[slot]),
        moves_in_later=baseline < chosen.cost_jpy,
        loss_jpy=float(loss[k, slot]),
        required_jpy=required,
        region=region,
        slot=slot,
        blocker=blocker,
        target=int(targets[k]),
    )


def _blocker_loss(
    blocker: int,
    region: int,
    targets: NDArray[np.intp],
    positions: FloatArray,
    *,
    blockers: _Blockers,
    ctx: PlanContext,
) -> FloatArray:
    """targets x start slots: what moving out at each slot costs the blocker: the move
    itself, and the rest of its run at the target's rates instead of its region's."""
    grid, tensors = ctx.grid, blockers.tensors
    move = (
        move_cost_jpy(
            idle_it_kwh=tensors.idle_it_kwh[blocker, region, targets][:, None],
            redo_it_kwh=tensors.redo_it_kwh[blocker, region, targets][:, None],
            shift_it_kwh=tensors.shift_it_kwh[blocker, region, targets][:, None],
            network_kwh=tensors.network_kwh[blocker, region, targets][:, None],
            gpu_hours=0.0,
            unit_now_jpy_per_it_kwh=grid.unit_cost_jpy_per_it_kwh[targets],
            unit_end_jpy_per_it_kwh=blockers.end_unit[blocker, targets][:, None],
            adjusted_now_jpy_per_kwh=grid.adjusted_jpy_per_kwh[targets],
            gpu_hour_value_jpy=0.0,
        )
        + tensors.fixed_jpy[blocker, region, targets][:, None]
    )
    end_position = float(blockers.end_position[blocker])
    there = ctx.curve.between(targets[:, None], positions[None, :], end_position)
    here = ctx.curve.between(region, positions, end_position)
    return np.asarray(move + (there - here[None, :]) * float(blockers.it_kwh[blocker]))


def _moving_in_later(
    row: int,
    chosen: Option,
    region: int,
    freed_at: float,
    *,
    pending: PendingPlan,
    ledger: CapacityLedger,
    ctx: PlanContext,
) -> float | None:
    """The cost of the pending workload's plan if it moves into `region` when the blocker
    ends on its own (at position `freed_at`); None when it cannot.

    Making room is worth only what it saves over the best plan without it, and one such plan
    is to start where placed and move in once the region frees itself. Without this, a long
    run that could move in a few hours later counts its whole run as the saving.
    """
    options = pending.options
    workload = options.batch[row]
    source = chosen.region
    begin = float(options.positions[chosen.first_slot])
    end = begin + float(options.runtime[row])
    if source == region or not begin < freed_at < end or not ctx.links.usable[source, region]:
        return None
    tensors = move_tensors([workload], ctx.links, ctx.policy, ctx.now)
    delay = float(tensors.delay_s(0, source, region)) / ctx.horizon.slot_s
    if begin + delay > float(options.latest[row]) + EPS:
        return None
    slots = ctx.grid.unit_cost_jpy_per_it_kwh.shape[1]
    at_slot = min(int(freed_at), slots - 1)
    power_kw = workload.busy_kw * float(ctx.grid.pue[region])
    # Past the horizon the ledger knows nothing more; the blocker's GPUs are back by then.
    if freed_at < slots and not ledger.fits_range(
        region, at_slot, ctx.end_slot(end + delay), float(workload.gpus), power_kw
    ):
        return None
    end_unit = end_unit_rates(np.array([end]), ctx)
    move = float(tensors.priced(ctx.grid, at_slot, end_unit)[0, source, region])
    if not math.isfinite(move):
        return None
    it_kwh = float(options.it_kwh[row])
    # The chosen plan's cost (waiting charge included) with its tail after `freed_at` run in
    # `region` instead of `source`.
    stays = float(ctx.curve.between(source, freed_at, end))
    moved = float(ctx.curve.between(region, freed_at, end))
    return chosen.cost_jpy + (moved - stays) * it_kwh + move


def _apply(
    room: _Room,
    row: int,
    chosen: Option,
    *,
    pending: PendingPlan,
    blockers: _Blockers,
    ledger: CapacityLedger,
    decisions: list[Decision | None],
    ctx: PlanContext,
) -> None:
    """Book the room in `ledger` and rewrite both workloads' decisions to say why."""
    options = pending.options
    grid = ctx.grid
    mover = blockers.batch[room.blocker]
    mover_index = blockers.indices[room.blocker]
    region, target, slot = room.region, room.target, room.slot
    end_position = float(blockers.end_position[room.blocker])
    delay_s = float(blockers.tensors.delay_s(room.blocker, region, target))
    back_from, back_to = slot, int(blockers.end_slot[room.blocker])
    ledger.free_gpus[region, back_from:back_to] += mover.gpus
    ledger.power_headroom_kw[region, back_from:back_to] += mover.busy_kw * float(grid.pue[region])
    option = options.option(row, region * options.slots + slot)
    ledger.reserve(option)
    there_until = max(slot + 1, ctx.end_slot(end_position + delay_s / ctx.horizon.slot_s))
    ledger.reserve(
        Option(
            workload=room.blocker,
            region=target,
            first_slot=slot,
            end_slot=there_until,
            gpus=float(mover.gpus),
            power_kw=mover.busy_kw * float(grid.pue[target]),
            cost_jpy=room.loss_jpy,
        )
    )
    name, target_name = grid.names[region], grid.names[target]
    planned = start_decisions(options, [(row, option)], ctx)[0]
    plan_there = f"its plan in {grid.names[chosen.region]}" + (
        f" and a move to {name} when {mover.workload_id} ends" if room.moves_in_later else ""
    )
    why = (
        f"{money(room.saving_jpy)} less than {plan_there}; "
        f"the move costs {mover.workload_id} {money(room.loss_jpy)} "
        f"(net {money(room.saving_jpy - room.loss_jpy)}, minimum {money(room.required_jpy)})"
    )
    pending_index = pending.indices[row]
    moved = decisions[mover_index]
    assert moved is not None  # noqa: S101 - blockers are decided stays
    if slot == 0:
        decisions[pending_index] = replace(
            planned,
            reason=Reason.ROOM_MADE,
            message=f"run now in {name}: {mover.workload_id} moves to {target_name} to make "
            f"room; {why}",
        )
        decisions[mover_index] = _move_out(
            room, blockers, there_until=there_until, back_to=back_to, ctx=ctx, why=why
        )
        return
    at = ctx.horizon.slot_start(slot).isoformat()
    decisions[pending_index] = replace(
        planned,
        reason=Reason.WAITING_FOR_ROOM,
        message=f"wait: {mover.workload_id} is to move from {name} to {target_name} at {at} "
        f"to make room; starting in {name} then costs {why}",
    )
    decisions[mover_index] = replace(
        moved,
        message=f"{moved.message}; plan: move to {target_name} at {at} to make room for "
        f"{options.batch[row].workload_id}",
        releases=(back_from, back_to),
    )


def _move_out(
    room: _Room,
    blockers: _Blockers,
    *,
    there_until: int,
    back_to: int,
    ctx: PlanContext,
    why: str,
) -> Decision:
    """The blocker's Move now, with the move's itemised cost in its figures."""
    grid = ctx.grid
    mover = blockers.batch[room.blocker]
    region, target = room.region, room.target
    end = float(blockers.end_position[room.blocker])
    starts = np.array([ctx.start, ctx.start])
    plan, baseline = windows(
        ctx,
        np.array([target, region], dtype=np.intp),
        starts,
        np.array([end, end]),
        np.full(2, float(blockers.it_kwh[room.blocker])),
    )
    cost = move_cost(
        workload=mover,
        link=link_snapshot(ctx, region, target),
        policy=ctx.policy,
        now=ctx.now,
        target_adjusted_jpy_per_kwh=float(grid.adjusted_jpy_per_kwh[target, 0]),
        target_pue=float(grid.pue[target]),
        extension_adjusted_jpy_per_kwh=float(
            blockers.end_unit[room.blocker, target] / grid.pue[target]
        ),
    )
    figures = build_figures(
        mover,
        plan,
        baseline,
        grid.names[region],
        ctx,
        end=end + cost.delay_s / ctx.horizon.slot_s,
        move=cost,
        saving_jpy=-room.loss_jpy,
        required_jpy=0.0,
    )
    return Decision(
        workload_id=mover.workload_id,
        kind=DecisionKind.MOVE,
        reason=Reason.MAKING_ROOM,
        message=f"move {grid.names[region]} -> {grid.names[target]} to make room: the pending "
        f"workload that takes its place saves {why}",
        region=grid.names[target],
        start_at=ctx.now,
        figures=figures,
        occupancy=(0, there_until),
        releases=(0, back_to),
    )
