"""The replay model (`wattbit.core.replay`) and the embedded dataset it replays.

Matrix: the dataset (ten areas, 24 hourly values, Okinawa's labelled placeholder price, the
attribution and "derived estimates" label); time mapping (epoch, JST hours, time scale, real
start of a simulated hour, season by simulated month); with noise off, the profile values
exactly, curtailment windows in listed hours, Okinawa's flat price; with noise on, floor draws
only in surplus areas in spring, the long-run hourly price mean kept, determinism; forecasts
(horizon, hourly points, zero error equals the actual values); settings validation. Statistical
and generative properties are in tests/property/test_replay_properties.py.
"""

from __future__ import annotations

import itertools
import statistics
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from wattbit.core.replay import (
    JST,
    REPLAY_EPOCH,
    CarbonBasis,
    ReplayNoise,
    ReplaySettings,
    Season,
    forecast_points,
    jst_hour,
    real_time_of_sim_hour,
    replay_reading,
    sample_hour,
    season_for_hour,
    sim_hour_index,
)
from wattbit.core.signals import JEPX_PRICE_FLOOR_JPY_PER_KWH, WindowKind
from wattbit.providers.dataset import AREAS, attribution, load_profiles, profile_for

SPRING_NOON_JST = datetime(2026, 4, 1, 12, 0, tzinfo=JST)
EXACT = ReplaySettings(season=Season.SPRING_WEEKDAY, noise=ReplayNoise.off())


def test_dataset_has_the_ten_areas_with_hourly_profiles() -> None:
    profiles = load_profiles()

    assert tuple(profiles) == AREAS
    for profile in profiles.values():
        for season in Season:
            assert len(profile.season_profile(season).carbon_g_per_kwh) == 24
    assert profiles["JP-ON"].spring_weekday.price_jpy_per_kwh is None
    assert profiles["JP-ON"].price_placeholder_jpy_per_kwh == 11.0
    assert "derived estimates" in attribution().lower()
    assert "JEPX" in attribution()


def test_unknown_area_is_a_key_error() -> None:
    with pytest.raises(KeyError, match="JP-XX"):
        profile_for("JP-XX")


def test_real_time_maps_to_jst_hours_at_scale_one() -> None:
    index = sim_hour_index(SPRING_NOON_JST, EXACT)

    assert jst_hour(index, EXACT) == 12
    assert real_time_of_sim_hour(index, EXACT) == SPRING_NOON_JST
    assert sim_hour_index(REPLAY_EPOCH, EXACT) == 0


def test_time_scale_compresses_a_day_into_minutes() -> None:
    fast = ReplaySettings(time_scale=60.0, noise=ReplayNoise.off())
    start = REPLAY_EPOCH + timedelta(days=400)
    first = sim_hour_index(start, fast)

    assert sim_hour_index(start + timedelta(minutes=24), fast) == first + 24
    assert real_time_of_sim_hour(first + 1, fast) - real_time_of_sim_hour(first, fast) == (
        timedelta(minutes=1)
    )


def test_season_follows_the_simulated_month_when_unset() -> None:
    auto = ReplaySettings(noise=ReplayNoise.off())

    january = sim_hour_index(datetime(2026, 1, 15, 3, tzinfo=UTC), auto)
    may = sim_hour_index(datetime(2026, 5, 15, 3, tzinfo=UTC), auto)

    assert season_for_hour(january, auto) is Season.WINTER_WEEKDAY
    assert season_for_hour(may, auto) is Season.SPRING_WEEKDAY


@pytest.mark.parametrize("area", AREAS)
@pytest.mark.parametrize("season", list(Season))
def test_noise_off_replays_the_profile_exactly(area: str, season: Season) -> None:
    profile = profile_for(area)
    settings = ReplaySettings(season=season, noise=ReplayNoise.off())
    expected = profile.season_profile(season)
    start = sim_hour_index(datetime(2026, 4, 1, 0, tzinfo=JST), settings)

    samples = [sample_hour(profile, settings, start + hour) for hour in range(24)]

    assert [s.carbon_g_per_kwh for s in samples] == list(expected.carbon_g_per_kwh)
    prices = expected.price_jpy_per_kwh or (profile.price_placeholder_jpy_per_kwh,) * 24
    assert [s.price_jpy_per_kwh for s in samples] == list(prices)


def test_direct_carbon_basis() -> None:
    kyushu = profile_for("JP-KY")
    settings = ReplaySettings(season=Season.SPRING_WEEKDAY, noise=ReplayNoise.off())
    direct = ReplaySettings(
        season=Season.SPRING_WEEKDAY, noise=ReplayNoise.off(), carbon_basis=CarbonBasis.DIRECT
    )
    index = sim_hour_index(SPRING_NOON_JST, settings)

    assert sample_hour(kyushu, settings, index).carbon_g_per_kwh == 106
    assert sample_hour(kyushu, direct, index).carbon_g_per_kwh == 54


def test_kyushu_spring_curtailment_window() -> None:
    reading = replay_reading(profile_for("JP-KY"), EXACT, SPRING_NOON_JST)

    assert reading.curtailment is True
    first = reading.windows[0]
    assert first.kind is WindowKind.CURTAILMENT
    assert (first.start.astimezone(JST).hour, first.end.astimezone(JST).hour) == (10, 15)
    assert first.start <= SPRING_NOON_JST < first.end
    assert reading.source == "replay:JP-KY/spring_weekday"
    assert reading.observed_at == SPRING_NOON_JST


def test_tokyo_never_curtails_and_winter_has_no_windows() -> None:
    winter = ReplaySettings(season=Season.WINTER_WEEKDAY)

    assert replay_reading(profile_for("JP-TK"), EXACT, SPRING_NOON_JST).windows == ()
    assert replay_reading(profile_for("JP-KY"), winter, SPRING_NOON_JST).windows == ()


def test_floor_draws_only_in_surplus_areas_in_spring() -> None:
    noisy = ReplaySettings(seed=7, season=Season.SPRING_WEEKDAY)
    winter = ReplaySettings(seed=7, season=Season.WINTER_WEEKDAY)
    noon = sim_hour_index(SPRING_NOON_JST, noisy)
    days = range(noon, noon + 24 * 300, 24)

    kyushu = [sample_hour(profile_for("JP-KY"), noisy, i).at_floor for i in days]
    tokyo = [sample_hour(profile_for("JP-TK"), noisy, i).at_floor for i in days]
    kyushu_winter = [sample_hour(profile_for("JP-KY"), winter, i).at_floor for i in days]

    assert 0.5 < statistics.mean(kyushu) < 0.8  # 67% of noon slots clear at 0.01
    assert not any(tokyo)
    assert not any(kyushu_winter)


def test_long_run_hourly_mean_matches_the_profile() -> None:
    noisy = ReplaySettings(seed=3, season=Season.SPRING_WEEKDAY)
    kyushu = profile_for("JP-KY")
    noon = sim_hour_index(SPRING_NOON_JST, noisy)

    prices = [
        sample_hour(kyushu, noisy, i).price_jpy_per_kwh for i in range(noon, noon + 24 * 2000, 24)
    ]

    assert statistics.mean(prices) == pytest.approx(2.1, rel=0.1)
    assert statistics.median(prices) == JEPX_PRICE_FLOOR_JPY_PER_KWH


def test_same_seed_same_values_other_seed_other_values() -> None:
    kyushu = profile_for("JP-KY")
    settings = ReplaySettings(seed=11, season=Season.SPRING_WEEKDAY)
    evening = datetime(2026, 4, 1, 19, 0, tzinfo=JST)

    first = replay_reading(kyushu, settings, evening)

    assert replay_reading(kyushu, settings, evening) == first
    other = replay_reading(kyushu, ReplaySettings(seed=12, season=Season.SPRING_WEEKDAY), evening)
    assert other.price_jpy_per_kwh != first.price_jpy_per_kwh


def test_forecast_covers_the_horizon_hourly() -> None:
    settings = ReplaySettings(season=Season.SPRING_WEEKDAY, forecast_horizon_hours=36)
    now = SPRING_NOON_JST + timedelta(minutes=20)

    points = forecast_points(profile_for("JP-HKD"), settings, now)

    assert len(points) == 37  # the hour under way plus 36 more
    assert points[0].start <= now < points[1].start
    assert {b.start - a.start for a, b in itertools.pairwise(points)} == {timedelta(hours=1)}


def test_zero_forecast_error_forecasts_the_actual_values() -> None:
    settings = ReplaySettings(seed=5, season=Season.SPRING_WEEKDAY, forecast_error_percent=0.0)
    kyushu = profile_for("JP-KY")
    index = sim_hour_index(SPRING_NOON_JST, settings)

    points = forecast_points(kyushu, settings, SPRING_NOON_JST)

    actual = [sample_hour(kyushu, settings, index + k) for k in range(len(points))]
    assert [p.price_jpy_per_kwh for p in points] == [a.price_jpy_per_kwh for a in actual]
    assert [p.carbon_g_per_kwh for p in points] == [a.carbon_g_per_kwh for a in actual]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"seed": -1},
        {"time_scale": 0.0},
        {"forecast_error_percent": 101.0},
        {"forecast_horizon_hours": 23},
        {"epoch": datetime(2025, 4, 1)},  # noqa: DTZ001 - the naive case
    ],
)
def test_settings_are_validated(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="must"):
        ReplaySettings(**kwargs)
