"""The static provider: fixed values from the Region spec (tests and simple setups).

This module's one job is to return the configured numbers as a reading stamped `now`.
WARNING: it must not do I/O; its values are always fresh by construction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from wattbit.core.signals import SignalReading
from wattbit.providers.base import checked


@dataclass(frozen=True, slots=True, kw_only=True)
class StaticProvider:
    """Always reports the same carbon, price and renewable share."""

    carbon_g_per_kwh: float
    price_jpy_per_kwh: float
    renewable_percent: float | None = None
    curtailment: bool | None = None
    name: str = "static"

    def fetch(self, now: datetime) -> SignalReading:
        """The configured values, observed at `now`."""
        return checked(
            SignalReading(
                carbon_g_per_kwh=self.carbon_g_per_kwh,
                price_jpy_per_kwh=self.price_jpy_per_kwh,
                observed_at=now,
                source=self.name,
                renewable_percent=self.renewable_percent,
                curtailment=self.curtailment,
            ),
            now,
        )
