"""kopf indexes: in-memory views of Nodes, GPU Pods, Regions, PlacementPolicies, APNLinks,
deferrable workloads, their pods and their WorkloadPlacement records.

Decisions read these instead of listing the API server on every reconcile. An
index function returns ``{}`` to drop an object: kopf keeps the previous value
when it returns ``None``.
"""

from __future__ import annotations

from typing import Any

import kopf
from pydantic import ValidationError

from wattbit.api.v1alpha1.powersignal import PowerSignal
from wattbit.k8s import names
from wattbit.k8s.capacity import NodeGpus, PodGpus, node_gpus, pod_gpus
from wattbit.k8s.objects import PodView, WorkloadObject, job_object
from wattbit.k8s.snapshots import (
    RecordEntry,
    deferrable_pod_object,
    owned_pod_view,
    record_entry,
)
from wattbit.providers.external import ExternalSignal, from_power_signal

ALL = "all"


@kopf.index("", "v1", "nodes", id="nodes")
def nodes(*, body: kopf.Body, **_: Any) -> dict[str, NodeGpus]:
    return {ALL: node_gpus(body)}


@kopf.index("", "v1", "pods", id="gpu_pods")
def gpu_pods(*, body: kopf.Body, **_: Any) -> dict[str, PodGpus]:
    usage = pod_gpus(body)
    return {ALL: usage} if usage is not None else {}


@kopf.index("wattbit.io", "v1alpha1", "regions", id="regions")
def regions(*, name: str | None, body: kopf.Body, **_: Any) -> dict[str, dict[str, Any]]:
    return {
        str(name): {
            "spec": dict(body.get("spec") or {}),
            "status": dict(body.get("status") or {}),
            "generation": body.metadata.get("generation"),
            # The earlier of two Regions over the same nodes has them (wattbit.k8s.capacity).
            "metadata": {"creationTimestamp": body.metadata.get("creationTimestamp")},
        }
    }


@kopf.index("wattbit.io", "v1alpha1", "placementpolicies", id="policies")
def policies(
    *, namespace: str | None, name: str | None, body: kopf.Body, **_: Any
) -> dict[tuple[str, str], dict[str, Any]]:
    return {(str(namespace), str(name)): dict(body.get("spec") or {})}


@kopf.index("wattbit.io", "v1alpha1", "powersignals", id="power_signals")
def power_signals(
    *, namespace: str | None, name: str | None, body: kopf.Body, **_: Any
) -> dict[str, ExternalSignal]:
    try:
        resource = PowerSignal.model_validate(dict(body))
    except ValidationError:
        return {}  # the API server's schema should prevent this; never let it break a Region
    return {ALL: from_power_signal(resource, namespace=str(namespace), name=str(name))}


@kopf.index("batch", "v1", "jobs", id="deferrable_jobs", labels={names.LABEL_DEFERRABLE: "true"})
def deferrable_jobs(*, body: kopf.Body, **_: Any) -> dict[str, WorkloadObject]:
    return {ALL: job_object(body)}


@kopf.index("", "v1", "pods", id="deferrable_pods", labels={names.LABEL_DEFERRABLE: "true"})
def deferrable_pods(*, body: kopf.Body, **_: Any) -> dict[str, WorkloadObject]:
    workload = deferrable_pod_object(body)  # None for a Job's pod: the Job is the unit
    return {} if workload is None else {ALL: workload}


@kopf.index("", "v1", "pods", id="owned_pods")
def owned_pods(*, body: kopf.Body, **_: Any) -> dict[str, PodView]:
    """Pods by their controlling owner's uid, for those a move may have to look at: pods
    with GPUs or with wattbit's annotations."""
    view = owned_pod_view(body)
    if view is None or view.owner_uid is None:
        return {}
    return {view.owner_uid: view}


@kopf.index("wattbit.io", "v1alpha1", "workloadplacements", id="placement_records")
def placement_records(
    *, namespace: str | None, name: str | None, body: kopf.Body, **_: Any
) -> dict[tuple[str, str], RecordEntry]:
    entry = record_entry(body)
    return {(entry.namespace, entry.name): entry}


@kopf.index("wattbit.io", "v1alpha1", "apnlinks", id="apn_links")
def apn_links(*, name: str | None, body: kopf.Body, **_: Any) -> dict[str, dict[str, Any]]:
    return {
        str(name): {"spec": dict(body.get("spec") or {}), "status": dict(body.get("status") or {})}
    }
