"""Power signals as plain values: readings, forecast points, windows, and how to judge them.

This module's one job is to describe what a region's power feed said (carbon intensity, price,
renewable share, curtailment, a forecast, curtailment or demand-response windows) and to judge
it: its age, its freshness, and whether its numbers are plausible.

WARNING: it must not do I/O, read the clock, or know any wire format. Providers translate their
feeds into these types; `now` is always a parameter.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

# Plausibility bounds (reliability.md §4 "Garbage signal values", §5.3 P5).
CARBON_MIN_G_PER_KWH: Final = 0.0
"""Carbon intensity can be zero (an all-hydro or all-nuclear hour) but never negative."""
CARBON_MAX_G_PER_KWH: Final = 2000.0
"""Lignite plants emit about 1,100-1,200 g/kWh; above 2,000 is a unit or parsing error."""
PRICE_MIN_JPY_PER_KWH: Final = 0.0
"""JEPX clears at 0.01 JPY/kWh at the lowest (its floor, accepted exactly); a feed that rounds
may report 0. A negative price is not a JEPX outcome, so it is rejected."""
PRICE_MAX_JPY_PER_KWH: Final = 1000.0
"""JEPX's highest area price was about 251 JPY/kWh (January 2021); 1,000 leaves room for
imbalance or retail feeds and still catches JPY/MWh sent as JPY/kWh (a 1000x error)."""
RENEWABLE_MIN_PERCENT: Final = 0.0
RENEWABLE_MAX_PERCENT: Final = 100.0
JEPX_PRICE_FLOOR_JPY_PER_KWH: Final = 0.01
"""The lowest price JEPX clears at (japan-grid.md §0, §2)."""


class ProblemReason(enum.StrEnum):
    """Why a signal could not be used. CamelCase: shared by conditions, Events and metrics."""

    TIMEOUT = "Timeout"
    """The feed did not answer within the connect or read timeout."""
    UNREACHABLE = "Unreachable"
    """The connection was refused or the name did not resolve."""
    UNAUTHORIZED = "Unauthorized"
    """HTTP 401 or 403: the credential is wrong, expired or lacks the scope."""
    RATE_LIMITED = "RateLimited"
    """HTTP 429: wait for Retry-After before the next request."""
    SERVER_ERROR = "ServerError"
    """HTTP 5xx."""
    NOT_FOUND = "NotFound"
    """HTTP 404, an unknown zone or region, or a query with no series."""
    MALFORMED = "Malformed"
    """Not JSON, a missing field, a wrong type, a naive timestamp, unsorted forecast points."""
    OUT_OF_RANGE = "OutOfRange"
    """A number outside the plausibility bounds in this module, or not finite."""
    WRONG_UNITS = "WrongUnits"
    """The feed declares units that cannot be converted to gCO2eq/kWh or JPY/kWh."""
    CLOCK_SKEW = "ClockSkew"
    """A timestamp later than `now` by more than the allowed skew."""
    EXPIRED = "Expired"
    """A PowerSignal whose validity ended before `now`."""
    SECRET_MISSING = "SecretMissing"  # noqa: S105 - a reason name, not a credential
    """A referenced Secret or key could not be resolved."""
    INVALID_CONFIG = "InvalidConfig"
    """The provider configuration cannot be used (an unknown area, a bad field path)."""
    NO_DATA = "NoData"
    """The feed answered but had nothing usable (no valid PowerSignal, an empty forecast)."""


class WindowKind(enum.StrEnum):
    """What a signal window announces."""

    CURTAILMENT = "Curtailment"
    """Renewable output is being curtailed (出力制御): surplus power, good time to run."""
    DEMAND_RESPONSE = "DemandResponse"
    """The grid asks for less load: a bad time to run."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ForecastPoint:
    """A forecast value for the interval that starts at `start` (tz-aware).

    A metric the source does not forecast is None (Electricity Maps forecasts no price).
    """

    start: datetime
    carbon_g_per_kwh: float | None
    price_jpy_per_kwh: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class SignalWindow:
    """A curtailment or demand-response window, [start, end), both tz-aware."""

    kind: WindowKind
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class SignalReading:
    """What a provider observed for one region, with the source's own timestamp.

    Carbon or price is None when the source does not publish it (a carbon-only API with no
    fallback price, a Prometheus feed with only a price query); at least one is set.
    """

    carbon_g_per_kwh: float | None
    price_jpy_per_kwh: float | None
    observed_at: datetime
    """When the source measured or published the value (tz-aware), not when we fetched it."""
    source: str
    """Which provider and zone produced it, e.g. `replay:JP-KY/spring_weekday`,
    `electricitymaps:JP-TK`, `powersignal:namespace/name`."""
    renewable_percent: float | None = None
    curtailment: bool | None = None
    estimated: bool | None = None
    """True when the source says the value is an estimate (Electricity Maps `isEstimated`)."""
    forecast: tuple[ForecastPoint, ...] = ()
    """Points sorted by `start`, strictly increasing."""
    windows: tuple[SignalWindow, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class SignalProblem:
    """One reason a reading cannot be trusted, naming the field it concerns."""

    reason: ProblemReason
    field: str
    message: str


def is_aware(moment: datetime) -> bool:
    """Return True when `moment` carries a usable UTC offset."""
    return moment.tzinfo is not None and moment.utcoffset() is not None


def signal_age_seconds(reading: SignalReading, now: datetime) -> float:
    """Seconds between the source timestamp and `now`; negative if observed in the future."""
    return (now - reading.observed_at).total_seconds()


def is_fresh(reading: SignalReading, now: datetime, max_age_seconds: float) -> bool:
    """True when the reading is no older than `max_age_seconds`.

    A reading slightly in the future (within clock skew) counts as fresh; one far in the future
    is rejected earlier by `validate_reading` with `ClockSkew`.
    """
    return signal_age_seconds(reading, now) <= max_age_seconds


def _check_range(
    value: float, *, low: float, high: float, field: str, unit: str
) -> list[SignalProblem]:
    if not math.isfinite(value):
        return [
            SignalProblem(
                reason=ProblemReason.OUT_OF_RANGE,
                field=field,
                message=f"{field} is {value}, not a finite number",
            )
        ]
    if not low <= value <= high:
        return [
            SignalProblem(
                reason=ProblemReason.OUT_OF_RANGE,
                field=field,
                message=f"{field} is {value:g} {unit}, outside [{low:g}, {high:g}]",
            )
        ]
    return []


def _check_time(
    moment: datetime, *, now: datetime, max_skew_seconds: float, field: str
) -> list[SignalProblem]:
    if not is_aware(moment):
        return [
            SignalProblem(
                reason=ProblemReason.MALFORMED,
                field=field,
                message=f"{field} has no time zone",
            )
        ]
    ahead_seconds = (moment - now).total_seconds()
    if ahead_seconds > max_skew_seconds:
        return [
            SignalProblem(
                reason=ProblemReason.CLOCK_SKEW,
                field=field,
                message=(
                    f"{field} is {ahead_seconds:.0f} s in the future "
                    f"(allowed skew {max_skew_seconds:.0f} s)"
                ),
            )
        ]
    return []


def validate_point_values(
    *,
    carbon_g_per_kwh: float | None,
    price_jpy_per_kwh: float | None,
    field_prefix: str = "",
) -> list[SignalProblem]:
    """Range-check one carbon and price pair (used for readings and forecast points)."""
    problems: list[SignalProblem] = []
    if carbon_g_per_kwh is not None:
        problems += _check_range(
            carbon_g_per_kwh,
            low=CARBON_MIN_G_PER_KWH,
            high=CARBON_MAX_G_PER_KWH,
            field=f"{field_prefix}carbon_g_per_kwh",
            unit="gCO2eq/kWh",
        )
    if price_jpy_per_kwh is not None:
        problems += _check_range(
            price_jpy_per_kwh,
            low=PRICE_MIN_JPY_PER_KWH,
            high=PRICE_MAX_JPY_PER_KWH,
            field=f"{field_prefix}price_jpy_per_kwh",
            unit="JPY/kWh",
        )
    return problems


def validate_reading(
    reading: SignalReading, now: datetime, max_skew_seconds: float
) -> list[SignalProblem]:
    """Every problem with `reading` at `now`; an empty list means it may be used.

    Checks: at least one of carbon and price is known (else `NoData`), the bounds above for
    current and forecast values, tz-aware timestamps,
    `observed_at` no later than `now + max_skew_seconds` (else `ClockSkew`), forecast points
    strictly increasing, and windows that end after they start. Staleness is not a problem
    here: use `is_fresh`, since a stale reading is still a true statement about the past.
    """
    problems = [
        *validate_point_values(
            carbon_g_per_kwh=reading.carbon_g_per_kwh,
            price_jpy_per_kwh=reading.price_jpy_per_kwh,
        ),
        *_check_time(
            reading.observed_at, now=now, max_skew_seconds=max_skew_seconds, field="observed_at"
        ),
    ]
    if reading.carbon_g_per_kwh is None and reading.price_jpy_per_kwh is None:
        problems.append(
            SignalProblem(
                reason=ProblemReason.NO_DATA,
                field="carbon_g_per_kwh",
                message="neither carbon nor price is known",
            )
        )
    if reading.renewable_percent is not None:
        problems += _check_range(
            reading.renewable_percent,
            low=RENEWABLE_MIN_PERCENT,
            high=RENEWABLE_MAX_PERCENT,
            field="renewable_percent",
            unit="%",
        )
    previous_start: datetime | None = None
    for index, point in enumerate(reading.forecast):
        prefix = f"forecast[{index}]."
        problems += validate_point_values(
            carbon_g_per_kwh=point.carbon_g_per_kwh,
            price_jpy_per_kwh=point.price_jpy_per_kwh,
            field_prefix=prefix,
        )
        if not is_aware(point.start):
            problems.append(
                SignalProblem(
                    reason=ProblemReason.MALFORMED,
                    field=f"{prefix}start",
                    message=f"{prefix}start has no time zone",
                )
            )
            continue
        if previous_start is not None and point.start <= previous_start:
            problems.append(
                SignalProblem(
                    reason=ProblemReason.MALFORMED,
                    field=f"{prefix}start",
                    message=f"{prefix}start is not after the previous point's start",
                )
            )
        previous_start = point.start
    for index, window in enumerate(reading.windows):
        prefix = f"windows[{index}]."
        if not (is_aware(window.start) and is_aware(window.end)):
            problems.append(
                SignalProblem(
                    reason=ProblemReason.MALFORMED,
                    field=f"{prefix}start",
                    message=f"{prefix}start or end has no time zone",
                )
            )
        elif window.end <= window.start:
            problems.append(
                SignalProblem(
                    reason=ProblemReason.MALFORMED,
                    field=f"{prefix}end",
                    message=f"{prefix}end is not after its start",
                )
            )
    return problems


def normalize_forecast(points: tuple[ForecastPoint, ...]) -> tuple[ForecastPoint, ...]:
    """Sort forecast points by start; of points with equal starts the last one given wins."""
    by_start: dict[datetime, ForecastPoint] = {}
    for point in points:
        by_start[point.start] = point
    return tuple(by_start[start] for start in sorted(by_start))


def upcoming_forecast(
    reading: SignalReading, now: datetime, horizon_seconds: float
) -> tuple[ForecastPoint, ...]:
    """Forecast points whose interval may still matter: from the one covering `now` onwards,
    up to `now + horizon_seconds`. Used for the compact forecast in Region status."""
    end = now + timedelta(seconds=horizon_seconds)
    points = reading.forecast
    first = 0
    for index, point in enumerate(points):
        if point.start <= now:
            first = index
    return tuple(point for point in points[first:] if point.start < end)


def forecast_horizon_seconds(reading: SignalReading, now: datetime) -> float:
    """Seconds from `now` to the start of the last forecast point (0 with no forecast)."""
    if not reading.forecast:
        return 0.0
    return max(0.0, (reading.forecast[-1].start - now).total_seconds())


def active_windows(reading: SignalReading, now: datetime) -> tuple[SignalWindow, ...]:
    """The windows that contain `now`."""
    return tuple(window for window in reading.windows if window.start <= now < window.end)
