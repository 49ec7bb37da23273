"""The dataset's four seasons and weekend/holiday days, and how the replay picks them by date.

Covers: every area has every profile (`Season`), labelled as derived estimates; the parser
rejects a missing or short profile naming the area and profile; the date -> profile mapping
(months, weekends, year and season boundaries; a property over all dates and instants); the
replay of a July weekday and a July Saturday use the summer profiles, a fixed season wins over
the date; sanity properties of the derived data (summer evening peaks above the night, weekends
cheaper and cleaner at midday, floor probabilities consistent with the hourly means, no
curtailment hours listed in summer); the new names in a Region's replay block and in a
scenario's `signals.season`, and an unknown one listing the valid names.
Skips: how the figures were derived (hack/derive_grid_seasons.py --check does that) and the
integration of seasons into simulations (test_sim_generator.py).
"""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st

from wattbit.api.v1alpha1.signals import SignalSource as ApiSignalSource
from wattbit.core.dataset import DatasetError, parse_dataset
from wattbit.core.replay import (
    AUTUMN_MONTHS,
    JST,
    SPRING_MONTHS,
    SUMMER_MONTHS,
    WINTER_MONTHS,
    ReplayNoise,
    ReplaySettings,
    Season,
    replay_reading,
    season_for_date,
    season_for_hour,
    sim_hour_index,
)
from wattbit.core.signals import JEPX_PRICE_FLOOR_JPY_PER_KWH
from wattbit.providers.dataset import AREAS, DATASET_FILE, load_profiles
from wattbit.providers.registry import build_provider
from wattbit.providers.replay import ReplayProvider
from wattbit.sim.scenario import CALENDAR_SEASON, ScenarioError, parse_scenario, scenario_seasons

CALENDAR = ReplaySettings(noise=ReplayNoise.off())
MARKET_AREAS = tuple(area for area in AREAS if area != "JP-ON")
WEEKDAYS = (Season.SPRING_WEEKDAY, Season.SUMMER_WEEKDAY, Season.AUTUMN_WEEKDAY,
            Season.WINTER_WEEKDAY)  # fmt: skip
WEEKEND_OF = {
    Season.SPRING_WEEKDAY: Season.SPRING_WEEKEND,
    Season.SUMMER_WEEKDAY: Season.SUMMER_WEEKEND,
    Season.AUTUMN_WEEKDAY: Season.AUTUMN_WEEKEND,
    Season.WINTER_WEEKDAY: Season.WINTER_WEEKEND,
}


def _profile_doc(carbon: float = 400.0, price: float | None = 10.0) -> dict[str, Any]:
    return {
        "carbon": [carbon] * 24,
        "carbon_direct": [carbon * 0.8] * 24,
        "price": None if price is None else [price] * 24,
    }


def _document() -> dict[str, Any]:
    return {"areas": {"JP-XX": {"name": "Test", **{s.value: _profile_doc() for s in Season}}}}


# ---------------------------------------------------------------- the shipped dataset


def test_every_area_has_every_profile() -> None:
    profiles = load_profiles()

    assert len(Season) == 8
    for area in AREAS:
        for season in Season:
            profile = profiles[area].season_profile(season)
            assert len(profile.carbon_g_per_kwh) == 24
            assert len(profile.carbon_direct_g_per_kwh) == 24
            assert (profile.price_jpy_per_kwh is None) == (area == "JP-ON")
            assert all(0 < value < 1000 for value in profile.carbon_g_per_kwh)


def test_the_derived_profiles_are_labelled_as_estimates() -> None:
    text = resources.files("wattbit.data").joinpath(DATASET_FILE).read_text(encoding="utf-8")
    derived = [s for s in Season if s not in {Season.SPRING_WEEKDAY, Season.WINTER_WEEKDAY}]
    for season in derived:
        assert text.count(f"    {season.value}:\n") == len(AREAS)
    assert text.count("# DERIVED ESTIMATE.") == len(AREAS) * len(derived)


def test_summer_evening_peaks_exceed_the_summer_night_in_most_areas() -> None:
    profiles = load_profiles()
    above = 0
    for area in MARKET_AREAS:
        price = profiles[area].summer_weekday.price_jpy_per_kwh
        assert price is not None
        above += max(price[15:20]) > 1.3 * max(price[0:6])
    assert above >= len(MARKET_AREAS) - 1


@pytest.mark.parametrize("weekday", WEEKDAYS)
def test_weekends_are_cheaper_and_cleaner_at_midday(weekday: Season) -> None:
    profiles = load_profiles()
    for area in AREAS:
        work = profiles[area].season_profile(weekday)
        rest = profiles[area].season_profile(WEEKEND_OF[weekday])
        assert sum(rest.carbon_g_per_kwh[10:15]) < sum(work.carbon_g_per_kwh[10:15])
        if work.price_jpy_per_kwh is not None and rest.price_jpy_per_kwh is not None:
            assert sum(rest.price_jpy_per_kwh) < sum(work.price_jpy_per_kwh)
        assert work.curtailment_hours <= rest.curtailment_hours


def test_floor_probabilities_fit_the_hourly_means() -> None:
    """The model draws off-floor prices around (mean - p * floor) / (1 - p): never absurd."""
    profiles = load_profiles()
    for area in MARKET_AREAS:
        for season in Season:
            profile = profiles[area].season_profile(season)
            assert profile.price_jpy_per_kwh is not None
            for mean, p in zip(profile.price_jpy_per_kwh, profile.floor_probability, strict=True):
                assert mean >= JEPX_PRICE_FLOOR_JPY_PER_KWH
                if p < 1.0:
                    assert (mean - p * JEPX_PRICE_FLOOR_JPY_PER_KWH) / (1.0 - p) < 30.0


def test_summer_lists_no_curtailment_hours_and_kyushu_spring_weekends_widen_them() -> None:
    profiles = load_profiles()

    assert all(not profiles[area].summer_weekday.curtailment_hours for area in AREAS)
    assert all(not profiles[area].autumn_weekday.curtailment_hours for area in AREAS)
    assert profiles["JP-KY"].spring_weekend.curtailment_hours == frozenset(range(9, 15))


# ---------------------------------------------------------------- the parser


@pytest.mark.parametrize("season", list(Season))
def test_a_missing_profile_is_refused_naming_the_place(season: Season) -> None:
    document = _document()
    del document["areas"]["JP-XX"][season.value]

    with pytest.raises(DatasetError, match=rf"^JP-XX\.{season.value}: missing profile$"):
        parse_dataset(document)


@pytest.mark.parametrize("season", list(Season))
def test_a_short_profile_is_refused_naming_the_place(season: Season) -> None:
    document = _document()
    document["areas"]["JP-XX"][season.value]["price"] = [10.0] * 23

    with pytest.raises(DatasetError, match=rf"JP-XX\.{season.value}\.price: expected a list of 24"):
        parse_dataset(document)


def test_a_complete_document_parses() -> None:
    profiles = parse_dataset(_document())

    assert profiles["JP-XX"].autumn_weekend.carbon_g_per_kwh == (400.0,) * 24


# ---------------------------------------------------------------- date -> profile


@pytest.mark.parametrize(
    ("day", "season"),
    [
        (date(2025, 2, 28), Season.WINTER_WEEKDAY),  # Friday
        (date(2025, 3, 1), Season.SPRING_WEEKEND),  # Saturday
        (date(2025, 5, 30), Season.SPRING_WEEKDAY),
        (date(2025, 6, 1), Season.SUMMER_WEEKEND),  # Sunday
        (date(2025, 7, 16), Season.SUMMER_WEEKDAY),
        (date(2025, 8, 31), Season.SUMMER_WEEKEND),
        (date(2025, 9, 1), Season.AUTUMN_WEEKDAY),
        (date(2025, 11, 30), Season.AUTUMN_WEEKEND),
        (date(2025, 12, 1), Season.WINTER_WEEKDAY),
        (date(2025, 12, 31), Season.WINTER_WEEKDAY),  # Wednesday
        (date(2026, 1, 1), Season.WINTER_WEEKDAY),  # a holiday, but holidays are not known
        (date(2026, 1, 3), Season.WINTER_WEEKEND),  # Saturday
    ],
)
def test_the_date_picks_season_and_day(day: date, season: Season) -> None:
    assert season_for_date(day) is season


@given(st.dates())
def test_every_date_maps_by_month_and_weekday(day: date) -> None:
    season = season_for_date(day)

    months = {
        "spring": SPRING_MONTHS,
        "summer": SUMMER_MONTHS,
        "autumn": AUTUMN_MONTHS,
        "winter": WINTER_MONTHS,
    }
    name, kind = season.value.split("_")
    assert day.month in months[name]
    assert (kind == "weekend") == (day.weekday() >= 5)


@given(
    st.datetimes(
        min_value=datetime(1990, 1, 1),  # noqa: DTZ001 (hypothesis wants naive bounds)
        max_value=datetime(2200, 1, 1),  # noqa: DTZ001
        timezones=st.just(UTC),
    )
)
def test_the_replay_picks_the_profile_of_the_simulated_jst_date(now: datetime) -> None:
    index = sim_hour_index(now, CALENDAR)

    assert season_for_hour(index, CALENDAR) is season_for_date(now.astimezone(JST).date())


def test_the_year_boundary_in_jst_not_utc() -> None:
    # 2026-01-02 15:00 UTC is Saturday 3 January 00:00 JST: winter, weekend.
    friday_night = datetime(2026, 1, 2, 14, 59, tzinfo=UTC)
    saturday = friday_night + timedelta(minutes=1)

    assert season_for_hour(sim_hour_index(friday_night, CALENDAR), CALENDAR) is (
        Season.WINTER_WEEKDAY
    )
    assert season_for_hour(sim_hour_index(saturday, CALENDAR), CALENDAR) is Season.WINTER_WEEKEND


def test_a_july_weekday_and_saturday_replay_the_summer_profiles() -> None:
    kyushu = load_profiles()["JP-KY"]
    wednesday = datetime(2025, 7, 16, 12, tzinfo=JST)
    saturday = datetime(2025, 7, 19, 12, tzinfo=JST)

    weekday = replay_reading(kyushu, CALENDAR, wednesday)
    weekend = replay_reading(kyushu, CALENDAR, saturday)

    assert weekday.source == "replay:JP-KY/summer_weekday"
    assert weekday.carbon_g_per_kwh == kyushu.summer_weekday.carbon_g_per_kwh[12]
    assert weekday.price_jpy_per_kwh == pytest.approx(
        (kyushu.summer_weekday.price_jpy_per_kwh or ())[12]
    )
    assert weekend.source == "replay:JP-KY/summer_weekend"
    assert weekend.carbon_g_per_kwh == kyushu.summer_weekend.carbon_g_per_kwh[12]


def test_a_fixed_season_wins_over_the_date() -> None:
    fixed = ReplaySettings(season=Season.AUTUMN_WEEKEND, noise=ReplayNoise.off())
    wednesday = datetime(2025, 7, 16, 12, tzinfo=JST)

    assert season_for_hour(sim_hour_index(wednesday, fixed), fixed) is Season.AUTUMN_WEEKEND


# ---------------------------------------------------------------- settings that name seasons


@pytest.mark.parametrize(
    ("name", "season"),
    [
        ("summer", Season.SUMMER_WEEKDAY),
        ("autumn", Season.AUTUMN_WEEKDAY),
        ("calendar", None),
    ],
)
def test_a_regions_replay_block_accepts_the_new_seasons(name: str, season: Season | None) -> None:
    provider = build_provider(
        ApiSignalSource.model_validate({"provider": "replay", "replay": {"season": name}}),
        region="kyushu-itoshima",
        grid_area="JP-KY",
        secrets=lambda _namespace, _ref: "",
        session=requests.Session(),
    )

    assert isinstance(provider, ReplayProvider)
    assert provider.settings.season is season


SCENARIO: dict[str, Any] = {
    "name": "seasons",
    "start": "2025-07-14T00:00:00+09:00",
    "regions": [{"name": "kyushu", "area": "JP-KY", "gpus": 8}],
    "jobs": {
        "list": [{"id": "a", "arrival_hour": 0, "runtime_hours": 1, "gpus": 8, "home": "kyushu"}]
    },
}


@pytest.mark.parametrize("season", scenario_seasons())
def test_a_scenario_accepts_every_profile_and_the_calendar(season: str) -> None:
    document = copy.deepcopy(SCENARIO) | {"signals": {"season": season}}

    assert parse_scenario(document, base_dir=Path(".")).signals.season == season


def test_an_unknown_scenario_season_lists_the_valid_ones() -> None:
    document = copy.deepcopy(SCENARIO) | {"signals": {"season": "monsoon"}}

    with pytest.raises(ScenarioError) as caught:
        parse_scenario(document, base_dir=Path("."))
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("signals.season: got 'monsoon'; valid: ")
    assert all(f"'{season}'" in message for season in (*Season, CALENDAR_SEASON))
