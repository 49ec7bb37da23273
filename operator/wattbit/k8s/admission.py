"""What the mutating webhook changes on a new workload, as pure functions.

A deferrable Job, JobSet or TrainJob is created suspended; a deferrable bare Pod gets the
``wattbit.io/placement`` scheduling gate. Everything else passes unchanged:
unlabelled workloads, the excluded namespaces (kube-system and the operator's
own), Pods owned by a Job (the Job is the unit that wattbit holds and places),
and workloads a person already holds (a Job created suspended stays theirs).

The functions return a JSON-merge-style patch (a dict) or ``None``; the kopf
handler applies it. They never read the cluster.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

from wattbit.k8s import names


def is_deferrable(body: Mapping[str, Any]) -> bool:
    labels = body.get("metadata", {}).get("labels") or {}
    return labels.get(names.LABEL_DEFERRABLE) == "true"


def _held_annotations(now: datetime) -> dict[str, str]:
    return {names.ANNOTATION_HELD: "true", names.ANNOTATION_HELD_AT: now.isoformat()}


def out_of_scope(body: Mapping[str, Any], namespace: str | None, excluded: Collection[str]) -> bool:
    """True for a workload the webhook never looks at: unlabelled or in an excluded namespace."""
    return not is_deferrable(body) or not namespace or namespace in excluded


def hold_job(
    body: Mapping[str, Any],
    *,
    namespace: str | None,
    excluded_namespaces: Collection[str],
    now: datetime,
) -> dict[str, Any] | None:
    """Patch that creates a deferrable Job, JobSet or TrainJob suspended, or None to admit it
    unchanged. A JobSet's Job and a TrainJob's JobSet pass: their owner is the unit."""
    if out_of_scope(body, namespace, excluded_namespaces):
        return None
    if body.get("spec", {}).get("suspend") is True:
        # Created suspended by its owner (or a queue such as Kueue): not ours to release.
        return None
    if _controlled_by(body, ("JobSet", "TrainJob")):
        return None
    labels = body.get("metadata", {}).get("labels") or {}
    if names.ANNOTATION_QUEUE_NAME in labels:
        # Kueue's own webhook suspends it; wattbit places it through its AdmissionCheck.
        return None
    return {"metadata": {"annotations": _held_annotations(now)}, "spec": {"suspend": True}}


def _controlled_by(body: Mapping[str, Any], kinds: Collection[str]) -> bool:
    owners = body.get("metadata", {}).get("ownerReferences") or []
    return any(o.get("kind") in kinds and o.get("controller") for o in owners)


def _controlled_by_job(body: Mapping[str, Any]) -> bool:
    return _controlled_by(body, ("Job",))


def gate_pod(
    body: Mapping[str, Any],
    *,
    namespace: str | None,
    excluded_namespaces: Collection[str],
    now: datetime,
) -> dict[str, Any] | None:
    """Patch that adds the placement gate to a deferrable bare Pod, or None."""
    if out_of_scope(body, namespace, excluded_namespaces) or _controlled_by_job(body):
        return None
    spec = body.get("spec", {})
    if spec.get("nodeName"):
        # Already bound by its creator: gates are rejected on bound pods.
        return None
    gates = list(spec.get("schedulingGates") or [])
    if any(g.get("name") == names.SCHEDULING_GATE for g in gates):
        return None
    gates.append({"name": names.SCHEDULING_GATE})
    return {"metadata": {"annotations": _held_annotations(now)}, "spec": {"schedulingGates": gates}}
