"""The batch stack itself (hack/batch-stack-up.sh), with no wattbit involved: the real JobSet,
Kubeflow Trainer and Kueue controllers against the local control plane and its kwok nodes.

Covers: a JobSet with two replicated jobs gets one child Job per replica, whose pods run on kwok
nodes and succeed, and the JobSet completes; a TrainJob on the torch-distributed runtime becomes
a JobSet (owned by the TrainJob) whose pods run; a Job labelled with a LocalQueue is created
suspended by Kueue's webhook, admitted (unsuspended) within its ClusterQueue's GPU quota, and a
second one waits suspended until the first finishes and releases the quota; a queued JobSet is
likewise created suspended and admitted, and so is a queued TrainJob (Kueue manages the TrainJob,
not its JobSet); and with an AdmissionCheck on the ClusterQueue (the
test plays its controller, as wattbit will), Kueue reserves quota but keeps the Job suspended
while the check is Pending, then admits it with the check's podSetUpdates nodeSelector.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.batch import QUEUE_NAME_LABEL, TRAINING_RUNTIME, BatchStack, kueue_queue
from tests.integration.kube import Kube, holds_for, wait_until

pytestmark = pytest.mark.integration

JOBSET_NAME_LABEL = "jobset.sigs.k8s.io/jobset-name"


def _items(kube: Kube, resource: str, namespace: str, *selector: str) -> list[dict[str, Any]]:
    args = ["get", resource, "-n", namespace, "-o", "json"]
    if selector:
        args += ["-l", ",".join(selector)]
    items: list[dict[str, Any]] = json.loads(kube.kubectl(*args).stdout)["items"]
    return items


def _condition(obj: dict[str, Any] | None, kind: str) -> bool:
    conditions = ((obj or {}).get("status") or {}).get("conditions") or []
    return any(c["type"] == kind and c["status"] == "True" for c in conditions)


def _pod_template(duration: str | None, gpus: int = 1) -> dict[str, Any]:
    annotations = {"wattbit.io/simulated-duration": duration} if duration else {}
    return {
        "metadata": {"annotations": annotations},
        "spec": {
            "restartPolicy": "Never",
            "containers": [
                {
                    "name": "main",
                    "image": "busybox",
                    "resources": {
                        "requests": {"cpu": "1", "nvidia.com/gpu": str(gpus)},
                        "limits": {"nvidia.com/gpu": str(gpus)},
                    },
                }
            ],
        },
    }


def _jobset(
    name: str, duration: str | None, labels: dict[str, str] | None = None
) -> dict[str, Any]:
    """Two replicated jobs: `leader` (1 Job) and `workers` (2 Jobs), one 1-GPU pod each."""

    def replicated(rjob: str, replicas: int) -> dict[str, Any]:
        return {
            "name": rjob,
            "replicas": replicas,
            "template": {
                "spec": {
                    "parallelism": 1,
                    "completions": 1,
                    "backoffLimit": 0,
                    "template": _pod_template(duration),
                }
            },
        }

    return {
        "apiVersion": "jobset.x-k8s.io/v1alpha2",
        "kind": "JobSet",
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {
            "suspend": False,
            "replicatedJobs": [replicated("leader", 1), replicated("workers", 2)],
        },
    }


def _running_on_kwok(pods: list[dict[str, Any]], count: int) -> bool:
    """`count` pods, each bound to a kwok node and Running or Succeeded."""
    return len(pods) == count and all(
        p["spec"].get("nodeName", "").startswith("kwok-")
        and p["status"].get("phase") in ("Running", "Succeeded")
        for p in pods
    )


def test_stack_is_up(kube: Kube, batch_stack: BatchStack) -> None:
    assert set(batch_stack.components) == {"jobset", "trainer", "kueue"}
    for crd in (
        "jobsets.jobset.x-k8s.io",
        "trainjobs.trainer.kubeflow.org",
        "clustertrainingruntimes.trainer.kubeflow.org",
        "workloads.kueue.x-k8s.io",
        "clusterqueues.kueue.x-k8s.io",
    ):
        assert crd in batch_stack.crds
    assert kube.find("clustertrainingruntime", TRAINING_RUNTIME) is not None
    # Idempotent: a second start finds every controller ready and changes nothing.
    pids = (batch_stack.state_dir / "batch-pids").read_text()
    from tests.integration.batch import start_batch_stack  # noqa: PLC0415

    again = start_batch_stack(kube)
    assert again.components == batch_stack.components
    assert (batch_stack.state_dir / "batch-pids").read_text() == pids


def test_jobset_runs_its_replicated_jobs_on_kwok_nodes(
    kube: Kube, batch_stack: BatchStack, namespace: str
) -> None:
    kube.create(_jobset("js", duration="3s"), namespace=namespace)

    def child_jobs() -> list[str] | None:
        jobs = _items(kube, "jobs", namespace, f"{JOBSET_NAME_LABEL}=js")
        names = sorted(j["metadata"]["name"] for j in jobs)
        return names if len(names) == 3 else None

    names = wait_until(child_jobs, timeout=60, message=f"3 child Jobs\n{batch_stack.log('jobset')}")
    assert names == ["js-leader-0", "js-workers-0", "js-workers-1"]
    wait_until(
        lambda: _running_on_kwok(_items(kube, "pods", namespace, f"{JOBSET_NAME_LABEL}=js"), 3),
        timeout=60,
        message="the JobSet's 3 pods to run on kwok nodes",
    )
    wait_until(
        lambda: _condition(kube.find("jobset", "js", namespace), "Completed"),
        timeout=60,
        message=f"the JobSet to complete\n{batch_stack.log('jobset')}",
    )
    pods = _items(kube, "pods", namespace, f"{JOBSET_NAME_LABEL}=js")
    assert {p["status"]["phase"] for p in pods} == {"Succeeded"}


def test_trainjob_becomes_a_jobset(kube: Kube, batch_stack: BatchStack, namespace: str) -> None:
    kube.create(
        {
            "apiVersion": "trainer.kubeflow.org/v1alpha1",
            "kind": "TrainJob",
            "metadata": {"name": "train"},
            "spec": {"runtimeRef": {"name": TRAINING_RUNTIME}, "trainer": {"numNodes": 2}},
        },
        namespace=namespace,
    )
    jobset = wait_until(
        lambda: kube.find("jobset", "train", namespace),
        timeout=60,
        message=f"the TrainJob's JobSet\n{batch_stack.log('trainer')}",
    )
    owners = jobset["metadata"].get("ownerReferences") or []
    assert [(o["kind"], o["name"]) for o in owners] == [("TrainJob", "train")]
    assert [r["name"] for r in jobset["spec"]["replicatedJobs"]] == ["node"]
    wait_until(
        lambda: _running_on_kwok(_items(kube, "pods", namespace, f"{JOBSET_NAME_LABEL}=train"), 2),
        timeout=60,
        message=f"the TrainJob's 2 pods to run on kwok nodes\n{batch_stack.log('jobset')}",
    )


@pytest.fixture
def queue(kube: Kube, batch_stack: BatchStack, namespace: str) -> Iterator[str]:
    """A LocalQueue (named after the namespace) in `namespace`, on a ClusterQueue of that
    name with 4 GPUs and 100 CPUs of quota in one ResourceFlavor."""
    name = namespace
    kube.apply(*kueue_queue(name, namespace, gpus=4))
    wait_until(
        lambda: _condition(kube.find("localqueue", name, namespace), "Active"),
        timeout=60,
        message=f"the LocalQueue to be Active\n{batch_stack.log('kueue')}",
    )
    yield name
    # Cluster-scoped: not removed with the namespace. Kueue's finalizers hold them until the
    # namespace's workloads are gone, so do not wait.
    kube.kubectl("delete", "clusterqueue", name, "--wait=false", check=False)
    kube.kubectl("delete", "resourceflavor", name, "--wait=false", check=False)


def _job(name: str, queue: str, pods: int, duration: str | None) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "labels": {QUEUE_NAME_LABEL: queue}},
        "spec": {
            "suspend": False,
            "parallelism": pods,
            "completions": pods,
            "backoffLimit": 0,
            "template": _pod_template(duration),
        },
    }


def _workload_of(kube: Kube, namespace: str, kind: str, name: str) -> dict[str, Any] | None:
    for workload in _items(kube, "workloads.kueue.x-k8s.io", namespace):
        owners = workload["metadata"].get("ownerReferences") or []
        if any(o["kind"] == kind and o["name"] == name for o in owners):
            return workload
    return None


def test_kueue_admits_queued_jobs_within_quota(
    kube: Kube, batch_stack: BatchStack, namespace: str, queue: str
) -> None:
    # 4 GPUs of quota: `first` takes all 4; `second` must wait until `first` finishes.
    first = kube.create(_job("first", queue, pods=4, duration="15s"), namespace=namespace)
    second = kube.create(_job("second", queue, pods=2, duration="1s"), namespace=namespace)
    assert first["spec"]["suspend"] is True, "Kueue's webhook did not suspend a queued Job"
    assert second["spec"]["suspend"] is True

    wait_until(
        lambda: kube.get("job", "first", namespace)["spec"]["suspend"] is False,
        timeout=60,
        message=f"Kueue to admit (unsuspend) the first Job\n{batch_stack.log('kueue')}",
    )
    assert _condition(_workload_of(kube, namespace, "Job", "first"), "Admitted")
    wait_until(
        lambda: _running_on_kwok(_items(kube, "pods", namespace, "job-name=first"), 4),
        timeout=60,
        message="the first Job's 4 pods to run on kwok nodes",
    )
    # While `first` holds the quota, `second` stays suspended and its workload unadmitted.
    second_workload = wait_until(
        lambda: _workload_of(kube, namespace, "Job", "second"),
        timeout=30,
        message="the second Job's Workload",
    )
    holds_for(
        lambda: (
            kube.get("job", "second", namespace)["spec"]["suspend"] is True
            and not _condition(
                kube.find("workload", second_workload["metadata"]["name"], namespace),
                "QuotaReserved",
            )
        ),
        duration=5,
        message="the second Job waits for quota",
    )
    wait_until(
        lambda: _condition(kube.get("job", "second", namespace), "Complete"),
        timeout=90,
        message=f"the second Job to be admitted after the first and complete\n"
        f"{batch_stack.log('kueue')}",
    )
    assert _condition(kube.get("job", "first", namespace), "Complete")


def test_kueue_admits_a_queued_jobset(
    kube: Kube, batch_stack: BatchStack, namespace: str, queue: str
) -> None:
    created = kube.create(
        _jobset("queued", duration=None, labels={QUEUE_NAME_LABEL: queue}), namespace=namespace
    )
    assert created["spec"]["suspend"] is True, "Kueue's webhook did not suspend a queued JobSet"
    wait_until(
        lambda: kube.get("jobset", "queued", namespace)["spec"].get("suspend") is False,
        timeout=60,
        message=f"Kueue to admit (unsuspend) the JobSet\n{batch_stack.log('kueue')}",
    )
    workload = _workload_of(kube, namespace, "JobSet", "queued")
    assert _condition(workload, "Admitted")
    assert workload is not None
    assert [p["count"] for p in workload["spec"]["podSets"]] == [1, 2]
    wait_until(
        lambda: _running_on_kwok(_items(kube, "pods", namespace, f"{JOBSET_NAME_LABEL}=queued"), 3),
        timeout=60,
        message=f"the queued JobSet's 3 pods to run on kwok nodes\n{batch_stack.log('jobset')}",
    )


def test_kueue_admits_only_once_an_admission_check_is_ready(
    kube: Kube, batch_stack: BatchStack, namespace: str
) -> None:
    """The flow an AdmissionCheck controller (wattbit) drives, played here by the test: the
    check must be marked Active by its controller, Kueue then reserves quota but keeps the
    Job suspended while the check is Pending, and admits it with the check's podSetUpdates
    (a region nodeSelector) once the check is Ready."""
    name = namespace
    controller = "wattbit.io/carbon-aware"
    kube.apply(
        {
            "apiVersion": "kueue.x-k8s.io/v1beta2",
            "kind": "AdmissionCheck",
            "metadata": {"name": name},
            "spec": {"controllerName": controller},
        },
    )
    try:
        # Only the check's controller marks it Active; until then its ClusterQueue is inactive.
        kube.kubectl(
            "patch", "admissioncheck", name, "--subresource=status", "--type=merge", "-p",
            json.dumps({"status": {"conditions": [{
                "type": "Active", "status": "True", "reason": "Active", "message": "test",
                "lastTransitionTime": "2026-01-01T00:00:00Z",
            }]}}),
        )  # fmt: skip
        kube.apply(*kueue_queue(name, namespace, gpus=8, check=name))
        wait_until(
            lambda: _condition(kube.find("localqueue", name, namespace), "Active"),
            timeout=60,
            message=f"the LocalQueue to be Active\n{batch_stack.log('kueue')}",
        )
        kube.create(_job("checked", name, pods=2, duration=None), namespace=namespace)

        def pending_check() -> dict[str, Any] | None:
            workload = _workload_of(kube, namespace, "Job", "checked")
            checks = ((workload or {}).get("status") or {}).get("admissionChecks") or []
            reserved = _condition(workload, "QuotaReserved")
            return workload if reserved and [c["state"] for c in checks] == ["Pending"] else None

        workload = wait_until(
            pending_check,
            timeout=60,
            message=f"quota reserved with the check Pending\n{batch_stack.log('kueue')}",
        )
        holds_for(
            lambda: kube.get("job", "checked", namespace)["spec"]["suspend"] is True,
            duration=3,
            message="the Job stays suspended while the check is Pending",
        )
        assert not _condition(workload, "Admitted")
        kube.kubectl(
            "patch", "workload", workload["metadata"]["name"], "-n", namespace,
            "--subresource=status", "--type=merge", "-p",
            json.dumps({"status": {"admissionChecks": [{
                "name": name, "state": "Ready", "message": "window open",
                "lastTransitionTime": "2026-01-01T00:00:00Z",
                "podSetUpdates": [
                    {"name": "main", "nodeSelector": {"topology.kubernetes.io/region": "kyushu"}}
                ],
            }]}}),
        )  # fmt: skip
        wait_until(
            lambda: kube.get("job", "checked", namespace)["spec"]["suspend"] is False,
            timeout=60,
            message=f"Kueue to admit the Job once its check is Ready\n{batch_stack.log('kueue')}",
        )
        job = kube.get("job", "checked", namespace)
        assert job["spec"]["template"]["spec"]["nodeSelector"] == {
            "topology.kubernetes.io/region": "kyushu"
        }
        wait_until(
            lambda: _running_on_kwok(_items(kube, "pods", namespace, "job-name=checked"), 2),
            timeout=60,
            message="the checked Job's pods to run",
        )
        pods = _items(kube, "pods", namespace, "job-name=checked")
        assert {p["spec"]["nodeName"].rsplit("-", 1)[0] for p in pods} == {"kwok-kyushu"}
    finally:
        kube.kubectl("delete", "job", "--all", "-n", namespace, "--wait=false", check=False)
        for kind in ("clusterqueue", "admissioncheck", "resourceflavor"):
            kube.kubectl("delete", kind, name, "--wait=false", check=False)


def test_kueue_admits_a_queued_trainjob(
    kube: Kube, batch_stack: BatchStack, namespace: str, queue: str
) -> None:
    """Kueue manages the TrainJob itself (one pod set per replicated job of its runtime), not
    the JobSet the trainer makes of it."""
    gpu = {"nvidia.com/gpu": "1"}
    created = kube.create(
        {
            "apiVersion": "trainer.kubeflow.org/v1alpha1",
            "kind": "TrainJob",
            "metadata": {"name": "train", "labels": {QUEUE_NAME_LABEL: queue}},
            "spec": {
                "runtimeRef": {"name": TRAINING_RUNTIME},
                "trainer": {"numNodes": 2, "resourcesPerNode": {"requests": gpu, "limits": gpu}},
            },
        },
        namespace=namespace,
    )
    assert created["spec"]["suspend"] is True, "Kueue's webhook did not suspend a queued TrainJob"
    wait_until(
        lambda: kube.get("trainjob", "train", namespace)["spec"].get("suspend") is False,
        timeout=60,
        message=f"Kueue to admit (unsuspend) the TrainJob\n{batch_stack.log('kueue')}",
    )
    workload = _workload_of(kube, namespace, "TrainJob", "train")
    assert _condition(workload, "Admitted")
    assert workload is not None
    assert [(p["name"], p["count"]) for p in workload["spec"]["podSets"]] == [("node", 2)]
    assert _workload_of(kube, namespace, "JobSet", "train") is None
    wait_until(
        lambda: _running_on_kwok(_items(kube, "pods", namespace, f"{JOBSET_NAME_LABEL}=train"), 2),
        timeout=60,
        message=f"the queued TrainJob's 2 pods to run\n{batch_stack.log('trainer')}",
    )
