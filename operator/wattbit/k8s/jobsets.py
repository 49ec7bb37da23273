"""Parsed views of JobSets (jobset.x-k8s.io) and Kubeflow TrainJobs (trainer.kubeflow.org).

Both hold and move through `spec.suspend`, as a Job does, but have several pod sets: a
JobSet one per replicated Job, a TrainJob those of its training runtime (the TrainJob
controller renders a JobSet of the TrainJob's name from the runtime, and Kueue reads the
pod sets the same way). The region wattbit chose is kept in the object's own annotations,
which no controller resets. Nothing here calls the API server.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from wattbit.errors import InvalidWorkloadError
from wattbit.k8s import names
from wattbit.k8s.objects import (
    ANNOTATION_RELEASED_AT,
    PodSet,
    WorkloadKind,
    WorkloadObject,
    job_pod_count,
    parse_time,
)

JOBSET_API_VERSION = "jobset.x-k8s.io/v1alpha2"
TRAINJOB_API_VERSION = "trainer.kubeflow.org/v1alpha1"
TRAINER_NODE_JOB = "node"
"""The replicated Job of a training runtime that runs the trainer (Trainer's constants.Node);
`spec.trainer.numNodes` and `resourcesPerNode` apply to it."""
TRAINER_NODE_CONTAINER = "node"


@dataclass(frozen=True, slots=True, kw_only=True)
class TrainingRuntime:
    """What wattbit reads of a (Cluster)TrainingRuntime: its replicated Jobs as pod sets."""

    kind: str
    """ClusterTrainingRuntime or TrainingRuntime."""
    namespace: str
    """Empty for a ClusterTrainingRuntime."""
    name: str
    pod_sets: tuple[PodSet, ...] = field(default_factory=tuple)
    num_nodes: int | None = None
    """`spec.mlPolicy.numNodes`: the trainer's node count when the TrainJob sets none."""

    @property
    def key(self) -> tuple[str, str, str]:
        return runtime_key(self.kind, self.namespace, self.name)


def runtime_key(kind: str, namespace: str, name: str) -> tuple[str, str, str]:
    return (kind, "" if kind == "ClusterTrainingRuntime" else namespace, name)


def replicated_job_pod_sets(replicated_jobs: Sequence[Mapping[str, Any]]) -> tuple[PodSet, ...]:
    """One pod set per replicated Job: replicas x the Job's pods at once."""
    sets = []
    for replicated in replicated_jobs:
        job = replicated.get("template") or {}
        job_spec = job.get("spec") or {}
        replicas = int(replicated.get("replicas", 1) or 0)
        sets.append(
            PodSet(
                name=str(replicated.get("name") or ""),
                count=replicas * job_pod_count(job_spec),
                pod_spec=dict((job_spec.get("template") or {}).get("spec") or {}),
            )
        )
    return tuple(sets)


def training_runtime(kind: str, body: Mapping[str, Any]) -> TrainingRuntime:
    metadata = body.get("metadata") or {}
    spec = body.get("spec") or {}
    template_spec = (spec.get("template") or {}).get("spec") or {}
    num_nodes = (spec.get("mlPolicy") or {}).get("numNodes")
    return TrainingRuntime(
        kind=kind,
        namespace=str(metadata.get("namespace") or ""),
        name=str(metadata.get("name")),
        pod_sets=replicated_job_pod_sets(template_spec.get("replicatedJobs") or []),
        num_nodes=None if num_nodes is None else int(num_nodes),
    )


def _conditions_true(status: Mapping[str, Any], types: Sequence[str]) -> bool:
    return any(
        c.get("type") in types and c.get("status") == "True" for c in status.get("conditions") or []
    )


def _main(pod_sets: Sequence[PodSet]) -> PodSet:
    """The pod set that asks for the most GPUs (the trainers): its spec stands for the
    workload's where one is needed (grace period, pods per node)."""

    def gpus(pod_set: PodSet) -> int:
        try:
            return pod_set.gpus()
        except InvalidWorkloadError:
            return 0

    return max(pod_sets, key=gpus, default=PodSet(name="", count=0))


def _common(
    body: Mapping[str, Any], kind: WorkloadKind, pod_sets: tuple[PodSet, ...]
) -> dict[str, Any]:
    metadata = body.get("metadata") or {}
    spec = body.get("spec") or {}
    annotations = dict(metadata.get("annotations") or {})
    main = _main(pod_sets)
    return {
        "kind": kind,
        "api_version": str(body.get("apiVersion") or ""),
        "namespace": str(metadata.get("namespace")),
        "name": str(metadata.get("name")),
        "uid": str(metadata.get("uid")),
        "created_at": parse_time(metadata.get("creationTimestamp")) or datetime.now(UTC),
        "labels": dict(metadata.get("labels") or {}),
        "annotations": annotations,
        "pod_spec": dict(main.pod_spec),
        "pods": main.count,
        "pod_sets": pod_sets,
        "spec": dict(spec),
        "suspended": bool(spec.get("suspend")),
        "held": annotations.get(names.ANNOTATION_HELD) == "true",
        "released_at": parse_time(annotations.get(ANNOTATION_RELEASED_AT)),
        "placed_region": annotations.get(names.ANNOTATION_REGION),
        "controller_kind": next(
            (
                str(o.get("kind"))
                for o in metadata.get("ownerReferences") or []
                if o.get("controller")
            ),
            None,
        ),
        "resource_version": str(metadata.get("resourceVersion") or ""),
    }


def jobset_object(body: Mapping[str, Any]) -> WorkloadObject:
    """A JobSet as placement sees it. Its pods' counts come from the pod index (the loop
    fills `active_pods` and `terminating_pods`), since its status counts Jobs."""
    spec = body.get("spec") or {}
    status = body.get("status") or {}
    pod_sets = replicated_job_pod_sets(spec.get("replicatedJobs") or [])
    finished = status.get("terminalState") in ("Completed", "Failed") or _conditions_true(
        status, ("Completed", "Failed")
    )
    return WorkloadObject(**_common(body, WorkloadKind.JOBSET, pod_sets), finished=finished)


def trainjob_pod_sets(
    spec: Mapping[str, Any], runtime: TrainingRuntime | None
) -> tuple[PodSet, ...]:
    """A TrainJob's pod sets: its runtime's, with the trainer node set resized and
    re-resourced by `spec.trainer` (numNodes, resourcesPerNode), as the TrainJob controller
    renders them. Without the runtime, the node set alone, from `spec.trainer`."""
    trainer = spec.get("trainer") or {}
    sets = list(runtime.pod_sets) if runtime is not None else []
    if not any(s.name == TRAINER_NODE_JOB for s in sets):
        sets.append(PodSet(name=TRAINER_NODE_JOB, count=1, pod_spec={"containers": []}))
    nodes = trainer.get("numNodes")
    if nodes is None and runtime is not None:
        nodes = runtime.num_nodes
    resources = trainer.get("resourcesPerNode")
    result = []
    for pod_set in sets:
        if pod_set.name != TRAINER_NODE_JOB:
            result.append(pod_set)
            continue
        pod_spec = dict(pod_set.pod_spec)
        if resources is not None:
            containers = [dict(c) for c in pod_spec.get("containers") or []]
            target = next((c for c in containers if c.get("name") == TRAINER_NODE_CONTAINER), None)
            if target is None:
                target = {"name": TRAINER_NODE_CONTAINER}
                containers.append(target)
            target["resources"] = dict(resources)
            pod_spec["containers"] = containers
        count = pod_set.count if nodes is None else int(nodes)
        result.append(PodSet(name=pod_set.name, count=count, pod_spec=pod_spec))
    return tuple(result)


def trainjob_runtime_key(body: Mapping[str, Any]) -> tuple[str, str, str]:
    metadata = body.get("metadata") or {}
    ref = (body.get("spec") or {}).get("runtimeRef") or {}
    return runtime_key(
        str(ref.get("kind") or "ClusterTrainingRuntime"),
        str(metadata.get("namespace")),
        str(ref.get("name") or ""),
    )


def trainjob_object(
    body: Mapping[str, Any], runtimes: Mapping[tuple[str, str, str], TrainingRuntime]
) -> WorkloadObject:
    """A TrainJob as placement sees it, with the pod sets its runtime renders."""
    spec = body.get("spec") or {}
    status = body.get("status") or {}
    runtime = runtimes.get(trainjob_runtime_key(body))
    remaining = (status.get("trainerStatus") or {}).get("estimatedRemainingSeconds")
    return WorkloadObject(
        **_common(body, WorkloadKind.TRAINJOB, trainjob_pod_sets(spec, runtime)),
        finished=_conditions_true(status, ("Complete", "Failed")),
        estimated_remaining_s=None if remaining is None else float(remaining),
    )
