"""Invariants of the decision core over random worlds (Hypothesis; reliability.md §5.4).

Properties:
- stale regions never win a comparison (run now at the lowest cost, wait, move); changing a
  stale region's signals never changes a decision (D5);
- every hold or stay has a reason and a message;
- assigned GPUs and power never exceed what is free in any region and slot (D3);
- no decision makes expected completion later than the deadline (D4), unless even starting
  now could not meet it (the workload runs at once, `DeadlineAtRisk`) or its region is going
  away (a drain, `RegionDraining`, must leave whatever the deadline);
- a larger checkpoint or a slower link never adds a move (D2, monotone);
- with every move dearer than any saving there are zero moves (D2);
- a signal flip shorter than the stability (tolerance) window causes zero moves (D1);
- raising a region's price never makes it chosen when it was not (D7);
- the same input gives the same output whatever the order of regions (D6), and whatever the
  size of the blocks of workloads the moves are costed in (a speed setting only).
Skipped on purpose: the rule-based state machine over time (D10) lives with the simulator's
tests; capacity interplay in the monotonicity property (capacity is ample there, because a
workload that stops moving frees room another may then take).
"""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wattbit.core import moves
from wattbit.core.model import (
    Decision,
    DecisionKind,
    Horizon,
    LinkSnapshot,
    Policy,
    Reason,
    RegionName,
    RegionSnapshot,
    WorkloadId,
    WorkloadSnapshot,
    WorkloadState,
)
from wattbit.core.planner import decide

JST = timezone(timedelta(hours=9))
NOW = datetime(2025, 4, 7, 8, 30, tzinfo=JST)
SLOTS = 12
HORIZON = Horizon(start=NOW - timedelta(minutes=30), slot_s=3600.0, slot_count=SLOTS)
AMPLE_GPUS = 100_000

COMPARED = {
    Reason.LOWEST_COST,
    Reason.WAITING_FOR_GREENER_WINDOW,
    Reason.GREENER_REGION,
    Reason.ROOM_MADE,
    Reason.WAITING_FOR_ROOM,
    Reason.GAVE_WAY,
    Reason.MAKING_ROOM,
}
HOLD_REASONS = set(Reason) - COMPARED - {Reason.DEADLINE_AT_RISK, Reason.SIGNALS_UNAVAILABLE}
FORCED = {Reason.DEADLINE_AT_RISK, Reason.SIGNALS_UNAVAILABLE, Reason.REGION_DRAINING}
"""Decisions made because there is no choice: run now, or leave a region that is going away."""
FAST = settings(
    # WATTBIT_PROPERTY_EXAMPLES=2000 for a deeper search; the default keeps the suite fast.
    max_examples=int(os.environ.get("WATTBIT_PROPERTY_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

carbon = st.floats(0.0, 900.0, allow_nan=False)
price = st.floats(0.01, 40.0, allow_nan=False)


@st.composite
def regions(draw: st.DrawFn, *, ample: bool = False) -> list[RegionSnapshot]:
    count = draw(st.integers(1, 4))
    out = []
    for index in range(count):
        forecast_len = draw(st.integers(1, SLOTS))
        carbons = draw(st.lists(carbon, min_size=forecast_len, max_size=forecast_len))
        prices = draw(st.lists(price, min_size=forecast_len, max_size=forecast_len))
        free = (
            (AMPLE_GPUS,)
            if ample
            else tuple(draw(st.lists(st.integers(0, 64), min_size=1, max_size=SLOTS)))
        )
        headroom = (
            ()
            if ample or draw(st.booleans())
            else tuple(draw(st.lists(st.floats(0.0, 100.0), min_size=1, max_size=SLOTS)))
        )
        out.append(
            RegionSnapshot(
                name=RegionName(f"r{index}"),
                carbon_g_per_kwh=carbons[0],
                price_jpy_per_kwh=prices[0],
                signal_observed_at=NOW - timedelta(hours=draw(st.sampled_from([0, 0, 0, 5]))),
                carbon_forecast_g_per_kwh=tuple(carbons),
                price_forecast_jpy_per_kwh=tuple(prices),
                free_gpus=free,
                power_headroom_kw=headroom,
                pue=draw(st.floats(1.0, 1.6)),
                available=ample or draw(st.sampled_from([True, True, True, False])),
            )
        )
    return out


@st.composite
def links(draw: st.DrawFn, names: list[RegionName]) -> list[LinkSnapshot]:
    pairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1 :]]
    return [
        LinkSnapshot(
            from_region=a,
            to_region=b,
            latency_ms=draw(st.floats(0.0, 20.0)),
            bandwidth_gbps=draw(st.floats(1.0, 400.0)),
        )
        for a, b in pairs
        if len(names) == 2 or draw(st.booleans())
    ]


@st.composite
def workloads(draw: st.DrawFn, names: list[RegionName]) -> list[WorkloadSnapshot]:
    count = draw(st.integers(1, 8))
    out = []
    for index in range(count):
        hours = draw(st.floats(0.1, 30.0))
        is_running = draw(st.booleans())
        deadline_kind = draw(st.sampled_from(["none", "loose", "tight", "late"]))
        deadline = {
            "none": None,
            "loose": NOW + timedelta(hours=hours * 3 + 2),
            "tight": NOW + timedelta(hours=hours * 1.1 + 0.7),
            "late": NOW + timedelta(hours=hours * 0.5),
        }[deadline_kind]
        allowed = (
            None
            if draw(st.booleans())
            else frozenset(draw(st.lists(st.sampled_from(names), min_size=1, unique=True)))
        )
        moved = draw(st.booleans())
        out.append(
            WorkloadSnapshot(
                workload_id=WorkloadId(f"w{index}"),
                gpus=draw(st.integers(1, 32)),
                remaining_runtime_s=hours * 3600.0,
                deadline=deadline,
                state=WorkloadState.RUNNING if is_running else WorkloadState.PENDING,
                current_region=draw(st.sampled_from(names)) if is_running else None,
                home_region=draw(st.sampled_from(names)),
                allowed_regions=allowed,
                checkpoint_size_gb=draw(st.floats(0.0, 5000.0)),
                checkpoint_interval_s=draw(st.sampled_from([0.0, 600.0, 3600.0])),
                submitted_at=NOW - timedelta(hours=draw(st.sampled_from([0, 1, 8]))),
                last_moved_at=NOW - timedelta(hours=draw(st.floats(0.0, 5.0))) if moved else None,
                move_count=draw(st.integers(0, 3)),
            )
        )
    return out


policies = st.builds(
    Policy,
    carbon_price_jpy_per_tonne=st.floats(0.0, 50_000.0),
    min_saving_fraction=st.floats(0.0, 0.1),
    stability_window_s=st.sampled_from([0.0, 1800.0, 3600.0, 7200.0]),
    cooldown_s=st.sampled_from([0.0, 3600.0]),
    max_moves=st.integers(0, 5),
    allow_waiting=st.booleans(),
)


@st.composite
def worlds(
    draw: st.DrawFn, *, ample: bool = False
) -> tuple[list[RegionSnapshot], list[LinkSnapshot], list[WorkloadSnapshot], Policy]:
    region_list = draw(regions(ample=ample))
    names = [r.name for r in region_list]
    return region_list, draw(links(names)), draw(workloads(names)), draw(policies)


World = tuple[list[RegionSnapshot], list[LinkSnapshot], list[WorkloadSnapshot], Policy]


def run(
    region_list: list[RegionSnapshot],
    link_list: list[LinkSnapshot],
    items: list[WorkloadSnapshot],
    policy: Policy,
) -> tuple[Decision, ...]:
    return decide(
        regions=region_list,
        workloads=items,
        policy=policy,
        now=NOW,
        links=link_list,
        horizon=HORIZON,
    )


def essence(decisions: tuple[Decision, ...]) -> list[tuple[object, ...]]:
    return [(d.workload_id, d.kind, d.region, d.reason, d.start_at) for d in decisions]


@FAST
@given(worlds())
def test_stale_regions_never_win(world: World) -> None:
    region_list, link_list, items, policy = world
    stale = {r.name for r in region_list if r.is_stale(NOW)}
    for decision in run(region_list, link_list, items, policy):
        if decision.reason in COMPARED:
            assert decision.region not in stale


@FAST
@given(worlds(), st.data())
def test_a_stale_regions_signals_never_change_a_decision(world: World, data: st.DataObject) -> None:
    region_list, link_list, items, policy = world
    changed = [
        replace(
            r,
            carbon_g_per_kwh=data.draw(carbon),
            price_jpy_per_kwh=data.draw(price),
            carbon_forecast_g_per_kwh=(),
            price_forecast_jpy_per_kwh=(),
        )
        if r.is_stale(NOW)
        else r
        for r in region_list
    ]
    assert essence(run(region_list, link_list, items, policy)) == essence(
        run(changed, link_list, items, policy)
    )


@FAST
@given(worlds())
def test_every_hold_has_a_reason(world: World) -> None:
    for decision in run(*world):
        assert decision.reason in set(Reason)
        assert decision.message
        if decision.kind in (DecisionKind.HOLD, DecisionKind.STAY):
            assert decision.reason in HOLD_REASONS | {Reason.ALREADY_BEST}


@FAST
@given(worlds())
def test_assigned_gpus_and_power_never_exceed_what_is_free(world: World) -> None:
    region_list, link_list, items, policy = world
    by_name = {r.name: r for r in region_list}
    by_id = {w.workload_id: w for w in items}
    used_gpus: dict[tuple[str, int], float] = {}
    used_kw: dict[tuple[str, int], float] = {}

    def book(region: str, slots: range, gpus: float, kw: float) -> None:
        for slot in slots:
            used_gpus[(region, slot)] = used_gpus.get((region, slot), 0) + gpus
            used_kw[(region, slot)] = used_kw.get((region, slot), 0) + kw

    for decision in run(region_list, link_list, items, policy):
        item = by_id[decision.workload_id]
        if decision.releases is not None:
            # A move (now or planned) gives its current region's GPUs back: credit them.
            assert item.current_region is not None
            pue = by_name[item.current_region].pue
            book(item.current_region, range(*decision.releases), -item.gpus, -item.busy_kw * pue)
        if decision.occupancy is None:
            continue
        assert decision.region is not None
        pue = by_name[decision.region].pue
        book(decision.region, range(*decision.occupancy), item.gpus, item.busy_kw * pue)
    for (name, slot), gpus in used_gpus.items():
        region = by_name[RegionName(name)]
        free = region.free_gpus[min(slot, len(region.free_gpus) - 1)]
        assert gpus <= free
        if region.power_headroom_kw:
            headroom = region.power_headroom_kw[min(slot, len(region.power_headroom_kw) - 1)]
            assert used_kw[(name, slot)] <= headroom + 1e-6


@FAST
@given(worlds())
def test_no_decision_finishes_after_the_deadline(world: World) -> None:
    region_list, link_list, items, policy = world
    by_id = {w.workload_id: w for w in items}
    for decision in run(region_list, link_list, items, policy):
        item = by_id[decision.workload_id]
        if item.deadline is None or decision.figures is None:
            continue
        completion = decision.figures.expected_completion
        assert completion is not None
        if decision.kind is DecisionKind.STAY:
            assert completion == NOW + timedelta(seconds=item.remaining_runtime_s)
        elif decision.reason not in FORCED:
            assert completion <= item.deadline


@FAST
@given(
    worlds(ample=True),
    st.floats(1.0, 100.0),
    st.floats(0.01, 1.0),
)
def test_a_bigger_checkpoint_or_a_slower_link_never_adds_a_move(
    world: World,
    checkpoint_factor: float,
    bandwidth_factor: float,
) -> None:
    region_list, link_list, items, policy = world
    moved = {d.workload_id for d in run(*world) if d.kind is DecisionKind.MOVE}
    heavier = [
        replace(w, checkpoint_size_gb=w.checkpoint_size_gb * checkpoint_factor) for w in items
    ]
    slower = [
        replace(link, bandwidth_gbps=link.bandwidth_gbps * bandwidth_factor) for link in link_list
    ]
    for variant in (
        run(region_list, link_list, heavier, policy),
        run(region_list, slower, items, policy),
    ):
        assert {d.workload_id for d in variant if d.kind is DecisionKind.MOVE} <= moved


@FAST
@given(worlds(ample=True))
def test_no_move_when_moving_costs_more_than_it_can_save(world: World) -> None:
    region_list, link_list, items, policy = world
    priceless = replace(policy, gpu_hour_value_jpy=1e15)
    for decision in run(region_list, link_list, items, priceless):
        assert decision.kind is not DecisionKind.MOVE or decision.reason is Reason.REGION_DRAINING


@FAST
@given(
    st.integers(2, 4),
    st.integers(1, 3),
    st.floats(5.0, 20.0),
    st.lists(st.floats(0.5, 10.0), min_size=3, max_size=3),
    st.data(),
)
def test_a_flip_shorter_than_the_stability_window_causes_no_move(
    region_count: int,
    window_slots: int,
    base_price: float,
    premiums: list[float],
    data: st.DataObject,
) -> None:
    # The current region r0 is cheapest except while others dip below it, for fewer slots
    # than the stability window (the clock sits at the start of slot 0).
    flip = data.draw(st.integers(1, window_slots))
    start = NOW - timedelta(minutes=30)
    horizon = Horizon(start=start, slot_s=3600.0, slot_count=SLOTS)
    region_list = [
        RegionSnapshot(
            name=RegionName("r0"),
            carbon_g_per_kwh=300.0,
            price_jpy_per_kwh=base_price,
            signal_observed_at=NOW,
            free_gpus=(AMPLE_GPUS,),
        )
    ]
    for index in range(1, region_count):
        dearer = base_price + premiums[index - 1]
        series = tuple([0.01] * flip + [dearer] * (SLOTS - flip))
        region_list.append(
            RegionSnapshot(
                name=RegionName(f"r{index}"),
                carbon_g_per_kwh=300.0,
                price_jpy_per_kwh=series[0],
                signal_observed_at=NOW,
                price_forecast_jpy_per_kwh=series,
                free_gpus=(AMPLE_GPUS,),
            )
        )
    link_list = [
        LinkSnapshot(
            from_region=RegionName("r0"), to_region=r.name, latency_ms=1.0, bandwidth_gbps=400
        )
        for r in region_list[1:]
    ]
    item = WorkloadSnapshot(
        workload_id=WorkloadId("w"),
        gpus=8,
        remaining_runtime_s=20 * 3600.0,
        state=WorkloadState.RUNNING,
        current_region=RegionName("r0"),
        checkpoint_interval_s=0.0,
    )
    policy = Policy(stability_window_s=(window_slots + 0.5) * 3600.0, min_saving_fraction=0.0)
    decisions = decide(
        regions=region_list,
        workloads=[item],
        policy=policy,
        now=NOW,
        links=link_list,
        horizon=horizon,
    )
    assert all(d.kind is not DecisionKind.MOVE for d in decisions)


@FAST
@given(worlds(ample=True), st.floats(0.1, 50.0), st.data())
def test_a_dearer_region_never_becomes_the_choice(
    world: World, rise: float, data: st.DataObject
) -> None:
    region_list, link_list, items, policy = world
    pending = [replace(items[0], state=WorkloadState.PENDING, current_region=None)]
    before = run(region_list, link_list, pending, policy)[0]
    target = data.draw(st.sampled_from(region_list))
    if before.region == target.name:
        return
    dearer = replace(
        target,
        price_jpy_per_kwh=target.price_jpy_per_kwh + rise,
        price_forecast_jpy_per_kwh=tuple(p + rise for p in target.price_forecast_jpy_per_kwh),
    )
    after = run([dearer if r is target else r for r in region_list], link_list, pending, policy)[0]
    assert after.region != target.name or after.reason not in COMPARED


@FAST
@given(worlds())
def test_region_order_does_not_matter(world: World) -> None:
    region_list, link_list, items, policy = world
    assert run(region_list, link_list, items, policy) == run(
        list(reversed(region_list)), list(reversed(link_list)), items, policy
    )


@FAST
@given(worlds(), st.integers(1, 3))
def test_costing_moves_in_blocks_changes_no_decision(world: World, block: int) -> None:
    region_list, link_list, items, policy = world
    whole = run(region_list, link_list, items, policy)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(moves, "BLOCK_WORKLOADS", block)
        assert run(region_list, link_list, items, policy) == whole
