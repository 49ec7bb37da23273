"""Parsed views of the Kubernetes objects the reconcile loop reads: workloads and their pods.

This module's one job is to turn raw Job and Pod bodies (as kopf's indexes see them) into
small frozen values with the facts placement needs: held or released, suspended, finished,
where the pod template points, how many pods are active or terminating, the checkpoint
protocol's annotations. Nothing here decides or calls the API server.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from wattbit.errors import InvalidWorkloadError
from wattbit.k8s import names
from wattbit.k8s.hints import gpus_per_pod
from wattbit.k8s.kueue import KueueAdmission

ANNOTATION_RELEASED_AT = "wattbit.io/released-at"
"""Set by the operator in the same patch that first releases a held workload."""


class WorkloadKind(StrEnum):
    JOB = "Job"
    POD = "Pod"
    JOBSET = "JobSet"
    TRAINJOB = "TrainJob"

    @property
    def suspends(self) -> bool:
        """Held and moved through `spec.suspend` (everything but a bare Pod)."""
        return self is not WorkloadKind.POD

    @property
    def pods_through_jobset(self) -> bool:
        """Its pods belong to child Jobs of a JobSet of its own name (a JobSet, a TrainJob's
        JobSet): they are found by JobSet's pod label, not by owner."""
        return self in (WorkloadKind.JOBSET, WorkloadKind.TRAINJOB)


JOBSET_NAME_LABEL = "jobset.sigs.k8s.io/jobset-name"
"""Set by the JobSet controller on its Jobs and their pods."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PodSet:
    """A group of identical pods of one workload: a Job's template, a JobSet's replicated Job,
    a TrainJob runtime's replicated Job."""

    name: str
    count: int
    """Pods run at once."""
    pod_spec: Mapping[str, Any] = field(default_factory=dict)

    def gpus(self) -> int:
        """GPUs of all its pods; raises InvalidWorkloadError on a bad quantity."""
        return gpus_per_pod(self.pod_spec) * self.count


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkloadObject:
    """A deferrable (labelled) Job or bare Pod, as placement sees it."""

    kind: WorkloadKind
    api_version: str
    namespace: str
    name: str
    uid: str
    created_at: datetime
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    pod_spec: Mapping[str, Any] = field(default_factory=dict)
    """A Job's pod template spec, or the Pod's spec."""
    pods: int = 1
    """Pods run at once (a Job's parallelism, capped by completions)."""
    suspended: bool = False
    """A Job's `spec.suspend`; a Pod still carrying wattbit's scheduling gate."""
    started: bool = False
    """A Job's `status.startTime` is set: it ran since it was last placed."""
    finished: bool = False
    active_pods: int = 0
    terminating_pods: int = 0
    controller_kind: str | None = None
    """Kind of the controlling owner (a Job's JobSet, a Pod's ReplicaSet), if any."""
    held: bool = False
    """The webhook held it at creation."""
    released_at: datetime | None = None
    """When wattbit first released it (None: never)."""
    placed_region: str | None = None
    """Region wattbit's placement names (the pod template's or the Pod's annotation)."""
    node_name: str | None = None
    """A Pod's node."""
    resource_version: str = ""
    pod_sets: tuple[PodSet, ...] = ()
    """Its pod groups, for kinds with more than one (JobSet, TrainJob); empty for a Job or a
    Pod, whose one group is `pod_spec` x `pods`."""
    spec: Mapping[str, Any] = field(default_factory=dict)
    """The object's spec as read, for adapters that must rewrite a list in it whole (a
    JobSet's replicatedJobs, a TrainJob's runtimePatches)."""
    ran_s: float | None = None
    """For a Job that succeeded: wall time from its start to its completion (the Job's
    `status.startTime` and `status.completionTime`)."""
    estimated_remaining_s: float | None = None
    """The workload's own estimate of its remaining run time (a TrainJob's
    `status.trainerStatus.estimatedRemainingSeconds`), when it publishes one."""
    kueue: KueueAdmission | None = None
    """Set when Kueue queues it behind one of wattbit's AdmissionChecks: it is placed and
    moved through that check and its Kueue Workload, never through `suspend`."""

    @property
    def key(self) -> str:
        """`Kind/namespace/name`: unique among managed workloads."""
        return f"{self.kind}/{self.namespace}/{self.name}"

    @property
    def queue_name(self) -> str | None:
        return self.labels.get(names.ANNOTATION_QUEUE_NAME)

    @property
    def pods_key(self) -> str:
        """Key of its pods in the owned-pods index (`pod_group_keys`)."""
        if self.kind.pods_through_jobset:
            return jobset_pods_key(self.namespace, self.name)
        return self.uid

    def groups(self) -> tuple[PodSet, ...]:
        """Its pod sets: `pod_sets`, or the one group of a Job or Pod."""
        if self.pod_sets:
            return self.pod_sets
        return (PodSet(name="main", count=self.pods, pod_spec=self.pod_spec),)

    def gpus(self) -> int:
        """GPUs asked for by all its pods; raises InvalidWorkloadError on a bad quantity."""
        return sum(group.gpus() for group in self.groups())

    def gpus_or_zero(self) -> int:
        try:
            return self.gpus()
        except InvalidWorkloadError:
            return 0


@dataclass(frozen=True, slots=True, kw_only=True)
class PodView:
    """A pod of a managed workload (or one carrying wattbit's annotations)."""

    namespace: str
    name: str
    uid: str
    owner_uid: str | None
    node_name: str | None
    phase: str
    terminating: bool
    gpus: int
    checkpoint_requested_at: datetime | None = None
    checkpoint_acknowledged_at: datetime | None = None

    @property
    def finished(self) -> bool:
        return self.phase in ("Succeeded", "Failed")

    @property
    def active(self) -> bool:
        return not self.finished and not self.terminating


def parse_time(text: object) -> datetime | None:
    """An RFC 3339 time as Kubernetes writes it, or None when absent or unreadable."""
    if not isinstance(text, str) or not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _controller_kind(metadata: Mapping[str, Any]) -> str | None:
    for owner in metadata.get("ownerReferences") or []:
        if owner.get("controller"):
            return str(owner.get("kind"))
    return None


def _controller_uid(metadata: Mapping[str, Any]) -> str | None:
    for owner in metadata.get("ownerReferences") or []:
        if owner.get("controller"):
            return str(owner.get("uid"))
    return None


def _job_finished(status: Mapping[str, Any]) -> bool:
    return any(
        c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
        for c in status.get("conditions") or []
    )


def job_pod_count(job_spec: Mapping[str, Any]) -> int:
    """Pods a Job runs at once: parallelism, capped by completions when set."""
    parallelism = job_spec.get("parallelism")
    count = 1 if parallelism is None else int(parallelism)
    completions = job_spec.get("completions")
    return count if completions is None else min(count, int(completions))


def job_object(body: Mapping[str, Any]) -> WorkloadObject:
    metadata = body.get("metadata") or {}
    spec = body.get("spec") or {}
    status = body.get("status") or {}
    template = spec.get("template") or {}
    annotations = dict(metadata.get("annotations") or {})
    template_annotations = (template.get("metadata") or {}).get("annotations") or {}
    return WorkloadObject(
        kind=WorkloadKind.JOB,
        api_version=str(body.get("apiVersion") or "batch/v1"),
        namespace=str(metadata.get("namespace")),
        name=str(metadata.get("name")),
        uid=str(metadata.get("uid")),
        created_at=parse_time(metadata.get("creationTimestamp")) or datetime.now(UTC),
        labels=dict(metadata.get("labels") or {}),
        annotations=annotations,
        pod_spec=dict(template.get("spec") or {}),
        pods=job_pod_count(spec),
        suspended=bool(spec.get("suspend")),
        started=status.get("startTime") is not None,
        finished=_job_finished(status),
        ran_s=_ran_s(status),
        active_pods=int(status.get("active") or 0),
        terminating_pods=int(status.get("terminating") or 0),
        controller_kind=_controller_kind(metadata),
        held=annotations.get(names.ANNOTATION_HELD) == "true",
        released_at=parse_time(annotations.get(ANNOTATION_RELEASED_AT)),
        placed_region=_job_region(annotations, template_annotations, metadata),
        resource_version=str(metadata.get("resourceVersion") or ""),
    )


def _ran_s(status: Mapping[str, Any]) -> float | None:
    started = parse_time(status.get("startTime"))
    completed = parse_time(status.get("completionTime"))
    if started is None or completed is None or completed < started:
        return None
    return (completed - started).total_seconds()


def _job_region(
    annotations: Mapping[str, str],
    template_annotations: Mapping[str, str],
    metadata: Mapping[str, Any],
) -> str | None:
    """The pod template's placement; for a Job that Kueue queues, the Job's own annotation
    (Kueue resets the template to its snapshot, and the check's nodeSelector places it)."""
    if names.ANNOTATION_QUEUE_NAME in (metadata.get("labels") or {}):
        return annotations.get(names.ANNOTATION_REGION)
    return template_annotations.get(names.ANNOTATION_REGION)


def pod_object(body: Mapping[str, Any]) -> WorkloadObject:
    metadata = body.get("metadata") or {}
    spec = body.get("spec") or {}
    status = body.get("status") or {}
    annotations = dict(metadata.get("annotations") or {})
    gated = any(g.get("name") == names.SCHEDULING_GATE for g in spec.get("schedulingGates") or [])
    phase = status.get("phase")
    terminating = metadata.get("deletionTimestamp") is not None
    return WorkloadObject(
        kind=WorkloadKind.POD,
        api_version="v1",
        namespace=str(metadata.get("namespace")),
        name=str(metadata.get("name")),
        uid=str(metadata.get("uid")),
        created_at=parse_time(metadata.get("creationTimestamp")) or datetime.now(UTC),
        labels=dict(metadata.get("labels") or {}),
        annotations=annotations,
        pod_spec=dict(spec),
        pods=1,
        suspended=gated,
        finished=phase in ("Succeeded", "Failed"),
        active_pods=0 if gated or terminating or phase in ("Succeeded", "Failed") else 1,
        terminating_pods=1 if terminating else 0,
        controller_kind=_controller_kind(metadata),
        held=annotations.get(names.ANNOTATION_HELD) == "true",
        released_at=parse_time(annotations.get(ANNOTATION_RELEASED_AT)),
        placed_region=annotations.get(names.ANNOTATION_REGION),
        node_name=spec.get("nodeName"),
        resource_version=str(metadata.get("resourceVersion") or ""),
    )


def is_job_pod(body: Mapping[str, Any]) -> bool:
    """Pods owned by a Job are not workloads of their own: the Job is the unit."""
    metadata = body.get("metadata") or {}
    return _controller_kind(metadata) == "Job"


def pod_view(body: Mapping[str, Any]) -> PodView:
    metadata = body.get("metadata") or {}
    spec = body.get("spec") or {}
    annotations = metadata.get("annotations") or {}
    try:
        gpus = gpus_per_pod(spec)
    except InvalidWorkloadError:
        gpus = 0
    return PodView(
        namespace=str(metadata.get("namespace")),
        name=str(metadata.get("name")),
        uid=str(metadata.get("uid")),
        owner_uid=_controller_uid(metadata),
        node_name=spec.get("nodeName"),
        phase=str((body.get("status") or {}).get("phase") or "Pending"),
        terminating=metadata.get("deletionTimestamp") is not None,
        gpus=gpus,
        checkpoint_requested_at=parse_time(
            annotations.get(names.ANNOTATION_CHECKPOINT_REQUESTED_AT)
        ),
        checkpoint_acknowledged_at=parse_time(
            annotations.get(names.ANNOTATION_CHECKPOINT_ACKNOWLEDGED_AT)
        ),
    )


def jobset_pods_key(namespace: str, name: str) -> str:
    """Owned-pods index key of the pods of JobSet `namespace/name` (a TrainJob's JobSet has
    the TrainJob's name)."""
    return f"jobset:{namespace}/{name}"


def pod_group_keys(body: Mapping[str, Any], owner_uid: str | None) -> tuple[str, ...]:
    """Keys a pod is indexed under: its controller's uid, and its JobSet's pods key when a
    JobSet's Job runs it."""
    metadata = body.get("metadata") or {}
    keys = [] if owner_uid is None else [owner_uid]
    jobset = (metadata.get("labels") or {}).get(JOBSET_NAME_LABEL)
    if jobset:
        keys.append(jobset_pods_key(str(metadata.get("namespace")), str(jobset)))
    return tuple(keys)
