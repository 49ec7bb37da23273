"""Check and convert the Japan-grid dataset document into `GridProfile` values.

This module's one job is the pure step shared by the operator's provider loader
(`wattbit.providers.dataset`) and the simulator's (`wattbit.sim.dataset`): a document
already parsed from YAML goes in, profiles keyed by area come out, and any shape problem
raises `DatasetError` naming where it is.

WARNING: no I/O and no YAML here; the loaders read the package file.
"""

from __future__ import annotations

from typing import Any

from wattbit.core.replay import HOURS_PER_DAY, GridProfile, Season, SeasonProfile


class DatasetError(ValueError):
    """The dataset document does not have the expected shape."""


def _floats(raw: Any, *, where: str) -> tuple[float, ...]:
    if not isinstance(raw, list) or len(raw) != HOURS_PER_DAY:
        raise DatasetError(f"{where}: expected a list of {HOURS_PER_DAY} numbers")
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in raw):
        raise DatasetError(f"{where}: every value must be a number")
    return tuple(float(v) for v in raw)


def _season(raw: Any, *, where: str) -> SeasonProfile:
    if not isinstance(raw, dict):
        raise DatasetError(f"{where}: expected a mapping")
    price_raw = raw.get("price")
    floor_raw = raw.get("floor_probability")
    hours_raw = raw.get("curtailment_hours", [])
    if not isinstance(hours_raw, list) or not all(isinstance(h, int) for h in hours_raw):
        raise DatasetError(f"{where}.curtailment_hours: expected a list of hours")
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
        raise DatasetError(f"{where}: {error}") from error


def parse_dataset(document: Any) -> dict[str, GridProfile]:
    """Convert the parsed YAML document into profiles keyed by area; raise `DatasetError`."""
    if not isinstance(document, dict) or not isinstance(document.get("areas"), dict):
        raise DatasetError("dataset: expected a mapping with `areas`")
    profiles: dict[str, GridProfile] = {}
    for area, raw in document["areas"].items():
        if not isinstance(raw, dict):
            raise DatasetError(f"dataset {area}: expected a mapping")
        placeholder = raw.get("price_placeholder_jpy_per_kwh")
        seasons: dict[str, SeasonProfile] = {}
        for season in Season:
            if season.value not in raw:
                raise DatasetError(f"{area}.{season}: missing profile")
            seasons[season.value] = _season(raw[season.value], where=f"{area}.{season}")
        try:
            profiles[str(area)] = GridProfile(
                area=str(area),
                name=str(raw.get("name", area)),
                price_placeholder_jpy_per_kwh=None if placeholder is None else float(placeholder),
                **seasons,
            )
        except (TypeError, ValueError) as error:
            raise DatasetError(f"dataset {area}: {error}") from error
    return profiles
