"""Prometheus provider against a real HTTP server on 127.0.0.1 (a fake `/api/v1`).

Matrix: instant queries for carbon, price and renewable share with `timestamp(<query>)` giving
the source time (so a dead exporter's last value inside the 5-minute lookback shows its real
age), `query_range` forecasts merged by time with `start`, `end` and `step`, the bearer token;
failures: an empty result (no data, never 0), several series, a `status: error` body, a wrong
result type, `"NaN"` and out-of-range samples, a sample timestamp in the future (clock skew),
401, 429 with Retry-After, 503, an HTML page, a slow server (timeout) and a closed port. No
error may contain the token. Not covered on purpose: PromQL semantics, remote Prometheus auth
other than a bearer token.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from wattbit.core.signals import ProblemReason
from wattbit.providers.base import ProviderError
from wattbit.providers.prometheus import PrometheusProvider

SECRET = "s3cr3t-T0KEN-value-never-shown"  # noqa: S105 - a fake credential
NOW = datetime(2026, 4, 1, 3, 0, tzinfo=UTC)
CARBON = 'wattbit_grid_carbon{area="JP-KY"}'
PRICE = 'jepx_area_price_jpy_per_kwh{area="kyushu"}'


def _vector(*samples: tuple[float, str]) -> dict[str, Any]:
    return {
        "status": "success",
        "data": {
            "resultType": "vector",
            "result": [
                {"metric": {"series": str(index)}, "value": [ts, value]}
                for index, (ts, value) in enumerate(samples)
            ],
        },
    }


def _matrix(values: list[tuple[float, str]]) -> dict[str, Any]:
    return {
        "status": "success",
        "data": {
            "resultType": "matrix",
            "result": [{"metric": {}, "values": [[ts, value] for ts, value in values]}],
        },
    }


def _instant_answers(
    values: dict[str, str], sample_time: datetime
) -> Callable[[Any], dict[str, Any]]:
    """Answers `query` with its value and `timestamp(query)` with `sample_time`."""
    evaluated_at = NOW.timestamp()

    def answer(seen: Any) -> dict[str, Any]:
        query = seen.query["query"]
        if query.startswith("timestamp(") and query[len("timestamp(") : -1] in values:
            return {"body": _vector((evaluated_at, f"{sample_time.timestamp():.3f}"))}
        if query in values:
            return {"body": _vector((evaluated_at, values[query]))}
        return {"body": _vector()}

    return answer


@pytest.fixture
def provider(feed_server, session):
    return PrometheusProvider(
        base_url=feed_server.url,
        session=session,
        carbon_query=CARBON,
        price_query=PRICE,
        carbon_forecast_query=f"{CARBON} offset -1h",
        bearer_token=SECRET,
        forecast_horizon_seconds=7200,
        forecast_step_seconds=3600,
        timeout_seconds=0.3,
    )


def _fail(provider: PrometheusProvider) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        provider.fetch(NOW)
    assert SECRET not in str(caught.value)
    assert SECRET not in repr(caught.value)
    return caught.value


def _serve(
    feed_server: Any, *, carbon: str = "112", price: str = "0.01", age_seconds: float = 30.0
) -> None:
    feed_server.route(
        "/api/v1/query",
        _instant_answers({CARBON: carbon, PRICE: price}, NOW - timedelta(seconds=age_seconds)),
    )
    start = NOW.timestamp()
    feed_server.reply(
        "/api/v1/query_range",
        body=_matrix([(start, "110"), (start + 3600, "105"), (start + 7200, "200")]),
    )


def test_reads_values_source_time_and_forecast(feed_server, provider):
    _serve(feed_server, age_seconds=240)

    reading = provider.fetch(NOW)

    assert reading.carbon_g_per_kwh == 112
    assert reading.price_jpy_per_kwh == 0.01
    assert reading.observed_at == NOW - timedelta(seconds=240)  # not the evaluation time
    assert [(p.start, p.carbon_g_per_kwh, p.price_jpy_per_kwh) for p in reading.forecast] == [
        (NOW, 110, None),
        (NOW + timedelta(hours=1), 105, None),
        (NOW + timedelta(hours=2), 200, None),
    ]
    ranged = feed_server.seen("/api/v1/query_range")[0]
    assert ranged.query["start"] == f"{NOW.timestamp():.3f}"
    assert ranged.query["end"] == f"{(NOW + timedelta(hours=2)).timestamp():.3f}"
    assert ranged.query["step"] == "3600"
    assert ranged.headers["authorization"] == f"Bearer {SECRET}"
    queries = [seen.query["query"] for seen in feed_server.seen("/api/v1/query")]
    assert f"timestamp({CARBON})" in queries


def test_empty_result_is_no_data_not_zero(feed_server, provider):
    feed_server.reply("/api/v1/query", body=_vector())

    assert _fail(provider).reason is ProblemReason.NO_DATA


def test_several_series_are_malformed(feed_server, provider):
    feed_server.reply("/api/v1/query", body=_vector((NOW.timestamp(), "1"), (NOW.timestamp(), "2")))

    assert _fail(provider).reason is ProblemReason.MALFORMED


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (
            {"status": 400, "body": {"status": "error", "errorType": "bad_data", "error": "x"}},
            ProblemReason.INVALID_CONFIG,
        ),
        ({"body": {"status": "error", "errorType": "timeout"}}, ProblemReason.MALFORMED),
        (
            {"body": {"status": "success", "data": {"resultType": "scalar", "result": [1, "2"]}}},
            ProblemReason.MALFORMED,
        ),
        ({"status": 401}, ProblemReason.UNAUTHORIZED),
        ({"status": 503, "headers": {"Retry-After": "15"}}, ProblemReason.SERVER_ERROR),
        ({"raw": b"<html>502 Bad Gateway</html>"}, ProblemReason.MALFORMED),
    ],
)
def test_failures_map_to_reasons(feed_server, provider, reply, reason):
    feed_server.reply("/api/v1/query", **reply)

    assert _fail(provider).reason is reason


@pytest.mark.parametrize(
    ("carbon", "reason"),
    [
        ("NaN", ProblemReason.OUT_OF_RANGE),
        ("+Inf", ProblemReason.OUT_OF_RANGE),
        ("2500", ProblemReason.OUT_OF_RANGE),
        ("-1", ProblemReason.OUT_OF_RANGE),
        ("abc", ProblemReason.MALFORMED),
    ],
)
def test_bad_samples_are_rejected(feed_server, provider, carbon, reason):
    _serve(feed_server, carbon=carbon)

    assert _fail(provider).reason is reason


def test_future_sample_is_clock_skew(feed_server, provider):
    _serve(feed_server, age_seconds=-3600)

    assert _fail(provider).reason is ProblemReason.CLOCK_SKEW


def test_503_keeps_retry_after(feed_server, provider):
    feed_server.reply("/api/v1/query", status=503, headers={"Retry-After": "15"})

    assert _fail(provider).retry_after_seconds == 15


def test_429_honours_retry_after(feed_server, provider):
    feed_server.reply("/api/v1/query", status=429, headers={"Retry-After": "120"})

    error = _fail(provider)

    assert error.reason is ProblemReason.RATE_LIMITED
    assert error.retry_after_seconds == 120


def test_slow_server_times_out(feed_server, provider):
    feed_server.reply("/api/v1/query", body=_vector(), delay_seconds=2.0)

    assert _fail(provider).reason is ProblemReason.TIMEOUT


def test_connection_refused_is_unreachable(refused_url, session):
    provider = PrometheusProvider(base_url=refused_url, session=session, carbon_query=CARBON)

    assert _fail(provider).reason is ProblemReason.UNREACHABLE


def test_needs_a_carbon_or_price_query(session: requests.Session) -> None:
    with pytest.raises(ProviderError) as caught:
        PrometheusProvider(base_url="http://127.0.0.1:9", session=session)

    assert caught.value.reason is ProblemReason.INVALID_CONFIG
