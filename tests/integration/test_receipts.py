"""A live receipt, recomputed by the test from the signals it published itself.

The Job runs in kyushu on PowerSignals the test publishes (two changes of values while it
runs); tokyo and hokkaido carry the static signals of their Region specs. The test prices the
receipt's intervals again with its own arithmetic (GPUs x kW x PUE x seconds, times the
values it published for that stretch) and the counterfactual (the same work from the Job's
creation in the first eligible region, hokkaido, at its static signals), and both agree with
the operator's figures within 1 %. The boundaries between stretches must be within a few
seconds of the moments the test published new values.
"""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.integration.kube import REGION_SIGNALS, Kube, wait_until
from tests.integration.test_reconcile import (
    long_job,
    publish_kyushu,
    signal,
    status,
)

pytestmark = pytest.mark.integration

GPUS = 4
WATTS_PER_GPU = 700
PUE = 1.2  # every test Region's spec
STRETCH_S = 20


def pieces(runs: list[dict[str, Any]]) -> list[tuple[str, datetime, float, float, float]]:
    """(region, start, seconds, gCO2/kWh, JPY/kWh) of every piece of the stored runs."""
    out = []
    for run in runs:
        start = datetime.fromisoformat(run["start"])
        for seconds, carbon, price in zip(
            run["durationSeconds"], run["carbonGramsPerKwh"], run["priceJpyPerKwh"], strict=True
        ):
            out.append((run["region"], start, float(seconds), float(carbon), float(price)))
            start += timedelta(seconds=seconds)
    return out


def stretches(kube: Kube, namespace: str) -> set[tuple[float, float]]:
    """The distinct rates of the receipt's closed intervals."""
    receipt = status(kube, namespace, "ledger")["receipt"]
    return {(p[3], p[4]) for p in pieces(receipt.get("intervals", []))}


def kwh(seconds: float) -> float:
    return GPUS * WATTS_PER_GPU / 1000.0 * seconds / 3600.0 * PUE


@pytest.mark.usefixtures("kyushu_external")
def test_a_live_receipt_agrees_with_the_tests_own_arithmetic(kube: Kube, namespace: str) -> None:
    ns = namespace
    published = [(20, 0.005), (60, 0.02), (40, 0.015)]  # (gCO2/kWh, JPY/kWh), in this order
    publish_kyushu(kube, ns, signal("first", carbon=20, price="0.005"))
    kube.create(
        long_job(
            "ledger",
            gpus=GPUS,
            annotations={
                "wattbit.io/expected-duration": "2h",
                "wattbit.io/gpu-power-watts": str(WATTS_PER_GPU),
            },
        ),
        namespace=ns,
    )
    wait_until(
        lambda: (
            status(kube, ns, "ledger").get("region") == "kyushu"
            and "receipt" in status(kube, ns, "ledger")
        ),
        timeout=60,
        message="the Job to run in kyushu with a receipt",
    )
    switched: list[datetime] = []
    for name, (carbon, price) in zip(("second", "third"), published[1:], strict=True):
        time.sleep(STRETCH_S)
        switched.append(datetime.now(UTC))
        publish_kyushu(kube, ns, signal(name, carbon=carbon, price=str(price)))
        wait_until(
            lambda: len(stretches(kube, ns)) >= len(switched),
            timeout=30,
            message=f"{len(switched)} stretch(es) closed on the receipt",
        )

    record = status(kube, ns, "ledger")
    receipt = record["receipt"]
    job = kube.get("job", "ledger", ns)
    released = datetime.fromisoformat(job["metadata"]["annotations"]["wattbit.io/released-at"])
    got = pieces(receipt["intervals"])

    # Where and when: contiguous from the release, in kyushu, switching near the publications.
    assert {p[0] for p in got} == {"kyushu"}
    assert abs((got[0][1] - released).total_seconds()) < 1.0
    for before, after in itertools.pairwise(got):
        assert abs((before[1] + timedelta(seconds=before[2]) - after[1]).total_seconds()) < 0.01
    rates = [(p[3], p[4]) for p in got]
    changes = [i for i in range(1, len(rates)) if rates[i] != rates[i - 1]]
    assert [rates[0], *(rates[i] for i in changes)] == [(20.0, 0.005), (60.0, 0.02)]
    assert len(changes) == 1
    assert abs((got[changes[0]][1] - switched[0]).total_seconds()) < 5.0

    # What it took, by the test's own arithmetic on the values it published.
    energy = sum(kwh(p[2]) for p in got)
    carbon_g = sum(kwh(p[2]) * p[3] for p in got)
    cost = sum(kwh(p[2]) * p[4] for p in got)
    totals = receipt["totals"]
    assert totals["energyKwh"] == pytest.approx(energy, rel=0.01)
    assert totals["carbonGrams"] == pytest.approx(carbon_g, rel=0.01)
    assert totals["costJpy"] == pytest.approx(cost, rel=0.01)
    assert record["totals"]["carbonKg"] == pytest.approx(carbon_g / 1000.0, rel=0.01)

    # The counterfactual: the same work from the Job's creation in hokkaido (first eligible
    # by name), at the static signals of its Region spec.
    _, hokkaido_carbon, hokkaido_price = REGION_SIGNALS["hokkaido"]
    work_s = sum(p[2] for p in got)
    baseline = receipt["counterfactualTotals"]
    assert record["baseline"]["region"] == "hokkaido"
    assert baseline["energyKwh"] == pytest.approx(kwh(work_s), rel=0.01)
    assert baseline["carbonGrams"] == pytest.approx(kwh(work_s) * hokkaido_carbon, rel=0.01)
    assert baseline["costJpy"] == pytest.approx(kwh(work_s) * float(hokkaido_price), rel=0.01)
    saved_g = kwh(work_s) * hokkaido_carbon - carbon_g
    assert receipt["savings"]["carbonGramsAvoided"] == pytest.approx(saved_g, rel=0.01)
    assert record["savings"]["carbonKg"] == pytest.approx(saved_g / 1000.0, rel=0.01)
    created = datetime.fromisoformat(job["metadata"]["creationTimestamp"])
    assert abs((datetime.fromisoformat(receipt["arrival"]) - created).total_seconds()) < 1.0

    # The stint in progress runs on the third values, from the second switch.
    assert receipt["open"]["signals"]["carbonGramsPerKwh"] == 40
    assert (
        abs((datetime.fromisoformat(receipt["open"]["start"]) - switched[1]).total_seconds()) < 5.0
    )
    assert receipt["method"] == "location-based, average intensity"
    assert any("counterfactual" in line for line in receipt["assumptions"])
