"""wattbit with the batch stack GPU clusters run: JobSets, Kubeflow TrainJobs and Kueue.

Real JobSet, Trainer and Kueue controllers (hack/batch-stack-up.sh), the real operator, its
webhook, kube-scheduler and kwok nodes:
- a JobSet and a TrainJob are held at creation, wait for a forecast cheaper hour (record:
  Wait), run in the chosen region once now is cheapest elsewhere (their pods on its nodes),
  and move after a curtailment PowerSignal through every phase, with the move on the receipt;
  a JobSet in a Region set Unavailable is drained out of it;
- a Kueue-queued Job and JobSet are admitted by Kueue within quota only after wattbit's
  AdmissionCheck is Ready; their pods land in the region wattbit chose; a Job moves through
  deactivation and re-admission; wattbit never writes `suspend` on them (managedFields);
- with wattbit stopped, a queued Job stays pending behind the check (Kueue reserves quota,
  the Job stays suspended), and is admitted once wattbit is back.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.integration.batch import QUEUE_NAME_LABEL, TRAINING_RUNTIME, BatchStack, kueue_queue
from tests.integration.conftest import Operator
from tests.integration.kube import Kube, holds_for, wait_until
from tests.integration.test_placement import node_region
from tests.integration.test_reconcile import (
    FAST_MOVES,
    policy,
    publish_kyushu,
    replace_signal,
    signal,
)

pytestmark = pytest.mark.integration

DEFERRABLE = {"wattbit.io/deferrable": "true"}
JOBSET_NAME_LABEL = "jobset.sigs.k8s.io/jobset-name"
CHECK_CONTROLLER = "wattbit.io/carbon-aware"
MOVE_PHASES = [
    "Planned",
    "CheckpointRequested",
    "NoticeElapsed",
    "Suspended",
    "PodsGone",
    "Repointed",
    "Resumed",
    "Running",
]


def pod_template(gpus: int) -> dict[str, Any]:
    # No simulated duration: kwok keeps the pods running until they are deleted. Only CPU and
    # GPUs, the resources the test ClusterQueues cover.
    container = {
        "name": "node",
        "image": "registry.example/train:1",
        "resources": {
            "requests": {"cpu": "1", "nvidia.com/gpu": str(gpus)},
            "limits": {"nvidia.com/gpu": str(gpus)},
        },
    }
    return {"spec": {"restartPolicy": "Never", "containers": [container]}}


def jobset(name: str, *, labels: dict[str, str], annotations: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "jobset.x-k8s.io/v1alpha2",
        "kind": "JobSet",
        "metadata": {"name": name, "labels": labels, "annotations": annotations},
        "spec": {
            "replicatedJobs": [
                {
                    "name": "workers",
                    "replicas": 2,
                    "template": {
                        "spec": {
                            "parallelism": 1,
                            "completions": 1,
                            "backoffLimit": 0,
                            "template": pod_template(2),
                        }
                    },
                }
            ]
        },
    }


def trainjob(name: str, *, annotations: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "trainer.kubeflow.org/v1alpha1",
        "kind": "TrainJob",
        "metadata": {"name": name, "labels": DEFERRABLE, "annotations": annotations},
        "spec": {
            "runtimeRef": {"name": TRAINING_RUNTIME},
            "trainer": {
                "numNodes": 2,
                "resourcesPerNode": {
                    "requests": {"cpu": "1", "nvidia.com/gpu": "2"},
                    "limits": {"nvidia.com/gpu": "2"},
                },
            },
        },
    }


@pytest.fixture(scope="module")
def served(kube: Kube, batch_stack: BatchStack, operator: Operator) -> BatchStack:
    """Until the running operator serves the kinds whose CRDs the batch stack installed after
    it started (handlers/discovery.py): a labelled dry-run JobSet and TrainJob come back held.
    Within about RESCAN_SECONDS plus the API's discovery; before it, kopf passed them unheld."""

    def held(manifest: dict[str, Any]) -> bool:
        probe = {**manifest, "metadata": {**manifest["metadata"], "namespace": "default"}}
        result = kube.kubectl(
            "create", "-n", "default", "--dry-run=server", "-o", "json", "-f", "-",
            input_text=json.dumps(probe), check=False,
        )  # fmt: skip
        return result.returncode == 0 and json.loads(result.stdout)["spec"].get("suspend") is True

    wait_until(
        lambda: (
            held(jobset("probe", labels=DEFERRABLE, annotations={}))
            and held(trainjob("probe", annotations={}))
        ),
        timeout=90,
        message=f"the operator to serve JobSets and TrainJobs\n{operator.log()[-3000:]}",
    )
    return batch_stack


def record(kube: Kube, namespace: str, kind: str, name: str) -> dict[str, Any]:
    found = kube.find("workloadplacement", f"{kind.lower()}-{name}", namespace) or {}
    return dict(found.get("status") or {})


def running_regions(kube: Kube, namespace: str, selector: str) -> set[str | None]:
    """Regions whose nodes run the (not terminating) pods matching a label selector."""
    pods = kube.core.list_namespaced_pod(namespace, label_selector=selector).items
    return {
        node_region(kube, p.spec.node_name)
        for p in pods
        if p.spec
        and p.spec.node_name
        and p.status
        and p.status.phase == "Running"
        and not (p.metadata and p.metadata.deletion_timestamp)
    }


def jobset_pods_regions(kube: Kube, namespace: str, jobset_name: str) -> set[str | None]:
    return running_regions(kube, namespace, f"{JOBSET_NAME_LABEL}={jobset_name}")


def suspend_writers(entries: list[dict[str, Any]]) -> set[str]:
    """Field managers that own `spec.suspend`, from an object's managedFields."""
    return {
        str(entry.get("manager"))
        for entry in entries
        if '"f:suspend"' in json.dumps(entry.get("fieldsV1") or {})
    }


def wait_run_move(
    kube: Kube,
    namespace: str,
    *,
    resource: str,
    kind: str,
    name: str,
    pods_of: str,
    log: str,
) -> dict[str, Any]:
    """Drive a held workload through Wait -> RunNow (tokyo) -> Move (kyushu), asserting each
    step on the cluster; returns the final record."""
    waiting = wait_until(
        lambda: (s := record(kube, namespace, kind, name)).get("decision") == "Wait" and s,
        timeout=90,
        message=f"a Wait decision for the {kind}\n{log}",
    )
    assert waiting["reason"] == "WaitingForGreenerWindow"
    assert kube.get(resource, name, namespace)["spec"]["suspend"] is True
    assert jobset_pods_regions(kube, namespace, pods_of) == set()

    # No cheaper hour ahead any more: it runs now, where it is cheapest (tokyo).
    replace_signal(kube, namespace, signal("expensive", carbon=480, price="16.0"))
    placed = wait_until(
        lambda: (s := record(kube, namespace, kind, name)).get("decision") == "RunNow" and s,
        timeout=90,
        message=f"the release once no later hour is cheaper\n{log}",
    )
    assert placed["region"] == "tokyo"
    wait_until(
        lambda: jobset_pods_regions(kube, namespace, pods_of) == {"tokyo"},
        timeout=90,
        message=f"the {kind}'s pods to run in tokyo\n{log}",
    )

    replace_signal(
        kube, namespace, signal("curtailment", carbon=20, price="0.01", curtailment=True)
    )
    done = wait_until(
        lambda: (
            (m := record(kube, namespace, kind, name).get("migration") or {}).get("phase")
            == "Running"
            and m
        ),
        timeout=180,
        message=f"the {kind}'s move to complete\n{log}",
    )
    assert (done["fromRegion"], done["toRegion"]) == ("tokyo", "kyushu")
    assert [entry["phase"] for entry in done["history"]] == MOVE_PHASES
    wait_until(
        lambda: jobset_pods_regions(kube, namespace, pods_of) == {"kyushu"},
        timeout=90,
        message=f"the {kind}'s pods to run in kyushu\n{log}",
    )
    receipt = wait_until(
        lambda: (r := record(kube, namespace, kind, name).get("receipt") or {}).get("moves") and r,
        timeout=60,
        message=f"the move on the {kind}'s receipt",
    )
    booked = receipt["moves"][0]
    assert (booked["fromRegion"], booked["toRegion"]) == ("tokyo", "kyushu")
    assert {run["region"] for run in receipt["intervals"]} == {"tokyo"}
    final = record(kube, namespace, kind, name)
    assert final["moves"] == 1
    return final


def hold_with_forecast(kube: Kube, namespace: str) -> dict[str, str]:
    """Kyushu expensive now and nearly free in 3 h (the workload waits); its annotations."""
    kube.create(policy(allowedRegions=["tokyo", "kyushu"], **FAST_MOVES), namespace=namespace)
    publish_kyushu(
        kube,
        namespace,
        signal("forecast", carbon=480, price="16.0", forecast=((timedelta(hours=3), 20, "0.01"),)),
    )
    deadline = (datetime.now(UTC) + timedelta(hours=24)).isoformat()
    return {"wattbit.io/expected-duration": "4h", "wattbit.io/deadline": deadline}


def test_a_jobset_waits_runs_where_chosen_and_moves(
    kube: Kube, batch_stack: BatchStack, served: BatchStack, kyushu_external: str
) -> None:
    ns = kyushu_external
    annotations = hold_with_forecast(kube, ns)
    kube.create(jobset("pretrain", labels=DEFERRABLE, annotations=annotations), namespace=ns)
    live = kube.get("jobset", "pretrain", ns)
    assert live["spec"]["suspend"] is True  # held by wattbit's webhook
    assert live["metadata"]["annotations"]["wattbit.io/held"] == "true"
    wait_run_move(
        kube,
        ns,
        resource="jobset",
        kind="JobSet",
        name="pretrain",
        pods_of="pretrain",
        log=batch_stack.log("jobset"),
    )
    templates = kube.get("jobset", "pretrain", ns)["spec"]["replicatedJobs"]
    assert {
        t["template"]["spec"]["template"]["spec"]["nodeSelector"]["topology.kubernetes.io/region"]
        for t in templates
    } == {"kyushu"}
    assert "ManagedByOwner" not in {record(kube, ns, "JobSet", "pretrain").get("reason")}


def test_a_trainjob_waits_runs_where_chosen_and_moves(
    kube: Kube, batch_stack: BatchStack, served: BatchStack, kyushu_external: str
) -> None:
    ns = kyushu_external
    annotations = hold_with_forecast(kube, ns)
    kube.create(trainjob("finetune", annotations=annotations), namespace=ns)
    assert kube.get("trainjob", "finetune", ns)["spec"]["suspend"] is True
    # The TrainJob's own JobSet (same name) is the TrainJob's: no record of its own.
    final = wait_run_move(
        kube,
        ns,
        resource="trainjob",
        kind="TrainJob",
        name="finetune",
        pods_of="finetune",
        log=batch_stack.log("trainer"),
    )
    assert final["region"] == "kyushu"
    patches = kube.get("trainjob", "finetune", ns)["spec"]["runtimePatches"]
    (ours,) = (p for p in patches if p["manager"] == "wattbit.io/placer")
    (node,) = ours["trainingRuntimeSpec"]["template"]["spec"]["replicatedJobs"]
    assert node["name"] == "node"
    assert node["template"]["spec"]["template"]["spec"]["nodeSelector"] == {
        "topology.kubernetes.io/region": "kyushu"
    }
    assert kube.find("workloadplacement", "jobset-finetune", ns) is None


# ---------------------------------------------------------------- Kueue


@pytest.fixture
def checked_queue(kube: Kube, batch_stack: BatchStack, namespace: str) -> Iterator[str]:
    """A LocalQueue on a ClusterQueue with 8 GPUs of quota and a wattbit AdmissionCheck."""
    name = namespace
    check = {
        "apiVersion": "kueue.x-k8s.io/v1beta2",
        "kind": "AdmissionCheck",
        "metadata": {"name": name},
        "spec": {"controllerName": CHECK_CONTROLLER},
    }
    kube.apply(check, *kueue_queue(name, namespace, gpus=8, check=name))

    def active(resource: str, ns: str | None = None) -> bool:
        found = kube.find(resource, name, ns) or {}
        return any(
            c["type"] == "Active" and c["status"] == "True"
            for c in (found.get("status") or {}).get("conditions") or []
        )

    # wattbit marks its check Active; only then is the ClusterQueue (and the LocalQueue) usable.
    wait_until(
        lambda: active("admissioncheck"),
        timeout=60,
        message=f"wattbit to mark its AdmissionCheck Active\n{batch_stack.log('kueue')}",
    )
    wait_until(
        lambda: active("localqueue", namespace),
        timeout=60,
        message=f"the LocalQueue to be Active\n{batch_stack.log('kueue')}",
    )
    yield name
    kube.kubectl("delete", "clusterqueue", name, "--wait=false", check=False)
    kube.kubectl("delete", "admissioncheck", name, "--wait=false", check=False)
    kube.kubectl("delete", "resourceflavor", name, "--wait=false", check=False)


def queued_job(name: str, queue: str, *, pods: int = 2) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "labels": {**DEFERRABLE, QUEUE_NAME_LABEL: queue},
            "annotations": {"wattbit.io/expected-duration": "4h"},
        },
        "spec": {
            "parallelism": pods,
            "completions": pods,
            "backoffLimit": 0,
            "template": pod_template(2),
        },
    }


def kueue_workload(kube: Kube, namespace: str, kind: str, name: str) -> dict[str, Any] | None:
    items = json.loads(
        kube.kubectl("get", "workloads.kueue.x-k8s.io", "-n", namespace, "-o", "json").stdout
    )["items"]
    for workload in items:
        owners = workload["metadata"].get("ownerReferences") or []
        if any(o["kind"] == kind and o["name"] == name for o in owners):
            return dict(workload)
    return None


def check_of(workload: dict[str, Any] | None, name: str) -> dict[str, Any]:
    checks = ((workload or {}).get("status") or {}).get("admissionChecks") or []
    return next((dict(c) for c in checks if c["name"] == name), {})


def job_pods_regions(kube: Kube, namespace: str, job: str) -> set[str | None]:
    return running_regions(kube, namespace, f"job-name={job}")


def test_a_queued_job_is_admitted_through_wattbits_check_and_moved_by_readmission(
    kube: Kube,
    batch_stack: BatchStack,
    served: BatchStack,
    kyushu_external: str,
    checked_queue: str,
) -> None:
    ns, queue = kyushu_external, checked_queue  # both named after the test's namespace
    checked = checked_queue
    kube.create(policy(allowedRegions=["tokyo", "kyushu"], **FAST_MOVES), namespace=ns)
    publish_kyushu(kube, ns, signal("expensive", carbon=480, price="16.0"))
    kube.create(queued_job("queued", queue), namespace=ns)
    log = batch_stack.log("kueue")

    ready = wait_until(
        lambda: (
            (c := check_of(kueue_workload(kube, ns, "Job", "queued"), checked)).get("state")
            == "Ready"
            and c
        ),
        timeout=90,
        message=f"wattbit's check to be Ready\n{log}",
    )
    assert ready["podSetUpdates"][0]["nodeSelector"] == {"topology.kubernetes.io/region": "tokyo"}
    wait_until(
        lambda: job_pods_regions(kube, ns, "queued") == {"tokyo"},
        timeout=90,
        message=f"Kueue to admit the Job into tokyo\n{batch_stack.log('kueue')}",
    )
    placed = record(kube, ns, "Job", "queued")
    assert placed["decision"] == "RunNow"
    assert placed["region"] == "tokyo"

    replace_signal(kube, ns, signal("curtailment", carbon=20, price="0.01", curtailment=True))
    done = wait_until(
        lambda: (
            (m := record(kube, ns, "Job", "queued").get("migration") or {}).get("phase")
            == "Running"
            and m
        ),
        timeout=180,
        message=f"the move through Kueue to complete\n{batch_stack.log('kueue')}",
    )
    assert (done["fromRegion"], done["toRegion"]) == ("tokyo", "kyushu")
    wait_until(
        lambda: job_pods_regions(kube, ns, "queued") == {"kyushu"},
        timeout=90,
        message=f"the re-admitted Job's pods to run in kyushu\n{batch_stack.log('kueue')}",
    )
    workload = kueue_workload(kube, ns, "Job", "queued")
    assert workload is not None
    assert workload["spec"].get("active", True) is True
    assert check_of(workload, checked)["podSetUpdates"][0]["nodeSelector"] == {
        "topology.kubernetes.io/region": "kyushu"
    }
    live = kube.get("job", "queued", ns)
    entries = kube.managed_fields("job", "queued", ns)
    managers = {entry["manager"] for entry in entries}
    assert "wattbit-operator" in managers, managers  # its annotations: its writes are named so
    writers = suspend_writers(entries)
    assert writers, entries  # someone (Kueue's webhook and controller) owns suspend
    assert "wattbit-operator" not in writers, writers
    assert not any("openapi" in w.lower() for w in writers), writers
    assert live["metadata"]["annotations"]["wattbit.io/region"] == "kyushu"


def test_a_queued_jobset_is_admitted_in_the_region_wattbit_chose(
    kube: Kube, batch_stack: BatchStack, served: BatchStack, checked_queue: str, regions: list[str]
) -> None:
    ns = checked_queue  # the queue is named after the namespace
    labels = {**DEFERRABLE, QUEUE_NAME_LABEL: checked_queue}
    kube.create(
        jobset("queued-set", labels=labels, annotations={"wattbit.io/expected-duration": "2h"}),
        namespace=ns,
    )
    wait_until(
        lambda: (
            check_of(kueue_workload(kube, ns, "JobSet", "queued-set"), checked_queue).get("state")
            == "Ready"
        ),
        timeout=90,
        message=f"wattbit's check on the JobSet to be Ready\n{batch_stack.log('kueue')}",
    )
    chosen = record(kube, ns, "JobSet", "queued-set")["region"]
    wait_until(
        lambda: jobset_pods_regions(kube, ns, "queued-set") == {chosen},
        timeout=90,
        message=f"the JobSet's pods to run in {chosen}\n{batch_stack.log('kueue')}",
    )
    writers = suspend_writers(kube.managed_fields("jobset", "queued-set", ns))
    assert writers
    assert "wattbit-operator" not in writers, writers
    assert not any("openapi" in w.lower() for w in writers), writers


def test_with_wattbit_stopped_a_queued_job_waits_behind_the_check_until_it_is_back(
    kube: Kube,
    served: BatchStack,
    operator: Operator,
    checked_queue: str,
    regions: list[str],
) -> None:
    batch_stack = served
    ns = checked_queue
    operator.stop()
    try:
        kube.create(queued_job("patient", checked_queue), namespace=ns)
        wait_until(
            lambda: any(
                c["type"] == "QuotaReserved" and c["status"] == "True"
                for c in (
                    (kueue_workload(kube, ns, "Job", "patient") or {}).get("status") or {}
                ).get("conditions")
                or []
            ),
            timeout=60,
            message=f"Kueue to reserve quota\n{batch_stack.log('kueue')}",
        )
        holds_for(
            lambda: kube.get("job", "patient", ns)["spec"]["suspend"] is True,
            duration=5,
            message="the Job stays suspended while wattbit is away",
        )
        workload = kueue_workload(kube, ns, "Job", "patient")
        assert check_of(workload, checked_queue)["state"] == "Pending"
        # Why it waits is on the check itself.
        active = kube.get("admissioncheck", checked_queue)["status"]["conditions"]
        assert any("not running" in c["message"] for c in active if c["type"] == "Active")
    finally:
        operator.start()
    wait_until(
        lambda: kube.get("job", "patient", ns)["spec"].get("suspend") is False,
        timeout=90,
        message=f"the Job to be admitted once wattbit is back\n{batch_stack.log('kueue')}",
    )
    assert record(kube, ns, "Job", "patient")["decision"] == "RunNow"


def test_a_region_set_unavailable_drains_a_jobset(
    kube: Kube, served: BatchStack, kyushu_external: str
) -> None:
    ns = kyushu_external
    kube.create(policy(**FAST_MOVES), namespace=ns)
    publish_kyushu(kube, ns, signal("cheap", carbon=20, price="0.01"))
    kube.create(
        jobset("evacuee", labels=DEFERRABLE, annotations={"wattbit.io/expected-duration": "4h"}),
        namespace=ns,
    )
    wait_until(
        lambda: jobset_pods_regions(kube, ns, "evacuee") == {"kyushu"},
        timeout=90,
        message=f"the JobSet to run in kyushu\n{served.log('jobset')}",
    )
    kube.kubectl(
        "patch", "region", "kyushu", "--type=merge", "-p",
        json.dumps({"spec": {"availability": "Unavailable"}}),
    )  # fmt: skip
    moved = wait_until(
        lambda: (
            (m := record(kube, ns, "JobSet", "evacuee").get("migration") or {}).get("phase")
            == "Running"
            and m
        ),
        timeout=120,
        message=f"the drain to move the JobSet out\n{served.log('jobset')}",
    )
    assert moved["reason"] == "RegionDraining"
    assert moved["toRegion"] != "kyushu"
    wait_until(
        lambda: jobset_pods_regions(kube, ns, "evacuee") == {moved["toRegion"]},
        timeout=90,
        message="the JobSet's pods to run in the new region",
    )
