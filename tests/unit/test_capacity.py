"""GPU counting per region (wattbit.k8s.capacity).

Covers: allocatable GPUs on ready, schedulable nodes only; bound pods count in
their node's region; released but unbound pods count in their annotated region;
gated and terminal pods do not count; a pod whose GPU quantity cannot be read
counts as none rather than failing the count. (Decisions count capacity from the
reconcile loop's snapshot: tests/unit/test_snapshots.py.)
"""

from __future__ import annotations

from typing import Any

from wattbit.k8s import names
from wattbit.k8s.capacity import node_gpus, pod_gpus, region_gpus

SELECTORS = {"tokyo": {names.REGION_LABEL: "tokyo"}, "kyushu": {names.REGION_LABEL: "kyushu"}}


def node(
    name: str, region: str, gpus: int, *, ready: bool = True, unschedulable: bool = False
) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": {names.REGION_LABEL: region}},
        "spec": {"unschedulable": unschedulable},
        "status": {
            "allocatable": {names.GPU_RESOURCE: str(gpus)},
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }


def pod(
    gpus: int,
    *,
    node_name: str | None = None,
    region: str | None = None,
    gated: bool = False,
    phase: str = "Pending",
    owner: str | None = None,
    uid: str = "pod-uid",
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"uid": uid, "annotations": {}}
    if region:
        metadata["annotations"][names.ANNOTATION_REGION] = region
    if owner:
        metadata["ownerReferences"] = [{"uid": owner, "controller": True, "kind": "Job"}]
    spec: dict[str, Any] = {
        "containers": [{"name": "c", "resources": {"limits": {names.GPU_RESOURCE: str(gpus)}}}]
    }
    if node_name:
        spec["nodeName"] = node_name
    if gated:
        spec["schedulingGates"] = [{"name": names.SCHEDULING_GATE}]
    return {"metadata": metadata, "spec": spec, "status": {"phase": phase}}


NODES = [
    node("t1", "tokyo", 8),
    node("t2", "tokyo", 8, ready=False),
    node("t3", "tokyo", 8, unschedulable=True),
    node("k1", "kyushu", 8),
]


def count(pods: list[dict[str, Any]]) -> dict[str, tuple[int, int, int]]:
    usage = [u for u in (pod_gpus(p) for p in pods) if u is not None]
    result = region_gpus(SELECTORS, [node_gpus(n) for n in NODES], usage)
    return {r: (c.total, c.allocated, c.free) for r, c in result.items()}


def test_only_ready_schedulable_nodes_count() -> None:
    assert count([]) == {"tokyo": (8, 0, 8), "kyushu": (8, 0, 8)}


def test_bound_and_released_pods_count_gated_and_finished_do_not() -> None:
    pods = [
        pod(2, node_name="t1"),
        pod(3, region="kyushu"),
        pod(4, region="kyushu", gated=True),
        pod(1, node_name="k1", phase="Succeeded"),
        pod(0, node_name="k1"),
    ]
    assert count(pods) == {"tokyo": (8, 2, 6), "kyushu": (8, 3, 5)}


def test_unreadable_gpu_quantity_counts_as_none() -> None:
    bad = pod(2, node_name="t1")
    bad["spec"]["containers"][0]["resources"]["limits"][names.GPU_RESOURCE] = "lots"
    assert pod_gpus(bad) is None
    assert count([bad, pod(2, node_name="t1")])["tokyo"] == (8, 2, 6)
