"""The generic HTTP/JSON provider: one endpoint per metric, values found by field paths.

This module's one job is to GET each configured feed (carbon, price, renewable share), pick
the value, its timestamp and its forecast out of the JSON by dotted paths (`data.carbon`,
`items[0].value`), convert units to gCO2eq/kWh, JPY/kWh and percent (lbs/MWh → g/kWh,
JPY/MWh → JPY/kWh, fraction → percent), and combine the feeds into one `SignalReading`.

If the object holding a value also carries a `unit` or `units` label, it must name the
configured unit, otherwise the fetch fails with WrongUnits (a feed that silently switched from
g/kWh to lbs/MWh must not make a region look 2.2 times greener).

WARNING: header values (API keys) arrive already resolved from Secrets by the caller and are
redacted from every message; this module never talks to Kubernetes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

import requests

from wattbit.core.signals import ForecastPoint, ProblemReason, SignalReading
from wattbit.providers.base import DEFAULT_MAX_SKEW_SECONDS, ProviderError, checked
from wattbit.providers.transport import JsonRequest, get_json
from wattbit.providers.wire import (
    Quantity,
    Unit,
    as_float,
    as_list,
    as_timestamp,
    check_declared_unit,
    lookup,
    to_canonical,
)

UNIT_LABELS: Final = ("unit", "units")
"""Keys that, beside a value, declare its unit."""


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpFeedSpec:
    """One endpoint publishing one quantity."""

    quantity: Quantity
    url: str
    unit: Unit
    value_path: str
    timestamp_path: str | None = None
    """Path to the value's RFC 3339 time (or Unix seconds); the fetch time when None."""
    forecast_path: str | None = None
    forecast_value_field: str = "value"
    forecast_time_field: str = "time"
    headers: Mapping[str, str] = field(default_factory=dict)
    """Request headers with their values already resolved (they may be secrets)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class _FeedResult:
    value: float
    observed_at: datetime
    forecast: dict[datetime, float]


def _parent_path(path: str) -> str | None:
    head, dot, _ = path.rpartition(".")
    return head if dot else None


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpJsonProvider:
    """Combines up to one feed per quantity into a reading."""

    feeds: tuple[HttpFeedSpec, ...]
    session: requests.Session
    timeout_seconds: float = 10.0
    max_skew_seconds: float = DEFAULT_MAX_SKEW_SECONDS
    name: str = "http"

    def __post_init__(self) -> None:
        quantities = [feed.quantity for feed in self.feeds]
        if not quantities or len(set(quantities)) != len(quantities):
            raise ProviderError(
                ProblemReason.INVALID_CONFIG, "http: give one to three feeds, one per metric"
            )

    def fetch(self, now: datetime) -> SignalReading:
        """GET every feed and combine them; the oldest feed timestamp is `observed_at`."""
        results = {feed.quantity: self._fetch_feed(feed, now) for feed in self.feeds}
        for quantity, result in results.items():
            # Each feed on its own: the oldest timestamp becomes observed_at, which would hide
            # one feed's clock running ahead.
            ahead_s = (result.observed_at - now).total_seconds()
            if ahead_s > self.max_skew_seconds:
                raise ProviderError(
                    ProblemReason.CLOCK_SKEW,
                    f"http: the {quantity} feed's timestamp is {ahead_s:.0f} s in the future "
                    f"(allowed skew {self.max_skew_seconds:.0f} s)",
                )
        carbon = results.get(Quantity.CARBON)
        price = results.get(Quantity.PRICE)
        renewable = results.get(Quantity.RENEWABLE)
        starts = sorted(
            {start for result in (carbon, price) if result for start in result.forecast}
        )
        forecast = tuple(
            ForecastPoint(
                start=start,
                carbon_g_per_kwh=carbon.forecast.get(start) if carbon else None,
                price_jpy_per_kwh=price.forecast.get(start) if price else None,
            )
            for start in starts
        )
        return checked(
            SignalReading(
                carbon_g_per_kwh=carbon.value if carbon else None,
                price_jpy_per_kwh=price.value if price else None,
                renewable_percent=renewable.value if renewable else None,
                observed_at=min(result.observed_at for result in results.values()),
                source=self.name,
                forecast=forecast,
            ),
            now,
            max_skew_seconds=self.max_skew_seconds,
        )

    def _fetch_feed(self, feed: HttpFeedSpec, now: datetime) -> _FeedResult:
        document = get_json(
            self.session,
            JsonRequest(
                url=feed.url,
                headers=feed.headers,
                timeout_seconds=self.timeout_seconds,
                secrets=tuple(feed.headers.values()),
            ),
            now,
        )
        label = f"{feed.quantity}.{feed.value_path}"
        value = to_canonical(
            as_float(lookup(document, feed.value_path), field=label),
            feed.unit,
            feed.quantity,
            field=label,
        )
        parent_path = _parent_path(feed.value_path)
        parent = document if parent_path is None else lookup(document, parent_path)
        if isinstance(parent, dict):
            for key in UNIT_LABELS:
                check_declared_unit(parent.get(key), feed.unit, field=f"{feed.quantity}.{key}")
        observed_at = (
            now
            if feed.timestamp_path is None
            else as_timestamp(
                lookup(document, feed.timestamp_path),
                field=f"{feed.quantity}.{feed.timestamp_path}",
            )
        )
        return _FeedResult(
            value=value, observed_at=observed_at, forecast=self._forecast(feed, document)
        )

    def _forecast(self, feed: HttpFeedSpec, document: Any) -> dict[datetime, float]:
        if feed.forecast_path is None:
            return {}
        items = as_list(lookup(document, feed.forecast_path), field=feed.forecast_path)
        points: dict[datetime, float] = {}
        for index, item in enumerate(items):
            label = f"{feed.quantity}.{feed.forecast_path}[{index}]"
            start = as_timestamp(
                lookup(item, feed.forecast_time_field), field=f"{label}.{feed.forecast_time_field}"
            )
            if start in points:
                raise ProviderError(
                    ProblemReason.MALFORMED, f"{label}: duplicate forecast time {start.isoformat()}"
                )
            if isinstance(item, dict):
                for key in UNIT_LABELS:
                    check_declared_unit(item.get(key), feed.unit, field=f"{label}.{key}")
            points[start] = to_canonical(
                as_float(
                    lookup(item, feed.forecast_value_field),
                    field=f"{label}.{feed.forecast_value_field}",
                ),
                feed.unit,
                feed.quantity,
                field=label,
            )
        return points
