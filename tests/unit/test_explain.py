"""Per-region figures beside a decision (wattbit.core.explain).

Matrix:
- `candidates` figures: energy = GPUs x kW per GPU x remaining hours x PUE, kgCO2 from the
  current carbon, cost = energy x price + carbon x the policy's carbon price (and the policy's
  weights), free GPUs from slot 0 (none given: 0);
- ineligibility, in order of precedence: RegionUnavailable, RegionNotAllowed, SignalStale,
  InsufficientCapacity; the current region of a running workload is never
  InsufficientCapacity (its own GPUs are in use there);
- order: eligible regions cheapest first, then the ineligible ones by cost, ties by name;
- `summary`: the decision's message, then every region's figures with its reason, as in the
  README; no region compared leaves the message alone.
Skipped on purpose: the planner's own forecast-aware figures (`Decision.figures`,
test_core_planner.py) and how the records store candidates (tests/integration).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from wattbit.core.explain import Candidate, candidates, summary
from wattbit.core.model import (
    Decision,
    DecisionKind,
    Policy,
    Reason,
    RegionName,
    RegionSnapshot,
    WorkloadId,
    WorkloadSnapshot,
    WorkloadState,
)

NOW = datetime(2026, 12, 2, 10, 30, tzinfo=UTC)
POLICY = Policy(carbon_price_jpy_per_tonne=10_000.0)


def region(
    name: str,
    *,
    carbon: float = 400.0,
    price: float = 20.0,
    pue: float = 1.5,
    free: tuple[int, ...] = (16,),
    observed_ago_s: float = 0.0,
    available: bool = True,
) -> RegionSnapshot:
    return RegionSnapshot(
        name=RegionName(name),
        carbon_g_per_kwh=carbon,
        price_jpy_per_kwh=price,
        signal_observed_at=NOW - timedelta(seconds=observed_ago_s),
        signal_max_age_s=900.0,
        free_gpus=free,
        pue=pue,
        available=available,
    )


def workload(**changes: object) -> WorkloadSnapshot:
    """8 GPUs at 0.7 kW for 2 h, pending, anywhere."""
    base = WorkloadSnapshot(
        workload_id=WorkloadId("Job/ml-team/train"),
        gpus=8,
        power_kw_per_gpu=0.7,
        remaining_runtime_s=2 * 3600.0,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def only(item: WorkloadSnapshot, snapshot: RegionSnapshot, policy: Policy = POLICY) -> Candidate:
    (candidate,) = candidates(item, [snapshot], policy, NOW)
    return candidate


# ---------------------------------------------------------------- figures


def test_figures_are_energy_carbon_and_carbon_priced_cost() -> None:
    candidate = only(workload(), region("kyushu"))
    # 8 GPUs x 0.7 kW x 2 h x PUE 1.5
    assert candidate.energy_kwh == pytest.approx(16.8)
    assert candidate.carbon_kg == pytest.approx(16.8 * 400 / 1000)
    # 16.8 kWh x 20 JPY + 6720 g x 0.01 JPY/g (10,000 JPY/t)
    assert candidate.cost_jpy == pytest.approx(336.0 + 67.2)
    assert (candidate.carbon_g_per_kwh, candidate.price_jpy_per_kwh) == (400.0, 20.0)
    assert candidate.free_gpus == 16
    assert candidate.eligible
    assert candidate.reason is None


def test_the_cost_uses_the_policys_carbon_price_and_weights() -> None:
    dear = only(workload(), region("kyushu"), Policy(carbon_price_jpy_per_tonne=50_000.0))
    assert dear.cost_jpy == pytest.approx(336.0 + 336.0)
    price_only = only(workload(), region("kyushu"), Policy(carbon_price_jpy_per_tonne=0.0))
    assert price_only.cost_jpy == pytest.approx(336.0)
    weighted = only(workload(), region("kyushu"), Policy(price_weight=0.5, carbon_weight=2.0))
    assert weighted.cost_jpy == pytest.approx(168.0 + 134.4)


def test_the_gpu_power_and_runtime_scale_the_energy() -> None:
    candidate = only(
        workload(gpus=2, power_kw_per_gpu=0.5, remaining_runtime_s=1800.0), region("k", pue=1.0)
    )
    assert candidate.energy_kwh == pytest.approx(2 * 0.5 * 0.5)


def test_free_gpus_are_slot_zeros_and_none_given_is_zero() -> None:
    assert only(workload(), region("kyushu", free=(12, 4))).free_gpus == 12
    empty = only(workload(), region("kyushu", free=()))
    assert empty.free_gpus == 0
    assert empty.reason is Reason.INSUFFICIENT_CAPACITY


# ---------------------------------------------------------------- eligibility


@pytest.mark.parametrize(
    ("snapshot", "item", "reason"),
    [
        (region("r", available=False), workload(), Reason.REGION_UNAVAILABLE),
        (
            region("r"),
            workload(allowed_regions=frozenset({RegionName("other")})),
            Reason.REGION_NOT_ALLOWED,
        ),
        (region("r", observed_ago_s=901.0), workload(), Reason.SIGNAL_STALE),
        (region("r", free=(7,)), workload(), Reason.INSUFFICIENT_CAPACITY),
        # Precedence: the first failing check names the reason.
        (
            region("r", available=False, observed_ago_s=5000.0, free=(0,)),
            workload(allowed_regions=frozenset({RegionName("other")})),
            Reason.REGION_UNAVAILABLE,
        ),
        (
            region("r", observed_ago_s=5000.0, free=(0,)),
            workload(allowed_regions=frozenset({RegionName("other")})),
            Reason.REGION_NOT_ALLOWED,
        ),
        (region("r", observed_ago_s=5000.0, free=(0,)), workload(), Reason.SIGNAL_STALE),
    ],
    ids=[
        "unavailable",
        "not-allowed",
        "stale",
        "no-room",
        "unavailable-first",
        "not-allowed-before-stale",
        "stale-before-no-room",
    ],
)
def test_ineligible_regions_say_why(
    snapshot: RegionSnapshot, item: WorkloadSnapshot, reason: Reason
) -> None:
    candidate = only(item, snapshot)
    assert not candidate.eligible
    assert candidate.reason is reason


def test_exactly_enough_room_and_an_allowed_region_are_eligible() -> None:
    item = workload(allowed_regions=frozenset({RegionName("r")}))
    assert only(item, region("r", free=(8,), observed_ago_s=900.0)).eligible


def test_the_current_region_is_never_short_of_room() -> None:
    item = workload(state=WorkloadState.RUNNING, current_region=RegionName("kyushu"))
    here = only(item, region("kyushu", free=(0,)))
    assert here.eligible
    assert here.free_gpus == 0
    assert only(item, region("tokyo", free=(0,))).reason is Reason.INSUFFICIENT_CAPACITY


# ---------------------------------------------------------------- order


def test_eligible_regions_come_first_cheapest_first() -> None:
    regions = [
        region("dear", price=30.0),
        region("cheapest-but-full", price=5.0, free=(0,)),
        region("cheap", price=10.0),
        region("also-cheap", price=10.0),
        region("stale", price=1.0, observed_ago_s=5000.0),
    ]
    compared = candidates(workload(), regions, POLICY, NOW)
    assert [c.region for c in compared] == [
        "also-cheap",
        "cheap",
        "dear",
        "stale",
        "cheapest-but-full",
    ]
    assert [c.eligible for c in compared] == [True, True, True, False, False]


def test_no_regions_no_candidates() -> None:
    assert candidates(workload(), [], POLICY, NOW) == ()


# ---------------------------------------------------------------- summary


def decision(message: str = "placed in kyushu, lowest carbon-adjusted cost") -> Decision:
    return Decision(
        workload_id=WorkloadId("Job/ml-team/train"),
        kind=DecisionKind.RUN_NOW,
        reason=Reason.LOWEST_COST,
        message=message,
        region=RegionName("kyushu"),
        start_at=NOW,
    )


def test_the_summary_lists_every_regions_figures_after_the_message() -> None:
    compared = candidates(
        workload(),
        [region("kyushu"), region("tokyo", carbon=500.0, price=25.0, free=(4,))],
        POLICY,
        NOW,
    )
    assert summary(decision(), compared) == (
        "placed in kyushu, lowest carbon-adjusted cost; at current signals: "
        "kyushu: 403 JPY, 6.7 kgCO2, 16 GPUs free; "
        "tokyo: 504 JPY, 8.4 kgCO2, 4 GPUs free [InsufficientCapacity]"
    )


def test_without_candidates_the_summary_is_the_message() -> None:
    assert summary(decision("held"), ()) == "held"
