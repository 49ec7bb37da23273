"""The Electricity Maps provider: carbon intensity and its forecast for one zone (API v3).

This module's one job is to read `GET /v3/carbon-intensity/latest?zone=` (`carbonIntensity`
in gCO2eq/kWh, `datetime`, `isEstimated`, `emissionFactorType`) and
`GET /v3/carbon-intensity/forecast?zone=` (`forecast: [{carbonIntensity, datetime}]`) into a
`SignalReading`. Electricity Maps publishes no JEPX price here: the price is None, and the
caller may add a fallback price (`registry.WithFallbackPrice`).

A response for another zone, or with another emission-factor basis (lifecycle vs direct) than
asked, is WrongUnits: mixing the two bases overstates savings (reliability.md §4).

WARNING: the API token is sent only in the `auth-token` header (never in the URL, §6.4), it
arrives resolved by the caller, and it is redacted from every message.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import requests

from wattbit.core.signals import ForecastPoint, ProblemReason, SignalReading
from wattbit.providers.base import DEFAULT_MAX_SKEW_SECONDS, ProviderError, checked
from wattbit.providers.transport import JsonRequest, get_json
from wattbit.providers.wire import as_dict, as_float, as_list, as_timestamp

PUBLIC_BASE_URL: Final = "https://api.electricitymap.org"
TOKEN_HEADER: Final = "auth-token"  # noqa: S105 - a header name, not a credential


@dataclass(frozen=True, slots=True, kw_only=True)
class ElectricityMapsProvider:
    """Carbon intensity (latest and forecast) for one Electricity Maps zone."""

    zone: str
    session: requests.Session
    api_token: str | None = None
    base_url: str = PUBLIC_BASE_URL
    """Scheme and host (the `/v3/...` paths are appended)."""
    emission_factor_type: str = "lifecycle"
    include_forecast: bool = True
    timeout_seconds: float = 10.0
    max_skew_seconds: float = DEFAULT_MAX_SKEW_SECONDS
    name: str = "electricitymaps"

    def fetch(self, now: datetime) -> SignalReading:
        """Latest carbon intensity plus the forecast (when enabled)."""
        latest = as_dict(self._get("/v3/carbon-intensity/latest", now), field="latest")
        self._check_zone(latest, what="latest")
        basis = latest.get("emissionFactorType")
        if basis is not None and basis != self.emission_factor_type:
            raise ProviderError(
                ProblemReason.WRONG_UNITS,
                f"latest.emissionFactorType is {str(basis)[:20]!r}, "
                f"expected {self.emission_factor_type!r}",
            )
        carbon_g_per_kwh = as_float(latest.get("carbonIntensity"), field="latest.carbonIntensity")
        observed_at = as_timestamp(latest.get("datetime"), field="latest.datetime")
        estimated = latest.get("isEstimated")
        forecast = self._forecast(now) if self.include_forecast else ()
        return checked(
            SignalReading(
                carbon_g_per_kwh=carbon_g_per_kwh,
                price_jpy_per_kwh=None,
                observed_at=observed_at,
                source=f"{self.name}:{self.zone}",
                estimated=estimated if isinstance(estimated, bool) else None,
                forecast=forecast,
            ),
            now,
            max_skew_seconds=self.max_skew_seconds,
        )

    def _get(self, path: str, now: datetime) -> Any:
        headers = {} if self.api_token is None else {TOKEN_HEADER: self.api_token}
        params = {"zone": self.zone, "emissionFactorType": self.emission_factor_type}
        return get_json(
            self.session,
            JsonRequest(
                url=self.base_url.rstrip("/") + path,
                params=params,
                headers=headers,
                timeout_seconds=self.timeout_seconds,
                secrets=() if self.api_token is None else (self.api_token,),
            ),
            now,
        )

    def _check_zone(self, body: dict[str, Any], *, what: str) -> None:
        zone = body.get("zone")
        if zone is not None and zone != self.zone:
            raise ProviderError(
                ProblemReason.MALFORMED,
                f"{what}.zone is {str(zone)[:32]!r}, expected {self.zone!r}",
            )

    def _forecast(self, now: datetime) -> tuple[ForecastPoint, ...]:
        body = as_dict(self._get("/v3/carbon-intensity/forecast", now), field="forecast")
        self._check_zone(body, what="forecast")
        points: dict[datetime, float] = {}
        for index, raw in enumerate(as_list(body.get("forecast"), field="forecast.forecast")):
            item = as_dict(raw, field=f"forecast[{index}]")
            start = as_timestamp(item.get("datetime"), field=f"forecast[{index}].datetime")
            points[start] = as_float(
                item.get("carbonIntensity"), field=f"forecast[{index}].carbonIntensity"
            )
        return tuple(
            ForecastPoint(start=start, carbon_g_per_kwh=points[start], price_jpy_per_kwh=None)
            for start in sorted(points)
        )
