"""The reconcile loop on the real control plane: waits, moves, drains, capacity, Kueue.

Covers, with the real operator process, webhook, kube-scheduler, Job controller and kwok:
- a Job with a loose deadline waits (record: Wait, planned start) while a PowerSignal forecast
  makes a later hour much cheaper, and is released when a new PowerSignal makes now cheapest;
- a Job running in tokyo moves to kyushu after a curtailment PowerSignal: pods end on kyushu
  nodes, the record lists every phase once (one suspension, one resumption);
- a region made Unavailable is drained within one period;
- a completed Job's GPUs are free for the very next decision, and `capacity.gpus` caps a
  region below what its nodes offer;
- a Kueue-queued Job is never released or suspended by wattbit (record: ManagedByKueue).
- a short grace period is reported (CheckpointFits=False, a Warning Event); an owned Job
  its owner created suspended is the owner's, one it created running is placed.
Elsewhere: SIGKILL at each phase (test_move_crash.py), PDB-blocked evictions and NotMovable
(test_eviction.py), dip, cooldown and deadline guards (test_move_guards.py).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.integration.kube import Kube, wait_until
from tests.integration.test_placement import node_region, training_job

pytestmark = pytest.mark.integration

FAST_MOVES = {
    "checkpointNoticeSeconds": 3,
    "stabilityWindowMinutes": 0,
    "cooldownMinutes": 0,
    "minimumSavingPercent": 5,
}


def policy(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "wattbit.io/v1alpha1",
        "kind": "PlacementPolicy",
        "metadata": {"name": "default"},
        "spec": spec,
    }


def signal(
    name: str,
    *,
    carbon: int,
    price: str,
    curtailment: bool = False,
    forecast: tuple[tuple[timedelta, int, str], ...] = (),
) -> dict[str, Any]:
    now = datetime.now(UTC).replace(microsecond=0)
    start = now - timedelta(minutes=5)
    spec: dict[str, Any] = {
        "region": "kyushu",
        "source": "test-aggregator",
        "validFrom": start.isoformat(),
        "validUntil": (now + timedelta(days=2)).isoformat(),
        "observation": {
            "carbonGramsPerKwh": carbon,
            "priceJpyPerKwh": price,
            "curtailment": curtailment,
        },
    }
    if forecast:
        spec["forecast"] = [
            {"start": start.isoformat(), "carbonGramsPerKwh": carbon, "priceJpyPerKwh": price}
        ] + [
            {"start": (now + at).isoformat(), "carbonGramsPerKwh": c, "priceJpyPerKwh": p}
            for at, c, p in forecast
        ]
    return {
        "apiVersion": "wattbit.io/v1alpha1",
        "kind": "PowerSignal",
        "metadata": {"name": name},
        "spec": spec,
    }


def publish_kyushu(kube: Kube, namespace: str, manifest: dict[str, Any]) -> None:
    """Publish a PowerSignal for kyushu and wait until its Region reads the new price."""
    kube.create(manifest, namespace=namespace)
    price = float(manifest["spec"]["observation"]["priceJpyPerKwh"])
    wait_until(
        lambda: (
            (kube.get("region", "kyushu").get("status") or {})
            .get("signals", {})
            .get("priceJpyPerKwh")
            == price
        ),
        timeout=30,
        message="kyushu to read the PowerSignal",
    )


def replace_signal(kube: Kube, namespace: str, manifest: dict[str, Any]) -> None:
    kube.kubectl("delete", "powersignals", "--all", "-n", namespace, check=False)
    kube.create(manifest, namespace=namespace)


def status(kube: Kube, namespace: str, job: str) -> dict[str, Any]:
    found = kube.find("workloadplacement", f"job-{job}", namespace) or {}
    return dict(found.get("status") or {})


def pods_regions(kube: Kube, namespace: str, job: str) -> set[str | None]:
    pods = kube.core.list_namespaced_pod(namespace, label_selector=f"job-name={job}").items
    return {
        node_region(kube, p.spec.node_name)
        for p in pods
        if p.spec and p.spec.node_name and not (p.metadata and p.metadata.deletion_timestamp)
    }


def long_job(
    name: str, *, gpus: int = 4, annotations: dict[str, str] | None = None
) -> dict[str, Any]:
    job = training_job(name, gpus=gpus, annotations=annotations)
    del job["spec"]["template"]["metadata"]["annotations"]["wattbit.io/simulated-duration"]
    return job


def test_waits_for_a_cheaper_hour_then_runs_when_now_is_cheapest(
    kube: Kube, kyushu_external: str
) -> None:
    ns = kyushu_external
    kube.create(
        signal("forecast", carbon=480, price="16.0", forecast=((timedelta(hours=3), 20, "0.01"),)),
        namespace=ns,
    )
    wait_until(
        lambda: (
            (kube.get("region", "kyushu").get("status") or {})
            .get("signals", {})
            .get("priceJpyPerKwh")
            == 16.0
        ),
        timeout=30,
        message="kyushu to read the PowerSignal",
    )
    deadline = (datetime.now(UTC) + timedelta(hours=24)).isoformat()
    kube.create(
        long_job(
            "patient",
            annotations={"wattbit.io/expected-duration": "2h", "wattbit.io/deadline": deadline},
        ),
        namespace=ns,
    )
    waiting = wait_until(
        lambda: (s := status(kube, ns, "patient")).get("decision") == "Wait" and s,
        timeout=60,
        message="a Wait decision",
    )
    assert waiting["reason"] == "WaitingForGreenerWindow"
    assert waiting["region"] == "kyushu"
    planned = datetime.fromisoformat(waiting["plannedStart"].replace("Z", "+00:00"))
    assert planned > datetime.now(UTC) + timedelta(hours=2)
    assert kube.get("job", "patient", ns)["spec"]["suspend"] is True

    replace_signal(kube, ns, signal("surplus", carbon=20, price="0.01", curtailment=True))
    placed = wait_until(
        lambda: (s := status(kube, ns, "patient")).get("decision") == "RunNow" and s,
        timeout=60,
        message="the release once now is cheapest",
    )
    assert placed["region"] == "kyushu"
    assert kube.get("job", "patient", ns)["spec"].get("suspend") is False


def test_running_job_moves_to_the_curtailed_region_through_every_phase(
    kube: Kube, kyushu_external: str
) -> None:
    ns = kyushu_external
    kube.create(policy(allowedRegions=["tokyo", "kyushu"], **FAST_MOVES), namespace=ns)
    publish_kyushu(kube, ns, signal("expensive", carbon=480, price="16.0"))
    kube.create(long_job("mover", annotations={"wattbit.io/expected-duration": "4h"}), namespace=ns)
    wait_until(
        lambda: pods_regions(kube, ns, "mover") == {"tokyo"},
        timeout=60,
        message="the Job to run in tokyo",
    )
    replace_signal(kube, ns, signal("curtailment", carbon=20, price="0.01", curtailment=True))
    done = wait_until(
        lambda: (
            (m := status(kube, ns, "mover").get("migration") or {}).get("phase") == "Running" and m
        ),
        timeout=120,
        message="the move to complete",
    )
    assert (done["fromRegion"], done["toRegion"]) == ("tokyo", "kyushu")
    phases = [entry["phase"] for entry in done["history"]]
    assert phases == [
        "Planned",
        "CheckpointRequested",
        "NoticeElapsed",
        "Suspended",
        "PodsGone",
        "Repointed",
        "Resumed",
        "Running",
    ]
    wait_until(
        lambda: pods_regions(kube, ns, "mover") == {"kyushu"},
        timeout=60,
        message="the pods to run in kyushu",
    )
    record = status(kube, ns, "mover")
    assert record["moves"] == 1
    assert kube.get("job", "mover", ns)["spec"].get("suspend") is False
    reasons = [
        e.reason
        for e in kube.core.list_namespaced_event(
            ns, field_selector="involvedObject.name=mover"
        ).items
    ]
    assert "GreenerRegion" in reasons
    assert "Moved" in reasons
    link = kube.get("apnlink", "tokyo-kyushu").get("status") or {}
    assert link.get("movesCompleted", 0) >= 1
    assert any(m["workload"] == f"Job/{ns}/mover" for m in link.get("recentMoves") or [])
    # The receipt books the move with its transfer, and the stint in tokyo closed at the
    # suspension; the stint in kyushu is in progress.
    receipt = wait_until(
        lambda: (r := status(kube, ns, "mover").get("receipt") or {}).get("moves") and r,
        timeout=30,
        message="the move on the receipt",
    )
    booked = receipt["moves"][0]
    assert (booked["fromRegion"], booked["toRegion"]) == ("tokyo", "kyushu")
    assert booked["checkpointGigabytes"] == 0  # no checkpoint-size hint: the link's latency
    assert booked["transferSeconds"] == pytest.approx(0.008)
    assert {run["region"] for run in receipt["intervals"]} == {"tokyo"}
    assert receipt["open"]["setup"]["region"] == "kyushu"


def test_a_grace_period_shorter_than_the_checkpoint_is_reported(
    kube: Kube, regions: list[str], namespace: str
) -> None:
    job = long_job(
        "rushed",
        annotations={"wattbit.io/expected-duration": "2h", "wattbit.io/checkpoint-duration": "5m"},
    )
    kube.create(job, namespace=namespace)  # the pod default grace period: 30 s
    fits = wait_until(
        lambda: next(
            (
                c
                for c in status(kube, namespace, "rushed").get("conditions") or []
                if c["type"] == "CheckpointFits"
            ),
            None,
        ),
        timeout=60,
        message="the CheckpointFits condition",
    )
    assert (fits["status"], fits["reason"]) == ("False", "GracePeriodTooShort")
    assert "30s" in fits["message"]
    assert "300s" in fits["message"]
    wait_until(
        lambda: any(
            e.reason == "GracePeriodTooShort" and e.type == "Warning"
            for e in kube.core.list_namespaced_event(
                namespace, field_selector="involvedObject.name=rushed"
            ).items
        ),
        timeout=30,
        message="a GracePeriodTooShort Warning Event",
    )


def test_an_unavailable_region_is_drained(kube: Kube, kyushu_external: str) -> None:
    ns = kyushu_external
    kube.create(policy(**FAST_MOVES), namespace=ns)
    kube.create(signal("cheap", carbon=20, price="0.01"), namespace=ns)
    kube.create(
        long_job("evacuee", annotations={"wattbit.io/expected-duration": "4h"}), namespace=ns
    )
    wait_until(
        lambda: pods_regions(kube, ns, "evacuee") == {"kyushu"},
        timeout=60,
        message="the Job to run in kyushu",
    )
    kube.kubectl(
        "patch",
        "region",
        "kyushu",
        "--type=merge",
        "-p",
        json.dumps({"spec": {"availability": "Unavailable"}}),
    )
    moved = wait_until(
        lambda: (
            (m := status(kube, ns, "evacuee").get("migration") or {}).get("phase") == "Running"
            and m
        ),
        timeout=90,
        message="the drain to move the Job out",
    )
    assert moved["reason"] == "RegionDraining"
    assert moved["toRegion"] != "kyushu"
    wait_until(
        lambda: pods_regions(kube, ns, "evacuee") == {moved["toRegion"]},
        timeout=60,
        message="the pods to run in the new region",
    )


def test_completed_gpus_are_free_at_once_and_capacity_caps_a_region(
    kube: Kube, kyushu_external: str
) -> None:
    ns = kyushu_external
    kube.kubectl(
        "patch",
        "region",
        "kyushu",
        "--type=merge",
        "-p",
        json.dumps({"spec": {"capacity": {"gpus": 8}}}),
    )
    # Wait for kyushu to read it: a Job decided before would go to tokyo (seen under load).
    publish_kyushu(kube, ns, signal("cheap", carbon=20, price="0.01"))
    kube.create(training_job("first", gpus=8, duration="8s"), namespace=ns)
    wait_until(lambda: status(kube, ns, "first").get("region"), timeout=60, message="first")
    assert status(kube, ns, "first")["region"] == "kyushu"
    kube.create(long_job("second", gpus=8), namespace=ns)
    second = wait_until(
        lambda: (s := status(kube, ns, "second")).get("decision") and s,
        timeout=60,
        message="a decision for the second Job",
    )
    # The cap leaves no room in kyushu: the second Job may wait for it (cheapest) or run
    # elsewhere, but never run there beside the first.
    assert (second["decision"], second.get("region")) != ("RunNow", "kyushu"), second
    first_done = wait_until(
        lambda: any(
            c.get("type") == "Complete" and c.get("status") == "True"
            for c in (kube.get("job", "first", ns).get("status") or {}).get("conditions") or []
        ),
        timeout=60,
        message="the first Job to complete",
    )
    assert first_done
    if second["decision"] == "Wait":
        released = wait_until(
            lambda: (s := status(kube, ns, "second")).get("decision") == "RunNow" and s,
            timeout=20,
            message="the waiting Job to take the freed GPUs at once",
        )
        assert released["region"] == "kyushu"
    else:
        kube.create(long_job("third", gpus=8), namespace=ns)
        third = wait_until(
            lambda: status(kube, ns, "third").get("region"), timeout=30, message="third"
        )
        assert third == "kyushu", "the completed Job's GPUs must be free for the next decision"


def test_a_kueue_queued_job_is_never_touched(
    kube: Kube, regions: list[str], namespace: str
) -> None:
    job = long_job("queued")
    job["metadata"]["labels"] = {
        "wattbit.io/deferrable": "true",
        "kueue.x-k8s.io/queue-name": "team-a",
    }
    job["spec"]["suspend"] = True  # as Kueue's webhook creates it
    kube.create(job, namespace=namespace)
    record = wait_until(
        lambda: (
            status(kube, namespace, "queued").get("reason") == "ManagedByKueue"
            and status(kube, namespace, "queued")
        ),
        timeout=60,
        message="the ManagedByKueue record",
    )
    assert record.get("decision") is None
    live = kube.get("job", "queued", namespace)
    assert live["spec"]["suspend"] is True
    writers = {
        entry.get("manager")
        for entry in kube.managed_fields("job", "queued", namespace)
        if "f:suspend" in json.dumps(entry.get("fieldsV1") or {})
    }
    # The creator owns it (managedFields are hidden by `kubectl get`; asked for here).
    assert writers, "no owner of spec.suspend: managedFields were not read"
    assert writers <= {"kubectl-create", "kubectl"}, writers
    assert "wattbit.io/released-at" not in (live["metadata"].get("annotations") or {})


def test_an_owner_created_suspended_job_is_the_owners_and_a_running_one_is_placed(
    kube: Kube, regions: list[str], namespace: str
) -> None:
    owner = kube.create(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "owner"}},
        namespace=namespace,
    )
    reference = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "name": "owner",
        "uid": owner["metadata"]["uid"],
        "controller": True,
    }
    theirs = long_job("theirs")
    theirs["metadata"]["ownerReferences"] = [reference]
    theirs["spec"]["suspend"] = True  # as a JobSet or a queue creates its Jobs
    ours = long_job("ours")
    ours["metadata"]["ownerReferences"] = [reference]  # as a CronJob creates its Jobs
    kube.create(theirs, namespace=namespace)
    kube.create(ours, namespace=namespace)
    wait_until(
        lambda: status(kube, namespace, "theirs").get("reason") == "ManagedByOwner",
        timeout=60,
        message="the ManagedByOwner record",
    )
    placed = wait_until(
        lambda: (s := status(kube, namespace, "ours")).get("decision") == "RunNow" and s,
        timeout=60,
        message="the owned Job its owner created running to be placed",
    )
    assert placed["region"] == "kyushu"
    assert kube.get("job", "theirs", namespace)["spec"]["suspend"] is True
