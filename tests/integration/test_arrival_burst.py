"""A burst of arrivals on the real control plane: decided by arrivals passes, once each.

Covers, with the real operator, webhook, kube-scheduler and kwok (3 regions x 2 nodes x 8
GPUs): 60 one-GPU deferrable Pods created in waves of 10 (8 threads), their policy starting them
at once. The loop's arrivals passes release them as they come; the 48 that fit are released and
bound, never more in a region than its 16 GPUs, and the 12 left are held with
InsufficientCapacity; every Pod has one WorkloadPlacement, created once, and exactly one Event
of its decision (no workload decided twice while the watches lag behind the passes). The
operator's log shows arrivals passes. Printed, not asserted: create -> release p50 and max.
"""

from __future__ import annotations

import statistics
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.integration.conftest import Operator
from tests.integration.kube import Kube, wait_until

pytestmark = pytest.mark.integration

GATE = "wattbit.io/placement"
REGION_LABEL = "topology.kubernetes.io/region"
PODS = 60
WAVE = 10
GPUS_PER_REGION = 16


def gpu_pod(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "labels": {"wattbit.io/deferrable": "true"},
            "annotations": {"wattbit.io/expected-duration": "4h"},
        },
        "spec": {
            "restartPolicy": "Never",
            "containers": [
                {
                    "name": "train",
                    "image": "registry.example/train:1",
                    "resources": {"limits": {"nvidia.com/gpu": "1", "cpu": "10m"}},
                }
            ],
        },
    }


def test_a_burst_is_released_once_each_within_capacity(
    kube: Kube, operator: Operator, regions: list[str], namespace: str
) -> None:
    kube.apply(
        {
            "apiVersion": "wattbit.io/v1alpha1",
            "kind": "PlacementPolicy",
            "metadata": {"name": "default", "namespace": namespace},
            "spec": {"toleranceWindowMinutes": 0},
        }
    )
    log_start = len(operator.log())
    names = [f"burst-{i:03d}" for i in range(PODS)]
    created: dict[str, float] = {}

    def create(name: str) -> None:
        body: Any = gpu_pod(name)
        kube.core.create_namespaced_pod(namespace, body, _preload_content=False)
        created[name] = time.time()

    # In waves, so that most arrive between passes, as a burst through the webhook does.
    with ThreadPoolExecutor(max_workers=8) as pool:
        for wave in range(0, PODS, WAVE):
            list(pool.map(create, names[wave : wave + WAVE]))
            time.sleep(1.5)

    released_at: dict[str, float] = {}

    def placements() -> list[dict[str, Any]]:
        listed: Any = kube.custom.list_namespaced_custom_object(
            "wattbit.io", "v1alpha1", namespace, "workloadplacements"
        )
        return list(listed["items"])

    def pods() -> list[Any]:
        return list(kube.core.list_namespaced_pod(namespace).items)

    def settled() -> list[Any] | None:
        items = pods()
        for pod in items:
            if not any(g.name == GATE for g in pod.spec.scheduling_gates or []):
                released_at.setdefault(pod.metadata.name, time.time())
        records = placements()
        decided = Counter((r.get("status") or {}).get("decision") for r in records)
        done = (
            decided["Hold"] == PODS - len(released_at) and len(released_at) == 3 * GPUS_PER_REGION
        )
        return items if done else None

    wait_until(settled, timeout=180, interval=0.2, message="every Pod decided")
    # Once more after a full period: nothing was released or recorded twice meanwhile.
    time.sleep(35)
    items = pods()
    records = placements()
    decisions = Counter(r["status"]["decision"] for r in records)
    assert len(records) == PODS
    # Released: RunNow, then Stay once a full pass has seen it running.
    assert decisions["RunNow"] + decisions["Stay"] == 3 * GPUS_PER_REGION, decisions
    assert decisions["Hold"] == PODS - 3 * GPUS_PER_REGION, decisions
    assert {r["status"]["reason"] for r in records if r["status"]["decision"] == "Hold"} == {
        "InsufficientCapacity"
    }

    # Never more released into a region than it has GPUs.
    node_region = {
        n.metadata.name: (n.metadata.labels or {}).get(REGION_LABEL)
        for n in kube.core.list_node().items
        if n.metadata is not None
    }
    by_region = Counter(node_region.get(p.spec.node_name) for p in items if p.spec.node_name)
    ungated = [p for p in items if not any(g.name == GATE for g in p.spec.scheduling_gates or [])]
    assert len(ungated) == 3 * GPUS_PER_REGION
    assert all(count <= GPUS_PER_REGION for count in by_region.values()), by_region
    for record in records:
        status = record["status"]
        if status["decision"] in ("RunNow", "Stay"):
            assert status["region"] in regions

    # One Event of its decision per Pod: none decided twice.
    events = kube.core.list_namespaced_event(namespace).items
    ours = Counter(
        e.involved_object.name
        for e in events
        if e.source and e.source.component == "wattbit" and e.involved_object.kind == "Pod"
    )
    assert set(ours) == set(names)
    assert set(ours.values()) == {1}, {n: c for n, c in ours.items() if c != 1}

    log = operator.log()[log_start:]
    assert "reconcile (arrivals)" in log
    waits = [released_at[n] - created[n] for n in released_at]
    print(
        f"\n{len(waits)} released: create -> release p50 {statistics.median(waits):.2f} s, "
        f"max {max(waits):.2f} s; passes that acted: {log.count('reconcile (full)')} full, "
        f"{log.count('reconcile (arrivals)')} arrivals"
    )
