"""Carbon Aware SDK provider against a real HTTP server on 127.0.0.1.

Matrix: the documented WebAPI shapes of `/emissions/bylocation` (`[{location, time, rating,
duration}]`, newest entry wins; `location`, `time`, `toTime` parameters) and
`/emissions/forecasts/current` (`[{generatedAt, forecastData: [{timestamp, value, ...}]}]`), the
optional gateway key header; failures: 401, 429 with Retry-After, 500, an HTML page, truncated
JSON, a missing field, an empty list (no data), an out-of-range rating, a future time (clock
skew), a slow server (timeout) and a closed port. No error may contain the key.
Not covered on purpose: the SDK's own data sources, `/emissions/bylocations/best`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from wattbit.core.signals import ProblemReason
from wattbit.providers.base import ProviderError
from wattbit.providers.carbon_aware_sdk import CarbonAwareSdkProvider

SECRET = "s3cr3t-T0KEN-value-never-shown"  # noqa: S105 - a fake credential
NOW = datetime(2026, 4, 1, 3, 0, tzinfo=UTC)
BY_LOCATION = "/emissions/bylocation"
FORECAST = "/emissions/forecasts/current"


def _rows(rating: float = 380.5, time: str = "2026-04-01T02:55:00Z") -> list[dict[str, Any]]:
    return [
        {
            "location": "japaneast",
            "time": "2026-04-01T02:50:00Z",
            "rating": 400.0,
            "duration": "00:05:00",
        },
        {"location": "japaneast", "time": time, "rating": rating, "duration": "00:05:00"},
    ]


def _forecast() -> list[dict[str, Any]]:
    return [
        {
            "generatedAt": "2026-04-01T02:55:00Z",
            "requestedAt": "2026-04-01T03:00:00Z",
            "location": "japaneast",
            "dataStartAt": "2026-04-01T03:00:00Z",
            "dataEndAt": "2026-04-02T03:00:00Z",
            "windowSize": 5,
            "optimalDataPoints": [
                {
                    "location": "japaneast",
                    "timestamp": "2026-04-01T03:05:00Z",
                    "duration": 5,
                    "value": 350.0,
                }
            ],
            "forecastData": [
                {
                    "location": "japaneast",
                    "timestamp": "2026-04-01T03:05:00Z",
                    "duration": 5,
                    "value": 350.0,
                },
                {
                    "location": "japaneast",
                    "timestamp": "2026-04-01T03:00:00Z",
                    "duration": 5,
                    "value": 360.0,
                },
            ],
        }
    ]


@pytest.fixture
def provider(feed_server, session):
    return CarbonAwareSdkProvider(
        location="japaneast",
        base_url=feed_server.url,
        session=session,
        api_key=SECRET,
        timeout_seconds=0.3,
    )


def _fail(provider: CarbonAwareSdkProvider) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        provider.fetch(NOW)
    assert SECRET not in str(caught.value)
    assert SECRET not in repr(caught.value)
    return caught.value


def test_reads_newest_emissions_and_forecast(feed_server, provider):
    feed_server.reply(BY_LOCATION, body=_rows())
    feed_server.reply(FORECAST, body=_forecast())

    reading = provider.fetch(NOW)

    assert reading.carbon_g_per_kwh == 380.5
    assert reading.observed_at == datetime(2026, 4, 1, 2, 55, tzinfo=UTC)
    assert [p.carbon_g_per_kwh for p in reading.forecast] == [360.0, 350.0]
    sent = feed_server.seen(BY_LOCATION)[0]
    assert sent.query == {
        "location": "japaneast",
        "time": "2026-04-01T02:00:00Z",
        "toTime": "2026-04-01T03:00:00Z",
    }
    assert sent.headers["x-api-key"] == SECRET


@pytest.mark.parametrize(
    ("path", "reply", "reason"),
    [
        (BY_LOCATION, {"status": 401}, ProblemReason.UNAUTHORIZED),
        (BY_LOCATION, {"status": 500, "body": {"title": "error"}}, ProblemReason.SERVER_ERROR),
        (BY_LOCATION, {"raw": b"<!DOCTYPE html><html></html>"}, ProblemReason.MALFORMED),
        (BY_LOCATION, {"raw": b'[{"location": "japaneast", "ti'}, ProblemReason.MALFORMED),
        (
            BY_LOCATION,
            {"body": [{"location": "japaneast", "time": "2026-04-01T02:55:00Z"}]},
            ProblemReason.MALFORMED,
        ),
        (BY_LOCATION, {"body": []}, ProblemReason.NO_DATA),
        (BY_LOCATION, {"body": _rows(rating=2500.0)}, ProblemReason.OUT_OF_RANGE),
        (BY_LOCATION, {"body": _rows(time="2026-04-01T06:00:00Z")}, ProblemReason.CLOCK_SKEW),
        (FORECAST, {"body": []}, ProblemReason.NO_DATA),
        (FORECAST, {"body": [{"forecastData": "soon"}]}, ProblemReason.MALFORMED),
    ],
)
def test_failures_map_to_reasons(feed_server, provider, path, reply, reason):
    feed_server.reply(BY_LOCATION, body=_rows())
    feed_server.reply(FORECAST, body=_forecast())
    feed_server.reply(path, **reply)

    assert _fail(provider).reason is reason


def test_429_honours_retry_after(feed_server, provider):
    feed_server.reply(BY_LOCATION, status=429, headers={"Retry-After": "30"})

    error = _fail(provider)

    assert error.reason is ProblemReason.RATE_LIMITED
    assert error.retry_after_seconds == 30


def test_slow_server_times_out(feed_server, provider):
    feed_server.reply(BY_LOCATION, body=_rows(), delay_seconds=2.0)

    assert _fail(provider).reason is ProblemReason.TIMEOUT


def test_connection_refused_is_unreachable(refused_url, session):
    provider = CarbonAwareSdkProvider(
        location="japaneast", base_url=refused_url, session=session, api_key=SECRET
    )

    assert _fail(provider).reason is ProblemReason.UNREACHABLE
