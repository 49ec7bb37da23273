"""Reading values out of parsed JSON: dotted paths, numbers, timestamps and units.

This module's one job is to turn untrusted JSON values into checked Python values, raising
`ProviderError(Malformed | WrongUnits)` that names the field (never the value of a header or
secret). Paths look like `data.carbonIntensity`, `items[0].value` or `forecast[*].value`.

WARNING: no I/O. Range checks live in `wattbit.core.signals`; this module only checks shape,
type and unit.
"""

from __future__ import annotations

import enum
import math
import re
from datetime import UTC, datetime
from typing import Any, Final

from wattbit.core.signals import ProblemReason, is_aware
from wattbit.providers.base import ProviderError

_SEGMENT = re.compile(r"^(?P<name>[^\[\]]*)(?P<indexes>(\[(\d+|\*)\])*)$")
_INDEX = re.compile(r"\[(\d+|\*)\]")

GRAMS_PER_POUND: Final = 453.59237
KWH_PER_MWH: Final = 1000.0


class Unit(enum.StrEnum):
    """Units a feed may publish (the API's `SignalUnit` values)."""

    G_CO2_PER_KWH = "gCO2PerKWh"
    KG_CO2_PER_MWH = "kgCO2PerMWh"
    LBS_CO2_PER_MWH = "lbsCO2PerMWh"
    JPY_PER_KWH = "JPYPerKWh"
    JPY_PER_MWH = "JPYPerMWh"
    PERCENT = "percent"
    FRACTION = "fraction"


class Quantity(enum.StrEnum):
    """What a value measures; decides which units fit."""

    CARBON = "carbon"
    PRICE = "price"
    RENEWABLE = "renewable"


_TO_CANONICAL: Final[dict[Unit, tuple[Quantity, float]]] = {
    Unit.G_CO2_PER_KWH: (Quantity.CARBON, 1.0),
    Unit.KG_CO2_PER_MWH: (Quantity.CARBON, 1.0),  # 1 kg/MWh = 1000 g / 1000 kWh
    Unit.LBS_CO2_PER_MWH: (Quantity.CARBON, GRAMS_PER_POUND / KWH_PER_MWH),
    Unit.JPY_PER_KWH: (Quantity.PRICE, 1.0),
    Unit.JPY_PER_MWH: (Quantity.PRICE, 1.0 / KWH_PER_MWH),
    Unit.PERCENT: (Quantity.RENEWABLE, 1.0),
    Unit.FRACTION: (Quantity.RENEWABLE, 100.0),
}
"""Factor from each unit to gCO2eq/kWh, JPY/kWh or percent."""

_SPELLINGS: Final[dict[str, Unit]] = {
    "gco2perkwh": Unit.G_CO2_PER_KWH,
    "gco2/kwh": Unit.G_CO2_PER_KWH,
    "gco2eq/kwh": Unit.G_CO2_PER_KWH,
    "gco2e/kwh": Unit.G_CO2_PER_KWH,
    "g/kwh": Unit.G_CO2_PER_KWH,
    "g_co2_per_kwh": Unit.G_CO2_PER_KWH,
    "kgco2permwh": Unit.KG_CO2_PER_MWH,
    "kgco2/mwh": Unit.KG_CO2_PER_MWH,
    "kg/mwh": Unit.KG_CO2_PER_MWH,
    "lbsco2permwh": Unit.LBS_CO2_PER_MWH,
    "lbs/mwh": Unit.LBS_CO2_PER_MWH,
    "lbsco2/mwh": Unit.LBS_CO2_PER_MWH,
    "lbs_co2_per_mwh": Unit.LBS_CO2_PER_MWH,
    "jpyperkwh": Unit.JPY_PER_KWH,
    "jpy/kwh": Unit.JPY_PER_KWH,
    "円/kwh": Unit.JPY_PER_KWH,
    "jpypermwh": Unit.JPY_PER_MWH,
    "jpy/mwh": Unit.JPY_PER_MWH,
    "percent": Unit.PERCENT,
    "%": Unit.PERCENT,
    "fraction": Unit.FRACTION,
}
"""Unit names as feeds spell them (lower case, spaces removed)."""


def unit_from_text(text: str) -> Unit | None:
    """The unit a feed's own unit label names, or None if it is not one we know."""
    return _SPELLINGS.get("".join(text.split()).lower())


def to_canonical(value: float, unit: Unit, quantity: Quantity, *, field: str) -> float:
    """`value` in `unit` converted to gCO2eq/kWh, JPY/kWh or percent; WrongUnits if the unit
    does not measure `quantity`."""
    unit_quantity, factor = _TO_CANONICAL[unit]
    if unit_quantity is not quantity:
        raise ProviderError(
            ProblemReason.WRONG_UNITS, f"{field}: unit {unit} cannot express {quantity}"
        )
    return value * factor


def check_declared_unit(declared: object, expected: Unit, *, field: str) -> None:
    """Raise WrongUnits unless a feed's own unit label (if any) names `expected`."""
    if declared is None:
        return
    if not isinstance(declared, str):
        raise ProviderError(ProblemReason.MALFORMED, f"{field}: unit label is not a string")
    if unit_from_text(declared) is not expected:
        shown = declared if len(declared) <= 32 else declared[:32] + "..."
        raise ProviderError(
            ProblemReason.WRONG_UNITS, f"{field}: feed says {shown!r}, expected {expected}"
        )


def _parse_path(path: str) -> list[str | int | None]:
    """Path steps: a str is a key, an int an index, None means every element (`[*]`)."""
    steps: list[str | int | None] = []
    for segment in path.split("."):
        match = _SEGMENT.match(segment)
        if match is None or (not match.group("name") and not match.group("indexes")):
            raise ProviderError(ProblemReason.INVALID_CONFIG, f"bad field path {path!r}")
        if match.group("name"):
            steps.append(match.group("name"))
        steps.extend(
            None if index == "*" else int(index) for index in _INDEX.findall(match.group("indexes"))
        )
    return steps


def _walk(node: Any, steps: list[str | int | None], *, path: str) -> Any:
    for position, step in enumerate(steps):
        if step is None:
            if not isinstance(node, list):
                raise ProviderError(ProblemReason.MALFORMED, f"{path}: expected a list")
            rest = steps[position + 1 :]
            return [_walk(item, rest, path=path) for item in node]
        if isinstance(step, int):
            if not isinstance(node, list) or step >= len(node):
                raise ProviderError(ProblemReason.MALFORMED, f"{path}: no element [{step}]")
            node = node[step]
        else:
            if not isinstance(node, dict) or step not in node:
                raise ProviderError(ProblemReason.MALFORMED, f"{path}: field {step!r} missing")
            node = node[step]
    return node


def lookup(document: Any, path: str) -> Any:
    """The value at `path`; a list if the path has `[*]`. Malformed if a step is missing."""
    return _walk(document, _parse_path(path), path=path)


def lookup_optional(document: Any, path: str) -> Any:
    """Like `lookup`, but None when the field is missing or null."""
    try:
        return lookup(document, path)
    except ProviderError as error:
        if error.reason is ProblemReason.MALFORMED:
            return None
        raise


def as_float(value: Any, *, field: str) -> float:
    """A finite number (JSON number, or a numeric string as Prometheus sends them)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ProviderError(ProblemReason.MALFORMED, f"{field}: expected a number")
    try:
        number = float(value)
    except ValueError:
        raise ProviderError(ProblemReason.MALFORMED, f"{field}: expected a number") from None
    if not math.isfinite(number):
        raise ProviderError(ProblemReason.OUT_OF_RANGE, f"{field}: {number} is not finite")
    return number


def as_timestamp(value: Any, *, field: str) -> datetime:
    """A tz-aware datetime from RFC 3339 text or Unix seconds; naive text is Malformed."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise ProviderError(ProblemReason.MALFORMED, f"{field}: timestamp is not finite")
        try:
            return datetime.fromtimestamp(value, tz=UTC)
        except (OverflowError, OSError, ValueError):
            raise ProviderError(
                ProblemReason.MALFORMED, f"{field}: timestamp out of range"
            ) from None
    if not isinstance(value, str):
        raise ProviderError(ProblemReason.MALFORMED, f"{field}: expected an RFC 3339 time")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ProviderError(
            ProblemReason.MALFORMED, f"{field}: {value[:40]!r} is not an RFC 3339 time"
        ) from None
    if not is_aware(moment):
        raise ProviderError(ProblemReason.MALFORMED, f"{field}: time {value[:40]!r} has no zone")
    return moment


def as_list(value: Any, *, field: str) -> list[Any]:
    """`value` if it is a JSON array."""
    if not isinstance(value, list):
        raise ProviderError(ProblemReason.MALFORMED, f"{field}: expected a list")
    return value


def as_dict(value: Any, *, field: str) -> dict[str, Any]:
    """`value` if it is a JSON object."""
    if not isinstance(value, dict):
        raise ProviderError(ProblemReason.MALFORMED, f"{field}: expected an object")
    return value
