"""WattTime provider against a real HTTP server on 127.0.0.1.

Matrix: the documented v3 shapes (`/login` with HTTP basic auth returning a token,
`/v3/signal-index` dating the reading, `/v3/forecast` with `meta.units = lbs_co2_per_mwh`),
lbs/MWh to g/kWh conversion, the bearer header, token reuse, one re-login after a 401 on a
cached token then Unauthorized, a pre-issued token (no login); failures: 401 at login, 429 with
Retry-After, 500, an HTML page, a missing field, percentile units (wrong units), an absurd
MOER (out of range), a signal-index time in the future (clock skew), empty data (no data), a
slow server (timeout) and a closed port. No error may contain the password or a token.
Not covered on purpose: the real service, its rate limiter.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from wattbit.core.signals import ProblemReason
from wattbit.providers.base import ProviderError
from wattbit.providers.watttime import WattTimeProvider

SECRET = "s3cr3t-T0KEN-value-never-shown"  # noqa: S105 - a fake credential
PASSWORD = "hunter2-password-never-shown"  # noqa: S105 - a fake credential
NOW = datetime(2026, 4, 1, 3, 0, tzinfo=UTC)
LBS_TO_G = 0.45359237


def _index(point_time: str = "2026-04-01T02:55:00+00:00") -> dict[str, Any]:
    return {
        "data": [{"point_time": point_time, "value": 12.0}],
        "meta": {
            "data_point_period_seconds": 300,
            "region": "CAISO_NORTH",
            "signal_type": "co2_moer",
            "units": "percentile",
            "warnings": [],
        },
    }


def _forecast(units: str = "lbs_co2_per_mwh", first_value: float = 800.0) -> dict[str, Any]:
    return {
        "data": [
            {"point_time": "2026-04-01T02:55:00+00:00", "value": first_value},
            {"point_time": "2026-04-01T03:00:00+00:00", "value": 900.0},
            {"point_time": "2026-04-01T03:05:00+00:00", "value": 700.0},
        ],
        "meta": {
            "data_point_period_seconds": 300,
            "generated_at": "2026-04-01T02:55:00+00:00",
            "generated_at_period_seconds": 300,
            "model": {"date": "2026-03-01"},
            "region": "CAISO_NORTH",
            "signal_type": "co2_moer",
            "units": units,
        },
    }


@pytest.fixture
def provider(feed_server, session):
    return WattTimeProvider(
        region="CAISO_NORTH",
        session=session,
        username="alice",
        password=PASSWORD,
        base_url=feed_server.url,
        timeout_seconds=0.3,
    )


def _serve_ok(feed_server: Any, *, token: str = SECRET) -> None:
    feed_server.reply("/login", body={"token": token})
    feed_server.reply("/v3/signal-index", body=_index())
    feed_server.reply("/v3/forecast", body=_forecast())


def _fail(provider: WattTimeProvider) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        provider.fetch(NOW)
    error = caught.value
    for secret in (SECRET, PASSWORD):
        assert secret not in str(error)
        assert secret not in repr(error)
    return error


def test_logs_in_and_converts_lbs_per_mwh(feed_server, provider):
    _serve_ok(feed_server)

    reading = provider.fetch(NOW)

    assert reading.carbon_g_per_kwh == pytest.approx(800.0 * LBS_TO_G)
    assert reading.observed_at == datetime(2026, 4, 1, 2, 55, tzinfo=UTC)
    assert [p.carbon_g_per_kwh for p in reading.forecast] == pytest.approx(
        [800.0 * LBS_TO_G, 900.0 * LBS_TO_G, 700.0 * LBS_TO_G]
    )
    assert reading.source == "watttime:CAISO_NORTH"
    login = feed_server.seen("/login")[0]
    assert login.headers["authorization"] == "Basic " + base64.b64encode(
        f"alice:{PASSWORD}".encode()
    ).decode("ascii")
    index = feed_server.seen("/v3/signal-index")[0]
    assert index.headers["authorization"] == f"Bearer {SECRET}"
    assert index.query == {"region": "CAISO_NORTH", "signal_type": "co2_moer"}
    assert feed_server.seen("/v3/forecast")[0].query["horizon_hours"] == "24"


def test_reuses_the_token(feed_server, provider):
    _serve_ok(feed_server)

    provider.fetch(NOW)
    provider.fetch(NOW)

    assert len(feed_server.seen("/login")) == 1


def test_relogs_in_once_after_expiry(feed_server, provider):
    tokens = iter(["old-token-1", "new-token-2"])
    accepted = {"Bearer old-token-1", "Bearer new-token-2"}
    feed_server.route("/login", lambda seen: {"body": {"token": next(tokens)}})
    feed_server.route(
        "/v3/signal-index",
        lambda seen: (
            {"body": _index()}
            if seen.headers.get("authorization") in accepted
            else {"status": 401, "body": {"error": "token expired"}}
        ),
    )
    feed_server.reply("/v3/forecast", body=_forecast())
    provider.fetch(NOW)  # logs in and caches old-token-1
    accepted.discard("Bearer old-token-1")  # thirty minutes later it has expired

    reading = provider.fetch(NOW)

    assert reading.carbon_g_per_kwh == pytest.approx(800.0 * LBS_TO_G)
    assert len(feed_server.seen("/login")) == 2


def test_gives_up_after_one_relogin(feed_server, provider):
    feed_server.reply("/login", body={"token": SECRET})
    feed_server.reply("/v3/signal-index", status=401)

    error = _fail(provider)

    assert error.reason is ProblemReason.UNAUTHORIZED
    assert len(feed_server.seen("/login")) == 1


def test_pre_issued_token_skips_login(feed_server, session):
    _serve_ok(feed_server)
    provider = WattTimeProvider(
        region="CAISO_NORTH", session=session, token=SECRET, base_url=feed_server.url
    )

    provider.fetch(NOW)

    assert feed_server.seen("/login") == []
    assert feed_server.seen("/v3/forecast")[0].headers["authorization"] == f"Bearer {SECRET}"


def test_missing_credentials_are_reported() -> None:
    with pytest.raises(ProviderError) as caught:
        WattTimeProvider(region="CAISO_NORTH", session=requests.Session(), username="alice")

    assert caught.value.reason is ProblemReason.SECRET_MISSING


@pytest.mark.parametrize(
    ("path", "reply", "reason"),
    [
        (
            "/login",
            {"status": 401, "body": {"error": "bad credentials"}},
            ProblemReason.UNAUTHORIZED,
        ),
        ("/login", {"body": {"nothing": True}}, ProblemReason.MALFORMED),
        ("/v3/signal-index", {"status": 500}, ProblemReason.SERVER_ERROR),
        ("/v3/signal-index", {"raw": b"<html>maintenance</html>"}, ProblemReason.MALFORMED),
        (
            "/v3/signal-index",
            {"body": {"data": [{"value": 3}], "meta": {}}},
            ProblemReason.MALFORMED,
        ),
        ("/v3/signal-index", {"body": {"data": [], "meta": {}}}, ProblemReason.NO_DATA),
        (
            "/v3/signal-index",
            {"body": _index("2026-04-01T04:00:00+00:00")},
            ProblemReason.CLOCK_SKEW,
        ),
        ("/v3/forecast", {"body": _forecast(units="percentile")}, ProblemReason.WRONG_UNITS),
        ("/v3/forecast", {"body": _forecast(first_value=9000.0)}, ProblemReason.OUT_OF_RANGE),
        ("/v3/forecast", {"status": 403}, ProblemReason.UNAUTHORIZED),
    ],
)
def test_failures_map_to_reasons(feed_server, provider, path, reply, reason):
    _serve_ok(feed_server)
    feed_server.reply(path, **reply)

    assert _fail(provider).reason is reason


def test_429_honours_retry_after(feed_server, provider):
    _serve_ok(feed_server)
    feed_server.reply("/v3/signal-index", status=429, headers={"Retry-After": "120"})

    error = _fail(provider)

    assert error.reason is ProblemReason.RATE_LIMITED
    assert error.retry_after_seconds == 120


def test_slow_server_times_out(feed_server, provider):
    _serve_ok(feed_server)
    feed_server.reply("/v3/forecast", body=_forecast(), delay_seconds=2.0)

    assert _fail(provider).reason is ProblemReason.TIMEOUT


def test_connection_refused_is_unreachable(refused_url, session):
    provider = WattTimeProvider(
        region="CAISO_NORTH", session=session, token=SECRET, base_url=refused_url
    )

    assert _fail(provider).reason is ProblemReason.UNREACHABLE
