"""Pods that a controller replaces move through the Eviction API; standalone Pods never move.

Covers, on the real control plane (API server eviction subresource, disruption controller,
ReplicaSet controller, webhook, kube-scheduler, kwok):
- a deferrable Deployment's pod (1 replica, 4 GPUs, runs until deleted) is gated at creation
  and placed in tokyo by the loop (record `pod-<name>`); with a PodDisruptionBudget of
  `maxUnavailable: 0`, a curtailment in kyushu does not evict it: same pod (uid), still bound
  in tokyo, record reason EvictionBlocked, and a Warning Event with that reason carrying the
  API server's refusal;
- once the budget allows one disruption, the pod is evicted, and the ReplicaSet's replacement
  is gated by the webhook and placed in kyushu (bound to a kyushu node);
- a standalone deferrable Pod in the same situation is never evicted (same uid throughout,
  record reason NotMovable), with no budget to protect it.
Not here: Jobs (they move by suspension, test_reconcile.py and test_move_crash.py).
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import requests

from tests.integration.conftest import Operator
from tests.integration.kube import Kube, holds_for, wait_until
from tests.integration.test_placement import DEFERRABLE, gpu_container, node_region
from tests.integration.test_reconcile import (
    FAST_MOVES,
    policy,
    publish_kyushu,
    replace_signal,
    signal,
)

pytestmark = pytest.mark.integration

HINTS = {"wattbit.io/expected-duration": "4h"}


def deployment(name: str, *, gpus: int = 4) -> dict[str, Any]:
    labels = {"app": name, **DEFERRABLE}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": labels, "annotations": HINTS},
                "spec": {"containers": [gpu_container(gpus)]},
            },
        },
    }


def standalone_pod(name: str, *, gpus: int = 4) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": name, **DEFERRABLE}, "annotations": HINTS},
        "spec": {"containers": [gpu_container(gpus)]},
    }


def budget(name: str, app: str, *, max_unavailable: int) -> dict[str, Any]:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": name},
        "spec": {"maxUnavailable": max_unavailable, "selector": {"matchLabels": {"app": app}}},
    }


def live_pods(kube: Kube, namespace: str, app: str) -> list[Any]:
    """The app's pods that are not being deleted."""
    pods = kube.core.list_namespaced_pod(namespace, label_selector=f"app={app}").items
    return [p for p in pods if p.metadata and not p.metadata.deletion_timestamp]


def bound_in(kube: Kube, pod: Any, region: str) -> bool:
    return bool(pod.spec.node_name) and node_region(kube, pod.spec.node_name) == region


def record(kube: Kube, namespace: str, pod: str) -> dict[str, Any]:
    found = kube.find("workloadplacement", f"pod-{pod}", namespace) or {}
    return dict(found.get("status") or {})


def the_pod_in(kube: Kube, namespace: str, app: str, region: str) -> Any:
    """The app's one live pod once it is bound in `region`, else None."""
    pods = live_pods(kube, namespace, app)
    return pods[0] if len(pods) == 1 and bound_in(kube, pods[0], region) else None


def api_posts(operator: Operator) -> float:
    """POST requests the operator's client has sent (evictions are POSTs)."""
    text = requests.get(operator.metrics_url, timeout=5).text
    found = re.search(r'^wattbit_api_requests_total\{method="POST"\} (\S+)$', text, re.M)
    return float(found.group(1)) if found else 0.0


def pdb_settled(kube: Kube, namespace: str, name: str, allowed: int) -> bool:
    pdb = kube.get("pdb", name, namespace)
    status = pdb.get("status") or {}
    return (
        status.get("observedGeneration") == pdb["metadata"]["generation"]
        and status.get("disruptionsAllowed") == allowed
    )


@pytest.mark.usefixtures("kyushu_external")
def test_a_budget_blocks_the_eviction_until_it_allows_one(
    kube: Kube, namespace: str, operator: Operator
) -> None:
    ns = namespace
    kube.create(policy(allowedRegions=["tokyo", "kyushu"], **FAST_MOVES), namespace=ns)
    publish_kyushu(kube, ns, signal("expensive", carbon=480, price="16.0"))
    kube.create(budget("trainer", "trainer", max_unavailable=0), namespace=ns)
    kube.create(deployment("trainer"), namespace=ns)
    kube.create(standalone_pod("solo"), namespace=ns)
    first = wait_until(
        lambda: the_pod_in(kube, ns, "trainer", "tokyo"),
        timeout=90,
        message="the Deployment's pod to run in tokyo",
    )
    solo = wait_until(
        lambda: the_pod_in(kube, ns, "solo", "tokyo"),
        timeout=60,
        message="the standalone pod to run in tokyo",
    )
    name, uid = first.metadata.name, first.metadata.uid
    assert (first.metadata.annotations or {}).get("wattbit.io/held") == "true"
    placed = wait_until(
        lambda: (r := record(kube, ns, name)).get("region") and r,
        timeout=30,
        message="the pod's record",
    )
    # Released (RunNow), and once running, staying (Stay): placed there either way.
    assert (placed["decision"], placed["region"]) in {("RunNow", "tokyo"), ("Stay", "tokyo")}
    wait_until(
        lambda: pdb_settled(kube, ns, "trainer", 0),
        timeout=60,
        message="the disruption controller to process the budget",
    )

    replace_signal(kube, ns, signal("curtailment", carbon=20, price="0.01", curtailment=True))
    blocked = wait_until(
        lambda: (r := record(kube, ns, name)).get("reason") == "EvictionBlocked" and r,
        timeout=90,
        message="the record to say the eviction was blocked",
    )
    assert blocked["region"] == "tokyo"
    assert "disruption budget" in blocked["message"], blocked["message"]
    warnings = [
        e
        for e in kube.core.list_namespaced_event(
            ns, field_selector=f"involvedObject.name={name}"
        ).items
        if e.reason == "EvictionBlocked"
    ]
    assert warnings, "no EvictionBlocked Event"
    assert all(e.type == "Warning" for e in warnings)
    # The API server's own words (the budget that refused it), not just our reason.
    assert any("disruption budget" in (e.message or "") for e in warnings), warnings

    # Refused again on every pass (at least one full period): the same pod keeps running,
    # and a refusal waits for the next pass rather than being retried in a tight loop.
    posts_before = api_posts(operator)

    def still_there() -> bool:
        pods = live_pods(kube, ns, "trainer")
        return (
            [p.metadata.uid for p in pods] == [uid]
            and bound_in(kube, pods[0], "tokyo")
            and record(kube, ns, name).get("reason") == "EvictionBlocked"
        )

    holds_for(
        still_there,
        duration=35,
        interval=1,
        message="the budget keeps the pod where it is",
    )
    posts = api_posts(operator) - posts_before
    assert posts < 35 / 2, f"{posts:.0f} POSTs in 35 s while the eviction stays refused"
    not_movable = wait_until(
        lambda: (r := record(kube, ns, solo.metadata.name)).get("reason") == "NotMovable" and r,
        timeout=30,
        message="the standalone pod's record to say NotMovable",
    )
    assert not_movable["region"] == "tokyo"

    kube.kubectl(
        "patch",
        "pdb",
        "trainer",
        "-n",
        ns,
        "--type=merge",
        "-p",
        json.dumps({"spec": {"maxUnavailable": 1}}),
    )
    replacement = wait_until(
        lambda: (
            (p := the_pod_in(kube, ns, "trainer", "kyushu")) is not None
            and p.metadata.uid != uid
            and p
        ),
        timeout=120,
        message="the evicted pod's replacement to run in kyushu",
    )
    assert (replacement.metadata.annotations or {}).get("wattbit.io/held") == "true"
    moved_in = wait_until(
        lambda: (r := record(kube, ns, replacement.metadata.name)).get("region") and r,
        timeout=30,
        message="the replacement's record",
    )
    assert (moved_in["decision"], moved_in["region"]) in {("RunNow", "kyushu"), ("Stay", "kyushu")}
    assert all(p.metadata.uid != uid for p in live_pods(kube, ns, "trainer"))

    # The standalone pod was never evicted, and still says why it stays.
    assert [p.metadata.uid for p in live_pods(kube, ns, "solo")] == [solo.metadata.uid]
    assert record(kube, ns, solo.metadata.name)["reason"] == "NotMovable"
