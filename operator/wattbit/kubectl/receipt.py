"""``kubectl wattbit receipt WORKLOAD``: the hour-by-hour ledger, totals and counterfactual.

The receipt is read from ``WorkloadPlacement.status.receipt`` (`wattbit.api.v1alpha1.receipt`)
and priced again with the core's own arithmetic (`wattbit.core.accounting.rebuild_receipt`):
the hours listed are the stored intervals cut at every UTC hour, each priced by
`price_interval`, and the check line says whether the recomputed totals agree with the stored
ones. The stint in progress (``open``) is priced up to now and listed apart: it is not in the
totals until the operator closes it. ``-o json`` for machines (with the stored compact form),
``--csv`` for spreadsheets (one row per hour, run and counterfactual).

WARNING: pure apart from the reader it is handed; decides nothing.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from wattbit.api.v1alpha1.receipt import ReceiptStatus
from wattbit.core.accounting import (
    PricedInterval,
    Receipt,
    Totals,
    expand_runs,
    price_interval,
    rebuild_receipt,
    split_hourly,
)
from wattbit.kubectl.args import Output, WorkloadRef
from wattbit.kubectl.cluster import Reader
from wattbit.kubectl.errors import NotFoundError
from wattbit.kubectl.formatting import NONE, age, number, timestamp
from wattbit.kubectl.output import Reply, dump, section, table
from wattbit.kubectl.workloads import Found, find

GRAMS_PER_KG = 1000.0
AGREEMENT = 1e-6
"""Relative difference below which recomputed and stored totals agree (the stored pieces are
rounded; the totals are exact sums)."""
CSV_FIELDS = (
    "ledger",
    "start",
    "end",
    "region",
    "gpus",
    "durationSeconds",
    "carbonGramsPerKwh",
    "priceJpyPerKwh",
    "energyKwh",
    "carbonGrams",
    "costJpy",
    "adjustedCostJpy",
    "source",
    "observedAt",
)


def hours(priced: Iterable[PricedInterval], carbon_price: float) -> list[PricedInterval]:
    """The intervals cut at every UTC hour and priced: a merged stretch of equal-rate hours
    comes out one row per hour."""
    cut = split_hourly(p.interval for p in priced)
    return [price_interval(i, carbon_price_jpy_per_tonne=carbon_price) for i in cut]


def hour_row(ledger: str, p: PricedInterval) -> dict[str, Any]:
    interval = p.interval
    return {
        "ledger": ledger,
        "start": timestamp(interval.start),
        "end": timestamp(interval.end),
        "region": interval.region,
        "gpus": interval.gpus,
        "durationSeconds": round(interval.duration_s, 3),
        "carbonGramsPerKwh": interval.signals.carbon_g_per_kwh,
        "priceJpyPerKwh": interval.signals.price_jpy_per_kwh,
        "energyKwh": round(p.energy_kwh, 6),
        "carbonGrams": round(p.carbon_g, 3),
        "costJpy": round(p.cost_jpy, 4),
        "adjustedCostJpy": round(p.adjusted_cost_jpy, 4),
        "source": interval.signals.source,
        "observedAt": timestamp(interval.signals.observed_at),
    }


def _totals(totals: Totals) -> dict[str, float]:
    return {
        "energyKwh": round(totals.energy_kwh, 6),
        "carbonKg": round(totals.carbon_g / GRAMS_PER_KG, 6),
        "costJpy": round(totals.cost_jpy, 4),
        "adjustedCostJpy": round(totals.adjusted_cost_jpy, 4),
    }


def _agrees(stored: Totals, rebuilt: Totals) -> bool:
    pairs = (
        (stored.energy_kwh, rebuilt.energy_kwh),
        (stored.carbon_g, rebuilt.carbon_g),
        (stored.cost_jpy, rebuilt.cost_jpy),
    )
    return all(math.isclose(a, b, rel_tol=AGREEMENT, abs_tol=1e-3) for a, b in pairs)


def document(found: Found, stored: ReceiptStatus, now: datetime) -> dict[str, Any]:
    """The receipt as plain values (the ``-o json`` document)."""
    price = stored.carbon_price_jpy_per_tonne
    rebuilt: Receipt = rebuild_receipt(stored.compact())
    opened = [
        price_interval(i, carbon_price_jpy_per_tonne=price)
        for i in expand_runs(r.run() for r in stored.open_until(now))
    ]
    setup = stored.counterfactual_setup
    return {
        "kind": "Receipt",
        "workload": {
            "kind": found.obj.kind.value,
            "namespace": found.obj.namespace,
            "name": found.obj.name,
        },
        "record": found.record_name,
        "method": stored.method,
        "assumptions": list(stored.assumptions),
        "carbonPriceJpyPerTonne": price,
        "arrival": timestamp(stored.arrival),
        "finishedAt": timestamp(stored.finished_at) if stored.finished_at else None,
        "waitedSeconds": stored.waited_seconds,
        "hours": [hour_row("run", p) for p in hours(rebuilt.intervals, price)],
        "open": [hour_row("open", p) for p in opened],
        "moves": [
            {
                "from": m.move.from_region,
                "to": m.move.to_region,
                "at": timestamp(m.move.at),
                "checkpointGigabytes": m.move.checkpoint_gb,
                "transferSeconds": m.move.transfer_s,
                "downtimeSeconds": round(m.downtime_s, 3),
                "workRedoneSeconds": m.move.work_redone_s,
                "energyKwh": round(m.energy_kwh, 6),
                "carbonGrams": round(m.carbon_g, 3),
                "costJpy": round(m.cost_jpy, 4),
            }
            for m in rebuilt.moves
        ],
        "totals": _totals(stored.totals.core()),
        "counterfactual": {
            "region": setup.region if setup else None,
            "hours": [hour_row("counterfactual", p) for p in hours(rebuilt.counterfactual, price)],
            "totals": _totals(stored.counterfactual_totals.core()),
        },
        "savings": {
            "energyKwh": round(stored.savings.energy_kwh, 6),
            "carbonKgAvoided": round(stored.savings.carbon_grams_avoided / GRAMS_PER_KG, 6),
            "costJpySaved": round(stored.savings.cost_jpy_saved, 4),
            "adjustedCostJpySaved": round(stored.savings.adjusted_cost_jpy_saved, 4),
        },
        "check": {
            "recomputedTotals": _totals(rebuilt.totals),
            "recomputedCounterfactualTotals": _totals(rebuilt.counterfactual_totals),
            "agrees": _agrees(stored.totals.core(), rebuilt.totals)
            and _agrees(stored.counterfactual_totals.core(), rebuilt.counterfactual_totals),
        },
        "stored": stored.to_wire(),
    }


# ---------------------------------------------------------------- text and CSV


def _ledger_table(rows: Sequence[Mapping[str, Any]], wide: bool) -> str:
    headers = ["START", "END", "REGION", "GPUS", "gCO2/kWh", "JPY/kWh", "kWh", "kgCO2", "JPY"]
    if wide:
        headers += ["ADJUSTED JPY", "SOURCE", "OBSERVED"]
    out = []
    for r in rows:
        cells = [
            r["start"],
            r["end"][11:],
            r["region"],
            str(r["gpus"]),
            number(r["carbonGramsPerKwh"], 0),
            number(r["priceJpyPerKwh"], 2),
            number(r["energyKwh"], 2),
            number(r["carbonGrams"] / GRAMS_PER_KG, 3),
            number(r["costJpy"], 1),
        ]
        if wide:
            cells += [number(r["adjustedCostJpy"], 1), r["source"], r["observedAt"]]
        out.append(cells)
    return table(headers, out)


def _sum_line(totals: Mapping[str, float]) -> str:
    return (
        f"{number(totals['energyKwh'], 2)} kWh, {number(totals['carbonKg'], 3)} kgCO2, "
        f"{number(totals['costJpy'], 1)} JPY (with carbon: {number(totals['adjustedCostJpy'], 1)} "
        "JPY)"
    )


def render(doc: Mapping[str, Any], output: Output | None) -> str:
    if output in (Output.JSON, Output.YAML):
        return dump(dict(doc), output)
    wide = output is Output.WIDE
    workload = doc["workload"]
    savings = doc["savings"]
    waited = doc["waitedSeconds"]
    check = doc["check"]
    fields = [
        ("Arrived", doc["arrival"]),
        ("Waited", NONE if waited is None else age(waited)),
        ("Finished", doc["finishedAt"] or "no (still running or waiting)"),
        ("Totals", _sum_line(doc["totals"])),
        (
            "Counterfactual",
            f"{doc['counterfactual']['region'] or NONE} at arrival, no wait, no move: "
            + _sum_line(doc["counterfactual"]["totals"]),
        ),
        (
            "Savings",
            f"{number(savings['carbonKgAvoided'], 3)} kgCO2 avoided, "
            f"{number(savings['costJpySaved'], 1)} JPY saved "
            f"(with carbon: {number(savings['adjustedCostJpySaved'], 1)} JPY)",
        ),
        (
            "Check",
            "recomputed from the intervals: agrees with the stored totals"
            if check["agrees"]
            else "recomputed from the intervals: DIFFERS from the stored totals "
            f"({_sum_line(check['recomputedTotals'])})",
        ),
        ("Method", doc["method"]),
        ("Carbon price", f"{number(doc['carbonPriceJpyPerTonne'], 0)} JPY/tCO2"),
    ]
    title = f"Receipt of {workload['kind']} {workload['namespace']}/{workload['name']}"
    parts = [section(title, fields)]
    parts.append("Hours:\n" + (_ledger_table(doc["hours"], wide) if doc["hours"] else NONE))
    if doc["open"]:
        parts.append("Running now (not in the totals yet):\n" + _ledger_table(doc["open"], wide))
    if doc["moves"]:
        rows = [
            [
                m["at"],
                f"{m['from']} -> {m['to']}",
                number(m["checkpointGigabytes"], 1),
                age(m["downtimeSeconds"]),
                number(m["energyKwh"], 2),
                number(m["carbonGrams"] / GRAMS_PER_KG, 3),
                number(m["costJpy"], 1),
            ]
            for m in doc["moves"]
        ]
        headers = ["AT", "MOVE", "CHECKPOINT GB", "DOWNTIME", "kWh", "kgCO2", "JPY"]
        parts.append("Moves:\n" + table(headers, rows))
    counterfactual = doc["counterfactual"]["hours"]
    parts.append(
        "Counterfactual hours:\n"
        + (_ledger_table(counterfactual, wide) if counterfactual else NONE)
    )
    parts.append("Assumptions:\n" + "\n".join(f"- {a}" for a in doc["assumptions"]))
    return "\n\n".join(parts)


def to_csv(doc: Mapping[str, Any]) -> str:
    """One row per hour: the run, the stint in progress, then the counterfactual."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for row in [*doc["hours"], *doc["open"], *doc["counterfactual"]["hours"]]:
        writer.writerow(row)
    return buffer.getvalue().rstrip("\n")


def run(
    reader: Reader,
    ref: WorkloadRef,
    *,
    namespace: str,
    output: Output | None,
    csv: bool,
    now: datetime,
) -> Reply:
    found = find(reader, ref, namespace)
    label = f"{found.obj.kind.value.lower()}/{found.obj.name}"
    if found.record is None or found.record_is_stale:
        raise NotFoundError(
            f'workloadplacement "{found.record_name}" for {label} not found in namespace '
            f'"{namespace}": the operator has not recorded it yet'
        )
    stored = found.status.receipt if found.status else None
    if stored is None:
        raise NotFoundError(f"{label} has no receipt yet: it has not been placed and run")
    doc = document(found, stored, now)
    if csv:
        return Reply(out=to_csv(doc))
    return Reply(out=render(doc, output))
