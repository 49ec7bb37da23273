"""``kubectl wattbit receipt`` against a fake reader, on a receipt the core itself builds.

Matrix: the ledger listed hour by hour (a stored interval across a UTC hour comes out as two
rows, each priced by the core), the stint in progress priced up to now and kept out of the
totals, a move, the counterfactual's region and hours, savings, the check against the stored
totals (agrees; a tampered total DIFFERS), JSON with the stored compact form, CSV rows for
run, open and counterfactual hours, and the errors: no record yet, a record with no receipt
(both exit 1, one line).
Skipped on purpose: how the operator books intervals (test_ledger.py, test_receipts.py).
"""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from typing import Any

import pytest

from tests.unit.test_kubectl_commands import NOW, NS, FakeReader, job, record
from wattbit.api.v1alpha1.receipt import ReceiptStatus
from wattbit.core.accounting import Interval, Move, Signals
from wattbit.core.ledger import Counterfactual, Ledger, Setup, Stint
from wattbit.kubectl import receipt
from wattbit.kubectl.args import Output, WorkloadRef
from wattbit.kubectl.errors import NotFoundError

ARRIVAL = NOW - timedelta(hours=2)  # 08:30
REF = WorkloadRef(None, "train")


def signals(carbon: float, price: float, at: timedelta) -> Signals:
    return Signals(
        carbon_g_per_kwh=carbon, price_jpy_per_kwh=price, source="static", observed_at=NOW - at
    )


def interval(region: str, start: timedelta, seconds: float, carbon: float) -> Interval:
    return Interval(
        region=region,
        start=ARRIVAL + start,
        duration_s=seconds,
        gpus=4,
        power_kw_per_gpu=0.7,
        pue=1.2,
        signals=signals(carbon, 1.0, timedelta(hours=3)),
    )


def stored_receipt() -> ReceiptStatus:
    kyushu = Setup(region="kyushu", gpus=4, power_kw_per_gpu=0.7, pue=1.2)
    ledger = Ledger(
        arrival=ARRIVAL,
        intervals=(
            interval("tokyo", timedelta(), 1800, 450),
            # 09:10-10:10 across 10:00: listed as two hours.
            interval("kyushu", timedelta(minutes=40), 3600, 120),
        ),
        moves=(
            Move(
                from_region="tokyo",
                to_region="kyushu",
                at=ARRIVAL + timedelta(minutes=30),
                checkpoint_gb=40,
                transfer_s=600,
                transfer_energy_kwh=0.2,
                signals=signals(120, 1.0, timedelta(hours=3)),
            ),
        ),
        open=Stint(
            setup=kyushu,
            start=ARRIVAL + timedelta(minutes=100),
            signals=signals(100, 1.0, timedelta(minutes=20)),
        ),
        counterfactual=Counterfactual(
            setup=Setup(region="tokyo", gpus=4, power_kw_per_gpu=0.7, pue=1.2),
            intervals=(interval("tokyo", timedelta(), 5400, 450),),
        ),
    )
    return ReceiptStatus.from_ledger(ledger, carbon_price_jpy_per_tonne=10_000)


def reader(stored: ReceiptStatus | None) -> FakeReader:
    extra: dict[str, Any] = {} if stored is None else {"receipt": stored.to_wire()}
    return FakeReader(custom={"workloadplacements": [record(**extra)]}, jobs=[job()])


def doc(stored: ReceiptStatus) -> dict[str, object]:
    reply = receipt.run(reader(stored), REF, namespace=NS, output=Output.JSON, csv=False, now=NOW)
    parsed: dict[str, object] = json.loads(reply.out)
    return parsed


def test_hours_open_stint_moves_and_counterfactual() -> None:
    data = doc(stored_receipt())
    hours = data["hours"]
    assert isinstance(hours, list)
    assert [(h["region"], h["start"], h["end"]) for h in hours] == [
        ("tokyo", "2026-12-02T08:30:00Z", "2026-12-02T09:00:00Z"),
        ("kyushu", "2026-12-02T09:10:00Z", "2026-12-02T10:00:00Z"),
        ("kyushu", "2026-12-02T10:00:00Z", "2026-12-02T10:10:00Z"),
    ]
    # 4 GPUs x 0.7 kW x 50 min x PUE 1.2 x 120 g/kWh.
    assert hours[1]["energyKwh"] == pytest.approx(4 * 0.7 * 50 / 60 * 1.2)
    assert hours[1]["carbonGrams"] == pytest.approx(4 * 0.7 * 50 / 60 * 1.2 * 120)
    opened = data["open"]
    assert isinstance(opened, list)
    assert [(h["start"], h["end"]) for h in opened] == [
        ("2026-12-02T10:10:00Z", "2026-12-02T10:30:00Z")
    ]
    moves = data["moves"]
    assert isinstance(moves, list)
    assert [(m["from"], m["to"]) for m in moves] == [("tokyo", "kyushu")]
    counterfactual = data["counterfactual"]
    assert isinstance(counterfactual, dict)
    assert counterfactual["region"] == "tokyo"
    assert len(counterfactual["hours"]) == 2
    check = data["check"]
    assert isinstance(check, dict)
    assert check["agrees"] is True
    savings = data["savings"]
    assert isinstance(savings, dict)
    assert savings["carbonKgAvoided"] > 0
    assert "stored" in data


def test_text_and_wide() -> None:
    text = receipt.run(
        reader(stored_receipt()), REF, namespace=NS, output=None, csv=False, now=NOW
    ).out
    for expected in (
        "Receipt of Job ml-team/train",
        "Counterfactual: tokyo at arrival, no wait, no move",
        "agrees with the stored totals",
        "Running now (not in the totals yet):",
        "tokyo -> kyushu",
        "Assumptions:",
    ):
        assert expected in text
    wide = receipt.run(
        reader(stored_receipt()), REF, namespace=NS, output=Output.WIDE, csv=False, now=NOW
    ).out
    assert "ADJUSTED JPY" in wide


def test_a_tampered_total_differs() -> None:
    stored = stored_receipt()
    tampered = stored.model_copy(
        update={"totals": stored.totals.model_copy(update={"carbon_grams": 1.0})}
    )
    text = receipt.run(reader(tampered), REF, namespace=NS, output=None, csv=False, now=NOW).out
    assert "DIFFERS from the stored totals" in text


def test_csv_rows_for_run_open_and_counterfactual() -> None:
    out = receipt.run(reader(stored_receipt()), REF, namespace=NS, output=None, csv=True, now=NOW)
    rows = list(csv.DictReader(io.StringIO(out.out)))
    assert [r["ledger"] for r in rows] == ["run"] * 3 + ["open"] + ["counterfactual"] * 2
    assert float(rows[0]["carbonGramsPerKwh"]) == 450


def test_no_record_or_no_receipt_is_exit_1() -> None:
    with pytest.raises(NotFoundError, match="has no receipt yet"):
        receipt.run(reader(None), REF, namespace=NS, output=None, csv=False, now=NOW)
    bare = FakeReader(jobs=[job()])
    with pytest.raises(NotFoundError, match="the operator has not recorded it yet"):
        receipt.run(bare, REF, namespace=NS, output=None, csv=False, now=NOW)
