"""Read the embedded Japan-grid dataset (package data) into `wattbit.core.replay` profiles.

This module's one job is a minimal loader for the simulator: it reads
``wattbit/data/japan_grid.yaml`` through importlib.resources and returns one
`GridProfile` per area. The operator's providers have their own checked loader
(`wattbit.providers.dataset`); the simulator may not import the providers layer.

WARNING: no network, no paths outside the package; values are the dataset's derived
estimates, unchanged.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from importlib import resources
from typing import Any, Final

import yaml

from wattbit.core.replay import HOURS_PER_DAY, GridProfile, Season, SeasonProfile

DATASET_FILE: Final = "japan_grid.yaml"


class DatasetError(ValueError):
    """The embedded dataset does not have the expected shape."""


def _hourly(raw: Any, where: str) -> tuple[float, ...]:
    if not isinstance(raw, list) or len(raw) != HOURS_PER_DAY:
        raise DatasetError(f"{where}: expected {HOURS_PER_DAY} hourly numbers")
    return tuple(float(value) for value in raw)


def _season(raw: Any, where: str) -> SeasonProfile:
    if not isinstance(raw, dict):
        raise DatasetError(f"{where}: expected a mapping")
    price = raw.get("price")
    floor = raw.get("floor_probability")
    return SeasonProfile(
        carbon_g_per_kwh=_hourly(raw.get("carbon"), f"{where}.carbon"),
        carbon_direct_g_per_kwh=_hourly(raw.get("carbon_direct"), f"{where}.carbon_direct"),
        price_jpy_per_kwh=None if price is None else _hourly(price, f"{where}.price"),
        floor_probability=(0.0,) * HOURS_PER_DAY
        if floor is None
        else _hourly(floor, f"{where}.floor_probability"),
        curtailment_hours=frozenset(int(h) for h in raw.get("curtailment_hours", [])),
    )


def parse_profiles(document: Any) -> dict[str, GridProfile]:
    """Profiles keyed by area (`JP-KY`) from the parsed YAML document."""
    if not isinstance(document, dict) or not isinstance(document.get("areas"), dict):
        raise DatasetError("dataset: expected a mapping with `areas`")
    profiles: dict[str, GridProfile] = {}
    for area, raw in document["areas"].items():
        if not isinstance(raw, dict):
            raise DatasetError(f"dataset {area}: expected a mapping")
        placeholder = raw.get("price_placeholder_jpy_per_kwh")
        profiles[str(area)] = GridProfile(
            area=str(area),
            name=str(raw.get("name", area)),
            spring_weekday=_season(raw.get(Season.SPRING_WEEKDAY.value), f"{area}.spring"),
            winter_weekday=_season(raw.get(Season.WINTER_WEEKDAY.value), f"{area}.winter"),
            price_placeholder_jpy_per_kwh=None if placeholder is None else float(placeholder),
        )
    return profiles


@functools.cache
def load_profiles() -> Mapping[str, GridProfile]:
    """The embedded profiles, read once."""
    text = resources.files("wattbit.data").joinpath(DATASET_FILE).read_text(encoding="utf-8")
    return parse_profiles(yaml.safe_load(text))
