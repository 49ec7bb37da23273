"""kopf indexes: in-memory views of Nodes, GPU Pods, Regions and PlacementPolicies.

Decisions read these instead of listing the API server on every reconcile. An
index function returns ``{}`` to drop an object: kopf keeps the previous value
when it returns ``None``.
"""

from __future__ import annotations

from typing import Any

import kopf
from pydantic import ValidationError

from wattbit.api.v1alpha1.powersignal import PowerSignal
from wattbit.k8s.capacity import NodeGpus, PodGpus, node_gpus, pod_gpus
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
