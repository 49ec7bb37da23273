"""Count GPUs per region from Node and Pod objects.

Turns raw Nodes and Pods (as kopf indexes hold them) into per-region totals:
allocatable GPUs on schedulable, ready nodes, minus the GPUs of pods that are
bound there or already steered there and not yet bound. Each node counts once: when two
Regions select the same node, it is the earliest Region's, and the later one is reported as
overlapping (its nodes count for nothing until the selectors are disjoint). No decisions here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from wattbit.errors import InvalidWorkloadError
from wattbit.k8s import names
from wattbit.k8s.hints import gpus_per_pod, parse_quantity

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
        allocatable_gpus=allocatable_gpus(allocatable),
        schedulable=ready and not unschedulable,
    )


def allocatable_gpus(value: object) -> int:
    """A node's allocatable ``nvidia.com/gpu``: a whole, non-negative quantity, else 0 (the
    kubelet writes these; one we cannot read must not stop the counting of the others)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return max(value, 0)
    if not isinstance(value, str):
        return 0
    try:
        gpus = parse_quantity(value)
    except ValueError:
        return 0
    return int(gpus) if gpus >= 0 and gpus == gpus.to_integral_value() else 0


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


@dataclass(frozen=True, slots=True, kw_only=True)
class Overlap:
    """A Region whose nodeSelector selects nodes that an earlier Region already selects."""

    region: str
    earlier: str
    """The first earlier Region it shares nodes with: they are that one's."""
    nodes: tuple[str, ...]
    """The nodes they share, sorted."""

    @property
    def message(self) -> str:
        shown = ", ".join(self.nodes[:5]) + (" and more" if len(self.nodes) > 5 else "")
        return (
            f"nodeSelector selects {len(self.nodes)} node(s) of Region {self.earlier}, created "
            f"earlier ({shown}): they count for {self.earlier} only, and no work is placed "
            "here until the nodeSelectors are disjoint"
        )


FAR_FUTURE = datetime.max.replace(tzinfo=UTC)


def by_precedence(created: Mapping[str, datetime | None]) -> list[str]:
    """Region names, oldest first (ties and unknown times by name): the order in which they
    claim nodes."""
    return sorted(created, key=lambda name: (created[name] or FAR_FUTURE, name))


def node_owners(
    node_selectors: Mapping[str, Mapping[str, str]], nodes: Iterable[NodeGpus]
) -> tuple[dict[str, str], dict[str, Overlap]]:
    """Each node's Region, and the Regions that overlap an earlier one.

    ``node_selectors`` is in order of precedence (`by_precedence`): a node selected by
    several Regions is the first one's.
    """
    owner: dict[str, str] = {}
    shared: dict[str, dict[str, list[str]]] = {}
    for node in nodes:
        matching = [
            name for name, selector in node_selectors.items() if selects(selector, node.labels)
        ]
        if not matching:
            continue
        owner[node.name] = matching[0]
        for later in matching[1:]:
            shared.setdefault(later, {}).setdefault(matching[0], []).append(node.name)
    overlaps: dict[str, Overlap] = {}
    order = list(node_selectors)
    for later, earlier_nodes in shared.items():
        earlier = min(earlier_nodes, key=order.index)
        overlaps[later] = Overlap(
            region=later, earlier=earlier, nodes=tuple(sorted(earlier_nodes[earlier]))
        )
    return owner, overlaps


def region_gpus(
    node_selectors: Mapping[str, Mapping[str, str]],
    nodes: Iterable[NodeGpus],
    pods: Iterable[PodGpus],
) -> dict[str, RegionGpus]:
    """Total and allocated GPUs for each region, keyed by region name (for Region status;
    decisions count from the reconcile loop's snapshot, `wattbit.k8s.snapshots`).

    ``node_selectors`` is in order of precedence (`by_precedence`): each node counts for
    the first Region that selects it, and a Region overlapping an earlier one has none."""
    node_list = list(nodes)
    region_of_node, overlaps = node_owners(node_selectors, node_list)
    totals = dict.fromkeys(node_selectors, 0)
    for node in node_list:
        region_name = region_of_node.get(node.name)
        if region_name is not None and region_name not in overlaps and node.schedulable:
            totals[region_name] += node.allocatable_gpus
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
