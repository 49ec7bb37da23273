"""Making room (wattbit.core.displace): a running workload moves so a pending one saves more.

Matrix: room made now (MakingRoom move + RoomMade start, capacity given back and taken);
room planned for a later slot (WaitingForRoom wait, the blocker stays with a plan); room valued
against moving in once the blocker ends; no room when waiting for the blocker's natural end is
as good, when the move costs more than the saving, when the blocker may not move (budget,
cooldown) or its deadline would slip.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from tests.unit.test_core_planner import (
    HORIZON,
    NOW,
    POLICY,
    SLOTS,
    RegionBuilder,
    link,
    make_region,
    workload,
)
from wattbit.core.model import (
    Decision,
    DecisionKind,
    LinkSnapshot,
    Policy,
    Reason,
    WorkloadSnapshot,
)
from wattbit.core.planner import decide

LINKS = (link("tokyo", "kansai"), link("tokyo", "kyushu"), link("kansai", "kyushu"))


def regions(kansai_free: tuple[int, ...]) -> list[RegionBuilder]:
    """Kansai is cheapest but full while the blocker runs; Kyushu is dearer and roomy."""
    return [
        make_region("tokyo").carbon(470).price(12).free(256),
        make_region("kansai").carbon(100).price(5).free(*kansai_free),
        make_region("kyushu").carbon(300).price(10).free(256),
    ]


def blocker(hours: float, **changes: object) -> WorkloadSnapshot:
    values: dict[str, object] = {"hours": hours, "deadline_h": 48.0, "running_in": "kansai"}
    values.update(changes)
    return workload("blocker", **values)  # type: ignore[arg-type]


def run(
    builders: list[RegionBuilder],
    items: list[WorkloadSnapshot],
    policy: Policy = POLICY,
    links: tuple[LinkSnapshot, ...] = LINKS,
) -> dict[str, Decision]:
    """Decide for `items`; the decisions by workload id."""
    decisions = decide(
        regions=[r.build() for r in builders],
        workloads=items,
        policy=policy,
        now=NOW,
        links=links,
        horizon=HORIZON,
    )
    return {str(d.workload_id): d for d in decisions}


def full_for(hours: int, free: int, total: int) -> tuple[int, ...]:
    return (free,) * hours + (total,) * (SLOTS - hours)


def test_a_running_workload_moves_now_to_make_room_for_a_longer_one() -> None:
    # The pending job cannot wait 10 h for Kansai (deadline): the 8-GPU blocker moves to
    # Kyushu instead, losing 10 h x 5.6 kW x 7 JPY; the pending job saves 20 h of that.
    pending = workload("pending", gpus=8, hours=20.0, deadline_h=22.0)
    decided = run(regions(full_for(10, 0, 8)), [pending, blocker(10.0)])
    start, moved = decided["pending"], decided["blocker"]
    assert start.kind is DecisionKind.RUN_NOW
    assert start.reason is Reason.ROOM_MADE
    assert start.region == "kansai"
    assert "blocker moves to kyushu" in start.message
    assert moved.kind is DecisionKind.MOVE
    assert moved.reason is Reason.MAKING_ROOM
    assert moved.region == "kyushu"
    assert moved.releases == (0, 10)
    assert moved.occupancy is not None
    assert moved.occupancy[0] == 0
    assert moved.figures is not None
    assert moved.figures.move is not None
    assert moved.figures.saving_jpy is not None
    assert moved.figures.saving_jpy < 0
    assert "make room" in moved.message


def test_room_is_planned_for_a_later_slot_when_the_move_costs_less_then() -> None:
    # The blocker has 30 h left: moving it later shortens its run in Kyushu, and the
    # pending 16-GPU job can wait up to about 9 h.
    pending = workload("pending", gpus=16, hours=20.0, deadline_h=30.0)
    decided = run(regions(full_for(30 if SLOTS > 30 else SLOTS, 8, 16)), [pending, blocker(30.0)])
    wait, stays = decided["pending"], decided["blocker"]
    assert wait.kind is DecisionKind.WAIT
    assert wait.reason is Reason.WAITING_FOR_ROOM
    assert wait.region == "kansai"
    assert wait.start_at is not None
    assert wait.start_at > NOW
    assert stays.kind is DecisionKind.STAY
    assert stays.releases is not None
    first_slot = stays.releases[0]
    assert wait.start_at == NOW + timedelta(hours=first_slot)
    assert "plan: move to kyushu" in stays.message


def test_no_room_is_made_when_waiting_for_the_natural_end_is_as_good() -> None:
    pending = workload("pending", gpus=8, hours=10.0, deadline_h=40.0)
    decided = run(regions(full_for(10, 0, 8)), [pending, blocker(10.0)])
    assert decided["pending"].kind is DecisionKind.WAIT
    assert decided["pending"].reason is Reason.WAITING_FOR_GREENER_WINDOW
    assert decided["pending"].region == "kansai"
    assert decided["blocker"].kind is DecisionKind.STAY
    assert decided["blocker"].releases is None


def test_room_is_valued_against_moving_in_once_the_blocker_ends() -> None:
    # The pending job cannot wait 10 h for Kansai (latest start about 5 h), but it can start
    # in Kyushu and move into Kansai when the blocker ends: making room saves only the first
    # 10 h, not all 20.
    pending = workload("pending", gpus=8, hours=20.0, deadline_h=26.0)
    decided = run(regions(full_for(10, 0, 8)), [pending, blocker(10.0)])
    assert decided["pending"].reason is Reason.WAITING_FOR_ROOM
    assert "and a move to kansai when blocker ends" in decided["pending"].message
    # With a minimum saving above that smaller figure (but below the whole run's), no room.
    policy = replace(POLICY, min_saving_jpy=200.0)
    decided = run(regions(full_for(10, 0, 8)), [pending, blocker(10.0)], policy)
    assert decided["pending"].kind is DecisionKind.RUN_NOW
    assert decided["pending"].region == "kyushu"
    assert decided["pending"].reason is Reason.LOWEST_COST
    assert decided["blocker"].kind is DecisionKind.STAY
    assert decided["blocker"].releases is None


def test_no_room_is_made_when_the_move_costs_more_than_the_saving() -> None:
    pending = workload("pending", gpus=8, hours=20.0, deadline_h=22.0)
    # 8 GPUs x about 2.5 h of downtime and redone work, valued at 500 JPY per GPU-hour.
    costly = blocker(10.0, checkpoint_size_gb=5000.0, checkpoint_interval_s=4 * 3600.0)
    policy = replace(POLICY, gpu_hour_value_jpy=500.0)
    decided = run(regions(full_for(10, 0, 8)), [pending, costly], policy)
    assert decided["pending"].region == "kyushu"
    assert decided["pending"].reason is Reason.LOWEST_COST
    assert decided["blocker"].kind is DecisionKind.STAY


def test_a_blocker_that_may_not_move_makes_no_room() -> None:
    pending = workload("pending", gpus=8, hours=20.0, deadline_h=22.0)
    spent = blocker(10.0, move_count=POLICY.max_moves)
    cooling = blocker(10.0, last_moved_at=NOW - timedelta(minutes=5), move_count=1)
    no_moves = replace(POLICY, max_moves=0)
    for item, policy in ((spent, POLICY), (cooling, POLICY), (blocker(10.0), no_moves)):
        decided = run(regions(full_for(10, 0, 8)), [pending, item], policy)
        assert decided["pending"].region == "kyushu"
        assert decided["blocker"].kind is DecisionKind.STAY


def test_a_blocker_whose_deadline_would_slip_makes_no_room() -> None:
    pending = workload("pending", gpus=8, hours=20.0, deadline_h=22.0)
    tight = blocker(10.0, deadline=NOW + timedelta(hours=10.8))
    decided = run(regions(full_for(10, 0, 8)), [pending, tight])
    assert decided["pending"].region == "kyushu"
    assert decided["blocker"].kind is DecisionKind.STAY
