"""GPU counting per region (wattbit.k8s.capacity).

Covers: allocatable GPUs on ready, schedulable nodes only; bound pods count in
their node's region; released but unbound pods count in their annotated region;
gated and terminal pods do not count; a pod whose GPU quantity cannot be read (or is absurd,
``2k``) counts as none rather than failing the count, and so does a node's unreadable
allocatable; Regions over the same nodes: each node counts once, for the oldest Region, the
later one has none and is reported with the nodes it shares. (Decisions count capacity from
the reconcile loop's snapshot: tests/unit/test_snapshots.py.)
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from wattbit.k8s import names
from wattbit.k8s.capacity import (
    allocatable_gpus,
    by_precedence,
    node_gpus,
    node_owners,
    pod_gpus,
    region_gpus,
)

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


@pytest.mark.parametrize("value", ["2k", "1e9", "1.5", "-1"])
def test_absurd_or_fractional_gpu_requests_count_as_none(value: str) -> None:
    bad = pod(2, node_name="t1")
    bad["spec"]["containers"][0]["resources"]["limits"][names.GPU_RESOURCE] = value
    assert pod_gpus(bad) is None


@pytest.mark.parametrize(
    ("value", "gpus"),
    [("8", 8), (8, 8), ("1k", 1000), ("0", 0), ("lots", 0), ("1.5", 0), ("-2", 0), (None, 0),
     (True, 0), (-3, 0)],
    ids=repr,
)  # fmt: skip
def test_node_allocatable_gpus(value: object, gpus: int) -> None:
    assert allocatable_gpus(value) == gpus


def test_a_node_with_unreadable_allocatable_counts_none() -> None:
    bad = node("t9", "tokyo", 8)
    bad["status"]["allocatable"][names.GPU_RESOURCE] = "many"
    assert node_gpus(bad).allocatable_gpus == 0


def test_regions_are_ordered_oldest_first_then_by_name() -> None:
    early, late = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)
    assert by_precedence({"b": late, "c": None, "a": late, "z": early}) == ["z", "a", "b", "c"]


def test_overlapping_regions_count_each_node_once() -> None:
    selectors = {
        "tokyo": {names.REGION_LABEL: "tokyo"},
        "tokyo-again": {names.REGION_LABEL: "tokyo"},
        "kyushu": {names.REGION_LABEL: "kyushu"},
    }
    nodes = [node_gpus(n) for n in NODES]
    owners, overlaps = node_owners(selectors, nodes)
    assert owners == {"t1": "tokyo", "t2": "tokyo", "t3": "tokyo", "k1": "kyushu"}
    assert list(overlaps) == ["tokyo-again"]
    overlap = overlaps["tokyo-again"]
    assert (overlap.earlier, overlap.nodes) == ("tokyo", ("t1", "t2", "t3"))
    assert "Region tokyo" in overlap.message
    assert "t1, t2, t3" in overlap.message
    usage = [u for u in (pod_gpus(p) for p in [pod(2, node_name="t1")]) if u is not None]
    result = region_gpus(selectors, nodes, usage)
    assert (result["tokyo"].total, result["tokyo"].allocated) == (8, 2)
    assert (result["tokyo-again"].total, result["tokyo-again"].allocated) == (0, 0)
    assert result["kyushu"].total == 8


def test_a_partly_overlapping_region_has_no_nodes_of_its_own_either() -> None:
    """Placing there could land on the shared nodes: it takes no work until it is fixed."""
    selectors = {"kyushu": {names.REGION_LABEL: "kyushu"}, "everywhere": {}}
    result = region_gpus(selectors, [node_gpus(n) for n in NODES], [])
    assert result["everywhere"].total == 0
    assert result["kyushu"].total == 8
