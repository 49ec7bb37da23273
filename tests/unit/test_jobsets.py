"""JobSets and TrainJobs as placement sees them, and the patches that place them."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.test_admission import NOW
from wattbit.k8s import admission, names
from wattbit.k8s.hints import read_hints_all
from wattbit.k8s.jobsets import (
    TrainingRuntime,
    jobset_object,
    training_runtime,
    trainjob_object,
)
from wattbit.k8s.objects import PodSet, WorkloadKind, jobset_pods_key, pod_group_keys
from wattbit.k8s.workloads import TRAINJOB_PATCH_MANAGER, jobset_placement, trainjob_placement

REGION = {names.REGION_LABEL: "kyushu"}


def pod_template(gpus: int, *, grace: int | None = None) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "node", "image": "trainer"}
    if gpus:
        container["resources"] = {"limits": {names.GPU_RESOURCE: str(gpus)}}
    spec: dict[str, Any] = {"containers": [container]}
    if grace is not None:
        spec["terminationGracePeriodSeconds"] = grace
    return {"spec": spec}


def replicated(name: str, replicas: int, parallelism: int, gpus: int, **kw: Any) -> dict[str, Any]:
    return {
        "name": name,
        "replicas": replicas,
        "template": {
            "spec": {
                "parallelism": parallelism,
                "completions": parallelism,
                "template": pod_template(gpus, **kw),
            }
        },
    }


def jobset_body(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "jobset.x-k8s.io/v1alpha2",
        "kind": "JobSet",
        "metadata": {
            "namespace": "ml",
            "name": "pretrain",
            "uid": "u-1",
            "resourceVersion": "42",
            "creationTimestamp": "2026-12-07T00:00:00Z",
            "labels": {names.LABEL_DEFERRABLE: "true"},
            "annotations": {names.ANNOTATION_HELD: "true"},
        },
        "spec": {
            "suspend": True,
            "replicatedJobs": [
                replicated("launcher", 1, 1, 0, grace=30),
                replicated("workers", 2, 4, 8, grace=600),
            ],
            **spec,
        },
    }


def test_a_jobset_has_one_pod_set_per_replicated_job() -> None:
    obj = jobset_object(jobset_body())
    assert obj.kind is WorkloadKind.JOBSET
    assert [(s.name, s.count) for s in obj.pod_sets] == [("launcher", 1), ("workers", 8)]
    assert obj.gpus() == 64  # 2 replicas x 4 pods x 8 GPUs; the launcher has none
    assert obj.pods == 8  # the main (GPU) pod set stands for the workload's pods
    assert obj.suspended
    assert obj.held
    assert not obj.finished
    assert obj.pods_key == jobset_pods_key("ml", "pretrain")


@pytest.mark.parametrize(
    "status",
    [
        {"terminalState": "Completed"},
        {"terminalState": "Failed"},
        {"conditions": [{"type": "Completed", "status": "True"}]},
    ],
)
def test_a_jobset_in_a_terminal_state_is_finished(status: dict[str, Any]) -> None:
    assert jobset_object({**jobset_body(), "status": status}).finished


def test_hints_sum_gpus_over_pod_sets_and_take_the_shortest_grace() -> None:
    obj = jobset_object(jobset_body())
    hints, errors = read_hints_all(
        pod_spec=obj.pod_spec,
        pods=obj.pods,
        annotations={},
        created_at=obj.created_at,
        default_gpu_power_watts=700,
        default_expected_duration_s=3600,
        pod_sets=[(s.pod_spec, s.count) for s in obj.pod_sets],
    )
    assert errors == ()
    assert hints is not None
    assert hints.gpus == 64
    assert hints.termination_grace_s == 30


def test_jobset_placement_adds_the_region_to_every_template_and_keeps_the_rest() -> None:
    body = jobset_body()
    body["spec"]["replicatedJobs"][1]["template"]["spec"]["template"]["spec"]["nodeSelector"] = {
        "gpu": "h100",
        names.REGION_LABEL: "tokyo",
    }
    patch = jobset_placement(body["spec"], REGION)
    selectors = [
        r["template"]["spec"]["template"]["spec"]["nodeSelector"] for r in patch["replicatedJobs"]
    ]
    assert selectors == [REGION, {"gpu": "h100", names.REGION_LABEL: "kyushu"}]
    # Nothing else changes (a suspended JobSet refuses any other template change), and the
    # object read is not modified.
    for before, after in zip(body["spec"]["replicatedJobs"], patch["replicatedJobs"], strict=True):
        assert after["replicas"] == before["replicas"]
        assert after["template"]["spec"]["parallelism"] == before["template"]["spec"]["parallelism"]
    assert (
        body["spec"]["replicatedJobs"][0]["template"]["spec"]["template"]["spec"].get(
            "nodeSelector"
        )
        is None
    )


RUNTIME = {
    "metadata": {"name": "torch-distributed"},
    "spec": {
        "mlPolicy": {"numNodes": 1},
        "template": {
            "spec": {
                "replicatedJobs": [
                    replicated("dataset-initializer", 1, 1, 0),
                    replicated("node", 1, 1, 1),
                ]
            }
        },
    },
}


def trainjob_body(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "trainer.kubeflow.org/v1alpha1",
        "kind": "TrainJob",
        "metadata": {
            "namespace": "ml",
            "name": "finetune",
            "uid": "u-2",
            "resourceVersion": "7",
            "creationTimestamp": "2026-12-07T00:00:00Z",
            "labels": {names.LABEL_DEFERRABLE: "true"},
        },
        "spec": {
            "runtimeRef": {"name": "torch-distributed", "kind": "ClusterTrainingRuntime"},
            "trainer": {
                "numNodes": 4,
                "resourcesPerNode": {"limits": {names.GPU_RESOURCE: "8"}},
            },
            "suspend": True,
            **spec,
        },
    }


def runtimes() -> dict[tuple[str, str, str], TrainingRuntime]:
    runtime = training_runtime("ClusterTrainingRuntime", RUNTIME)
    return {runtime.key: runtime}


def test_a_trainjob_takes_its_pod_sets_from_its_runtime_resized_by_its_trainer() -> None:
    obj = trainjob_object(trainjob_body(), runtimes())
    assert obj.kind is WorkloadKind.TRAINJOB
    assert [(s.name, s.count) for s in obj.pod_sets] == [("dataset-initializer", 1), ("node", 4)]
    assert obj.gpus() == 32
    assert obj.pods_key == jobset_pods_key("ml", "finetune")


def test_a_trainjob_without_its_runtime_still_counts_its_trainer_nodes() -> None:
    obj = trainjob_object(trainjob_body(), {})
    assert [(s.name, s.count) for s in obj.pod_sets] == [("node", 4)]
    assert obj.gpus() == 32


def test_a_trainjob_without_num_nodes_takes_the_runtimes() -> None:
    body = trainjob_body(trainer={"resourcesPerNode": {"limits": {names.GPU_RESOURCE: "2"}}})
    assert trainjob_object(body, runtimes()).gpus() == 2


def test_a_trainjob_publishing_its_remaining_time_is_read() -> None:
    body = {
        **trainjob_body(),
        "status": {
            "trainerStatus": {
                "estimatedRemainingSeconds": 5400,
                "lastUpdatedTime": "2026-12-07T01:00:00Z",
            },
            "conditions": [{"type": "Complete", "status": "False"}],
        },
    }
    obj = trainjob_object(body, runtimes())
    assert obj.estimated_remaining_s == 5400.0
    assert not obj.finished


def test_trainjob_placement_keeps_other_managers_entries_and_replaces_its_own() -> None:
    kueue = {"manager": "kueue.x-k8s.io/manager", "trainingRuntimeSpec": {}}
    old_ours = {"manager": TRAINJOB_PATCH_MANAGER, "trainingRuntimeSpec": {}}
    obj = trainjob_object(trainjob_body(runtimePatches=[kueue, old_ours]), runtimes())
    patch = trainjob_placement(obj, REGION)
    entries = patch["runtimePatches"]
    assert [e["manager"] for e in entries] == ["kueue.x-k8s.io/manager", TRAINJOB_PATCH_MANAGER]
    ours = entries[1]["trainingRuntimeSpec"]["template"]["spec"]["replicatedJobs"]
    assert [job["name"] for job in ours] == ["dataset-initializer", "node"]
    assert all(
        job["template"]["spec"]["template"]["spec"]["nodeSelector"] == REGION for job in ours
    )


def test_pods_of_a_jobset_are_found_by_its_label_as_well_as_their_owner() -> None:
    body = {
        "metadata": {
            "namespace": "ml",
            "labels": {"jobset.sigs.k8s.io/jobset-name": "pretrain"},
        }
    }
    assert pod_group_keys(body, "job-uid") == ("job-uid", jobset_pods_key("ml", "pretrain"))
    assert pod_group_keys({"metadata": {"namespace": "ml"}}, None) == ()


def test_pod_set_gpus() -> None:
    assert PodSet(name="w", count=3, pod_spec=pod_template(2)["spec"]).gpus() == 6


@pytest.mark.parametrize("kind", ["JobSet", "TrainJob"])
def test_the_webhook_holds_a_deferrable_jobset_or_trainjob(kind: str) -> None:
    body = {
        "kind": kind,
        "metadata": {"labels": {names.LABEL_DEFERRABLE: "true"}},
        "spec": {"suspend": False},
    }
    patch = admission.hold_job(body, namespace="ml", excluded_namespaces=(), now=NOW)
    assert patch is not None
    assert patch["spec"] == {"suspend": True}


@pytest.mark.parametrize("owner", ["JobSet", "TrainJob"])
def test_the_webhook_leaves_a_jobset_or_trainjob_child_to_its_owner(owner: str) -> None:
    body = {
        "metadata": {
            "labels": {names.LABEL_DEFERRABLE: "true"},
            "ownerReferences": [{"kind": owner, "controller": True, "name": "x", "uid": "u"}],
        },
        "spec": {},
    }
    assert admission.hold_job(body, namespace="ml", excluded_namespaces=(), now=NOW) is None
