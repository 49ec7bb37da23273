"""``kubectl wattbit regions``: each Region's signals now, their freshness, free GPUs, and a
sparkline of the next 48 hours as the planner reads them.

The forecast is put on the planner's own hourly grid (`wattbit.k8s.snapshots.horizon_for` and
`per_slot_forecast`), so a bar is what a decision costs in that hour. Sparklines share one
scale across regions: a low bar in one row is low in every row.

WARNING: pure apart from the reader it is handed; decides nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from wattbit.api.conditions import find_condition
from wattbit.k8s.snapshots import (
    RegionEntry,
    horizon_for,
    per_slot_forecast,
    region_entry,
    status_reading,
)
from wattbit.kubectl.args import Output
from wattbit.kubectl.cluster import Reader
from wattbit.kubectl.formatting import NONE, age, number, pairs, sparkline, timestamp, yes_no
from wattbit.kubectl.output import Reply, dump, first_error, table

SIGNALS_FRESH = "SignalsFresh"


def summarize(body: dict[str, Any], now: datetime) -> dict[str, Any]:
    """One Region as plain values (the ``-o json`` item): its signals now, freshness, GPUs
    and hourly forecast from the start of the current hour."""
    name = str((body.get("metadata") or {}).get("name"))
    try:
        entry = region_entry(name, body)
    except ValueError as error:
        return {"name": name, "error": f"does not parse: {first_error(error)}"}
    return _summary(entry, now)


def _summary(entry: RegionEntry, now: datetime) -> dict[str, Any]:
    spec, status = entry.spec, entry.status
    signals = status.signals
    fresh = find_condition(status.conditions, SIGNALS_FRESH)
    observed = signals.observed_at if signals else None
    reading = status_reading(status)
    horizon = horizon_for(now)
    carbon, price = per_slot_forecast(reading, horizon) if reading else ((), ())
    return {
        "name": entry.name,
        "gridArea": spec.grid_area,
        "availability": spec.availability.value,
        "pue": spec.pue,
        "carbonGramsPerKwh": signals.carbon_grams_per_kwh if signals else None,
        "priceJpyPerKwh": signals.price_jpy_per_kwh if signals else None,
        "renewablePercent": signals.renewable_percent if signals else None,
        "curtailment": signals.curtailment if signals else None,
        "source": signals.source if signals else None,
        "observedAt": timestamp(observed) if observed else None,
        "signalAgeSeconds": None if observed is None else round((now - observed).total_seconds()),
        "signalMaxAgeSeconds": spec.signals.max_age_seconds,
        "signalsFresh": None if fresh is None else fresh.status.value,
        "signalsFreshReason": None if fresh is None else fresh.reason,
        "gpus": None
        if status.gpus is None
        else {"total": status.gpus.total, "free": status.gpus.free},
        "forecast": {
            "start": timestamp(horizon.start),
            "slotSeconds": int(horizon.slot_s),
            "carbonGramsPerKwh": list(carbon),
            "priceJpyPerKwh": list(price),
        },
    }


def freshness(item: Mapping[str, Any]) -> str:
    """``12s`` when fresh, ``STALE 2h`` when not (the SignalsFresh condition decides),
    ``<none>`` before the first reading."""
    seconds = item.get("signalAgeSeconds")
    if seconds is None:
        return NONE
    stale = item.get("signalsFresh") not in (None, "True")
    return ("STALE " if stale else "") + age(float(seconds))


def _scale(items: Sequence[dict[str, Any]], key: str) -> tuple[float | None, float | None]:
    values = [v for item in items for v in (item.get("forecast") or {}).get(key) or []]
    return (min(values), max(values)) if values else (None, None)


def _bars(values: Sequence[float], low: float | None, high: float | None) -> str:
    """Two hours per bar, on the scale shared by every region."""
    return sparkline(pairs(values), low=low, high=high) or NONE


def render(items: Sequence[dict[str, Any]], output: Output | None) -> str:
    if output in (Output.JSON, Output.YAML):
        return dump({"kind": "RegionSummaryList", "items": list(items)}, output)
    wide = output is Output.WIDE
    carbon_low, carbon_high = _scale(items, "carbonGramsPerKwh")
    price_low, price_high = _scale(items, "priceJpyPerKwh")
    headers = ["NAME", "gCO2/kWh", "JPY/kWh", "RENEWABLE%", "CURTAILED", "SIGNALS", "FREE GPUS"]
    headers.append("gCO2/kWh NEXT 48H (2H BARS)")
    if wide:
        headers += ["JPY/kWh NEXT 48H (2H BARS)", "AVAILABILITY", "GRID AREA", "PUE", "SOURCE"]
    rows = []
    for item in items:
        if "error" in item:
            rows.append([item["name"], item["error"]] + [""] * (len(headers) - 2))
            continue
        gpus = item.get("gpus")
        forecast = item["forecast"]
        row = [
            item["name"],
            number(item["carbonGramsPerKwh"], 0),
            number(item["priceJpyPerKwh"], 2),
            number(item["renewablePercent"], 0),
            yes_no(item["curtailment"]),
            freshness(item),
            NONE if gpus is None else f"{gpus['free']}/{gpus['total']}",
            _bars(forecast["carbonGramsPerKwh"], carbon_low, carbon_high),
        ]
        if wide:
            row += [
                _bars(forecast["priceJpyPerKwh"], price_low, price_high),
                item["availability"],
                item["gridArea"],
                str(item["pue"]),
                item["source"] or NONE,
            ]
        rows.append(row)
    text = table(headers, rows)
    starts = [i["forecast"]["start"] for i in items if "forecast" in i]
    if starts and carbon_low is not None and carbon_high is not None:
        text += f"\n\nforecast from {starts[0]}, 2 h per bar; "
        text += f"{number(carbon_low, 0)}-{number(carbon_high, 0)} gCO2/kWh"
        if wide and price_low is not None and price_high is not None:
            text += f", {number(price_low, 2)}-{number(price_high, 2)} JPY/kWh"
    return text


def run(reader: Reader, *, output: Output | None, now: datetime) -> Reply:
    bodies = sorted(
        reader.custom_list("regions"), key=lambda b: str((b.get("metadata") or {}).get("name"))
    )
    if not bodies and output not in (Output.JSON, Output.YAML):
        return Reply(note="No Regions found.")
    return Reply(out=render([summarize(body, now) for body in bodies], output))
