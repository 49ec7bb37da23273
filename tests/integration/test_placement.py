"""The first vertical slice on the real control plane: hold, decide, place, run.

Covers, with the real operator, webhook, kube-scheduler, Job controller and kwok:
- a labelled Job is created suspended, placed in the cheapest region with an
  Event and a WorkloadPlacement that carry the reason and the numbers, then
  binds to a node of that region and completes;
- a labelled bare Pod is gated at creation, then bound in the cheapest region;
- an unlabelled Pod, and a labelled Pod in kube-system, pass untouched;
- a Job that no region can hold stays suspended with a condition and an Event
  saying why (InsufficientCapacity), and is not dropped;
- an invalid hint holds the workload with InvalidWorkload;
- the metrics show the regions' signals (fresh: not stale), the decision, and the
  webhook's admission of the Job (held, timed).
Not covered here: CRD validation (test_crd_validation.py), migration (later issues).
"""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
import requests

from tests.integration.conftest import Operator
from tests.integration.kube import REGION_SIGNALS, Kube, wait_until

pytestmark = pytest.mark.integration

DEFERRABLE = {"wattbit.io/deferrable": "true"}
REGION_LABEL = "topology.kubernetes.io/region"


def gpu_container(gpus: int) -> dict[str, Any]:
    return {
        "name": "train",
        "image": "registry.example/train:1",
        "resources": {"limits": {"nvidia.com/gpu": str(gpus), "cpu": "1", "memory": "1Gi"}},
    }


def training_job(
    name: str,
    *,
    gpus: int = 2,
    parallelism: int = 1,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    duration: str = "3s",
) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "labels": labels if labels is not None else DEFERRABLE,
            "annotations": annotations or {"wattbit.io/expected-duration": "2h"},
        },
        "spec": {
            "parallelism": parallelism,
            "completions": parallelism,
            "backoffLimit": 0,
            "template": {
                "metadata": {"annotations": {"wattbit.io/simulated-duration": duration}},
                "spec": {"restartPolicy": "Never", "containers": [gpu_container(gpus)]},
            },
        },
    }


def node_region(kube: Kube, node_name: str) -> str | None:
    node = kube.core.read_node(node_name)
    return (node.metadata.labels or {}).get(REGION_LABEL) if node.metadata else None


def placement(kube: Kube, namespace: str, name: str) -> dict[str, Any]:
    result = kube.custom.get_namespaced_custom_object(
        "wattbit.io", "v1alpha1", namespace, "workloadplacements", name
    )
    assert isinstance(result, dict)
    return result


def events_for(kube: Kube, namespace: str, name: str) -> list[Any]:
    events = kube.core.list_namespaced_event(
        namespace, field_selector=f"involvedObject.name={name}"
    )
    return list(events.items)


def condition(obj: dict[str, Any], type_: str) -> dict[str, Any] | None:
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c["type"] == type_:
            return dict(c)
    return None


def test_labelled_job_is_placed_in_the_cheapest_region_and_completes(
    kube: Kube, regions: list[str], namespace: str
) -> None:
    created = kube.create(training_job("train"), namespace=namespace)
    assert created["spec"]["suspend"] is True, "the webhook did not hold the Job"
    assert created["metadata"]["annotations"]["wattbit.io/held"] == "true"

    record = wait_until(
        lambda: (
            (p := placement(kube, namespace, "job-train")).get("status", {}).get("region") and p
        ),
        timeout=60,
        message="a placement decision",
    )
    status = record["status"]
    assert status["region"] == "kyushu"
    assert status["reason"] == "LowestCost"
    assert status["decision"] == "RunNow"
    assert {c["region"] for c in status["candidates"]} == set(REGION_SIGNALS)
    costs = {c["region"]: c["costJpy"] for c in status["candidates"]}
    assert costs["kyushu"] == min(costs.values())
    assert all(c["energyKwh"] > 0 and c["carbonKg"] > 0 for c in status["candidates"])
    placed = condition(record, "Placed")
    assert placed is not None
    assert placed["status"] == "True"
    owner = record["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"]) == ("Job", "train")

    event = wait_until(
        lambda: next(
            (e for e in events_for(kube, namespace, "train") if e.reason == "LowestCost"), None
        ),
        timeout=30,
        message="a LowestCost Event on the Job",
    )
    assert "kyushu" in event.message
    assert "JPY" in event.message

    def bound_pods() -> list[Any]:
        pods = kube.core.list_namespaced_pod(namespace, label_selector="job-name=train").items
        return [p for p in pods if p.spec and p.spec.node_name]

    pods = wait_until(bound_pods, timeout=60, message="the Job's pod to be bound")
    assert all(node_region(kube, p.spec.node_name) == "kyushu" for p in pods)

    def complete() -> bool:
        job = kube.batch.read_namespaced_job("train", namespace)
        return any(
            c.type == "Complete" and c.status == "True"
            for c in (job.status.conditions or [] if job.status else [])
        )

    wait_until(complete, timeout=90, message="the Job to complete")


def test_labelled_pod_is_gated_then_bound_in_the_cheapest_region(
    kube: Kube, regions: list[str], namespace: str
) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "notebook-batch", "labels": DEFERRABLE},
        "spec": {"restartPolicy": "Never", "containers": [gpu_container(1)]},
    }
    created = kube.create(pod, namespace=namespace)
    assert created["spec"]["schedulingGates"] == [{"name": "wattbit.io/placement"}]

    def bound() -> str | None:
        current = kube.core.read_namespaced_pod("notebook-batch", namespace)
        return current.spec.node_name if current.spec else None

    node_name = wait_until(bound, timeout=60, message="the gated Pod to be bound")
    assert node_region(kube, node_name) == "kyushu"
    current = kube.core.read_namespaced_pod("notebook-batch", namespace)
    assert current.spec is not None
    assert not current.spec.scheduling_gates
    record = placement(kube, namespace, "pod-notebook-batch")
    assert record["status"]["region"] == "kyushu"


def test_unlabelled_pods_and_kube_system_pass_untouched(
    kube: Kube, operator: object, namespace: str
) -> None:
    plain = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "plain"},
        "spec": {"containers": [gpu_container(1)]},
    }
    created = kube.create(plain, namespace=namespace)
    assert "schedulingGates" not in created["spec"]
    assert "wattbit.io/held" not in created["metadata"].get("annotations", {})

    system = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "wattbit-probe-system", "labels": DEFERRABLE},
        "spec": {"containers": [gpu_container(1)]},
    }
    in_system = kube.create(system, namespace="kube-system", dry_run=True)
    assert "schedulingGates" not in in_system["spec"]
    assert "affinity" not in in_system["spec"]
    assert "wattbit.io/held" not in in_system["metadata"].get("annotations", {})

    job = kube.create(training_job("plain-job", labels={}), namespace=namespace)
    assert not job["spec"].get("suspend")


def test_job_that_fits_nowhere_stays_suspended_with_a_reason(
    kube: Kube, regions: list[str], namespace: str
) -> None:
    # Three pods of 8 GPUs: more than any region's 16 allocatable GPUs.
    kube.create(training_job("too-big", gpus=8, parallelism=3), namespace=namespace)
    record = wait_until(
        lambda: (
            (p := placement(kube, namespace, "job-too-big")).get("status", {}).get("reason") and p
        ),
        timeout=60,
        message="a hold decision",
    )
    assert record["status"]["decision"] == "Hold"
    assert record["status"]["reason"] == "InsufficientCapacity"
    held = condition(record, "Held")
    assert held is not None
    assert held["status"] == "True"
    assert held["reason"] == "InsufficientCapacity"
    assert "24 GPU" in held["message"]
    event = wait_until(
        lambda: next(
            (
                e
                for e in events_for(kube, namespace, "too-big")
                if e.reason == "InsufficientCapacity"
            ),
            None,
        ),
        timeout=30,
        message="an InsufficientCapacity Event",
    )
    assert event.type == "Warning"
    time.sleep(6)  # longer than the retry interval: it must still be held, not dropped
    assert kube.get("job", "too-big", namespace)["spec"]["suspend"] is True
    assert not kube.core.list_namespaced_pod(namespace, label_selector="job-name=too-big").items


def test_invalid_hint_holds_the_workload_with_a_reason(
    kube: Kube, regions: list[str], namespace: str
) -> None:
    job = training_job("bad-hint", annotations={"wattbit.io/expected-duration": "forever"})
    kube.create(job, namespace=namespace)
    record = wait_until(
        lambda: (
            (p := placement(kube, namespace, "job-bad-hint")).get("status", {}).get("reason") and p
        ),
        timeout=60,
        message="a hold decision",
    )
    assert record["status"]["reason"] == "InvalidWorkload"
    assert "forever" in record["status"]["message"]
    assert kube.get("job", "bad-hint", namespace)["spec"]["suspend"] is True


def policy(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "wattbit.io/v1alpha1",
        "kind": "PlacementPolicy",
        "metadata": {"name": name},
        "spec": spec,
    }


def test_namespace_default_policy_limits_the_regions(
    kube: Kube, regions: list[str], namespace: str
) -> None:
    kube.create(policy("default", allowedRegions=["tokyo", "hokkaido"]), namespace=namespace)
    wait_until(lambda: kube.find("placementpolicy", "default", namespace), message="the policy")
    time.sleep(1)  # let the operator's policy index see it
    kube.create(training_job("restricted"), namespace=namespace)
    record = wait_until(
        lambda: (
            (p := placement(kube, namespace, "job-restricted")).get("status", {}).get("region")
            and p
        ),
        timeout=60,
        message="a placement decision",
    )
    # Kyushu is cheapest but not allowed; Hokkaido is the cheapest allowed region.
    assert record["status"]["region"] == "hokkaido"
    assert record["spec"]["policyName"] == "default"
    kyushu = next(c for c in record["status"]["candidates"] if c["region"] == "kyushu")
    assert (kyushu["eligible"], kyushu["reason"]) == (False, "RegionNotAllowed")


def test_dry_run_policy_records_the_decision_and_releases_unsteered(
    kube: Kube, regions: list[str], namespace: str
) -> None:
    kube.create(policy("audit", mode="DryRun"), namespace=namespace)
    wait_until(lambda: kube.find("placementpolicy", "audit", namespace), message="the policy")
    time.sleep(1)
    job = training_job(
        "audited",
        annotations={"wattbit.io/policy": "audit", "wattbit.io/expected-duration": "1h"},
    )
    created = kube.create(job, namespace=namespace)
    assert created["spec"]["suspend"] is True  # the webhook holds it either way
    record = wait_until(
        lambda: (
            (p := placement(kube, namespace, "job-audited")).get("status", {}).get("reason") and p
        ),
        timeout=60,
        message="a dry-run decision",
    )
    assert record["status"]["message"].startswith("dry run (audit): would place in kyushu")
    assert "region" not in record["status"]
    assert condition(record, "Placed")["reason"] == "DryRun"  # type: ignore[index]
    wait_until(
        lambda: kube.get("job", "audited", namespace)["spec"]["suspend"] is False,
        timeout=30,
        message="the Job to be released",
    )
    template = kube.get("job", "audited", namespace)["spec"]["template"]
    assert "affinity" not in template["spec"]
    wait_until(
        lambda: any(e.reason == "DryRun" for e in events_for(kube, namespace, "audited")),
        timeout=30,
        message="a DryRun Event",
    )


def test_metrics_report_regions_and_decisions(
    kube: Kube, regions: list[str], operator: Operator, namespace: str
) -> None:
    kube.create(training_job("measured"), namespace=namespace)
    wait_until(
        lambda: placement(kube, namespace, "job-measured").get("status", {}).get("region"),
        timeout=60,
        message="a placement decision",
    )

    def scrape() -> str | None:
        text = requests.get(operator.metrics_url, timeout=5).text
        return text if "wattbit_placement_decisions_total{" in text else None

    text = wait_until(scrape, timeout=30, message="decision metrics")
    assert 'wattbit_region_carbon_grams_per_kwh{region="kyushu"} 120.0' in text
    assert 'wattbit_region_price_jpy_per_kwh{region="kyushu"} 0.01' in text
    assert 'wattbit_region_gpus_free{region="tokyo"}' in text
    assert 'wattbit_region_signal_age_seconds{region="kyushu"}' in text
    assert (
        'wattbit_placement_decisions_total{decision="RunNow",reason="LowestCost",'
        'workload_kind="Job"}' in text
    )
    assert 'wattbit_region_signals_stale{region="kyushu"} 0.0' in text
    # The Job went through the webhook: held, and timed.
    held = re.search(r'^wattbit_admissions_total\{kind="Job",outcome="held"\} (\S+)$', text, re.M)
    assert held is not None
    assert float(held.group(1)) >= 1
    assert 'wattbit_webhook_duration_seconds_count{kind="Job"}' in text


def test_finished_runs_size_the_deadline_margin(
    kube: Kube, regions: list[str], operator: Operator, namespace: str
) -> None:
    # Ten Jobs expecting 2 h that finish in seconds: their runs are what the margin learns.
    for index in range(10):
        kube.create(training_job(f"quick-{index}", gpus=1), namespace=namespace)

    def completed() -> int:
        jobs = kube.batch.list_namespaced_job(namespace).items
        conditions = [(job.status.conditions if job.status else None) or [] for job in jobs]
        return len([c for c in conditions if any(x.type == "Complete" for x in c)])

    wait_until(lambda: completed() == 10, timeout=120, message="ten Jobs to complete")

    def learned() -> tuple[float, float] | None:
        text = requests.get(operator.metrics_url, timeout=5).text
        runs = re.search(r"^wattbit_finished_runs_observed (\S+)$", text, re.M)
        ratio = re.search(r"^wattbit_runtime_overrun_ratio (\S+)$", text, re.M)
        if runs is None or ratio is None or float(runs.group(1)) < 10:
            return None
        return float(runs.group(1)), float(ratio.group(1))

    runs, ratio = wait_until(learned, timeout=60, message="the overrun learned from ten runs")
    assert runs >= 10
    assert ratio == 0.0  # every run ended long before its estimate: no share is added
