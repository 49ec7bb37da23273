"""Count GPUs per region from Node and Pod objects.

Turns raw Nodes and Pods (as kopf indexes hold them) into per-region totals:
allocatable GPUs on schedulable, ready nodes, minus the GPUs of pods that are
bound there or already steered there and not yet bound. No decisions here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from wattbit.errors import InvalidWorkloadError
from wattbit.k8s import names
from wattbit.k8s.hints import gpus_per_pod

TERMINAL_PHASES = frozenset({"Succeeded", "Failed"})


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeGpus:
    name: str
    labels: Mapping[str, str]
    allocatable_gpus: int
    schedulable: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class PodGpus:
    node_name: str | None
    region_annotation: str | None
    gpus: int
    gated: bool
    owner_uid: str | None = None
    uid: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RegionGpus:
    total: int
    allocated: int

    @property
    def free(self) -> int:
        return max(self.total - self.allocated, 0)


def node_gpus(body: Mapping[str, Any]) -> NodeGpus:
    metadata = body.get("metadata", {})
    status = body.get("status", {})
    allocatable = (status.get("allocatable") or {}).get(names.GPU_RESOURCE)
    ready = any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in status.get("conditions") or []
    )
    unschedulable = bool(body.get("spec", {}).get("unschedulable"))
    return NodeGpus(
        name=metadata.get("name", ""),
        labels=dict(metadata.get("labels") or {}),
        allocatable_gpus=int(allocatable) if allocatable is not None else 0,
        schedulable=ready and not unschedulable,
    )


def pod_gpus(body: Mapping[str, Any]) -> PodGpus | None:
    """GPU use of a pod, or None when it holds none (terminal, or asks for no GPU)."""
    if body.get("status", {}).get("phase") in TERMINAL_PHASES:
        return None
    spec = body.get("spec", {})
    try:
        gpus = gpus_per_pod(spec)
    except InvalidWorkloadError:
        # Counting goes on for the other pods: the API server admits only whole GPU
        # quantities, so a value we cannot read is a malformed body; it counts as none.
        gpus = 0
    if gpus == 0:
        return None
    metadata = body.get("metadata", {})
    annotations = metadata.get("annotations") or {}
    owner_uid = next(
        (o.get("uid") for o in metadata.get("ownerReferences") or [] if o.get("controller")),
        None,
    )
    return PodGpus(
        node_name=spec.get("nodeName"),
        region_annotation=annotations.get(names.ANNOTATION_REGION),
        gpus=gpus,
        gated=bool(spec.get("schedulingGates")),
        owner_uid=owner_uid,
        uid=metadata.get("uid"),
    )


def selects(node_selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in node_selector.items())


def region_gpus(
    node_selectors: Mapping[str, Mapping[str, str]],
    nodes: Iterable[NodeGpus],
    pods: Iterable[PodGpus],
) -> dict[str, RegionGpus]:
    """Total and allocated GPUs for each region, keyed by region name (for Region status;
    decisions count from the reconcile loop's snapshot, `wattbit.k8s.snapshots`)."""
    node_list = list(nodes)
    region_of_node: dict[str, str] = {}
    totals = dict.fromkeys(node_selectors, 0)
    for node in node_list:
        for region_name, selector in node_selectors.items():
            if selects(selector, node.labels):
                region_of_node[node.name] = region_name
                if node.schedulable:
                    totals[region_name] += node.allocatable_gpus
                break
    allocated = dict.fromkeys(node_selectors, 0)
    pod_list = list(pods)
    for pod in pod_list:
        region: str | None
        if pod.node_name:
            region = region_of_node.get(pod.node_name)
        elif not pod.gated:
            # Released and steered by us but not yet bound: count it so that a burst
            # of decisions does not herd more work into a region than it can hold.
            region = pod.region_annotation
        else:
            region = None
        if region in allocated:
            allocated[region] += pod.gpus
    return {r: RegionGpus(total=totals[r], allocated=allocated[r]) for r in node_selectors}
