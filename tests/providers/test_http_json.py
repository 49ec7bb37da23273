"""Generic HTTP/JSON provider against a real HTTP server on 127.0.0.1.

Matrix: field paths (`data.carbon`, `items[0].value`, a top-level value), timestamps as RFC 3339
and Unix seconds, forecasts merged from a carbon and a price feed, unit conversion
(lbs/MWh and kg/MWh to g/kWh, JPY/MWh to JPY/kWh, fraction to percent), the 0.01 JPY/kWh floor
accepted, headers whose values come from Secrets (sent, never shown); failures: 401, 403,
429 with Retry-After, 500, an HTML page, truncated JSON, an empty body, a missing field, a
string where a number belongs, a naive timestamp, duplicate forecast times, out-of-range and
negative values, a unit label that contradicts the configured unit (wrong units), a timestamp
in the future (clock skew), a slow server (timeout) and a closed port. Not covered on purpose:
authentication schemes other than headers, TLS.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from wattbit.core.signals import ProblemReason
from wattbit.providers.base import ProviderError
from wattbit.providers.http_json import HttpFeedSpec, HttpJsonProvider
from wattbit.providers.wire import Quantity, Unit

SECRET = "s3cr3t-T0KEN-value-never-shown"  # noqa: S105 - a fake credential
NOW = datetime(2026, 4, 1, 3, 0, tzinfo=UTC)


def _carbon_body(**data: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "data": {"carbon": 300, "unit": "gCO2eq/kWh", "time": "2026-04-01T11:55:00+09:00"},
        "forecast": [
            {"time": "2026-04-01T04:00:00Z", "value": 280},
            {"time": "2026-04-01T03:00:00Z", "value": 290},
        ],
    }
    body["data"].update(data)
    return body


def _carbon_feed(url: str, **overrides: Any) -> HttpFeedSpec:
    spec: dict[str, Any] = {
        "quantity": Quantity.CARBON,
        "url": url + "/carbon?token-is-not-here=1",
        "unit": Unit.G_CO2_PER_KWH,
        "value_path": "data.carbon",
        "timestamp_path": "data.time",
        "forecast_path": "forecast",
        "headers": {"Authorization": f"Bearer {SECRET}"},
    }
    spec.update(overrides)
    return HttpFeedSpec(**spec)


def _provider(session: requests.Session, *feeds: HttpFeedSpec) -> HttpJsonProvider:
    return HttpJsonProvider(feeds=feeds, session=session, timeout_seconds=0.3)


def _fail(provider: HttpJsonProvider) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        provider.fetch(NOW)
    assert SECRET not in str(caught.value)
    assert SECRET not in repr(caught.value)
    return caught.value


def test_reads_paths_units_and_merges_forecasts(feed_server, session):
    feed_server.reply("/carbon", body=_carbon_body())
    feed_server.reply(
        "/price",
        body={
            "items": [{"value": 10, "at": NOW.timestamp() - 60}],
            "forecast": [
                {"start": "2026-04-01T03:00:00Z", "yen": 12000},
                {"start": "2026-04-01T05:00:00Z", "yen": 10},
            ],
        },
    )
    feed_server.reply("/renewable", body={"value": 0.42})
    provider = _provider(
        session,
        _carbon_feed(feed_server.url),
        HttpFeedSpec(
            quantity=Quantity.PRICE,
            url=feed_server.url + "/price",
            unit=Unit.JPY_PER_MWH,
            value_path="items[0].value",
            timestamp_path="items[0].at",
            forecast_path="forecast",
            forecast_value_field="yen",
            forecast_time_field="start",
        ),
        HttpFeedSpec(
            quantity=Quantity.RENEWABLE,
            url=feed_server.url + "/renewable",
            unit=Unit.FRACTION,
            value_path="value",
        ),
    )

    reading = provider.fetch(NOW)

    assert reading.carbon_g_per_kwh == 300
    assert reading.price_jpy_per_kwh == pytest.approx(0.01)  # 10 JPY/MWh is the 0.01 floor
    assert reading.renewable_percent == pytest.approx(42.0)
    assert reading.observed_at == NOW - timedelta(minutes=5)  # the older of the two feeds
    assert [(p.start.hour, p.carbon_g_per_kwh, p.price_jpy_per_kwh) for p in reading.forecast] == [
        (3, 290, pytest.approx(12.0)),
        (4, 280, None),
        (5, None, pytest.approx(0.01)),
    ]
    sent = feed_server.seen("/carbon")[0]
    assert sent.headers["authorization"] == f"Bearer {SECRET}"


@pytest.mark.parametrize(
    "case",
    [
        (Unit.LBS_CO2_PER_MWH, "lbs/MWh", 1000, 453.59237),
        (Unit.KG_CO2_PER_MWH, "kgCO2/MWh", 450, 450.0),
        (Unit.G_CO2_PER_KWH, None, 450, 450.0),
    ],
)
def test_converts_carbon_units(feed_server, session, case):
    unit, label, value, expected_g_per_kwh = case
    feed_server.reply("/carbon", body={"data": {"carbon": value, "unit": label}})
    provider = _provider(
        session, _carbon_feed(feed_server.url, unit=unit, timestamp_path=None, forecast_path=None)
    )

    reading = provider.fetch(NOW)

    assert reading.carbon_g_per_kwh == pytest.approx(expected_g_per_kwh)
    assert reading.observed_at == NOW  # no timestamp path: the fetch time


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        ({"status": 401}, ProblemReason.UNAUTHORIZED),
        ({"status": 403}, ProblemReason.UNAUTHORIZED),
        ({"status": 500, "raw": f"stack trace with {SECRET}".encode()}, ProblemReason.SERVER_ERROR),
        ({"status": 502}, ProblemReason.SERVER_ERROR),
        ({"raw": b"<html><title>Login</title></html>"}, ProblemReason.MALFORMED),
        ({"raw": b'{"data": {"carbon": 3'}, ProblemReason.MALFORMED),
        ({"raw": b""}, ProblemReason.MALFORMED),
        ({"body": {"data": {"time": "2026-04-01T03:00:00Z"}}}, ProblemReason.MALFORMED),
        ({"body": _carbon_body(carbon="three hundred")}, ProblemReason.MALFORMED),
        ({"body": _carbon_body(carbon=True)}, ProblemReason.MALFORMED),
        ({"body": _carbon_body(time="2026-04-01T03:00:00")}, ProblemReason.MALFORMED),
        ({"body": _carbon_body(carbon=2001)}, ProblemReason.OUT_OF_RANGE),
        ({"body": _carbon_body(carbon=-1)}, ProblemReason.OUT_OF_RANGE),
        ({"body": _carbon_body(unit="lbs/MWh")}, ProblemReason.WRONG_UNITS),
        ({"body": _carbon_body(unit="EUR/MWh")}, ProblemReason.WRONG_UNITS),
        ({"body": _carbon_body(time="2026-04-01T13:00:00+09:00")}, ProblemReason.CLOCK_SKEW),
    ],
)
def test_failures_map_to_reasons(feed_server, session, reply, reason):
    feed_server.reply("/carbon", **reply)

    error = _fail(_provider(session, _carbon_feed(feed_server.url)))

    assert error.reason is reason
    assert "token-is-not-here" not in error.message  # no query strings in messages


def test_duplicate_forecast_times_are_malformed(feed_server, session):
    body = _carbon_body()
    body["forecast"].append({"time": "2026-04-01T03:00:00Z", "value": 1})
    feed_server.reply("/carbon", body=body)

    assert _fail(_provider(session, _carbon_feed(feed_server.url))).reason is (
        ProblemReason.MALFORMED
    )


def test_price_in_wrong_units_is_rejected(feed_server, session):
    feed_server.reply("/price", body={"price": 12.0, "units": "JPY/kWh"})
    feed = HttpFeedSpec(
        quantity=Quantity.PRICE,
        url=feed_server.url + "/price",
        unit=Unit.JPY_PER_MWH,
        value_path="price",
    )

    assert _fail(_provider(session, feed)).reason is ProblemReason.WRONG_UNITS


def test_unit_that_cannot_express_the_metric_is_wrong_units(feed_server, session):
    feed_server.reply("/carbon", body={"data": {"carbon": 300}})
    feed = _carbon_feed(
        feed_server.url, unit=Unit.JPY_PER_KWH, timestamp_path=None, forecast_path=None
    )

    assert _fail(_provider(session, feed)).reason is ProblemReason.WRONG_UNITS


def test_429_honours_retry_after(feed_server, session):
    feed_server.reply("/carbon", status=429, headers={"Retry-After": "120"})

    error = _fail(_provider(session, _carbon_feed(feed_server.url)))

    assert error.reason is ProblemReason.RATE_LIMITED
    assert error.retry_after_seconds == 120


def test_slow_server_times_out(feed_server, session):
    feed_server.reply("/carbon", body=_carbon_body(), delay_seconds=2.0)

    assert _fail(_provider(session, _carbon_feed(feed_server.url))).reason is (
        ProblemReason.TIMEOUT
    )


def test_connection_refused_is_unreachable(refused_url, session):
    assert _fail(_provider(session, _carbon_feed(refused_url))).reason is (
        ProblemReason.UNREACHABLE
    )


def test_needs_one_feed_per_metric(session: requests.Session) -> None:
    feed = _carbon_feed("http://127.0.0.1:9")
    with pytest.raises(ProviderError) as caught:
        _provider(session, feed, feed)

    assert caught.value.reason is ProblemReason.INVALID_CONFIG


def test_one_feed_ahead_of_the_clock_is_skew_though_the_other_is_older(feed_server, session):
    # observed_at is the oldest feed's time; a carbon feed an hour ahead must not hide there.
    feed_server.reply("/carbon", body=_carbon_body(time="2026-04-01T04:00:00Z"))
    feed_server.reply("/price", body={"value": 10, "at": "2026-04-01T02:55:00Z"})
    price = HttpFeedSpec(
        quantity=Quantity.PRICE,
        url=feed_server.url + "/price",
        unit=Unit.JPY_PER_KWH,
        value_path="value",
        timestamp_path="at",
    )

    error = _fail(_provider(session, _carbon_feed(feed_server.url), price))

    assert error.reason is ProblemReason.CLOCK_SKEW
    assert "carbon" in error.message
