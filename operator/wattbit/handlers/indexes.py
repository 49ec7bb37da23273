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
from wattbit.k8s.jobsets import TrainingRuntime, jobset_object, training_runtime
from wattbit.k8s.kueue import KueueWorkload, is_active, kueue_workload, serves
from wattbit.k8s.objects import PodView, WorkloadObject, job_object, pod_group_keys
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


@kopf.index(
    "jobset.x-k8s.io",
    "v1alpha2",
    "jobsets",
    id="deferrable_jobsets",
    labels={names.LABEL_DEFERRABLE: "true"},
)
def deferrable_jobsets(*, body: kopf.Body, **_: Any) -> dict[str, WorkloadObject]:
    # Without JobSet's CRD kopf only warns that it cannot serve it, and serves it once the
    # CRD is installed: the same operator runs on clusters with and without it.
    return {ALL: jobset_object(body)}


@kopf.index(
    "trainer.kubeflow.org",
    "v1alpha1",
    "trainjobs",
    id="deferrable_trainjobs",
    labels={names.LABEL_DEFERRABLE: "true"},
)
def deferrable_trainjobs(*, body: kopf.Body, **_: Any) -> dict[str, dict[str, Any]]:
    """Bodies (metadata, spec, status): the pod sets come from the runtime, which may
    change or arrive later, so they are rendered at each pass."""
    return {
        ALL: {
            "apiVersion": body.get("apiVersion"),
            "metadata": dict(body.metadata),
            "spec": dict(body.get("spec") or {}),
            "status": dict(body.get("status") or {}),
        }
    }


@kopf.index(
    "trainer.kubeflow.org", "v1alpha1", "clustertrainingruntimes", id="cluster_training_runtimes"
)
def cluster_training_runtimes(*, body: kopf.Body, **_: Any) -> dict[str, TrainingRuntime]:
    return {ALL: training_runtime("ClusterTrainingRuntime", body)}


@kopf.index("trainer.kubeflow.org", "v1alpha1", "trainingruntimes", id="training_runtimes")
def training_runtimes(*, body: kopf.Body, **_: Any) -> dict[str, TrainingRuntime]:
    return {ALL: training_runtime("TrainingRuntime", body)}


@kopf.index("kueue.x-k8s.io", "v1beta2", "workloads", id="kueue_workloads")
def kueue_workloads(*, body: kopf.Body, **_: Any) -> dict[str, KueueWorkload]:
    """Kueue Workloads by their job's uid (Kueue makes one per queued job)."""
    workload = kueue_workload(body)
    return {} if workload is None else {workload.owner_uid: workload}


@kopf.index("kueue.x-k8s.io", "v1beta2", "admissionchecks", id="kueue_checks")
def kueue_checks(*, name: str | None, body: kopf.Body, **_: Any) -> dict[str, tuple[str, bool]]:
    """The AdmissionChecks wattbit serves (`controllerName: wattbit.io/carbon-aware`), and
    whether each is marked Active (Kueue admits nothing through an inactive one)."""
    return {ALL: (str(name), is_active(body))} if serves(body) else {}


@kopf.index("", "v1", "pods", id="deferrable_pods", labels={names.LABEL_DEFERRABLE: "true"})
def deferrable_pods(*, body: kopf.Body, **_: Any) -> dict[str, WorkloadObject]:
    workload = deferrable_pod_object(body)  # None for a Job's pod: the Job is the unit
    return {} if workload is None else {ALL: workload}


@kopf.index("", "v1", "pods", id="owned_pods")
def owned_pods(*, body: kopf.Body, **_: Any) -> dict[str, PodView]:
    """Pods by their controlling owner's uid, for those a move may have to look at: pods
    with GPUs or with wattbit's annotations."""
    view = owned_pod_view(body)
    if view is None:
        return {}
    return dict.fromkeys(pod_group_keys(body, view.owner_uid), view)


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
