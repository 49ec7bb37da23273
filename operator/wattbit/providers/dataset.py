"""Loads the embedded Japan-grid dataset (package data) into core `GridProfile` values.

This module's one job is to read `wattbit/data/japan_grid.yaml` through importlib.resources and
convert it, checked, into `wattbit.core.replay.GridProfile` objects keyed by zone (`JP-KY`).

WARNING: it must not compute signals (that is `wattbit.core.replay`) and must not download
anything. The file's attribution and "derived estimate" labels travel with it (`ATTRIBUTION`).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from importlib import resources
from typing import Any, Final

import yaml

from wattbit.core.replay import HOURS_PER_DAY, GridProfile, Season, SeasonProfile
from wattbit.errors import ConfigError

DATASET_FILE: Final = "japan_grid.yaml"
AREAS: Final = (
    "JP-HKD",
    "JP-TH",
    "JP-TK",
    "JP-CB",
    "JP-HR",
    "JP-KN",
    "JP-CG",
    "JP-SK",
    "JP-KY",
    "JP-ON",
)
"""The ten general transmission and distribution areas, north to south (Electricity Maps keys)."""


def _floats(raw: Any, *, where: str) -> tuple[float, ...]:
    if not isinstance(raw, list) or len(raw) != HOURS_PER_DAY:
        raise ConfigError(f"{where}: expected a list of {HOURS_PER_DAY} numbers")
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in raw):
        raise ConfigError(f"{where}: every value must be a number")
    return tuple(float(v) for v in raw)


def _season(raw: Any, *, where: str) -> SeasonProfile:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping")
    price_raw = raw.get("price")
    floor_raw = raw.get("floor_probability")
    hours_raw = raw.get("curtailment_hours", [])
    if not isinstance(hours_raw, list) or not all(isinstance(h, int) for h in hours_raw):
        raise ConfigError(f"{where}.curtailment_hours: expected a list of hours")
    try:
        return SeasonProfile(
            carbon_g_per_kwh=_floats(raw.get("carbon"), where=f"{where}.carbon"),
            carbon_direct_g_per_kwh=_floats(
                raw.get("carbon_direct"), where=f"{where}.carbon_direct"
            ),
            price_jpy_per_kwh=None
            if price_raw is None
            else _floats(price_raw, where=f"{where}.price"),
            floor_probability=(0.0,) * HOURS_PER_DAY
            if floor_raw is None
            else _floats(floor_raw, where=f"{where}.floor_probability"),
            curtailment_hours=frozenset(hours_raw),
        )
    except ValueError as error:
        raise ConfigError(f"{where}: {error}") from error


def parse_dataset(document: Any) -> dict[str, GridProfile]:
    """Convert the parsed YAML document into profiles keyed by area; raise `ConfigError`."""
    if not isinstance(document, dict) or not isinstance(document.get("areas"), dict):
        raise ConfigError("dataset: expected a mapping with `areas`")
    profiles: dict[str, GridProfile] = {}
    for area, raw in document["areas"].items():
        if not isinstance(raw, dict):
            raise ConfigError(f"dataset {area}: expected a mapping")
        placeholder = raw.get("price_placeholder_jpy_per_kwh")
        try:
            profiles[str(area)] = GridProfile(
                area=str(area),
                name=str(raw.get("name", area)),
                spring_weekday=_season(
                    raw.get(Season.SPRING_WEEKDAY.value), where=f"{area}.spring_weekday"
                ),
                winter_weekday=_season(
                    raw.get(Season.WINTER_WEEKDAY.value), where=f"{area}.winter_weekday"
                ),
                price_placeholder_jpy_per_kwh=None if placeholder is None else float(placeholder),
            )
        except ValueError as error:
            raise ConfigError(f"dataset {area}: {error}") from error
    return profiles


_SAFE_LOADER: Final = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's safe loader when present (about 3x faster), else the pure-Python one."""


@functools.cache
def _document() -> Any:
    text = resources.files("wattbit.data").joinpath(DATASET_FILE).read_text(encoding="utf-8")
    return yaml.load(text, Loader=_SAFE_LOADER)  # noqa: S506 - a safe loader, chosen above


@functools.cache
def load_profiles() -> Mapping[str, GridProfile]:
    """The embedded profiles for the ten areas, keyed by zone (read once, then cached)."""
    return parse_dataset(_document())


def attribution() -> str:
    """The dataset's attribution line, including its "derived estimates" label."""
    document = _document()
    return str(document.get("attribution", "")) if isinstance(document, dict) else ""


def profile_for(area: str) -> GridProfile:
    """The profile of one area; raises `KeyError` naming the known areas."""
    profiles = load_profiles()
    if area not in profiles:
        raise KeyError(f"unknown grid area {area!r}; known: {', '.join(sorted(profiles))}")
    return profiles[area]
