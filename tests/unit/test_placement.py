"""Region choice for a held workload (wattbit.core.placement).

Covers: lowest carbon-adjusted cost wins; carbon price changes the winner;
PUE scales energy; each ineligibility reason (not allowed, unavailable,
signals missing, stale, capacity) and the hold reason when all fail alike;
no regions; deterministic ties; figures in the message; batch reservation.
Skips: time windows and migration (issue 4's planner).
"""

from __future__ import annotations

import pytest

from wattbit.core.placement import (
    CostPolicy,
    DecisionKind,
    Reason,
    RegionOffer,
    WorkloadDemand,
    choose_region,
    estimate_cost,
    reserve,
)

POLICY = CostPolicy(carbon_price_jpy_per_tonne=10_000)


def region(
    name: str,
    *,
    carbon: float | None = 300,
    price: float | None = 10,
    free: int = 8,
    pue: float = 1.0,
    available: bool = True,
    signals_fresh: bool = True,
) -> RegionOffer:
    return RegionOffer(
        name=name,
        carbon_g_per_kwh=carbon,
        price_jpy_per_kwh=price,
        free_gpus=free,
        pue=pue,
        available=available,
        signals_fresh=signals_fresh,
    )


def demand(
    gpus: int = 2, hours: float = 1.0, allowed: frozenset[str] | None = None
) -> WorkloadDemand:
    return WorkloadDemand(
        gpus=gpus, power_kw_per_gpu=0.7, expected_duration_hours=hours, allowed_regions=allowed
    )


def test_cost_folds_carbon_into_price() -> None:
    energy, carbon_kg, cost = estimate_cost(
        demand(gpus=2, hours=1), region("a", carbon=500, price=10, pue=1.5), POLICY
    )
    assert energy == pytest.approx(2 * 0.7 * 1.5)
    assert carbon_kg == pytest.approx(energy * 0.5)
    # 10 JPY/kWh + 500 g/kWh * 0.01 JPY/g = 15 JPY/kWh
    assert cost == pytest.approx(energy * 15)


def test_lowest_cost_region_wins_and_message_shows_every_figure() -> None:
    decision = choose_region(
        demand(),
        [
            region("tokyo", carbon=450, price=14),
            region("kyushu", carbon=120, price=0.01),
            region("hokkaido", carbon=500, price=9),
        ],
        POLICY,
    )
    assert decision.kind is DecisionKind.RUN_NOW
    assert decision.region == "kyushu"
    assert decision.reason is Reason.LOWEST_COST
    for name in ("tokyo", "kyushu", "hokkaido"):
        assert name in decision.message
    assert decision.chosen is not None
    assert decision.chosen.cost_jpy is not None
    assert all(c.cost_jpy is not None for c in decision.candidates)


def test_carbon_price_can_change_the_winner() -> None:
    cheap_dirty = region("dirty", carbon=700, price=8)
    clean_dearer = region("clean", carbon=100, price=11)
    assert (
        choose_region(
            demand(), [cheap_dirty, clean_dearer], CostPolicy(carbon_price_jpy_per_tonne=0)
        ).region
        == "dirty"
    )
    assert (
        choose_region(
            demand(), [cheap_dirty, clean_dearer], CostPolicy(carbon_price_jpy_per_tonne=20_000)
        ).region
        == "clean"
    )


@pytest.mark.parametrize(
    ("offer", "wanted", "reason"),
    [
        (region("x", free=1), demand(gpus=2), Reason.INSUFFICIENT_CAPACITY),
        (region("x", signals_fresh=False), demand(), Reason.SIGNAL_STALE),
        (region("x", carbon=None), demand(), Reason.SIGNALS_MISSING),
        (region("x", available=False), demand(), Reason.REGION_UNAVAILABLE),
        (region("x"), demand(allowed=frozenset({"y"})), Reason.REGION_NOT_ALLOWED),
    ],
)
def test_each_ineligibility_holds_with_its_reason(
    offer: RegionOffer, wanted: WorkloadDemand, reason: Reason
) -> None:
    decision = choose_region(wanted, [offer], POLICY)
    assert decision.kind is DecisionKind.HOLD
    assert decision.region is None
    assert decision.reason is reason
    assert decision.candidates[0].reason is reason
    assert "held" in decision.message


def test_mixed_reasons_hold_as_no_eligible_region() -> None:
    decision = choose_region(
        demand(gpus=4), [region("a", free=1), region("b", signals_fresh=False)], POLICY
    )
    assert decision.reason is Reason.NO_ELIGIBLE_REGION


def test_stale_region_never_wins_even_when_cheapest() -> None:
    decision = choose_region(
        demand(),
        [
            region("stale", carbon=1, price=0.01, signals_fresh=False),
            region("fresh", carbon=600, price=20),
        ],
        POLICY,
    )
    assert decision.region == "fresh"
    assert decision.reason is Reason.ONLY_ELIGIBLE_REGION


def test_no_regions() -> None:
    decision = choose_region(demand(), [], POLICY)
    assert decision.reason is Reason.NO_REGIONS
    assert "Region" in decision.message


def test_ties_break_on_carbon_then_name() -> None:
    # Same cost: 10 + 300*0.01 = 13 vs 12 + 100*0.01 = 13 JPY/kWh.
    decision = choose_region(
        demand(), [region("b", carbon=300, price=10), region("a", carbon=100, price=12)], POLICY
    )
    assert decision.region == "a"
    same = choose_region(demand(), [region("b"), region("a")], POLICY)
    assert same.region == "a"


def test_reserve_reduces_free_gpus_for_the_next_decision() -> None:
    free = reserve({"kyushu": 8, "tokyo": 8}, "kyushu", 6)
    assert free == {"kyushu": 2, "tokyo": 8}
