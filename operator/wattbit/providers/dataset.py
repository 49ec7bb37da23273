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

from wattbit.core import dataset as core_dataset
from wattbit.core.dataset import DatasetError
from wattbit.core.replay import GridProfile
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


def parse_dataset(document: Any) -> dict[str, GridProfile]:
    """Convert the parsed YAML document into profiles keyed by area; raise `ConfigError`."""
    try:
        return core_dataset.parse_dataset(document)
    except DatasetError as error:
        raise ConfigError(str(error)) from error


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
