"""Hypothesis properties of the replay model (`wattbit.core.replay`).

Properties, for any seed, area, season, noise setting, time scale and instant:
- determinism: the same inputs give the same reading, forecast and windows;
- the 0.01 JPY/kWh floor holds for current and forecast prices, and carbon stays in bounds, so
  every reading passes `validate_reading`;
- forecast error stays within `forecast_error_percent` of the actual value of that hour;
- the forecast starts at the hour covering `now` and spans at least 24 simulated hours.
Not covered here: statistical shape (unit tests check means and floor shares).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from wattbit.core.replay import (
    MIN_FORECAST_HORIZON_HOURS,
    SECONDS_PER_HOUR,
    ReplayNoise,
    ReplaySettings,
    Season,
    replay_reading,
    sample_hour,
    sim_hour_index,
)
from wattbit.core.signals import JEPX_PRICE_FLOOR_JPY_PER_KWH, validate_reading
from wattbit.providers.dataset import AREAS, profile_for

instants = st.datetimes(
    min_value=datetime(2024, 1, 1),  # noqa: DTZ001 - hypothesis bounds are naive
    max_value=datetime(2030, 12, 31),  # noqa: DTZ001
    timezones=st.just(UTC),
)
replay_settings = st.builds(
    ReplaySettings,
    seed=st.integers(min_value=0, max_value=2**31 - 1),
    time_scale=st.sampled_from([1.0, 6.0, 60.0, 1440.0]),
    season=st.sampled_from([None, *Season]),
    forecast_error_percent=st.floats(min_value=0.0, max_value=60.0),
    forecast_horizon_hours=st.integers(min_value=MIN_FORECAST_HORIZON_HOURS, max_value=48),
    noise=st.sampled_from([ReplayNoise(), ReplayNoise.off()]),
)
areas = st.sampled_from(AREAS)


@settings(deadline=None, max_examples=60)
@given(area=areas, config=replay_settings, now=instants)
def test_deterministic_for_a_seed(area: str, config: ReplaySettings, now: datetime) -> None:
    profile = profile_for(area)

    assert replay_reading(profile, config, now) == replay_reading(profile, config, now)


@settings(deadline=None, max_examples=60)
@given(area=areas, config=replay_settings, now=instants)
def test_floor_and_bounds_hold(area: str, config: ReplaySettings, now: datetime) -> None:
    reading = replay_reading(profile_for(area), config, now)

    assert reading.price_jpy_per_kwh is not None
    assert reading.price_jpy_per_kwh >= JEPX_PRICE_FLOOR_JPY_PER_KWH
    for point in reading.forecast:
        assert point.price_jpy_per_kwh is not None
        assert point.price_jpy_per_kwh >= JEPX_PRICE_FLOOR_JPY_PER_KWH
    assert validate_reading(reading, now, max_skew_seconds=0.0) == []


@settings(deadline=None, max_examples=60)
@given(area=areas, config=replay_settings, now=instants)
def test_forecast_error_within_bound(area: str, config: ReplaySettings, now: datetime) -> None:
    profile = profile_for(area)
    bound = config.forecast_error_percent / 100.0
    issued = sim_hour_index(now, config)

    reading = replay_reading(profile, config, now)

    for offset, point in enumerate(reading.forecast):
        actual = sample_hour(profile, config, issued + offset)
        assert point.carbon_g_per_kwh is not None
        assert point.price_jpy_per_kwh is not None
        tolerance = 1e-9
        assert abs(point.carbon_g_per_kwh - actual.carbon_g_per_kwh) <= (
            bound * actual.carbon_g_per_kwh + tolerance
        )
        assert abs(point.price_jpy_per_kwh - actual.price_jpy_per_kwh) <= (
            bound * actual.price_jpy_per_kwh + tolerance
        )


@settings(deadline=None, max_examples=60)
@given(area=areas, config=replay_settings, now=instants)
def test_forecast_spans_at_least_a_day(area: str, config: ReplaySettings, now: datetime) -> None:
    reading = replay_reading(profile_for(area), config, now)
    forecast = reading.forecast
    sim_hour = timedelta(seconds=SECONDS_PER_HOUR / config.time_scale)

    assert forecast[0].start <= now < forecast[0].start + sim_hour
    covered_sim_hours = (forecast[-1].start + sim_hour - now) / sim_hour
    assert covered_sim_hours >= config.forecast_horizon_hours >= MIN_FORECAST_HORIZON_HOURS
    assert len(forecast) == config.forecast_horizon_hours + 1


@settings(deadline=None, max_examples=40)
@given(
    area=areas,
    seed=st.integers(min_value=0, max_value=2**31 - 1),
    now=instants,
    scale=st.sampled_from([1.0, 60.0]),
)
def test_reading_is_the_hour_it_falls_in(area: str, seed: int, now: datetime, scale: float) -> None:
    """Two instants inside one simulated hour see the same current values."""
    config = ReplaySettings(seed=seed, time_scale=scale)
    profile = profile_for(area)
    index = sim_hour_index(now, config)
    later = now + timedelta(seconds=0.25 * SECONDS_PER_HOUR / scale)

    if sim_hour_index(later, config) == index:
        first = replay_reading(profile, config, now)
        second = replay_reading(profile, config, later)
        assert first.carbon_g_per_kwh == second.carbon_g_per_kwh
        assert first.price_jpy_per_kwh == second.price_jpy_per_kwh
