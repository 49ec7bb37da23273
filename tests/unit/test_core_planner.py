"""The batch planner (wattbit.core.planner.decide): every decision kind and reason.

Matrix:
- pending: LowestCost run now; WaitingForGreenerWindow wait; the minimum saving keeps marginal
  waits from happening; waiting disabled; NoEligibleRegion (allowed regions, latency limit,
  unavailable); SignalStale hold and SignalsUnavailable release after the maximum hold;
  DeadlineAtRisk runs now in the cheapest region free now (SignalsUnavailable: home);
  InsufficientCapacity; spill to the next region
  when the best is full (no herding), by GPUs and by power headroom; a stale region never wins;
- running: GreenerRegion move; AlreadyBest; SignalStale (current region); MigrationDisabled;
  MoveLimitReached; CooldownActive; NoLink; SignalDipTooShort; DeadlineTooClose;
  GainBelowMoveCost; InsufficientCapacity; RegionDraining drain; a round trip for a dip;
- figures and messages; determinism and region/link order invariance; input validation.
Skips: the exact HiGHS assignment's internals (test_core_assignment.py) and randomised
invariants (tests/property/test_core_properties.py).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

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
NOW = datetime(2025, 4, 7, 8, 0, tzinfo=JST)
SLOTS = 24
HORIZON = Horizon(start=NOW, slot_s=3600.0, slot_count=SLOTS)
POLICY = Policy(min_saving_fraction=0.02, max_moves=4)


class RegionBuilder:
    """`make_region("kyushu").carbon(120).price(3.2).free(16).build()`"""

    def __init__(self, name: str) -> None:
        self._name = name
        self._carbon: tuple[float, ...] = (300.0,)
        self._price: tuple[float, ...] = (10.0,)
        self._free: tuple[int, ...] = (64,)
        self._headroom: tuple[float, ...] = ()
        self._observed = NOW
        self._available = True
        self._pue = 1.0

    def carbon(self, *values: float) -> RegionBuilder:
        self._carbon = tuple(float(v) for v in values)
        return self

    def price(self, *values: float) -> RegionBuilder:
        self._price = tuple(float(v) for v in values)
        return self

    def free(self, *gpus: int) -> RegionBuilder:
        self._free = gpus
        return self

    def headroom(self, *kw: float) -> RegionBuilder:
        self._headroom = kw
        return self

    def stale(self) -> RegionBuilder:
        self._observed = NOW - timedelta(hours=3)
        return self

    def unavailable(self) -> RegionBuilder:
        self._available = False
        return self

    def pue(self, value: float) -> RegionBuilder:
        self._pue = value
        return self

    def build(self) -> RegionSnapshot:
        return RegionSnapshot(
            name=RegionName(self._name),
            carbon_g_per_kwh=self._carbon[0],
            price_jpy_per_kwh=self._price[0],
            signal_observed_at=self._observed,
            carbon_forecast_g_per_kwh=self._carbon,
            price_forecast_jpy_per_kwh=self._price,
            free_gpus=self._free,
            power_headroom_kw=self._headroom,
            pue=self._pue,
            available=self._available,
        )


def make_region(name: str) -> RegionBuilder:
    return RegionBuilder(name)


def workload(
    name: str = "w",
    *,
    gpus: int = 8,
    hours: float = 3.0,
    deadline_h: float | None = 24.0,
    home: str = "tokyo",
    running_in: str | None = None,
    **changes: object,
) -> WorkloadSnapshot:
    base = WorkloadSnapshot(
        workload_id=WorkloadId(name),
        gpus=gpus,
        remaining_runtime_s=hours * 3600.0,
        deadline=None if deadline_h is None else NOW + timedelta(hours=deadline_h),
        home_region=RegionName(home),
        state=WorkloadState.RUNNING if running_in else WorkloadState.PENDING,
        current_region=RegionName(running_in) if running_in else None,
        submitted_at=NOW,
        checkpoint_size_gb=100.0,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def link(a: str, b: str, *, gbps: float = 100.0, latency_ms: float = 3.0) -> LinkSnapshot:
    return LinkSnapshot(
        from_region=RegionName(a),
        to_region=RegionName(b),
        latency_ms=latency_ms,
        bandwidth_gbps=gbps,
    )


LINKS = (link("tokyo", "kansai"), link("tokyo", "kyushu"), link("kansai", "kyushu"))


def one(
    regions: list[RegionBuilder],
    item: WorkloadSnapshot,
    *,
    policy: Policy = POLICY,
    links: tuple[LinkSnapshot, ...] = LINKS,
) -> Decision:
    (decision,) = decide(
        regions=[r.build() for r in regions],
        workloads=[item],
        policy=policy,
        now=NOW,
        links=links,
        horizon=HORIZON,
    )
    return decision


def flat_regions() -> list[RegionBuilder]:
    return [
        make_region("tokyo").carbon(470).price(12),
        make_region("kansai").carbon(255).price(9),
        make_region("kyushu").carbon(400).price(11),
    ]


# ---------------------------------------------------------------- pending


def test_runs_now_in_the_cheapest_region_with_figures() -> None:
    decision = one(flat_regions(), workload())
    assert decision.kind is DecisionKind.RUN_NOW
    assert decision.reason is Reason.LOWEST_COST
    assert decision.region == "kansai"
    assert decision.start_at == NOW
    figures = decision.figures
    assert figures is not None
    # 8 GPUs x 0.7 kW x 3 h = 16.8 kWh; 9 JPY + 255 g x 0.01 JPY/g = 11.55 JPY/kWh.
    assert figures.energy_kwh == pytest.approx(16.8)
    assert figures.adjusted_cost_jpy == pytest.approx(16.8 * 11.55)
    assert figures.carbon_kg == pytest.approx(16.8 * 0.255)
    assert figures.baseline_region == "tokyo"
    assert figures.saving_jpy == pytest.approx(16.8 * (16.7 - 11.55))
    assert "kansai" in decision.message
    assert "tokyo" in decision.message
    assert decision.occupancy == (0, 3)


def test_waits_for_a_greener_window_when_it_saves_enough() -> None:
    dip = [400.0] * 3 + [100.0] * 4 + [400.0] * 17
    regions = [make_region("tokyo").carbon(*dip).price(10)]
    decision = one(regions, workload(hours=3))
    assert decision.kind is DecisionKind.WAIT
    assert decision.reason is Reason.WAITING_FOR_GREENER_WINDOW
    assert decision.start_at == NOW + timedelta(hours=3)
    assert decision.occupancy == (3, 6)
    assert decision.figures is not None
    assert decision.figures.required_saving_jpy > 0


def test_a_marginal_window_does_not_justify_waiting() -> None:
    tiny_dip = [400.0] * 3 + [399.0] * 4 + [400.0] * 17
    decision = one([make_region("tokyo").carbon(*tiny_dip).price(10)], workload())
    assert decision.kind is DecisionKind.RUN_NOW


def test_no_waiting_when_the_policy_forbids_it() -> None:
    dip = [400.0] * 3 + [100.0] * 4 + [400.0] * 17
    decision = one(
        [make_region("tokyo").carbon(*dip)],
        workload(),
        policy=replace(POLICY, allow_waiting=False),
    )
    assert decision.kind is DecisionKind.RUN_NOW


def test_waiting_never_pushes_completion_past_the_deadline() -> None:
    dip = [400.0] * 10 + [50.0] * 4 + [400.0] * 10
    decision = one([make_region("tokyo").carbon(*dip)], workload(hours=3, deadline_h=8))
    assert decision.figures is not None
    assert decision.figures.slack_s is not None
    assert decision.figures.slack_s >= POLICY.safety_margin_s


@pytest.mark.parametrize(
    ("item", "regions"),
    [
        (workload(allowed_regions=frozenset({RegionName("osaka")})), flat_regions()),
        (workload(data_region=RegionName("tokyo"), max_latency_ms=1.0), flat_regions()[1:]),
        (workload(), [make_region("tokyo").unavailable()]),
    ],
    ids=["not-allowed", "too-far", "unavailable"],
)
def test_hold_when_no_region_is_eligible(
    item: WorkloadSnapshot, regions: list[RegionBuilder]
) -> None:
    decision = one(regions, item)
    assert decision.kind is DecisionKind.HOLD
    assert decision.reason is Reason.NO_ELIGIBLE_REGION


def test_latency_limit_keeps_work_near_its_data() -> None:
    item = workload(data_region=RegionName("tokyo"), max_latency_ms=4.0)
    far = (link("tokyo", "kansai", latency_ms=3.0), link("tokyo", "kyushu", latency_ms=7.0))
    regions = [
        make_region("tokyo").carbon(470),
        make_region("kansai").carbon(300),
        make_region("kyushu").carbon(100),
    ]
    assert one(regions, item, links=far).region == "kansai"


def test_hold_on_stale_signals_then_release_carbon_agnostic() -> None:
    regions = [make_region("tokyo").stale(), make_region("kansai").stale()]
    held = one(regions, workload())
    assert (held.kind, held.reason) == (DecisionKind.HOLD, Reason.SIGNAL_STALE)
    released = one(regions, workload(submitted_at=NOW - timedelta(hours=7)))
    assert (released.kind, released.reason) == (DecisionKind.RUN_NOW, Reason.SIGNALS_UNAVAILABLE)
    assert released.region == "tokyo"


def test_a_stale_region_never_wins() -> None:
    regions = [make_region("tokyo").carbon(470), make_region("kyushu").carbon(10).price(0).stale()]
    decision = one(regions, workload())
    assert decision.region == "tokyo"


def test_deadline_at_risk_runs_now_in_the_cheapest_region_free_now() -> None:
    # The start is now wherever it runs, so the region is still chosen on cost (home-first
    # gave that saving away); a region without room is passed over.
    decision = one(flat_regions(), workload(hours=3, deadline_h=3.2))
    assert decision.kind is DecisionKind.RUN_NOW
    assert decision.reason is Reason.DEADLINE_AT_RISK
    assert decision.region == "kansai"
    regions = flat_regions()
    regions[1].free(4)
    decision = one(regions, workload(hours=3, deadline_h=3.2))
    assert (decision.reason, decision.region) == (Reason.DEADLINE_AT_RISK, "kyushu")


def test_signals_unavailable_still_runs_in_the_home_region() -> None:
    stale = [region.stale() for region in flat_regions()]
    decision = one(stale, workload(submitted_at=NOW - timedelta(hours=7)))
    assert (decision.reason, decision.region) == (Reason.SIGNALS_UNAVAILABLE, "tokyo")


def test_hold_when_no_region_has_the_gpus() -> None:
    regions = [make_region("tokyo").free(4), make_region("kansai").free(4)]
    decision = one(regions, workload(gpus=8))
    assert (decision.kind, decision.reason) == (DecisionKind.HOLD, Reason.INSUFFICIENT_CAPACITY)


def test_no_herding_beyond_free_gpus() -> None:
    regions = [
        make_region("tokyo").carbon(470).free(64),
        make_region("kansai").carbon(200).free(16),
    ]
    items = [workload(f"w{i}") for i in range(4)]
    decisions = decide(
        regions=[r.build() for r in regions],
        workloads=items,
        policy=replace(POLICY, allow_waiting=False),
        now=NOW,
        horizon=HORIZON,
    )
    placed = [d.region for d in decisions]
    assert placed.count(RegionName("kansai")) == 2
    assert placed.count(RegionName("tokyo")) == 2


def test_power_headroom_limits_placement() -> None:
    regions = [
        make_region("tokyo").carbon(470),
        make_region("kansai").carbon(200).headroom(6.0),  # 8 x 0.7 kW = 5.6 kW fits once
    ]
    decisions = decide(
        regions=[r.build() for r in regions],
        workloads=[workload("a"), workload("b")],
        policy=replace(POLICY, allow_waiting=False),
        now=NOW,
        horizon=HORIZON,
    )
    assert sorted(str(d.region) for d in decisions) == ["kansai", "tokyo"]


# ---------------------------------------------------------------- running


def running(**changes: object) -> WorkloadSnapshot:
    values: dict[str, object] = {"hours": 10.0, "deadline_h": 48.0, "running_in": "tokyo"}
    values.update(changes)
    return workload("r", **values)  # type: ignore[arg-type]


def test_moves_to_a_greener_region_when_the_saving_beats_the_move() -> None:
    decision = one(flat_regions(), running())
    assert decision.kind is DecisionKind.MOVE
    assert decision.reason is Reason.GREENER_REGION
    assert decision.region == "kansai"
    figures = decision.figures
    assert figures is not None
    assert figures.move is not None
    move = figures.move
    # 100 GB: write at 40 Gbps = 20 s; 100 Gbps = 8 s + 3 ms; restart 300 s; half an hour lost.
    assert move.checkpoint_write_s == pytest.approx(20.0)
    assert move.transfer_s == pytest.approx(8.003)
    assert move.restart_s == pytest.approx(300.0)
    assert move.lost_work_s == pytest.approx(1800.0)
    assert figures.saving_jpy >= figures.required_saving_jpy
    assert figures.expected_completion == NOW + timedelta(hours=10, seconds=move.delay_s)


def test_stays_when_already_in_the_best_region() -> None:
    decision = one(flat_regions(), running(running_in="kansai"))
    assert (decision.kind, decision.reason) == (DecisionKind.STAY, Reason.ALREADY_BEST)
    assert decision.region == "kansai"


@pytest.mark.parametrize(
    ("changes", "policy", "reason"),
    [
        ({}, replace(POLICY, max_moves=0), Reason.MIGRATION_DISABLED),
        ({"move_count": 4}, POLICY, Reason.MOVE_LIMIT_REACHED),
        (
            {"last_moved_at": NOW - timedelta(minutes=20), "previous_region": RegionName("kansai")},
            POLICY,
            Reason.COOLDOWN_ACTIVE,
        ),
        ({"deadline_h": 10.8}, POLICY, Reason.DEADLINE_TOO_CLOSE),
        ({}, replace(POLICY, gpu_hour_value_jpy=1000.0), Reason.GAIN_BELOW_MOVE_COST),
        ({"hours": 0.5}, POLICY, Reason.GAIN_BELOW_MOVE_COST),
    ],
    ids=["disabled", "budget", "cooldown", "deadline", "gpu-hours-valued", "almost-done"],
)
def test_stay_reasons(changes: dict[str, object], policy: Policy, reason: Reason) -> None:
    decision = one(flat_regions(), running(**changes), policy=policy)
    assert decision.kind is DecisionKind.STAY
    assert decision.reason is reason
    assert decision.message.startswith("staying")


def test_stale_current_region_never_sources_a_move() -> None:
    regions = flat_regions()
    regions[0].stale()
    decision = one(regions, running())
    assert (decision.kind, decision.reason) == (DecisionKind.STAY, Reason.SIGNAL_STALE)


def test_stale_target_is_no_reason_to_move() -> None:
    regions = flat_regions()
    regions[1].stale()
    regions[2].stale()
    decision = one(regions, running())
    assert (decision.kind, decision.reason) == (DecisionKind.STAY, Reason.SIGNAL_STALE)


def test_no_link_no_move() -> None:
    decision = one(flat_regions(), running(), links=(link("kansai", "kyushu"),))
    assert (decision.kind, decision.reason) == (DecisionKind.STAY, Reason.NO_LINK)


def test_a_dip_shorter_than_the_stability_window_causes_no_move() -> None:
    dip = [200.0] + [600.0] * 23
    regions = [make_region("tokyo").carbon(470), make_region("kansai").carbon(*dip)]
    decision = one(regions, running(), policy=replace(POLICY, stability_window_s=2 * 3600))
    assert (decision.kind, decision.reason) == (DecisionKind.STAY, Reason.SIGNAL_DIP_TOO_SHORT)


def test_a_long_dip_is_worth_a_round_trip() -> None:
    # Kansai is much cheaper for 5 h, then dearer: go there and come back.
    dip = [50.0] * 5 + [700.0] * 19
    regions = [make_region("tokyo").carbon(470), make_region("kansai").carbon(*dip)]
    decision = one(
        regions,
        running(hours=20, checkpoint_size_gb=10.0, checkpoint_interval_s=600.0),
        links=(link("tokyo", "kansai"),),
    )
    assert decision.kind is DecisionKind.MOVE
    assert decision.occupancy == (0, 5)


def test_move_needs_free_gpus_in_the_target() -> None:
    regions = flat_regions()
    regions[1].free(4)
    regions[2].free(4)
    decision = one(regions, running())
    assert (decision.kind, decision.reason) == (DecisionKind.STAY, Reason.INSUFFICIENT_CAPACITY)


def test_an_unavailable_region_is_drained_even_to_a_dearer_one() -> None:
    regions = [
        make_region("tokyo").carbon(100).unavailable(),
        make_region("kansai").carbon(500),
    ]
    decision = one(regions, running(), links=(link("tokyo", "kansai"),))
    assert (decision.kind, decision.reason) == (DecisionKind.MOVE, Reason.REGION_DRAINING)
    assert decision.region == "kansai"


def test_drains_fit_the_biggest_first_whatever_the_drained_regions_signals() -> None:
    # Kansai has room for one of the two; which one must not hang on Tokyo's (stale)
    # signals, which set the staying cost.
    items = [
        workload("small", gpus=8, running_in="tokyo"),
        workload("big", gpus=16, running_in="tokyo"),
    ]
    for tokyo_price in (1.0, 40.0):
        regions = [
            make_region("tokyo").price(tokyo_price).stale().unavailable(),
            make_region("kansai").free(16),
        ]
        decisions = {
            str(d.workload_id): d
            for d in decide(
                regions=[r.build() for r in regions],
                workloads=items,
                policy=POLICY,
                now=NOW,
                links=(link("tokyo", "kansai"),),
                horizon=HORIZON,
            )
        }
        assert (decisions["big"].kind, decisions["big"].region) == (DecisionKind.MOVE, "kansai")
        assert decisions["small"].reason is Reason.INSUFFICIENT_CAPACITY


def test_draining_without_a_link_explains_itself() -> None:
    regions = [make_region("tokyo").unavailable(), make_region("kansai")]
    decision = one(regions, running(), links=())
    assert (decision.kind, decision.reason) == (DecisionKind.STAY, Reason.NO_LINK)
    assert decision.message.startswith("cannot drain")


# ---------------------------------------------------------------- batch properties


def test_same_input_same_output_whatever_the_order_of_regions_and_links() -> None:
    items = [workload("a"), workload("b", gpus=16), running(), workload("c", hours=8)]
    regions = [r.build() for r in flat_regions()]
    first = decide(
        regions=regions, workloads=items, policy=POLICY, now=NOW, links=LINKS, horizon=HORIZON
    )
    again = decide(
        regions=list(reversed(regions)),
        workloads=items,
        policy=POLICY,
        now=NOW,
        links=tuple(reversed(LINKS)),
        horizon=HORIZON,
    )
    assert first == again
    assert [d.workload_id for d in first] == ["a", "b", "r", "c"]


def test_now_must_fall_in_the_first_slot() -> None:
    with pytest.raises(ValueError, match="first slot"):
        decide(
            regions=[make_region("tokyo").build()],
            workloads=[workload()],
            policy=POLICY,
            now=NOW + timedelta(hours=2),
            horizon=HORIZON,
        )


def test_naive_now_is_rejected() -> None:
    with pytest.raises(ValueError, match="timezone"):
        decide(
            regions=[make_region("tokyo").build()],
            workloads=[workload()],
            policy=POLICY,
            now=NOW.replace(tzinfo=None),
        )


def test_empty_input_gives_no_decisions() -> None:
    assert decide(regions=[], workloads=[], policy=POLICY, now=NOW) == ()
