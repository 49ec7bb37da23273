"""One decision per workload across policy groups (wattbit.core.planner.decide_by_policy).

Matrix:
- two groups sharing a region with room for one workload: the second group spills to the next
  region (or, with only that region, waits until the first group's workload ends, also when
  the capacity is given for slot 0 only and repeats), and alone it would have taken the
  region, so the spill is the capacity handed on, not the prices;
- power headroom is handed on like GPUs;
- decisions come back one per workload, in group order;
- property: over random groups (1-3 policies, 1-6 pending workloads, 2-3 regions with random
  signals, free GPUs, power caps, staleness and availability), the GPUs and power reserved in
  any slot, RunNow at slot 0 first, never exceed what the regions had free.
Skipped on purpose: `decide` itself (test_core_planner.py, tests/property) and running
workloads, whose moves' releases are deliberately not handed on (erring on capacity).
"""

from __future__ import annotations

import os
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Self

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wattbit.core.model import (
    Decision,
    DecisionKind,
    Horizon,
    Policy,
    RegionName,
    RegionSnapshot,
    WorkloadId,
    WorkloadSnapshot,
)
from wattbit.core.planner import decide_by_policy

HOUR = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
NOW = HOUR + timedelta(minutes=30)
"""Mid-slot, as in the operator (its horizon starts at the top of the hour)."""
SLOTS = 12
HORIZON = Horizon(start=HOUR, slot_s=3600.0, slot_count=SLOTS)
FAST = settings(
    max_examples=int(os.environ.get("WATTBIT_PROPERTY_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


class RegionBuilder:
    """`make_region("kyushu").price(8).free(8).build()`: fresh, flat signals."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._carbon = 300.0
        self._price = 10.0
        self._free: tuple[int, ...] = (64,)
        self._headroom: tuple[float, ...] = ()

    def carbon(self, value: float) -> Self:
        self._carbon = value
        return self

    def price(self, value: float) -> Self:
        self._price = value
        return self

    def free(self, *gpus: int) -> Self:
        self._free = gpus
        return self

    def headroom(self, *kw: float) -> Self:
        self._headroom = kw
        return self

    def build(self) -> RegionSnapshot:
        return RegionSnapshot(
            name=RegionName(self._name),
            carbon_g_per_kwh=self._carbon,
            price_jpy_per_kwh=self._price,
            signal_observed_at=NOW,
            free_gpus=self._free,
            power_headroom_kw=self._headroom,
        )


def make_region(name: str) -> RegionBuilder:
    return RegionBuilder(name)


def pending(name: str, *, gpus: int = 8, hours: float = 3.0) -> WorkloadSnapshot:
    return WorkloadSnapshot(
        workload_id=WorkloadId(name),
        gpus=gpus,
        remaining_runtime_s=hours * 3600.0,
        submitted_at=NOW,
    )


FIRST = Policy(carbon_price_jpy_per_tonne=10_000.0)
SECOND = Policy(carbon_price_jpy_per_tonne=20_000.0, allow_waiting=False, max_wait_s=0.0)
"""Another group (another policy) that runs at once: no waiting for room."""


def by_id(decisions: tuple[Decision, ...]) -> dict[str, Decision]:
    return {d.workload_id: d for d in decisions}


def test_the_second_group_does_not_get_the_gpus_the_first_took() -> None:
    built = [make_region("kyushu").price(8).free(8).build(), make_region("tokyo").price(20).build()]
    alone = by_id(
        decide_by_policy(regions=built, groups=[(SECOND, [pending("b")])], now=NOW, horizon=HORIZON)
    )
    assert (alone["b"].kind, alone["b"].region) == (DecisionKind.RUN_NOW, "kyushu")

    decisions = by_id(
        decide_by_policy(
            regions=built,
            groups=[(FIRST, [pending("a")]), (SECOND, [pending("b")])],
            now=NOW,
            horizon=HORIZON,
        )
    )
    assert (decisions["a"].kind, decisions["a"].region) == (DecisionKind.RUN_NOW, "kyushu")
    assert (decisions["b"].kind, decisions["b"].region) == (DecisionKind.RUN_NOW, "tokyo")


@pytest.mark.parametrize(
    "kyushu",
    [make_region("kyushu").free(8), make_region("kyushu").headroom(6.0)],
    ids=["gpus", "power"],
)
def test_with_only_that_region_the_second_group_waits_for_the_first_to_end(
    kyushu: RegionBuilder,
) -> None:
    # Capacity given for slot 0 only repeats: the region is free again once `a` ends.
    regions = [kyushu.build()]
    waiting = Policy(carbon_price_jpy_per_tonne=20_000.0, max_wait_s=24 * 3600.0)
    decisions = by_id(
        decide_by_policy(
            regions=regions,
            groups=[(FIRST, [pending("a")]), (waiting, [pending("b")])],
            now=NOW,
            horizon=HORIZON,
        )
    )
    first, second = decisions["a"], decisions["b"]
    assert first.kind is DecisionKind.RUN_NOW
    assert first.occupancy == (0, 4)  # 10:30 + 3 h ends in slot 3
    assert second.kind is DecisionKind.WAIT
    assert second.occupancy is not None
    assert second.occupancy[0] >= first.occupancy[1]
    assert second.start_at == HORIZON.slot_start(second.occupancy[0])


def test_power_headroom_is_handed_on_like_gpus() -> None:
    # 8 GPUs at 0.7 kW = 5.6 kW: room for one workload under a 6 kW cap.
    regions = [
        make_region("kyushu").price(8).headroom(6.0).build(),
        make_region("tokyo").price(20).build(),
    ]
    decisions = by_id(
        decide_by_policy(
            regions=regions,
            groups=[(FIRST, [pending("a")]), (SECOND, [pending("b")])],
            now=NOW,
            horizon=HORIZON,
        )
    )
    assert decisions["a"].region == "kyushu"
    assert decisions["b"].region == "tokyo"


def test_one_decision_per_workload_in_group_order() -> None:
    regions = [make_region("kyushu").build(), make_region("tokyo").build()]
    groups = [
        (FIRST, [pending("a1", gpus=1), pending("a2", gpus=2)]),
        (SECOND, [pending("b1", gpus=3)]),
        (FIRST, [pending("c1", gpus=4)]),
    ]
    decisions = decide_by_policy(regions=regions, groups=groups, now=NOW, horizon=HORIZON)
    assert [d.workload_id for d in decisions] == ["a1", "a2", "b1", "c1"]


def test_no_groups_no_decisions() -> None:
    regions = [make_region("kyushu").build()]
    assert decide_by_policy(regions=regions, groups=[], now=NOW, horizon=HORIZON) == ()


# ---------------------------------------------------------------- property


@st.composite
def regions(draw: st.DrawFn) -> list[RegionSnapshot]:
    out = []
    for index in range(draw(st.integers(2, 3))):
        length = draw(st.integers(1, SLOTS))
        carbon = draw(st.lists(st.floats(0.0, 900.0), min_size=length, max_size=length))
        price = draw(st.lists(st.floats(0.5, 40.0), min_size=length, max_size=length))
        out.append(
            RegionSnapshot(
                name=RegionName(f"r{index}"),
                carbon_g_per_kwh=carbon[0],
                price_jpy_per_kwh=price[0],
                signal_observed_at=NOW - timedelta(hours=draw(st.sampled_from([0, 0, 0, 5]))),
                carbon_forecast_g_per_kwh=tuple(carbon),
                price_forecast_jpy_per_kwh=tuple(price),
                free_gpus=tuple(draw(st.lists(st.integers(0, 24), min_size=1, max_size=SLOTS))),
                power_headroom_kw=(
                    ()
                    if draw(st.booleans())
                    else tuple(draw(st.lists(st.floats(0.0, 30.0), min_size=1, max_size=SLOTS)))
                ),
                pue=draw(st.floats(1.0, 1.6)),
                available=draw(st.sampled_from([True, True, True, False])),
            )
        )
    return out


policies = st.builds(
    Policy,
    carbon_price_jpy_per_tonne=st.floats(0.0, 50_000.0),
    min_saving_fraction=st.floats(0.0, 0.2),
    allow_waiting=st.booleans(),
    max_wait_s=st.sampled_from([0.0, 3 * 3600.0, 24 * 3600.0]),
)


@st.composite
def groups(draw: st.DrawFn, names: list[RegionName]) -> list[tuple[Policy, list[WorkloadSnapshot]]]:
    group_list: list[tuple[Policy, list[WorkloadSnapshot]]] = [
        (draw(policies), []) for _ in range(draw(st.integers(1, 3)))
    ]
    for index in range(draw(st.integers(1, 6))):
        hours = draw(st.floats(0.25, 8.0))
        deadline = draw(st.sampled_from([None, hours + 1.0, hours * 3 + 2.0]))
        allowed = draw(st.none() | st.frozensets(st.sampled_from(names), min_size=1).map(frozenset))
        workload = WorkloadSnapshot(
            workload_id=WorkloadId(f"w{index}"),
            gpus=draw(st.integers(1, 16)),
            power_kw_per_gpu=draw(st.sampled_from([0.35, 0.7, 1.0])),
            remaining_runtime_s=hours * 3600.0,
            deadline=None if deadline is None else NOW + timedelta(hours=deadline),
            home_region=draw(st.sampled_from(names)),
            allowed_regions=allowed,
            submitted_at=NOW - timedelta(hours=draw(st.sampled_from([0, 1, 8]))),
        )
        group_list[draw(st.integers(0, len(group_list) - 1))][1].append(workload)
    return [(policy, items) for policy, items in group_list if items]


World = tuple[list[RegionSnapshot], list[tuple[Policy, list[WorkloadSnapshot]]]]


@st.composite
def worlds(draw: st.DrawFn) -> World:
    region_list = draw(regions())
    return region_list, draw(groups([r.name for r in region_list]))


def at(values: tuple[float, ...] | tuple[int, ...], slot: int) -> float:
    """A per-slot value; a shorter tuple repeats its last value."""
    return values[min(slot, len(values) - 1)]


@FAST
@given(worlds())
def test_reservations_across_groups_never_exceed_free_capacity(world: World) -> None:
    region_list, group_list = world
    decisions = decide_by_policy(regions=region_list, groups=group_list, now=NOW, horizon=HORIZON)
    workloads = {w.workload_id: w for _, items in group_list for w in items}
    assert sorted(d.workload_id for d in decisions) == sorted(workloads)
    by_name = {r.name: r for r in region_list}
    now_gpus: dict[str, int] = defaultdict(int)
    gpus: dict[tuple[str, int], int] = defaultdict(int)
    kw: dict[tuple[str, int], float] = defaultdict(float)
    for decision in decisions:
        item = workloads[decision.workload_id]
        if decision.kind is DecisionKind.RUN_NOW:
            assert decision.region is not None
            now_gpus[decision.region] += item.gpus
        if decision.occupancy is None:
            continue
        assert decision.region is not None
        for slot in range(*decision.occupancy):
            gpus[(decision.region, slot)] += item.gpus
            kw[(decision.region, slot)] += item.busy_kw * by_name[decision.region].pue
    for name, used in now_gpus.items():
        assert used <= by_name[RegionName(name)].free_gpus[0]
    for (name, slot), used in gpus.items():
        region = by_name[RegionName(name)]
        assert used <= at(region.free_gpus, slot)
        if region.power_headroom_kw:
            assert kw[(name, slot)] <= at(region.power_headroom_kw, slot) + 1e-6
