"""What the webhook changes at creation (wattbit.k8s.admission).

Covers: a labelled Job is suspended and annotated; an unlabelled Job, a Job in
kube-system or the operator namespace, and a Job created suspended by its owner
pass unchanged; a labelled bare Pod gets the gate (other gates kept, never
twice); Job-owned Pods, bound Pods and excluded namespaces pass unchanged.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from wattbit.k8s import admission, names

NOW = datetime(2026, 4, 15, 3, 0, tzinfo=UTC)
EXCLUDED = frozenset({"kube-system", "wattbit-system"})


def job(labels: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    return {
        "kind": "Job",
        "metadata": {"name": "train", "labels": labels or {}},
        "spec": {"template": {"spec": {"containers": []}}, **spec},
    }


def pod(
    labels: dict[str, str] | None = None, owners: list[dict[str, Any]] | None = None, **spec: Any
) -> dict[str, Any]:
    return {
        "kind": "Pod",
        "metadata": {"name": "p", "labels": labels or {}, "ownerReferences": owners or []},
        "spec": {"containers": [], **spec},
    }


DEFERRABLE = {names.LABEL_DEFERRABLE: "true"}


def hold(body: dict[str, Any], namespace: str = "ml") -> dict[str, Any] | None:
    return admission.hold_job(body, namespace=namespace, excluded_namespaces=EXCLUDED, now=NOW)


def gate(body: dict[str, Any], namespace: str = "ml") -> dict[str, Any] | None:
    return admission.gate_pod(body, namespace=namespace, excluded_namespaces=EXCLUDED, now=NOW)


def test_labelled_job_is_created_suspended_and_marked_held() -> None:
    patch = hold(job(DEFERRABLE))
    assert patch is not None
    assert patch["spec"] == {"suspend": True}
    assert patch["metadata"]["annotations"][names.ANNOTATION_HELD] == "true"
    assert patch["metadata"]["annotations"][names.ANNOTATION_HELD_AT] == NOW.isoformat()


def test_jobs_that_are_not_ours_pass_unchanged() -> None:
    assert hold(job()) is None
    assert hold(job({names.LABEL_DEFERRABLE: "false"})) is None
    assert hold(job(DEFERRABLE), namespace="kube-system") is None
    assert hold(job(DEFERRABLE), namespace="wattbit-system") is None
    assert hold(job(DEFERRABLE, suspend=True)) is None


def test_labelled_pod_is_gated_and_other_gates_are_kept() -> None:
    patch = gate(pod(DEFERRABLE, schedulingGates=[{"name": "example.com/quota"}]))
    assert patch is not None
    assert patch["spec"]["schedulingGates"] == [
        {"name": "example.com/quota"},
        {"name": names.SCHEDULING_GATE},
    ]


def test_pods_that_are_not_ours_pass_unchanged() -> None:
    job_owner = [{"kind": "Job", "name": "train", "uid": "u", "controller": True}]
    assert gate(pod()) is None
    assert gate(pod(DEFERRABLE), namespace="kube-system") is None
    assert gate(pod(DEFERRABLE), namespace="wattbit-system") is None
    assert gate(pod(DEFERRABLE, owners=job_owner)) is None
    assert gate(pod(DEFERRABLE, nodeName="node-1")) is None
    assert gate(pod(DEFERRABLE, schedulingGates=[{"name": names.SCHEDULING_GATE}])) is None
