"""Choose the region where a held workload should start now.

This is the first placement rule of the decision core: rank the regions by the
carbon-adjusted energy cost of running the workload there,

    cost_jpy = energy_kwh * (price_jpy_per_kwh + carbon_g_per_kwh * carbon_price_jpy_per_g)

among the regions that are eligible (available, allowed, fresh signals, enough
free GPUs), and explain the choice with every figure compared.

It must stay pure: no I/O, no clock, no Kubernetes. Inputs are plain numbers
with their units in the names; the caller builds them from the cluster.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

GRAMS_PER_TONNE = 1_000_000.0
GRAMS_PER_KG = 1_000.0


class DecisionKind(StrEnum):
    """What the operator should do with a held workload."""

    RUN_NOW = "RunNow"
    HOLD = "Hold"


class Reason(StrEnum):
    """CamelCase reasons shared by decisions, conditions, Events and metric labels."""

    LOWEST_COST = "LowestCost"
    ONLY_ELIGIBLE_REGION = "OnlyEligibleRegion"
    NO_REGIONS = "NoRegions"
    NO_ELIGIBLE_REGION = "NoEligibleRegion"
    INSUFFICIENT_CAPACITY = "InsufficientCapacity"
    SIGNAL_STALE = "SignalStale"
    SIGNALS_MISSING = "SignalsMissing"
    REGION_UNAVAILABLE = "RegionUnavailable"
    REGION_NOT_ALLOWED = "RegionNotAllowed"
    ELIGIBLE = "Eligible"
    INVALID_WORKLOAD = "InvalidWorkload"


@dataclass(frozen=True, slots=True, kw_only=True)
class RegionOffer:
    """One region as the core sees it at decision time."""

    name: str
    carbon_g_per_kwh: float | None
    price_jpy_per_kwh: float | None
    free_gpus: int
    pue: float = 1.0
    available: bool = True
    signals_fresh: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkloadDemand:
    """What a workload needs to run, and where it may run."""

    gpus: int
    power_kw_per_gpu: float
    expected_duration_hours: float
    allowed_regions: frozenset[str] | None = None

    @property
    def it_energy_kwh(self) -> float:
        """Energy drawn by the GPUs themselves, before the site's PUE."""
        return self.gpus * self.power_kw_per_gpu * self.expected_duration_hours


@dataclass(frozen=True, slots=True, kw_only=True)
class CostPolicy:
    """How carbon is folded into cost."""

    carbon_price_jpy_per_tonne: float

    @property
    def carbon_price_jpy_per_g(self) -> float:
        return self.carbon_price_jpy_per_tonne / GRAMS_PER_TONNE


@dataclass(frozen=True, slots=True, kw_only=True)
class CandidateCost:
    """The figures compared for one region, and whether it could be chosen."""

    region: str
    eligible: bool
    reason: Reason
    free_gpus: int
    carbon_g_per_kwh: float | None
    price_jpy_per_kwh: float | None
    energy_kwh: float | None = None
    carbon_kg: float | None = None
    cost_jpy: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PlacementDecision:
    """The outcome for one workload: a region to run in now, or a reasoned hold."""

    kind: DecisionKind
    region: str | None
    reason: Reason
    message: str
    candidates: tuple[CandidateCost, ...] = field(default_factory=tuple)

    @property
    def chosen(self) -> CandidateCost | None:
        return next((c for c in self.candidates if c.region == self.region), None)


def estimate_cost(
    demand: WorkloadDemand, offer: RegionOffer, policy: CostPolicy
) -> tuple[float, float, float]:
    """Return (energy_kwh, carbon_kg, cost_jpy) of running the demand in the region."""
    if offer.carbon_g_per_kwh is None or offer.price_jpy_per_kwh is None:
        raise ValueError(f"region {offer.name} has no signals to cost against")
    energy_kwh = demand.it_energy_kwh * offer.pue
    carbon_g = energy_kwh * offer.carbon_g_per_kwh
    cost_jpy = energy_kwh * offer.price_jpy_per_kwh + carbon_g * policy.carbon_price_jpy_per_g
    return energy_kwh, carbon_g / GRAMS_PER_KG, cost_jpy


def _ineligibility(demand: WorkloadDemand, offer: RegionOffer) -> Reason | None:
    # Order matters: the first failing check is the one a person needs to fix.
    if demand.allowed_regions is not None and offer.name not in demand.allowed_regions:
        return Reason.REGION_NOT_ALLOWED
    if not offer.available:
        return Reason.REGION_UNAVAILABLE
    if offer.carbon_g_per_kwh is None or offer.price_jpy_per_kwh is None:
        return Reason.SIGNALS_MISSING
    if not offer.signals_fresh:
        return Reason.SIGNAL_STALE
    if offer.free_gpus < demand.gpus:
        return Reason.INSUFFICIENT_CAPACITY
    return None


def cost_candidates(
    demand: WorkloadDemand, offers: Iterable[RegionOffer], policy: CostPolicy
) -> tuple[CandidateCost, ...]:
    """Cost every region, eligible or not (ineligible ones still show their signals)."""
    candidates: list[CandidateCost] = []
    for offer in sorted(offers, key=lambda o: o.name):
        problem = _ineligibility(demand, offer)
        energy_kwh = carbon_kg = cost_jpy = None
        if offer.carbon_g_per_kwh is not None and offer.price_jpy_per_kwh is not None:
            energy_kwh, carbon_kg, cost_jpy = estimate_cost(demand, offer, policy)
        candidates.append(
            CandidateCost(
                region=offer.name,
                eligible=problem is None,
                reason=problem or Reason.ELIGIBLE,
                free_gpus=offer.free_gpus,
                carbon_g_per_kwh=offer.carbon_g_per_kwh,
                price_jpy_per_kwh=offer.price_jpy_per_kwh,
                energy_kwh=energy_kwh,
                carbon_kg=carbon_kg,
                cost_jpy=cost_jpy,
            )
        )
    return tuple(candidates)


def _hold_reason(candidates: tuple[CandidateCost, ...]) -> Reason:
    """The single reason that best explains why no region fits."""
    reasons = {c.reason for c in candidates}
    for reason in (
        Reason.INSUFFICIENT_CAPACITY,
        Reason.SIGNAL_STALE,
        Reason.SIGNALS_MISSING,
        Reason.REGION_UNAVAILABLE,
        Reason.REGION_NOT_ALLOWED,
    ):
        if reasons == {reason}:
            return reason
    return Reason.NO_ELIGIBLE_REGION


def _describe(candidate: CandidateCost) -> str:
    if candidate.cost_jpy is None or candidate.carbon_kg is None:
        return f"{candidate.region}: {candidate.reason}"
    state = "" if candidate.eligible else f" [{candidate.reason}]"
    return (
        f"{candidate.region}: {candidate.cost_jpy:.0f} JPY, {candidate.carbon_kg:.1f} kgCO2, "
        f"{candidate.free_gpus} GPUs free{state}"
    )


def choose_region(
    demand: WorkloadDemand, offers: Iterable[RegionOffer], policy: CostPolicy
) -> PlacementDecision:
    """Pick the eligible region with the lowest carbon-adjusted cost, or hold with a reason.

    Ties are broken by lower carbon, then by name, so the result is deterministic.
    """
    candidates = cost_candidates(demand, offers, policy)
    if not candidates:
        return PlacementDecision(
            kind=DecisionKind.HOLD,
            region=None,
            reason=Reason.NO_REGIONS,
            message="no Region resources exist; create at least one Region",
        )
    eligible = [c for c in candidates if c.eligible]
    compared = "; ".join(_describe(c) for c in candidates)
    if not eligible:
        reason = _hold_reason(candidates)
        return PlacementDecision(
            kind=DecisionKind.HOLD,
            region=None,
            reason=reason,
            message=f"held: no region can run {demand.gpus} GPU(s) now ({compared})",
            candidates=candidates,
        )
    best = min(eligible, key=lambda c: (c.cost_jpy, c.carbon_g_per_kwh, c.region))
    reason = Reason.ONLY_ELIGIBLE_REGION if len(eligible) == 1 else Reason.LOWEST_COST
    return PlacementDecision(
        kind=DecisionKind.RUN_NOW,
        region=best.region,
        reason=reason,
        message=f"placed in {best.region}, lowest carbon-adjusted cost ({compared})",
        candidates=candidates,
    )


def reserve(free_gpus: Mapping[str, int], region: str, gpus: int) -> dict[str, int]:
    """Free GPUs after reserving ``gpus`` in ``region``: batch callers use it to avoid herding."""
    updated = dict(free_gpus)
    updated[region] = updated.get(region, 0) - gpus
    return updated
