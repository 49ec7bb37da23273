"""The WattTime provider: marginal emissions (MOER) for one region (API v3).

This module's one job is to log in (`GET /login` with HTTP basic auth → `{"token": ...}`, or
use a pre-issued token), read `GET /v3/signal-index` (the current 5-minute point's
`point_time`, which dates the reading) and `GET /v3/forecast` (`meta.units`,
`meta.generated_at`, `data: [{point_time, value}]`), and convert MOER from lbs/MWh to
gCO2/kWh (times 0.45359237). The current carbon value is the forecast point covering the
signal-index time. Other units (a `percentile` forecast, say) are WrongUnits.

Tokens expire after 30 minutes: a 401 with a token from `/login` triggers one re-login, then
Unauthorized (reliability.md §5.3 P8). WattTime publishes no price.

WARNING: username, password and token arrive resolved by the caller, go only into the
`Authorization` header, and are redacted from every message. The token cache is the only state.
"""

from __future__ import annotations

import threading
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
    as_dict,
    as_float,
    as_list,
    as_timestamp,
    to_canonical,
    unit_from_text,
)

PUBLIC_BASE_URL: Final = "https://api.watttime.org"
SIGNAL_TYPE: Final = "co2_moer"


@dataclass(slots=True, kw_only=True)
class _TokenCache:
    token: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass(frozen=True, slots=True, kw_only=True)
class WattTimeProvider:
    """MOER for one WattTime region, from its forecast, dated by the signal index."""

    region: str
    session: requests.Session
    token: str | None = None
    """A pre-issued bearer token; when None, `username` and `password` log in."""
    username: str | None = None
    password: str | None = None
    base_url: str = PUBLIC_BASE_URL
    horizon_hours: int = 24
    timeout_seconds: float = 10.0
    max_skew_seconds: float = DEFAULT_MAX_SKEW_SECONDS
    name: str = "watttime"
    _cache: _TokenCache = field(default_factory=_TokenCache, repr=False)

    def __post_init__(self) -> None:
        if self.token is None and (self.username is None or self.password is None):
            raise ProviderError(
                ProblemReason.SECRET_MISSING,
                "watttime: give a token, or both a username and a password",
            )

    @property
    def _secrets(self) -> tuple[str, ...]:
        values = (self.token, self.username, self.password, self._cache.token)
        return tuple(value for value in values if value)

    def fetch(self, now: datetime) -> SignalReading:
        """Signal-index time plus forecast values, converted to gCO2/kWh."""
        index = as_dict(self._authorized("/v3/signal-index", {}, now), field="signal-index")
        index_data = as_list(index.get("data"), field="signal-index.data")
        if not index_data:
            raise ProviderError(ProblemReason.NO_DATA, "signal-index.data is empty")
        observed_at = as_timestamp(
            as_dict(index_data[0], field="signal-index.data[0]").get("point_time"),
            field="signal-index.data[0].point_time",
        )
        forecast = self._forecast(now)
        if not forecast:
            raise ProviderError(ProblemReason.NO_DATA, "forecast.data is empty")
        covering = [point for point in forecast if point.start <= observed_at]
        current = covering[-1] if covering else forecast[0]
        return checked(
            SignalReading(
                carbon_g_per_kwh=current.carbon_g_per_kwh,
                price_jpy_per_kwh=None,
                observed_at=observed_at,
                source=f"{self.name}:{self.region}",
                forecast=forecast,
            ),
            now,
            max_skew_seconds=self.max_skew_seconds,
        )

    def _forecast(self, now: datetime) -> tuple[ForecastPoint, ...]:
        body = as_dict(
            self._authorized("/v3/forecast", {"horizon_hours": str(self.horizon_hours)}, now),
            field="forecast",
        )
        meta = as_dict(body.get("meta"), field="forecast.meta")
        units_text = meta.get("units")
        unit = unit_from_text(units_text) if isinstance(units_text, str) else None
        if unit is not Unit.LBS_CO2_PER_MWH:
            shown = str(units_text)[:32]
            raise ProviderError(
                ProblemReason.WRONG_UNITS,
                f"forecast.meta.units is {shown!r}, expected 'lbs_co2_per_mwh'",
            )
        points: dict[datetime, float] = {}
        for position, raw in enumerate(as_list(body.get("data"), field="forecast.data")):
            item = as_dict(raw, field=f"forecast.data[{position}]")
            label = f"forecast.data[{position}]"
            start = as_timestamp(item.get("point_time"), field=f"{label}.point_time")
            points[start] = to_canonical(
                as_float(item.get("value"), field=f"{label}.value"),
                unit,
                Quantity.CARBON,
                field=label,
            )
        return tuple(
            ForecastPoint(start=start, carbon_g_per_kwh=points[start], price_jpy_per_kwh=None)
            for start in sorted(points)
        )

    def _authorized(self, path: str, extra: dict[str, str], now: datetime) -> Any:
        params = {"region": self.region, "signal_type": SIGNAL_TYPE, **extra}
        logged_in = False
        token = self.token
        if token is None:
            with self._cache.lock:
                token = self._cache.token
            if token is None:
                token = self._login(now)
                logged_in = True
        try:
            return self._get(path, params, token, now)
        except ProviderError as error:
            if error.reason is not ProblemReason.UNAUTHORIZED or self.token is not None:
                raise
            if logged_in:
                raise
        # The cached token expired (they last 30 minutes): log in once more, then give up.
        return self._get(path, params, self._login(now), now)

    def _get(self, path: str, params: dict[str, str], token: str, now: datetime) -> Any:
        return get_json(
            self.session,
            JsonRequest(
                url=self.base_url.rstrip("/") + path,
                params=params,
                headers={"Authorization": f"Bearer {token}"},
                timeout_seconds=self.timeout_seconds,
                secrets=(*self._secrets, token),
            ),
            now,
        )

    def _login(self, now: datetime) -> str:
        if self.username is None or self.password is None:
            raise ProviderError(ProblemReason.SECRET_MISSING, "watttime: no username or password")
        body = as_dict(
            get_json(
                self.session,
                JsonRequest(
                    url=self.base_url.rstrip("/") + "/login",
                    basic_auth=(self.username, self.password),
                    timeout_seconds=self.timeout_seconds,
                    secrets=self._secrets,
                ),
                now,
            ),
            field="login",
        )
        token = body.get("token")
        if not isinstance(token, str) or not token:
            raise ProviderError(ProblemReason.MALFORMED, "login: no token in the response")
        with self._cache.lock:
            self._cache.token = token
        return token
