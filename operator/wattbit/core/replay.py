"""The replay model: a seeded, deterministic Japan-grid signal for any region and instant.

This module's one job is to turn hourly area profiles (carbon and JEPX-style price for a
weekday and a weekend/holiday day in each of the four seasons, floor-price probabilities,
curtailment hours) into a current reading and a forecast, with noise that is a pure function of
(seed, area, season, simulated hour).

Model (japan-grid.md §8.5, "Notes for the simulator"):

- **Time.** `sim = epoch + (now - epoch) * time_scale`. The epoch is `REPLAY_EPOCH`,
  2025-04-01 00:00 JST, the start of FY2025 (the dataset's year) and a JST midnight, so
  simulated hour `n` after the epoch is JST hour `n mod 24`. With `time_scale = 1` simulated
  time is real time; with 1440 a simulated day passes in one real minute. Every region with the
  same settings sees the same simulated instant, across restarts. Values step per simulated
  hour (the profiles are hourly means).
- **Season.** Fixed by the settings (one day profile for every day), or by the simulated JST
  date when `season` is None: the month picks the season (December-February winter,
  March-May spring, June-August summer, September-November autumn) and Saturdays and Sundays
  take that season's weekend/holiday profile. National holidays are not recognised (no
  holiday calendar is a dependency): a holiday on a weekday replays as a weekday.
- **Price.** `mean * (1 + sd * (c * system_shock + sqrt(1 - c^2) * area_shock))`, with one
  standard-normal system shock per hour shared by every area, one area shock per area and hour,
  both clipped to ±3 sd. In surplus areas (the profiles with floor probabilities: Hokkaido,
  Tohoku, Shikoku and Kyushu outside winter, only Shikoku in summer) a Bernoulli draw per hour
  sets the price to the 0.01 JPY/kWh floor; a sunny day raises that probability and a dull day
  lowers it; off-floor hours are drawn around the off-floor
  mean, so the long-run hourly mean stays the profile's. The price never goes below the floor.
- **Carbon.** A small hourly shock, plus a day-level weather shock at midday hours (sunny:
  lower, dull: higher), as a share of the profile value.
- **Curtailment.** True in an area's listed curtailment hours (spring weekdays and
  weekends; on weekends also wherever the floor price is the median) and whenever the price
  is at the floor (curtailment and floor prices are the same surplus, japan-grid.md §3).
- **Forecast.** One point per simulated hour, from the one covering `now` until at least
  `forecast_horizon_hours` hours past `now`, from the same model: `actual * (1 + e)` with
  `|e| <= forecast_error_percent / 100`, growing linearly with lead time until
  `FULL_ERROR_LEAD_HOURS`, never below the price floor. Deterministic for the hour it is
  issued in.

WARNING: no I/O and no clock. Profiles are loaded by the caller (`wattbit.providers.dataset`)
and passed in; `now` is always a parameter. Randomness comes from a counter-based integer hash,
never from global state, so the model is reproducible across processes and versions.
"""

from __future__ import annotations

import enum
import math
import zlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Final

from wattbit.core.signals import (
    JEPX_PRICE_FLOOR_JPY_PER_KWH,
    ForecastPoint,
    SignalReading,
    SignalWindow,
    WindowKind,
)

JST: Final = timezone(timedelta(hours=9), "JST")
REPLAY_EPOCH: Final = datetime(2025, 4, 1, tzinfo=JST)
"""Start of FY2025 at JST midnight: the instant where simulated and real time coincide."""
HOURS_PER_DAY: Final = 24
SECONDS_PER_HOUR: Final = 3600.0
MIN_FORECAST_HORIZON_HOURS: Final = 24
MAX_TIME_SCALE: Final = 100_000.0
FULL_ERROR_LEAD_HOURS: Final = 12
"""Forecast error grows linearly with lead time and reaches its full bound at this lead."""
MIDDAY_WEATHER_WEIGHTS: Final[dict[int, float]] = {
    9: 0.5,
    10: 1.0,
    11: 1.0,
    12: 1.0,
    13: 1.0,
    14: 1.0,
    15: 0.5,
}
"""How strongly the day's weather moves carbon at each JST hour (solar hours only)."""
WINTER_MONTHS: Final = frozenset({12, 1, 2})
SPRING_MONTHS: Final = frozenset({3, 4, 5})
SUMMER_MONTHS: Final = frozenset({6, 7, 8})
AUTUMN_MONTHS: Final = frozenset({9, 10, 11})
SATURDAY: Final = 5
"""`date.weekday()` of Saturday; Saturday and Sunday replay the weekend/holiday profile."""
_GREGORIAN_CYCLE_DAYS: Final = 146_097
"""The Gregorian calendar repeats every 400 years; calendar maths wraps here to avoid overflow."""
_SHOCK_CLIP_SD: Final = 3.0


class Season(enum.StrEnum):
    """Which daily profile applies: a season of the year and a kind of day.

    The values are the dataset's profile keys (`wattbit/data/japan_grid.yaml`).
    """

    SPRING_WEEKDAY = "spring_weekday"
    SUMMER_WEEKDAY = "summer_weekday"
    AUTUMN_WEEKDAY = "autumn_weekday"
    WINTER_WEEKDAY = "winter_weekday"
    SPRING_WEEKEND = "spring_weekend"
    """Saturdays, Sundays and holidays (the dataset's weekend/holiday profiles)."""
    SUMMER_WEEKEND = "summer_weekend"
    AUTUMN_WEEKEND = "autumn_weekend"
    WINTER_WEEKEND = "winter_weekend"


_SEASON_BY_MONTH: Final = {
    **dict.fromkeys(SPRING_MONTHS, (Season.SPRING_WEEKDAY, Season.SPRING_WEEKEND)),
    **dict.fromkeys(SUMMER_MONTHS, (Season.SUMMER_WEEKDAY, Season.SUMMER_WEEKEND)),
    **dict.fromkeys(AUTUMN_MONTHS, (Season.AUTUMN_WEEKDAY, Season.AUTUMN_WEEKEND)),
    **dict.fromkeys(WINTER_MONTHS, (Season.WINTER_WEEKDAY, Season.WINTER_WEEKEND)),
}


def season_for_date(day: date) -> Season:
    """The day profile of a JST calendar date: season by month, weekend on Saturday and Sunday.

    Japanese national holidays are not recognised; they replay as weekdays.
    """
    weekday, weekend = _SEASON_BY_MONTH[day.month]
    return weekend if day.weekday() >= SATURDAY else weekday


@dataclass(frozen=True, slots=True, kw_only=True)
class SeasonProfile:
    """24 JST hourly values for one area and season (index 0 = 00:00-00:59)."""

    carbon_g_per_kwh: tuple[float, ...]
    """Lifecycle intensity, gCO2eq/kWh (the default signal)."""
    carbon_direct_g_per_kwh: tuple[float, ...]
    """Combustion-only intensity, gCO2/kWh."""
    price_jpy_per_kwh: tuple[float, ...] | None
    """JEPX area price means; None where there is no market (Okinawa)."""
    floor_probability: tuple[float, ...] = (0.0,) * HOURS_PER_DAY
    """Share of half-hours clearing at 0.01 JPY/kWh; all zero outside surplus areas."""
    curtailment_hours: frozenset[int] = frozenset()
    """JST hours in which renewable output is curtailed on a typical day of this season."""

    def __post_init__(self) -> None:
        series: list[tuple[str, tuple[float, ...] | None]] = [
            ("carbon_g_per_kwh", self.carbon_g_per_kwh),
            ("carbon_direct_g_per_kwh", self.carbon_direct_g_per_kwh),
            ("price_jpy_per_kwh", self.price_jpy_per_kwh),
            ("floor_probability", self.floor_probability),
        ]
        for name, values in series:
            if values is not None and len(values) != HOURS_PER_DAY:
                raise ValueError(f"{name} needs {HOURS_PER_DAY} hourly values, got {len(values)}")
        if any(not 0.0 <= p <= 1.0 for p in self.floor_probability):
            raise ValueError("floor_probability values must be within [0, 1]")
        if any(not 0 <= hour < HOURS_PER_DAY for hour in self.curtailment_hours):
            raise ValueError("curtailment_hours must be JST hours 0..23")


@dataclass(frozen=True, slots=True, kw_only=True)
class GridProfile:
    """One grid area's replay profiles (see wattbit/data/README.md for sources)."""

    area: str
    """Electricity Maps zone key, e.g. `JP-KY`."""
    name: str
    spring_weekday: SeasonProfile
    summer_weekday: SeasonProfile
    autumn_weekday: SeasonProfile
    winter_weekday: SeasonProfile
    spring_weekend: SeasonProfile
    summer_weekend: SeasonProfile
    autumn_weekend: SeasonProfile
    winter_weekend: SeasonProfile
    price_placeholder_jpy_per_kwh: float | None = None
    """Flat price used when a season has no market price (an assumption, not data)."""

    def __post_init__(self) -> None:
        for season in Season:
            if (
                self.season_profile(season).price_jpy_per_kwh is None
                and self.price_placeholder_jpy_per_kwh is None
            ):
                raise ValueError(f"{self.area} {season} has no price and no placeholder")

    def season_profile(self, season: Season) -> SeasonProfile:
        """The profile for `season` (each field is named after its `Season` value)."""
        profile: SeasonProfile = getattr(self, season.value)
        return profile


class CarbonBasis(enum.StrEnum):
    """Which carbon series the model emits."""

    LIFECYCLE = "lifecycle"
    DIRECT = "direct"


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplayNoise:
    """Noise parameters; the defaults follow japan-grid.md §8.5."""

    price_sd_percent: float = 20.0
    """Per-hour price noise as a share of the hourly mean (the notes give 15-25%)."""
    system_correlation: float = 0.7
    """Weight of the common system shock; areas in one price group mostly move together."""
    carbon_hourly_sd_percent: float = 3.0
    """Small per-hour carbon noise, as a share of the profile value."""
    carbon_weather_percent: float = 15.0
    """Largest midday carbon change from the day's weather (solar share ±30% in the notes)."""
    floor_weather_gain: float = 0.5
    """A fully sunny day multiplies the floor probability by 1 + gain, a dull one by 1 - gain."""
    floor_draws: bool = True
    """Draw floor prices in surplus areas; when False the price noise is around the plain
    hourly mean."""

    @classmethod
    def off(cls) -> ReplayNoise:
        """No noise at all: the model replays the profiles' hourly means exactly."""
        return cls(
            price_sd_percent=0.0,
            carbon_hourly_sd_percent=0.0,
            carbon_weather_percent=0.0,
            floor_weather_gain=0.0,
            floor_draws=False,
        )

    def __post_init__(self) -> None:
        if not 0.0 <= self.system_correlation <= 1.0:
            raise ValueError("system_correlation must be within [0, 1]")
        if not 0.0 <= self.price_sd_percent <= 30.0:
            raise ValueError("price_sd_percent must be within [0, 30]")
        if not 0.0 <= self.carbon_hourly_sd_percent <= 10.0:
            raise ValueError("carbon_hourly_sd_percent must be within [0, 10]")
        if not 0.0 <= self.carbon_weather_percent <= 50.0:
            raise ValueError("carbon_weather_percent must be within [0, 50]")
        if not 0.0 <= self.floor_weather_gain <= 1.0:
            raise ValueError("floor_weather_gain must be within [0, 1]")


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplaySettings:
    """How one region replays its area: seed, speed, season and forecast quality."""

    seed: int = 0
    time_scale: float = 1.0
    """Simulated seconds per real second."""
    epoch: datetime = REPLAY_EPOCH
    season: Season | None = None
    """None: chosen by the simulated JST date (season by month, weekend by weekday)."""
    forecast_error_percent: float = 10.0
    """Bound on |forecast - actual| / actual, reached at `FULL_ERROR_LEAD_HOURS`."""
    forecast_horizon_hours: int = 48
    """Simulated hours the forecast reaches past `now` (at least 24), one point per hour."""
    carbon_basis: CarbonBasis = CarbonBasis.LIFECYCLE
    noise: ReplayNoise = field(default_factory=ReplayNoise)

    def __post_init__(self) -> None:
        if self.seed < 0:
            raise ValueError("seed must be non-negative")
        if not 0.0 < self.time_scale <= MAX_TIME_SCALE:
            raise ValueError(f"time_scale must be within (0, {MAX_TIME_SCALE:g}]")
        if self.epoch.tzinfo is None:
            raise ValueError("epoch must be timezone-aware")
        if not 0.0 <= self.forecast_error_percent <= 100.0:
            raise ValueError("forecast_error_percent must be within [0, 100]")
        if self.forecast_horizon_hours < MIN_FORECAST_HORIZON_HOURS:
            raise ValueError(f"forecast_horizon_hours must be >= {MIN_FORECAST_HORIZON_HOURS}")


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplaySample:
    """The model's actual value for one simulated hour."""

    sim_hour_index: int
    """Simulated hours since the epoch."""
    season: Season
    carbon_g_per_kwh: float
    price_jpy_per_kwh: float
    at_floor: bool
    curtailment: bool


# ------------------------------------------------------------------ deterministic randomness

_MASK64: Final = (1 << 64) - 1


class _Stream(enum.IntEnum):
    SYSTEM_PRICE = 1
    AREA_PRICE = 2
    SYSTEM_WEATHER = 3
    AREA_WEATHER = 4
    FLOOR = 5
    CARBON_HOURLY = 6
    FORECAST_CARBON = 7
    FORECAST_PRICE = 8


def _mix64(value: int) -> int:
    """SplitMix64 finaliser: a fast bijective 64-bit hash."""
    value = (value + 0x9E3779B97F4A7C15) & _MASK64
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & _MASK64
    return value ^ (value >> 31)


def _uniform(*keys: int) -> float:
    """A uniform draw in [0, 1) that is a pure function of the integer keys."""
    state = 0
    for key in keys:
        state = _mix64(state ^ (key & _MASK64))
    return (state >> 11) / float(1 << 53)


def _normal(*keys: int) -> float:
    """A standard-normal draw (Box-Muller) that is a pure function of the keys."""
    u1 = _uniform(*keys, 0)
    u2 = _uniform(*keys, 1)
    radius = math.sqrt(-2.0 * math.log(1.0 - u1))  # 1 - u1 is in (0, 1]
    return radius * math.cos(2.0 * math.pi * u2)


def _standard_normal_cdf(value: float) -> float:
    return 0.5 * (1.0 + math.erf(value / math.sqrt(2.0)))


def _area_key(area: str) -> int:
    return zlib.crc32(area.encode())


def _clip(value: float, low: float, high: float) -> float:
    return min(high, max(low, value))


# ------------------------------------------------------------------ time


def simulated_seconds(now: datetime, settings: ReplaySettings) -> float:
    """Simulated seconds since the epoch at real instant `now`."""
    return (now - settings.epoch).total_seconds() * settings.time_scale


def sim_hour_index(now: datetime, settings: ReplaySettings) -> int:
    """The simulated hour (counted from the epoch) that contains real instant `now`."""
    return math.floor(simulated_seconds(now, settings) / SECONDS_PER_HOUR)


def real_time_of_sim_hour(index: int, settings: ReplaySettings) -> datetime:
    """The real instant at which simulated hour `index` begins, in UTC."""
    real_seconds = index * SECONDS_PER_HOUR / settings.time_scale
    return (settings.epoch + timedelta(seconds=real_seconds)).astimezone(UTC)


def jst_hour(index: int, settings: ReplaySettings) -> int:
    """JST hour of day (0..23) of simulated hour `index`."""
    epoch_hour = settings.epoch.astimezone(JST).hour
    return (epoch_hour + index) % HOURS_PER_DAY


def sim_day_index(index: int, settings: ReplaySettings) -> int:
    """Simulated JST day (counted from the epoch's JST day) of simulated hour `index`."""
    epoch_hour = settings.epoch.astimezone(JST).hour
    return (epoch_hour + index) // HOURS_PER_DAY


def season_for_hour(index: int, settings: ReplaySettings) -> Season:
    """The settings' fixed season, or the one for the simulated JST date of hour `index`."""
    if settings.season is not None:
        return settings.season
    # The Gregorian calendar (months and weekdays alike) repeats every 400 years.
    day = sim_day_index(index, settings) % _GREGORIAN_CYCLE_DAYS
    return season_for_date(settings.epoch.astimezone(JST).date() + timedelta(days=day))


# ------------------------------------------------------------------ the model


def _sunny_index(profile: GridProfile, settings: ReplaySettings, day: int) -> float:
    """Day-level weather in [-1, 1]: +1 very sunny, -1 overcast; correlated across areas."""
    correlation = settings.noise.system_correlation
    shock = correlation * _normal(settings.seed, _Stream.SYSTEM_WEATHER, day) + math.sqrt(
        1.0 - correlation**2
    ) * _normal(settings.seed, _Stream.AREA_WEATHER, _area_key(profile.area), day)
    return 2.0 * _standard_normal_cdf(shock) - 1.0


def _off_floor_mean_jpy_per_kwh(mean_jpy_per_kwh: float, floor_probability: float) -> float:
    """The mean of the half-hours that did not clear at the floor.

    The profile's hourly mean includes floor slots (the distribution is bimodal: many slots at
    0.01, the rest at 5-8 JPY, japan-grid.md §2.4), so noise is drawn around the off-floor mean
    to keep the long-run hourly mean equal to the profile's.
    """
    if floor_probability >= 1.0:
        return JEPX_PRICE_FLOOR_JPY_PER_KWH
    off_floor = (mean_jpy_per_kwh - floor_probability * JEPX_PRICE_FLOOR_JPY_PER_KWH) / (
        1.0 - floor_probability
    )
    return max(JEPX_PRICE_FLOOR_JPY_PER_KWH, off_floor)


def sample_hour(profile: GridProfile, settings: ReplaySettings, index: int) -> ReplaySample:
    """The actual carbon, price and curtailment of simulated hour `index`."""
    noise = settings.noise
    season = season_for_hour(index, settings)
    season_profile = profile.season_profile(season)
    hour = jst_hour(index, settings)
    area = _area_key(profile.area)
    sunny = _sunny_index(profile, settings, sim_day_index(index, settings))

    base_carbon_g_per_kwh = (
        season_profile.carbon_g_per_kwh[hour]
        if settings.carbon_basis is CarbonBasis.LIFECYCLE
        else season_profile.carbon_direct_g_per_kwh[hour]
    )
    carbon_shock = _clip(
        _normal(settings.seed, _Stream.CARBON_HOURLY, area, index), -_SHOCK_CLIP_SD, _SHOCK_CLIP_SD
    )
    weather_weight = MIDDAY_WEATHER_WEIGHTS.get(hour, 0.0)
    carbon_g_per_kwh = base_carbon_g_per_kwh * (
        1.0
        + noise.carbon_hourly_sd_percent / 100.0 * carbon_shock
        - noise.carbon_weather_percent / 100.0 * sunny * weather_weight
    )

    at_floor = False
    if season_profile.price_jpy_per_kwh is None:
        # No market (Okinawa): a flat placeholder, guaranteed present by GridProfile.
        price_jpy_per_kwh = profile.price_placeholder_jpy_per_kwh or JEPX_PRICE_FLOOR_JPY_PER_KWH
    else:
        correlation = noise.system_correlation
        price_shock = _clip(
            correlation * _normal(settings.seed, _Stream.SYSTEM_PRICE, index)
            + math.sqrt(1.0 - correlation**2)
            * _normal(settings.seed, _Stream.AREA_PRICE, area, index),
            -_SHOCK_CLIP_SD,
            _SHOCK_CLIP_SD,
        )
        base_floor_probability = (
            season_profile.floor_probability[hour] if noise.floor_draws else 0.0
        )
        price_jpy_per_kwh = _off_floor_mean_jpy_per_kwh(
            season_profile.price_jpy_per_kwh[hour], base_floor_probability
        ) * (1.0 + noise.price_sd_percent / 100.0 * price_shock)
        floor_probability = _clip(
            base_floor_probability * (1.0 + noise.floor_weather_gain * sunny), 0.0, 1.0
        )
        if _uniform(settings.seed, _Stream.FLOOR, area, index) < floor_probability:
            at_floor = True
            price_jpy_per_kwh = JEPX_PRICE_FLOOR_JPY_PER_KWH
        price_jpy_per_kwh = max(JEPX_PRICE_FLOOR_JPY_PER_KWH, price_jpy_per_kwh)

    return ReplaySample(
        sim_hour_index=index,
        season=season,
        carbon_g_per_kwh=max(0.0, carbon_g_per_kwh),
        price_jpy_per_kwh=price_jpy_per_kwh,
        at_floor=at_floor,
        curtailment=at_floor or hour in season_profile.curtailment_hours,
    )


def forecast_error_fraction(
    profile: GridProfile,
    settings: ReplaySettings,
    *,
    issued_index: int,
    target_index: int,
    stream: int,
) -> float:
    """The signed relative error of a forecast issued in one hour for another.

    Within `±forecast_error_percent / 100`, scaled by lead time; zero for the current hour.
    """
    lead_hours = max(0, target_index - issued_index)
    scale = min(1.0, lead_hours / FULL_ERROR_LEAD_HOURS)
    draw = _uniform(settings.seed, stream, _area_key(profile.area), issued_index, target_index)
    return settings.forecast_error_percent / 100.0 * scale * (2.0 * draw - 1.0)


def _horizon_samples(
    profile: GridProfile, settings: ReplaySettings, issued: int
) -> tuple[ReplaySample, ...]:
    return tuple(
        sample_hour(profile, settings, index)
        for index in range(issued, issued + settings.forecast_horizon_hours + 1)
    )


def _forecast_from_samples(
    profile: GridProfile, settings: ReplaySettings, samples: tuple[ReplaySample, ...], issued: int
) -> tuple[ForecastPoint, ...]:
    points: list[ForecastPoint] = []
    for actual in samples:
        errors = [
            forecast_error_fraction(
                profile,
                settings,
                issued_index=issued,
                target_index=actual.sim_hour_index,
                stream=stream,
            )
            for stream in (_Stream.FORECAST_CARBON, _Stream.FORECAST_PRICE)
        ]
        points.append(
            ForecastPoint(
                start=real_time_of_sim_hour(actual.sim_hour_index, settings),
                carbon_g_per_kwh=max(0.0, actual.carbon_g_per_kwh * (1.0 + errors[0])),
                price_jpy_per_kwh=max(
                    JEPX_PRICE_FLOOR_JPY_PER_KWH, actual.price_jpy_per_kwh * (1.0 + errors[1])
                ),
            )
        )
    return tuple(points)


def _windows_from_samples(
    profile: GridProfile, settings: ReplaySettings, samples: tuple[ReplaySample, ...]
) -> tuple[SignalWindow, ...]:
    """Curtailment runs across the samples; a run under way started when it really began."""

    def window(first_index: int, end_index: int) -> SignalWindow:
        return SignalWindow(
            kind=WindowKind.CURTAILMENT,
            start=real_time_of_sim_hour(first_index, settings),
            end=real_time_of_sim_hour(end_index, settings),
        )

    windows: list[SignalWindow] = []
    run_start: int | None = None
    if samples and samples[0].curtailment:
        run_start = samples[0].sim_hour_index
        while run_start > samples[0].sim_hour_index - HOURS_PER_DAY and (
            sample_hour(profile, settings, run_start - 1).curtailment
        ):
            run_start -= 1
    for sample in samples:
        if sample.curtailment and run_start is None:
            run_start = sample.sim_hour_index
        elif not sample.curtailment and run_start is not None:
            windows.append(window(run_start, sample.sim_hour_index))
            run_start = None
    if run_start is not None:
        windows.append(window(run_start, samples[-1].sim_hour_index + 1))
    return tuple(windows)


def forecast_points(
    profile: GridProfile, settings: ReplaySettings, now: datetime
) -> tuple[ForecastPoint, ...]:
    """Forecast for the current simulated hour and the next `forecast_horizon_hours`, so it
    reaches at least `forecast_horizon_hours` simulated hours past `now`."""
    issued = sim_hour_index(now, settings)
    return _forecast_from_samples(
        profile, settings, _horizon_samples(profile, settings, issued), issued
    )


def curtailment_windows(
    profile: GridProfile, settings: ReplaySettings, now: datetime
) -> tuple[SignalWindow, ...]:
    """Contiguous curtailment hours over the forecast horizon, including the run under way."""
    issued = sim_hour_index(now, settings)
    return _windows_from_samples(profile, settings, _horizon_samples(profile, settings, issued))


def replay_reading(profile: GridProfile, settings: ReplaySettings, now: datetime) -> SignalReading:
    """The reading a region replaying `profile` shows at real instant `now`.

    `observed_at` is `now`: the model defines the value at every instant, so a replayed signal
    is never stale.
    """
    issued = sim_hour_index(now, settings)
    samples = _horizon_samples(profile, settings, issued)
    current = samples[0]
    return SignalReading(
        carbon_g_per_kwh=current.carbon_g_per_kwh,
        price_jpy_per_kwh=current.price_jpy_per_kwh,
        observed_at=now,
        source=f"replay:{profile.area}/{current.season}",
        curtailment=current.curtailment,
        forecast=_forecast_from_samples(profile, settings, samples, issued),
        windows=_windows_from_samples(profile, settings, samples),
    )
