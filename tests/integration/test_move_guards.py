"""The guards that keep a running Job where it is, on the real control plane.

Each case starts a Job in tokyo, then makes another region cheaper in a way one guard must
refuse, and watches the Job for at least 30 s of reconcile passes:
- a signal dip shorter than the stability window (kyushu cheap for the next 20 minutes only,
  `stabilityWindowMinutes: 60`): no move, record reason SignalDipTooShort;
- a second improvement inside the cooldown (after one completed tokyo -> kyushu move with
  `cooldownMinutes: 60`, hokkaido becomes much cheaper than kyushu): no second move, record
  reason CooldownActive; with the cooldown lifted the same Job does move to hokkaido, so the
  cooldown alone held it;
- a deadline too close for a move's overhead (deadline only slightly beyond the remaining
  runtime and the safety margin): the Job is never suspended, record reason DeadlineTooClose.
Not here: the guards' arithmetic at every boundary (tests/unit/test_core_rules.py,
test_core_planner.py); the move budget and moves-in-flight limits.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.integration.kube import REGION_SIGNALS, Kube, holds_for, region, wait_until
from tests.integration.test_reconcile import (
    FAST_MOVES,
    long_job,
    pods_regions,
    policy,
    replace_signal,
    signal,
    status,
)

pytestmark = pytest.mark.integration

WATCHED_S = 30
"""How long a refused move is watched: several passes (the Regions' refresh wakes the loop
every few seconds, the period is 30 s)."""


@pytest.fixture
def hokkaido_external(kube: Kube, regions: list[str], namespace: str) -> Iterator[str]:
    """Hokkaido fed by PowerSignals in the test's namespace; restored afterwards."""
    patch = {"spec": {"signals": {"provider": "external", "static": None}}}
    kube.kubectl("patch", "region", "hokkaido", "--type=merge", "-p", json.dumps(patch))
    yield namespace
    kube.kubectl("delete", "powersignals", "--all", "-n", namespace, check=False)
    kube.apply(region("hokkaido", *REGION_SIGNALS["hokkaido"]))


def put_signal(kube: Kube, namespace: str, manifest: dict[str, Any], *, region: str) -> None:
    """Create or replace one PowerSignal (others in the namespace stay)."""
    manifest["metadata"]["namespace"] = namespace
    manifest["spec"]["region"] = region
    kube.apply(manifest)


def reads_price(kube: Kube, name: str, price: float) -> bool:
    signals = (kube.get("region", name).get("status") or {}).get("signals") or {}
    return bool(signals.get("priceJpyPerKwh") == price)


def start_in_tokyo(
    kube: Kube, namespace: str, job: dict[str, Any], *, kyushu_price: str = "16.0"
) -> None:
    """Kyushu expensive, then the Job, running in tokyo."""
    kube.create(signal("kyushu", carbon=480, price=kyushu_price), namespace=namespace)
    wait_until(
        lambda: reads_price(kube, "kyushu", float(kyushu_price)),
        timeout=30,
        message="kyushu to read the PowerSignal",
    )
    kube.create(job, namespace=namespace)
    name = job["metadata"]["name"]
    wait_until(
        lambda: pods_regions(kube, namespace, name) == {"tokyo"},
        timeout=60,
        message="the Job to run in tokyo",
    )


def stays_put(kube: Kube, namespace: str, job: str, reason: str) -> None:
    """For WATCHED_S: not suspended, no move recorded, still in tokyo, the record says why."""

    def unmoved() -> bool:
        live = kube.get("job", job, namespace)
        record = status(kube, namespace, job)
        return (
            live["spec"].get("suspend") is False
            and record.get("migration") is None
            and record.get("reason") == reason
            and pods_regions(kube, namespace, job) == {"tokyo"}
        )

    holds_for(unmoved, duration=WATCHED_S, message=f"{job} stays in tokyo ({reason})")


@pytest.mark.usefixtures("kyushu_external")
def test_a_signal_dip_shorter_than_the_stability_window_moves_nothing(
    kube: Kube, namespace: str
) -> None:
    ns = namespace
    kube.create(
        policy(allowedRegions=["tokyo", "kyushu"], **{**FAST_MOVES, "stabilityWindowMinutes": 60}),
        namespace=ns,
    )
    start_in_tokyo(kube, ns, long_job("steady", annotations={"wattbit.io/expected-duration": "4h"}))
    # Curtailed now, and for the next 20 minutes; dearer than tokyo from then on.
    dip = signal(
        "dip",
        carbon=20,
        price="0.01",
        curtailment=True,
        forecast=((timedelta(minutes=20), 480, "16.0"),),
    )
    replace_signal(kube, ns, dip)
    wait_until(
        lambda: reads_price(kube, "kyushu", 0.01), timeout=30, message="kyushu to read the dip"
    )
    record = wait_until(
        lambda: (s := status(kube, ns, "steady")).get("reason") == "SignalDipTooShort" and s,
        timeout=60,
        message="the record to say the dip is too short",
    )
    assert record["region"] == "tokyo"
    assert record["decision"] == "Stay"
    stays_put(kube, ns, "steady", "SignalDipTooShort")


@pytest.mark.usefixtures("kyushu_external", "hokkaido_external")
def test_a_second_improvement_inside_the_cooldown_moves_nothing(kube: Kube, namespace: str) -> None:
    ns = namespace
    kube.create(
        policy(
            allowedRegions=["tokyo", "kyushu", "hokkaido"],
            **{**FAST_MOVES, "cooldownMinutes": 60},
        ),
        namespace=ns,
    )
    put_signal(kube, ns, signal("hokkaido", carbon=900, price="40.0"), region="hokkaido")
    wait_until(
        lambda: reads_price(kube, "hokkaido", 40.0),
        timeout=30,
        message="hokkaido to read its PowerSignal",
    )
    start_in_tokyo(
        kube, ns, long_job("settled", annotations={"wattbit.io/expected-duration": "4h"})
    )

    # The first improvement: kyushu, moderately cheaper than tokyo. One move.
    put_signal(kube, ns, signal("kyushu", carbon=200, price="5.0"), region="kyushu")
    first = wait_until(
        lambda: (
            (m := status(kube, ns, "settled").get("migration") or {}).get("phase") == "Running"
            and m
        ),
        timeout=120,
        message="the first move to complete",
    )
    assert (first["fromRegion"], first["toRegion"]) == ("tokyo", "kyushu")
    wait_until(
        lambda: pods_regions(kube, ns, "settled") == {"kyushu"},
        timeout=60,
        message="the pods to run in kyushu",
    )

    # The second: hokkaido becomes far cheaper than kyushu, well inside the cooldown.
    put_signal(kube, ns, signal("hokkaido", carbon=20, price="0.01"), region="hokkaido")
    wait_until(
        lambda: reads_price(kube, "hokkaido", 0.01),
        timeout=30,
        message="hokkaido to read the cheap PowerSignal",
    )
    cooling = wait_until(
        lambda: (s := status(kube, ns, "settled")).get("reason") == "CooldownActive" and s,
        timeout=60,
        message="the record to say the cooldown holds the Job",
    )
    assert cooling["region"] == "kyushu"

    def unmoved() -> bool:
        record = status(kube, ns, "settled")
        return (
            record.get("reason") == "CooldownActive"
            and record.get("moves") == 1
            and (record.get("migration") or {}).get("startedAt") == first["startedAt"]
            and kube.get("job", "settled", ns)["spec"].get("suspend") is False
            and pods_regions(kube, ns, "settled") == {"kyushu"}
        )

    holds_for(unmoved, duration=WATCHED_S, message="the Job stays in kyushu (CooldownActive)")

    # Without the cooldown the same Job moves on: the cooldown was what held it.
    kube.kubectl(
        "patch",
        "placementpolicy",
        "default",
        "-n",
        ns,
        "--type=merge",
        "-p",
        json.dumps({"spec": {"cooldownMinutes": 0}}),
    )
    second = wait_until(
        lambda: (
            (m := status(kube, ns, "settled").get("migration") or {}).get("toRegion") == "hokkaido"
            and m.get("phase") == "Running"
            and m
        ),
        timeout=120,
        message="the move to hokkaido once the cooldown is lifted",
    )
    assert second["fromRegion"] == "kyushu"
    assert status(kube, ns, "settled")["moves"] == 2


@pytest.mark.usefixtures("kyushu_external")
def test_a_job_whose_deadline_is_too_close_is_never_suspended(kube: Kube, namespace: str) -> None:
    ns = namespace
    kube.create(policy(allowedRegions=["tokyo", "kyushu"], **FAST_MOVES), namespace=ns)
    # One hour of work, the default safety margin (30 min + 5% of the run) and 2 minutes to
    # spare: enough to start now, far too little for a move (restart overhead and the work
    # redone since the last checkpoint).
    deadline = datetime.now(UTC) + timedelta(hours=1, minutes=33, seconds=120)
    job = long_job(
        "urgent",
        annotations={
            "wattbit.io/expected-duration": "1h",
            "wattbit.io/deadline": deadline.isoformat(timespec="seconds"),
        },
    )
    start_in_tokyo(kube, ns, job)
    replace_signal(kube, ns, signal("curtailment", carbon=20, price="0.01", curtailment=True))
    wait_until(
        lambda: reads_price(kube, "kyushu", 0.01),
        timeout=30,
        message="kyushu to read the curtailment",
    )
    record = wait_until(
        lambda: (s := status(kube, ns, "urgent")).get("reason") == "DeadlineTooClose" and s,
        timeout=60,
        message="the record to say the deadline is too close",
    )
    assert record["region"] == "tokyo"
    stays_put(kube, ns, "urgent", "DeadlineTooClose")
