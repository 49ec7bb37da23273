"""The Carbon Aware SDK provider: a self-hosted Green Software Foundation SDK web API.

This module's one job is to read `GET /emissions/bylocation?location=&time=&toTime=`
(`[{location, time, rating, duration}]`, rating in gCO2/kWh; the newest entry is current) and
`GET /emissions/forecasts/current?location=` (`[{generatedAt, location, forecastData:
[{location, timestamp, duration, value}], ...}]`) into a `SignalReading`. The SDK publishes no
price.

WARNING: the optional API key (for a gateway in front of the SDK) arrives resolved by the
caller, goes only into a header, and is redacted from every message.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import requests

from wattbit.core.signals import ForecastPoint, ProblemReason, SignalReading
from wattbit.providers.base import DEFAULT_MAX_SKEW_SECONDS, ProviderError, checked
from wattbit.providers.transport import JsonRequest, get_json
from wattbit.providers.wire import as_dict, as_float, as_list, as_timestamp

API_KEY_HEADER: Final = "x-api-key"
"""Header for a gateway key; the SDK itself has no authentication."""
LOOKBACK_SECONDS: Final = 3600.0
"""How far back `bylocation` is asked for the newest observation."""


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True, kw_only=True)
class CarbonAwareSdkProvider:
    """Current emissions and the current forecast for one SDK location."""

    location: str
    base_url: str
    session: requests.Session
    api_key: str | None = None
    api_key_header: str = API_KEY_HEADER
    include_forecast: bool = True
    timeout_seconds: float = 10.0
    max_skew_seconds: float = DEFAULT_MAX_SKEW_SECONDS
    name: str = "carbonAwareSDK"

    def fetch(self, now: datetime) -> SignalReading:
        """The newest observation of the last hour plus the current forecast."""
        start = now - timedelta(seconds=LOOKBACK_SECONDS)
        rows = as_list(
            self._get(
                "/emissions/bylocation",
                {"location": self.location, "time": _iso(start), "toTime": _iso(now)},
                now,
            ),
            field="bylocation",
        )
        observations: list[tuple[datetime, float]] = []
        for index, raw in enumerate(rows):
            row = as_dict(raw, field=f"bylocation[{index}]")
            observations.append(
                (
                    as_timestamp(row.get("time"), field=f"bylocation[{index}].time"),
                    as_float(row.get("rating"), field=f"bylocation[{index}].rating"),
                )
            )
        if not observations:
            raise ProviderError(
                ProblemReason.NO_DATA, f"bylocation: no emissions data for {self.location!r}"
            )
        observed_at, carbon_g_per_kwh = max(observations, key=lambda pair: pair[0])
        return checked(
            SignalReading(
                carbon_g_per_kwh=carbon_g_per_kwh,
                price_jpy_per_kwh=None,
                observed_at=observed_at,
                source=f"{self.name}:{self.location}",
                forecast=self._forecast(now) if self.include_forecast else (),
            ),
            now,
            max_skew_seconds=self.max_skew_seconds,
        )

    def _get(self, path: str, params: dict[str, str], now: datetime) -> Any:
        headers = {} if self.api_key is None else {self.api_key_header: self.api_key}
        return get_json(
            self.session,
            JsonRequest(
                url=self.base_url.rstrip("/") + path,
                params=params,
                headers=headers,
                timeout_seconds=self.timeout_seconds,
                secrets=() if self.api_key is None else (self.api_key,),
            ),
            now,
        )

    def _forecast(self, now: datetime) -> tuple[ForecastPoint, ...]:
        batches = as_list(
            self._get("/emissions/forecasts/current", {"location": self.location}, now),
            field="forecasts",
        )
        if not batches:
            raise ProviderError(
                ProblemReason.NO_DATA, f"forecasts: no forecast for {self.location!r}"
            )
        batch = as_dict(batches[0], field="forecasts[0]")
        points: dict[datetime, float] = {}
        for index, raw in enumerate(
            as_list(batch.get("forecastData"), field="forecasts[0].forecastData")
        ):
            label = f"forecasts[0].forecastData[{index}]"
            item = as_dict(raw, field=label)
            start = as_timestamp(item.get("timestamp"), field=f"{label}.timestamp")
            points[start] = as_float(item.get("value"), field=f"{label}.value")
        return tuple(
            ForecastPoint(start=start, carbon_g_per_kwh=points[start], price_jpy_per_kwh=None)
            for start in sorted(points)
        )
