"""Glue between a Region's signal source, the providers, and the Region status model.

Builds the provider for a Region spec, and converts readings to and from the
status shape. Kept out of the Region handler so the handler stays wiring only.
"""

from __future__ import annotations

from datetime import datetime

from wattbit.api.v1alpha1.region import ForecastPoint as ForecastPointStatus
from wattbit.api.v1alpha1.region import GpuStatus, RegionSignalsStatus, RegionSpec, RegionStatus
from wattbit.api.v1alpha1.signals import ProviderKind
from wattbit.core.signals import ForecastPoint, ProblemReason, SignalReading
from wattbit.handlers.context import OperatorContext
from wattbit.k8s.capacity import RegionGpus
from wattbit.providers.base import ProviderError
from wattbit.providers.static import StaticProvider

FORECAST_POINTS_IN_STATUS = 48


def fetch(context: OperatorContext, region: str, spec: RegionSpec, now: datetime) -> SignalReading:
    """The region's current reading; raises ProviderError when the feed fails."""
    source = spec.signals
    if source.provider == ProviderKind.STATIC and source.static is not None:
        return StaticProvider(
            carbon_g_per_kwh=float(source.static.carbon_grams_per_kwh),
            price_jpy_per_kwh=source.static.price_value(),
            renewable_percent=(
                float(source.static.renewable_percent)
                if source.static.renewable_percent is not None
                else None
            ),
        ).fetch(now)
    raise ProviderError(
        ProblemReason.NOT_FOUND,
        f"provider {source.provider.value} is not wired into the operator yet",
    )


def to_status(reading: SignalReading) -> RegionSignalsStatus:
    return RegionSignalsStatus(
        carbon_grams_per_kwh=reading.carbon_g_per_kwh,
        price_jpy_per_kwh=reading.price_jpy_per_kwh,
        renewable_percent=reading.renewable_percent,
        curtailment=reading.curtailment,
        observed_at=reading.observed_at,
        source=reading.source,
        forecast=[
            ForecastPointStatus(
                start=p.start,
                carbon_grams_per_kwh=p.carbon_g_per_kwh,
                price_jpy_per_kwh=p.price_jpy_per_kwh,
            )
            for p in reading.forecast[:FORECAST_POINTS_IN_STATUS]
        ],
    )


def last_reading(status: RegionStatus) -> SignalReading | None:
    """The reading recorded in a status, to judge whether it is still fresh."""
    signals = status.signals
    if (
        signals is None
        or signals.observed_at is None
        or signals.carbon_grams_per_kwh is None
        or signals.price_jpy_per_kwh is None
    ):
        return None
    return SignalReading(
        carbon_g_per_kwh=signals.carbon_grams_per_kwh,
        price_jpy_per_kwh=signals.price_jpy_per_kwh,
        observed_at=signals.observed_at,
        source=signals.source or "unknown",
        renewable_percent=signals.renewable_percent,
        curtailment=signals.curtailment,
        forecast=tuple(
            ForecastPoint(
                start=p.start,
                carbon_g_per_kwh=p.carbon_grams_per_kwh,
                price_jpy_per_kwh=p.price_jpy_per_kwh,
            )
            for p in signals.forecast
        ),
    )


def describe(reading: SignalReading) -> str:
    """One line with the reading's numbers, for conditions and Events."""
    carbon = (
        f"{reading.carbon_g_per_kwh:.0f} gCO2/kWh"
        if reading.carbon_g_per_kwh is not None
        else "carbon unknown"
    )
    price = (
        f"{reading.price_jpy_per_kwh:.2f} JPY/kWh"
        if reading.price_jpy_per_kwh is not None
        else "price unknown"
    )
    return f"{carbon}, {price}, observed {reading.observed_at.isoformat()}"


def gpu_status(counts: RegionGpus) -> GpuStatus:
    return GpuStatus(total=counts.total, allocated=counts.allocated, free=counts.free)
