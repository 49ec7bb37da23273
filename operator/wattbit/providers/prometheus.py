"""The Prometheus provider: PromQL instant queries for current values, range queries for forecasts.

This module's one job is to ask a Prometheus HTTP API for carbon (gCO2eq/kWh), price
(JPY/kWh) and renewable share (percent), each from a query that must return exactly one
series, and for their forecasts over the next horizon from `query_range`.

Prometheus hides staleness: an instant query looks back up to 5 minutes, so a dead exporter's
last value looks current (reliability.md §4). The source time of every value is therefore read
with a second query, `timestamp(<query>)`, and the oldest becomes `observed_at`. An empty result
is NoData and several series are Malformed, never 0.

WARNING: the bearer token arrives resolved by the caller and is redacted from every message.
A forecast query must yield samples at future timestamps (for example a recording rule with a
negative `offset`); this module does not invent them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from wattbit.core.signals import ForecastPoint, ProblemReason, SignalReading
from wattbit.providers.base import DEFAULT_MAX_SKEW_SECONDS, ProviderError, checked
from wattbit.providers.transport import JsonRequest, get_json
from wattbit.providers.wire import as_dict, as_float, as_list, as_timestamp


def _unix_seconds(moment: datetime) -> str:
    return f"{moment.timestamp():.3f}"


@dataclass(frozen=True, slots=True, kw_only=True)
class _Sample:
    value: float
    observed_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class PrometheusProvider:
    """Reads one region's signals from PromQL queries."""

    base_url: str
    session: requests.Session
    carbon_query: str | None = None
    price_query: str | None = None
    renewable_query: str | None = None
    carbon_forecast_query: str | None = None
    price_forecast_query: str | None = None
    forecast_horizon_seconds: float = 86_400.0
    forecast_step_seconds: float = 1_800.0
    bearer_token: str | None = None
    timeout_seconds: float = 10.0
    max_skew_seconds: float = DEFAULT_MAX_SKEW_SECONDS
    name: str = "prometheus"

    def __post_init__(self) -> None:
        if self.carbon_query is None and self.price_query is None:
            raise ProviderError(
                ProblemReason.INVALID_CONFIG, "prometheus: set carbonQuery, priceQuery or both"
            )

    def fetch(self, now: datetime) -> SignalReading:
        """Run the instant and range queries at `now` and combine them."""
        samples = {
            label: self._instant(query, now)
            for label, query in (
                ("carbon", self.carbon_query),
                ("price", self.price_query),
                ("renewable", self.renewable_query),
            )
            if query is not None
        }
        carbon_forecast = self._range(self.carbon_forecast_query, now)
        price_forecast = self._range(self.price_forecast_query, now)
        starts = sorted(set(carbon_forecast) | set(price_forecast))
        carbon = samples.get("carbon")
        price = samples.get("price")
        renewable = samples.get("renewable")
        return checked(
            SignalReading(
                carbon_g_per_kwh=carbon.value if carbon else None,
                price_jpy_per_kwh=price.value if price else None,
                renewable_percent=renewable.value if renewable else None,
                observed_at=min(sample.observed_at for sample in samples.values()),
                source=self.name,
                forecast=tuple(
                    ForecastPoint(
                        start=start,
                        carbon_g_per_kwh=carbon_forecast.get(start),
                        price_jpy_per_kwh=price_forecast.get(start),
                    )
                    for start in starts
                ),
            ),
            now,
            max_skew_seconds=self.max_skew_seconds,
        )

    def _request(self, path: str, params: dict[str, str]) -> JsonRequest:
        headers = (
            {} if self.bearer_token is None else {"Authorization": f"Bearer {self.bearer_token}"}
        )
        return JsonRequest(
            url=self.base_url.rstrip("/") + path,
            params=params,
            headers=headers,
            timeout_seconds=self.timeout_seconds,
            secrets=() if self.bearer_token is None else (self.bearer_token,),
        )

    def _result(self, document: Any, *, result_type: str, what: str) -> dict[str, Any]:
        body = as_dict(document, field=what)
        if body.get("status") != "success":
            error_type = str(body.get("errorType", "unknown"))[:40]
            raise ProviderError(
                ProblemReason.MALFORMED, f"{what}: Prometheus status is not success ({error_type})"
            )
        data = as_dict(body.get("data"), field=f"{what}.data")
        if data.get("resultType") != result_type:
            raise ProviderError(
                ProblemReason.MALFORMED,
                f"{what}: expected a {result_type} result, got {str(data.get('resultType'))[:20]}",
            )
        series = as_list(data.get("result"), field=f"{what}.data.result")
        if not series:
            raise ProviderError(ProblemReason.NO_DATA, f"{what}: the query returned no series")
        if len(series) > 1:
            raise ProviderError(
                ProblemReason.MALFORMED,
                f"{what}: the query returned {len(series)} series; it must return exactly one",
            )
        return as_dict(series[0], field=f"{what}.data.result[0]")

    def _scalar(self, query: str, now: datetime, *, what: str) -> float:
        document = get_json(
            self.session,
            self._request("/api/v1/query", {"query": query, "time": _unix_seconds(now)}),
            now,
        )
        series = self._result(document, result_type="vector", what=what)
        pair = as_list(series.get("value"), field=f"{what}.value")
        if len(pair) != 2:
            raise ProviderError(ProblemReason.MALFORMED, f"{what}.value: expected [time, value]")
        return as_float(pair[1], field=f"{what}.value")

    def _instant(self, query: str, now: datetime) -> _Sample:
        what = _label(query)
        value = self._scalar(query, now, what=what)
        source_seconds = self._scalar(f"timestamp({query})", now, what=f"timestamp of {what}")
        return _Sample(
            value=value, observed_at=as_timestamp(source_seconds, field=f"timestamp of {what}")
        )

    def _range(self, query: str | None, now: datetime) -> dict[datetime, float]:
        if query is None:
            return {}
        what = _label(query)
        end = now + timedelta(seconds=self.forecast_horizon_seconds)
        document = get_json(
            self.session,
            self._request(
                "/api/v1/query_range",
                {
                    "query": query,
                    "start": _unix_seconds(now),
                    "end": _unix_seconds(end),
                    "step": f"{self.forecast_step_seconds:g}",
                },
            ),
            now,
        )
        series = self._result(document, result_type="matrix", what=what)
        points: dict[datetime, float] = {}
        for index, pair in enumerate(as_list(series.get("values"), field=f"{what}.values")):
            item = as_list(pair, field=f"{what}.values[{index}]")
            if len(item) != 2:
                raise ProviderError(
                    ProblemReason.MALFORMED, f"{what}.values[{index}]: expected [time, value]"
                )
            start = as_timestamp(
                as_float(item[0], field=f"{what}.values[{index}]"), field=f"{what}.values"
            ).astimezone(UTC)
            points[start] = as_float(item[1], field=f"{what}.values[{index}]")
        return points


def _label(query: str) -> str:
    """A short name for a query in messages (queries hold no secrets, but may be long)."""
    flat = " ".join(query.split())
    return f"query {flat[:60]!r}" if len(flat) <= 60 else f"query {flat[:57]!r}..."
