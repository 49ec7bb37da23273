"""Small text helpers: sparklines, ages, numbers and times as kubectl prints them.

WARNING: pure. No I/O, no clock (``now`` is a parameter).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime

BARS = "▁▂▃▄▅▆▇█"
NONE = "<none>"
"""What kubectl prints for an absent value."""


def sparkline(
    values: Sequence[float | None], *, low: float | None = None, high: float | None = None
) -> str:
    """One bar per value, scaled between ``low`` and ``high`` (default: the values' own
    minimum and maximum); a missing or non-finite value is a space, flat values the lowest
    bar."""
    known = [v for v in values if v is not None and math.isfinite(v)]
    if not known:
        return ""
    bottom = min(known) if low is None else low
    top = max(known) if high is None else high
    span = top - bottom
    out: list[str] = []
    for value in values:
        if value is None or not math.isfinite(value):
            out.append(" ")
            continue
        share = 0.0 if span <= 0 else (min(max(value, bottom), top) - bottom) / span
        out.append(BARS[min(len(BARS) - 1, round(share * (len(BARS) - 1)))])
    return "".join(out)


def pairs(values: Sequence[float], size: int = 2) -> list[float]:
    """Means of consecutive groups of ``size`` values (48 hours -> 24 two-hour bars)."""
    return [
        sum(values[i : i + size]) / len(values[i : i + size]) for i in range(0, len(values), size)
    ]


def age(seconds: float) -> str:
    """kubectl's short age: ``45s``, ``12m``, ``3h``, ``3h20m`` below 10 h, ``2d``, ``2d4h``."""
    seconds = max(0.0, seconds)
    if seconds < 120:
        return f"{int(seconds)}s"
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes}m"
    hours, rest = divmod(minutes, 60)
    if hours < 10 and rest:
        return f"{hours}h{rest}m"
    if hours < 48:
        return f"{hours}h"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours}h" if hours and days < 8 else f"{days}d"


def since(moment: datetime | None, now: datetime) -> str:
    return NONE if moment is None else age((now - moment).total_seconds())


def number(value: float | None, decimals: int = 1) -> str:
    """A figure, or ``<none>``; integers lose their ``.0``."""
    if value is None:
        return NONE
    if decimals == 0 or float(value).is_integer():
        return f"{value:.0f}"
    return f"{value:.{decimals}f}"


def timestamp(moment: datetime | None) -> str:
    """RFC 3339 in UTC with a ``Z``, as kubectl prints times; ``<none>`` when absent."""
    if moment is None:
        return NONE
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def yes_no(value: bool | None) -> str:
    return NONE if value is None else ("yes" if value else "no")
