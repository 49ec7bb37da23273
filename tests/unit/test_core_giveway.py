"""Giving way (wattbit.core.giveway): a pending plan yields its room to a running move.

Matrix: the pending plan gives way when its next plan costs less extra than the move saves
(GaveWay start elsewhere, GreenerRegion move into the room, capacity booked once); it keeps
its room when the extra is larger; a drain is never the beneficiary (drains go first anyway).
"""

from __future__ import annotations

from tests.unit.test_core_displace import run
from tests.unit.test_core_planner import RegionBuilder, link, make_region, workload
from wattbit.core.model import Decision, DecisionKind, Reason, WorkloadSnapshot

# No Tokyo-Kyushu link: the running workload can leave Tokyo only for Kansai.
LINKS = (link("tokyo", "kansai"), link("kansai", "kyushu"))


def regions(kyushu_carbon: float) -> list[RegionBuilder]:
    """Kansai is cheapest, with room for one 8-GPU job; Tokyo (dear) and Kyushu are roomy."""
    return [
        make_region("tokyo").carbon(470).price(14).free(256),
        make_region("kansai").carbon(100).price(5).free(8),
        make_region("kyushu").carbon(kyushu_carbon).price(5).free(256),
    ]


def decided(builders: list[RegionBuilder], items: list[WorkloadSnapshot]) -> dict[str, Decision]:
    return run(builders, items, links=LINKS)


def jobs(running_hours: float = 20.0) -> list[WorkloadSnapshot]:
    # The pending job cannot wait for the running one to finish in Kansai.
    pending = workload("pending", gpus=8, hours=6.0, deadline_h=8.0)
    running = workload("running", gpus=8, hours=running_hours, deadline_h=40.0, running_in="tokyo")
    return [pending, running]


def test_a_pending_plan_gives_way_when_the_move_saves_more() -> None:
    # Kyushu is a little dearer than Kansai for the 6 h job; Tokyo is far dearer for the 20 h
    # run that wants to leave it.
    result = decided(regions(kyushu_carbon=120), jobs())
    start, move = result["pending"], result["running"]
    assert move.kind is DecisionKind.MOVE
    assert move.reason is Reason.GREENER_REGION
    assert move.region == "kansai"
    assert start.reason is Reason.GAVE_WAY
    assert start.region == "kyushu"
    assert "gave way in kansai to running" in start.message
    assert start.figures is not None
    assert move.figures is not None


def test_a_pending_plan_keeps_its_room_when_its_next_plan_costs_more() -> None:
    # Kyushu is dirty and the running job has 3 h left: the pending 6 h job would lose more
    # in Tokyo than the move saves.
    result = decided(regions(kyushu_carbon=900), jobs(running_hours=3.0))
    assert result["pending"].region == "kansai"
    assert result["pending"].reason is Reason.LOWEST_COST
    assert result["running"].kind is DecisionKind.STAY
    assert result["running"].reason is Reason.INSUFFICIENT_CAPACITY
