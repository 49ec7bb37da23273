"""Electricity Maps provider against a real HTTP server on 127.0.0.1.

Matrix: the documented v3 shapes of `/v3/carbon-intensity/latest` and `/forecast` (values,
`isEstimated`, the `auth-token` header, zone and emission-factor parameters); every failure:
401 and 403, 404, 429 with Retry-After in seconds and as an HTTP-date, 500 and 503, an HTML
page with 200, truncated JSON, an empty body, a missing field, out-of-range and NaN values,
the wrong emission-factor basis (units), another zone, a timestamp in the future (clock skew),
a slow server (timeout) and a closed port (connection refused). Every error is checked for the
token value. Not covered on purpose: the real service, TLS.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from wattbit.core.signals import ProblemReason
from wattbit.providers.base import ProviderError
from wattbit.providers.electricitymaps import ElectricityMapsProvider

SECRET = "s3cr3t-T0KEN-value-never-shown"  # noqa: S105 - a fake credential
NOW = datetime(2026, 4, 1, 3, 0, tzinfo=UTC)
LATEST = "/v3/carbon-intensity/latest"
FORECAST = "/v3/carbon-intensity/forecast"
NAN_BODY = b'{"zone": "JP-KY", "carbonIntensity": NaN, "datetime": "2026-04-01T03:00:00Z"}'


def _latest(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "zone": "JP-KY",
        "carbonIntensity": 112,
        "datetime": "2026-04-01T03:00:00.000Z",
        "updatedAt": "2026-04-01T03:05:12.000Z",
        "createdAt": "2026-03-29T03:00:00.000Z",
        "emissionFactorType": "lifecycle",
        "isEstimated": True,
        "estimationMethod": "TIME_SLICER_AVERAGE",
    }
    body.update(overrides)
    return body


def _forecast() -> dict[str, Any]:
    return {
        "zone": "JP-KY",
        "forecast": [
            {"carbonIntensity": 120, "datetime": "2026-04-01T05:00:00.000Z"},
            {"carbonIntensity": 106, "datetime": "2026-04-01T03:00:00.000Z"},
            {"carbonIntensity": 110, "datetime": "2026-04-01T04:00:00.000Z"},
        ],
        "updatedAt": "2026-04-01T02:58:00.000Z",
    }


@pytest.fixture
def provider(feed_server, session):
    return ElectricityMapsProvider(
        zone="JP-KY",
        session=session,
        api_token=SECRET,
        base_url=feed_server.url,
        timeout_seconds=0.3,
    )


def _fail(provider: ElectricityMapsProvider) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        provider.fetch(NOW)
    error = caught.value
    assert SECRET not in str(error)
    assert SECRET not in repr(error)
    return error


def test_reads_latest_and_sorted_forecast(feed_server, provider):
    feed_server.reply(LATEST, body=_latest())
    feed_server.reply(FORECAST, body=_forecast())

    reading = provider.fetch(NOW)

    assert reading.carbon_g_per_kwh == 112
    assert reading.price_jpy_per_kwh is None
    assert reading.observed_at == NOW
    assert reading.estimated is True
    assert reading.source == "electricitymaps:JP-KY"
    assert [p.carbon_g_per_kwh for p in reading.forecast] == [106, 110, 120]
    sent = feed_server.seen(LATEST)[0]
    assert sent.headers["auth-token"] == SECRET
    assert sent.query == {"zone": "JP-KY", "emissionFactorType": "lifecycle"}
    assert SECRET not in str(sent.query)


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        ({"status": 401, "body": {"error": "unauthorized"}}, ProblemReason.UNAUTHORIZED),
        ({"status": 403, "body": {"error": "forbidden"}}, ProblemReason.UNAUTHORIZED),
        ({"status": 404, "body": {"error": "zone"}}, ProblemReason.NOT_FOUND),
        ({"status": 500, "body": {"error": "boom"}}, ProblemReason.SERVER_ERROR),
        ({"status": 503, "raw": b"<html>down</html>"}, ProblemReason.SERVER_ERROR),
        ({"raw": b"<html><body>Service page</body></html>"}, ProblemReason.MALFORMED),
        ({"raw": b'{"zone": "JP-KY", "carbonInt'}, ProblemReason.MALFORMED),
        ({"raw": b""}, ProblemReason.MALFORMED),
        ({"body": _latest(carbonIntensity=None)}, ProblemReason.MALFORMED),
        ({"body": _latest(datetime="2026-04-01T03:00:00")}, ProblemReason.MALFORMED),
        ({"body": _latest(zone="JP-TK")}, ProblemReason.MALFORMED),
        ({"body": _latest(carbonIntensity=5000)}, ProblemReason.OUT_OF_RANGE),
        ({"body": _latest(carbonIntensity=-3)}, ProblemReason.OUT_OF_RANGE),
        ({"raw": NAN_BODY}, ProblemReason.OUT_OF_RANGE),
        ({"body": _latest(emissionFactorType="direct")}, ProblemReason.WRONG_UNITS),
        ({"body": _latest(datetime="2026-04-01T05:00:00Z")}, ProblemReason.CLOCK_SKEW),
    ],
)
def test_failures_map_to_reasons(feed_server, provider, reply, reason):
    feed_server.reply(LATEST, **reply)
    feed_server.reply(FORECAST, body=_forecast())

    assert _fail(provider).reason is reason


def test_429_honours_retry_after_seconds(feed_server, provider):
    feed_server.reply(LATEST, status=429, headers={"Retry-After": "120"})

    error = _fail(provider)

    assert error.reason is ProblemReason.RATE_LIMITED
    assert error.retry_after_seconds == 120


def test_429_honours_retry_after_http_date(feed_server, provider):
    later = (NOW + timedelta(seconds=90)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    feed_server.reply(LATEST, status=429, headers={"Retry-After": later})

    error = _fail(provider)

    assert error.reason is ProblemReason.RATE_LIMITED
    assert error.retry_after_seconds == 90


def test_forecast_failure_fails_the_fetch(feed_server, provider):
    feed_server.reply(LATEST, body=_latest())
    feed_server.reply(FORECAST, status=401)

    assert _fail(provider).reason is ProblemReason.UNAUTHORIZED


def test_out_of_range_forecast_point_is_rejected(feed_server, provider):
    feed_server.reply(LATEST, body=_latest())
    bad = _forecast()
    bad["forecast"][0]["carbonIntensity"] = 99999
    feed_server.reply(FORECAST, body=bad)

    assert _fail(provider).reason is ProblemReason.OUT_OF_RANGE


def test_body_echoing_the_token_is_redacted(feed_server, provider):
    feed_server.reply(LATEST, raw=f"<html>invalid token {SECRET}</html>".encode())

    error = _fail(provider)

    assert error.reason is ProblemReason.MALFORMED
    assert "[redacted]" in error.message


def test_slow_server_times_out(feed_server, provider):
    feed_server.reply(LATEST, body=_latest(), delay_seconds=2.0)

    assert _fail(provider).reason is ProblemReason.TIMEOUT


def test_connection_refused_is_unreachable(refused_url, session):
    provider = ElectricityMapsProvider(
        zone="JP-KY", session=session, api_token=SECRET, base_url=refused_url
    )

    assert _fail(provider).reason is ProblemReason.UNREACHABLE
