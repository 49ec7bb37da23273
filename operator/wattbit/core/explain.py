"""Per-region figures behind a decision, for the record and its message.

This module's one job is to say, for one workload, what each region would cost now: free GPUs,
current carbon and price, the facility energy, kgCO2 and JPY of the remaining run at today's
signals, and why a region could not take it. The planner's own choice (with its forecast-aware
figures) is in `Decision.figures`; these are the comparisons a person reads beside it.

WARNING: pure. No I/O, no clock (`now` is a parameter), no Kubernetes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from wattbit.core.model import (
    GRAMS_PER_KG,
    SECONDS_PER_HOUR,
    Decision,
    Policy,
    Reason,
    RegionName,
    RegionSnapshot,
    WorkloadSnapshot,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Candidate:
    """One region as compared for one workload."""

    region: RegionName
    eligible: bool
    reason: Reason | None
    """Why it could not take the workload (None: it could)."""
    free_gpus: int
    carbon_g_per_kwh: float
    price_jpy_per_kwh: float
    energy_kwh: float
    carbon_kg: float
    cost_jpy: float
    """Electricity plus carbon at the policy's price (the objective), JPY."""


def candidates(
    workload: WorkloadSnapshot,
    regions: Sequence[RegionSnapshot],
    policy: Policy,
    now: datetime,
    no_room_on_nodes: frozenset[str] = frozenset(),
) -> tuple[Candidate, ...]:
    """Every region's figures for running the workload's remaining time from now, cheapest
    eligible first. `no_room_on_nodes`: regions whose nodes cannot hold its pods, although
    their free GPUs add up (the caller knows the nodes)."""
    hours = workload.remaining_runtime_s / SECONDS_PER_HOUR
    out: list[Candidate] = []
    for region in regions:
        energy = workload.busy_kw * hours * region.pue
        carbon_g = energy * region.carbon_g_per_kwh
        cost = (
            policy.price_weight * energy * region.price_jpy_per_kwh
            + policy.carbon_weight * carbon_g * policy.carbon_price_jpy_per_g
        )
        free = region.free_gpus[0] if region.free_gpus else 0
        reason = (
            Reason.INSUFFICIENT_CAPACITY
            if region.name in no_room_on_nodes
            else _ineligible(workload, region, free, now)
        )
        out.append(
            Candidate(
                region=region.name,
                eligible=reason is None,
                reason=reason,
                free_gpus=free,
                carbon_g_per_kwh=region.carbon_g_per_kwh,
                price_jpy_per_kwh=region.price_jpy_per_kwh,
                energy_kwh=energy,
                carbon_kg=carbon_g / GRAMS_PER_KG,
                cost_jpy=cost,
            )
        )
    return tuple(sorted(out, key=lambda c: (not c.eligible, c.cost_jpy, c.region)))


def _ineligible(
    workload: WorkloadSnapshot, region: RegionSnapshot, free: int, now: datetime
) -> Reason | None:
    if not region.available:
        return Reason.REGION_UNAVAILABLE
    if workload.allowed_regions is not None and region.name not in workload.allowed_regions:
        return Reason.REGION_NOT_ALLOWED
    if region.is_stale(now):
        return Reason.SIGNAL_STALE
    if region.name != workload.current_region and free < workload.gpus:
        return Reason.INSUFFICIENT_CAPACITY
    return None


def summary(decision: Decision, compared: Sequence[Candidate]) -> str:
    """The decision's message followed by every region's figures, as in the README."""
    parts = [
        f"{c.region}: {c.cost_jpy:.0f} JPY, {c.carbon_kg:.1f} kgCO2, {c.free_gpus} GPUs free"
        + ("" if c.reason is None else f" [{c.reason}]")
        for c in compared
    ]
    if not parts:
        return decision.message
    return f"{decision.message}; at current signals: {'; '.join(parts)}"
