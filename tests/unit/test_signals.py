"""Signal values and their judgement (`wattbit.core.signals`): pure, no I/O.

Matrix: age (past, future) and freshness at the max-age boundary; validation of every bound
(carbon 0..2000, price 0..1000 with the 0.01 floor accepted exactly, renewable 0..100, NaN and
infinity), unknown carbon or price, naive and future timestamps (clock skew inside and beyond
the allowed skew), unsorted and duplicate forecast points, bad windows; forecast helpers
(normalise, upcoming window, horizon) and active windows. Not covered here: providers.
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from wattbit.core.signals import (
    ForecastPoint,
    ProblemReason,
    SignalReading,
    SignalWindow,
    WindowKind,
    active_windows,
    forecast_horizon_seconds,
    is_fresh,
    normalize_forecast,
    signal_age_seconds,
    upcoming_forecast,
    validate_reading,
)

NOW = datetime(2026, 4, 1, 3, 0, tzinfo=UTC)
SKEW_SECONDS = 300.0


def _reading(**overrides: object) -> SignalReading:
    reading = SignalReading(
        carbon_g_per_kwh=112.0,
        price_jpy_per_kwh=0.01,
        observed_at=NOW - timedelta(minutes=5),
        source="static",
    )
    return replace(reading, **overrides)  # type: ignore[arg-type]


def _point(hours: float, carbon: float | None = 100.0, price: float | None = 10.0) -> ForecastPoint:
    return ForecastPoint(
        start=NOW + timedelta(hours=hours), carbon_g_per_kwh=carbon, price_jpy_per_kwh=price
    )


def _reasons(reading: SignalReading) -> list[ProblemReason]:
    return [problem.reason for problem in validate_reading(reading, NOW, SKEW_SECONDS)]


def test_age_and_freshness() -> None:
    reading = _reading(observed_at=NOW - timedelta(seconds=900))

    assert signal_age_seconds(reading, NOW) == 900
    assert is_fresh(reading, NOW, max_age_seconds=900)
    assert not is_fresh(reading, NOW, max_age_seconds=899)


def test_future_reading_has_negative_age_and_is_fresh() -> None:
    reading = _reading(observed_at=NOW + timedelta(seconds=10))

    assert signal_age_seconds(reading, NOW) == -10
    assert is_fresh(reading, NOW, max_age_seconds=60)


def test_plausible_reading_has_no_problems() -> None:
    assert validate_reading(_reading(), NOW, SKEW_SECONDS) == []


@pytest.mark.parametrize(
    ("overrides", "reason", "field"),
    [
        ({"carbon_g_per_kwh": 2000.5}, ProblemReason.OUT_OF_RANGE, "carbon_g_per_kwh"),
        ({"carbon_g_per_kwh": -0.1}, ProblemReason.OUT_OF_RANGE, "carbon_g_per_kwh"),
        ({"carbon_g_per_kwh": math.nan}, ProblemReason.OUT_OF_RANGE, "carbon_g_per_kwh"),
        ({"price_jpy_per_kwh": -0.01}, ProblemReason.OUT_OF_RANGE, "price_jpy_per_kwh"),
        ({"price_jpy_per_kwh": 1000.5}, ProblemReason.OUT_OF_RANGE, "price_jpy_per_kwh"),
        ({"price_jpy_per_kwh": math.inf}, ProblemReason.OUT_OF_RANGE, "price_jpy_per_kwh"),
        ({"renewable_percent": 100.1}, ProblemReason.OUT_OF_RANGE, "renewable_percent"),
        (
            {"carbon_g_per_kwh": None, "price_jpy_per_kwh": None},
            ProblemReason.NO_DATA,
            "carbon_g_per_kwh",
        ),
        (
            {"observed_at": datetime(2026, 4, 1, 3, 0)},  # noqa: DTZ001 - the naive case
            ProblemReason.MALFORMED,
            "observed_at",
        ),
        (
            {"observed_at": NOW + timedelta(seconds=SKEW_SECONDS + 1)},
            ProblemReason.CLOCK_SKEW,
            "observed_at",
        ),
    ],
)
def test_problems_name_reason_and_field(
    overrides: dict[str, object], reason: ProblemReason, field: str
) -> None:
    problems = validate_reading(_reading(**overrides), NOW, SKEW_SECONDS)

    assert [(p.reason, p.field) for p in problems] == [(reason, field)]
    assert problems[0].message


@pytest.mark.parametrize(
    "overrides",
    [
        {"price_jpy_per_kwh": 0.01},
        {"price_jpy_per_kwh": 0.0},
        {"carbon_g_per_kwh": 0.0},
        {"carbon_g_per_kwh": 2000.0},
        {"price_jpy_per_kwh": None},
        {"carbon_g_per_kwh": None},
        {"renewable_percent": 100.0},
        {"observed_at": NOW + timedelta(seconds=SKEW_SECONDS)},
    ],
)
def test_boundaries_are_accepted(overrides: dict[str, object]) -> None:
    assert _reasons(_reading(**overrides)) == []


def test_forecast_points_are_range_checked_and_ordered() -> None:
    reading = _reading(forecast=(_point(0), _point(1, carbon=5000.0), _point(1), _point(0.5)))

    problems = validate_reading(reading, NOW, SKEW_SECONDS)

    assert [(p.reason, p.field) for p in problems] == [
        (ProblemReason.OUT_OF_RANGE, "forecast[1].carbon_g_per_kwh"),
        (ProblemReason.MALFORMED, "forecast[2].start"),
        (ProblemReason.MALFORMED, "forecast[3].start"),
    ]


def test_windows_must_end_after_they_start() -> None:
    window = SignalWindow(kind=WindowKind.CURTAILMENT, start=NOW, end=NOW)

    assert _reasons(_reading(windows=(window,))) == [ProblemReason.MALFORMED]


def test_normalize_forecast_sorts_and_last_duplicate_wins() -> None:
    points = (_point(2), _point(1, carbon=1.0), _point(1, carbon=2.0))

    assert normalize_forecast(points) == (_point(1, carbon=2.0), _point(2))


def test_upcoming_forecast_starts_with_the_point_covering_now() -> None:
    reading = _reading(forecast=(_point(-2), _point(-1), _point(1), _point(30)))

    upcoming = upcoming_forecast(reading, NOW, horizon_seconds=24 * 3600)

    assert [p.start - NOW for p in upcoming] == [timedelta(hours=-1), timedelta(hours=1)]


def test_forecast_horizon() -> None:
    assert forecast_horizon_seconds(_reading(), NOW) == 0
    assert forecast_horizon_seconds(_reading(forecast=(_point(0), _point(24))), NOW) == 86_400


def test_active_windows_contain_now() -> None:
    current = SignalWindow(
        kind=WindowKind.DEMAND_RESPONSE,
        start=NOW - timedelta(hours=1),
        end=NOW + timedelta(hours=1),
    )
    ended = SignalWindow(kind=WindowKind.CURTAILMENT, start=NOW - timedelta(hours=2), end=NOW)

    assert active_windows(_reading(windows=(current, ended)), NOW) == (current,)
