"""`wattbit.k8s.snapshots.cluster_view`: the loop's view built from listed object bodies.

Matrix:
- Regions: parsed into entries; one that does not parse is left out;
- workloads: labelled Jobs; labelled bare Pods; a labelled Job's pod is not a workload; an
  unlabelled Job or Pod is not one;
- pods: GPU pods counted (terminal and GPU-less ones not); pods by controlling owner for those
  with GPUs or wattbit's annotations;
- records: keyed by (namespace, name) with the workload's uid; a status that does not parse
  reads as empty;
- policies keyed by (namespace, name); APNLinks by name with spec and status;
- the whole view feeds `plan_input`: a held Job is Pending with its snapshot.
Skipped on purpose: the kopf indexes themselves (tests/integration), and the per-body parsers'
own cases (test_snapshots.py).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from wattbit.k8s import names
from wattbit.k8s.snapshots import SnapshotSettings, Stage, cluster_view, plan_input

NOW = datetime(2026, 12, 2, 10, 30, tzinfo=UTC)
NS = "ml-team"
JOB_UID = "11111111-1111-1111-1111-111111111111"


def meta(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": NS,
        "uid": f"uid-{name}",
        "creationTimestamp": "2026-12-02T10:00:00Z",
        **extra,
    }


def region(name: str, carbon: float = 100.0) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {"gridArea": "JP-KY"},
        "status": {
            "signals": {
                "carbonGramsPerKwh": carbon,
                "priceJpyPerKwh": 10.0,
                "observedAt": "2026-12-02T10:29:00Z",
                "source": "static",
            }
        },
    }


def node(name: str, region_name: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": {names.REGION_LABEL: region_name}},
        "status": {
            "allocatable": {names.GPU_RESOURCE: "8"},
            "conditions": [{"type": "Ready", "status": "True"}],
        },
    }


def gpu_spec(gpus: int) -> dict[str, Any]:
    return {"containers": [{"name": "c", "resources": {"limits": {names.GPU_RESOURCE: gpus}}}]}


def held_job(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": meta(
            name,
            uid=JOB_UID,
            labels={names.LABEL_DEFERRABLE: "true"},
            annotations={names.ANNOTATION_HELD: "true"},
        ),
        "spec": {"suspend": True, "template": {"spec": gpu_spec(2)}},
    }


def pod(name: str, *, labels: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    metadata = meta(name, labels=labels or {}, **extra.pop("metadata", {}))
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": {**gpu_spec(extra.pop("gpus", 1)), **extra.pop("spec", {})},
        "status": extra.pop("status", {"phase": "Running"}),
    }


def job_pod(name: str) -> dict[str, Any]:
    owner = {"kind": "Job", "uid": JOB_UID, "controller": True, "name": "train"}
    return pod(
        name,
        labels={names.LABEL_DEFERRABLE: "true"},
        metadata={"ownerReferences": [owner]},
        spec={"nodeName": "k1"},
    )


def view(**overrides: Any) -> Any:
    bodies: dict[str, Any] = {
        "regions": [region("kyushu"), {"metadata": {"name": "broken"}, "spec": {}}],
        "nodes": [node("k1", "kyushu")],
        "pods": [],
        "jobs": [],
        "records": [],
        "policies": [],
        "links": [],
    }
    bodies.update(overrides)
    return cluster_view(now=NOW, **bodies)


def test_regions_parse_and_one_that_does_not_is_left_out() -> None:
    got = view()
    assert set(got.regions) == {"kyushu"}
    assert got.regions["kyushu"].status.signals is not None
    assert [n.name for n in got.nodes] == ["k1"]
    assert got.nodes[0].allocatable_gpus == 8


def test_workloads_are_labelled_jobs_and_bare_pods_only() -> None:
    unlabelled_job = held_job("other")
    unlabelled_job["metadata"]["labels"] = {}
    got = view(
        jobs=[held_job("train"), unlabelled_job],
        pods=[
            job_pod("train-abc"),
            pod("bare", labels={names.LABEL_DEFERRABLE: "true"}),
            pod("plain"),
        ],
    )
    assert sorted(w.key for w in got.workloads) == ["Job/ml-team/train", "Pod/ml-team/bare"]


def test_gpu_pods_and_pods_by_owner() -> None:
    got = view(
        pods=[
            job_pod("train-abc"),
            pod("done", status={"phase": "Succeeded"}),
            pod("cpu", gpus=0),
        ]
    )
    assert sorted(p.uid or "" for p in got.gpu_pods) == ["uid-train-abc"]
    assert [p.name for p in got.pods_by_owner[JOB_UID]] == ["train-abc"]


def test_records_policies_and_links_are_keyed_as_the_indexes_key_them() -> None:
    record = {
        "metadata": {"name": "job-train", "namespace": NS},
        "spec": {"workloadRef": {"uid": JOB_UID}},
        "status": {"decision": "Wait", "region": "kyushu"},
    }
    broken = {
        "metadata": {"name": "job-x", "namespace": NS},
        "spec": {},
        "status": {"decision": "NotADecision"},
    }
    policy = {"metadata": {"name": "default", "namespace": NS}, "spec": {"mode": "DryRun"}}
    link = {"metadata": {"name": "a-b"}, "spec": {"fromRegion": "a"}, "status": {"moves": 1}}
    got = view(records=[record, broken], policies=[policy], links=[link])
    entry = got.records[(NS, "job-train")]
    assert entry.workload_uid == JOB_UID
    assert entry.status.region == "kyushu"
    assert got.records[(NS, "job-x")].status.decision is None
    assert got.policies[(NS, "default")] == {"mode": "DryRun"}
    assert got.links["a-b"] == {"spec": {"fromRegion": "a"}, "status": {"moves": 1}}


def test_the_view_feeds_the_planner_input() -> None:
    plan = plan_input(view(jobs=[held_job("train")]), SnapshotSettings())
    (managed,) = plan.managed
    assert managed.stage is Stage.PENDING
    assert managed.snapshot is not None
    assert managed.snapshot.gpus == 2
    assert [r.name for r in plan.regions] == ["kyushu"]
    assert plan.regions[0].free_gpus[0] == 8
