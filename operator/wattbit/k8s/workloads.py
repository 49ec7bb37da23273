"""Steer deferrable workloads through standard fields: one adapter per kind.

`WorkloadAdapter` is the shape every kind shares (Kueue's GenericJob, reduced to wattbit's
verbs): place-and-release and release-unplaced. `SuspendingAdapter` adds hold, suspend,
re-point, resume for the kinds held through `spec.suspend`: Jobs (node affinity in the pod
template), JobSets (a nodeSelector in each Job template), TrainJobs (wattbit's own
runtimePatches entry), and anything Kueue queues behind wattbit's AdmissionCheck (the check
and the Kueue Workload's `spec.active`, never `suspend`). Bare Pods are gated, placed while
gated and, when a controller replaces them, evicted through the Eviction API. Every write is
idempotent (affinity terms are replaced, not appended) and is skipped when the object already
shows its effect. Nothing here decides anything.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from wattbit.k8s import names
from wattbit.k8s.kueue import CheckState, KueueAdmission, KueueApi
from wattbit.k8s.objects import ANNOTATION_RELEASED_AT, PodView, WorkloadObject

MERGE_PATCH = "application/merge-patch+json"
REQUEST_TIMEOUT_SECONDS = 10.0
HTTP_NOT_FOUND = 404
HTTP_TOO_MANY_REQUESTS = 429


def with_region_affinity(
    affinity: Mapping[str, Any] | None, node_selector: Mapping[str, str]
) -> dict[str, Any]:
    """Return a copy of ``affinity`` whose required node affinity also selects the region.

    The region's requirements are ANDed into every existing required term (a
    workload's own constraints are kept), and earlier wattbit requirements on the
    same keys are replaced, so placing twice in different regions is safe.
    """
    result: dict[str, Any] = copy.deepcopy(dict(affinity or {}))
    node_affinity = result.setdefault("nodeAffinity", {})
    required = node_affinity.setdefault("requiredDuringSchedulingIgnoredDuringExecution", {})
    terms = required.get("nodeSelectorTerms") or [{}]
    ours = [
        {"key": key, "operator": "In", "values": [value]}
        for key, value in sorted(node_selector.items())
    ]
    new_terms = []
    for term in terms:
        kept = [e for e in term.get("matchExpressions") or [] if not _is_ours(e, node_selector)]
        new_terms.append({**term, "matchExpressions": kept + ours})
    required["nodeSelectorTerms"] = new_terms
    return result


def _is_ours(expression: Mapping[str, Any], node_selector: Mapping[str, str]) -> bool:
    return (
        expression.get("key") in node_selector
        and expression.get("operator") == "In"
        and len(expression.get("values") or []) == 1
    )


def _merge_patch(
    patch_fn: Callable[..., object], name: str, namespace: str, patch: Mapping[str, Any]
) -> None:
    """A JSON merge patch (the client's default for PATCH is JSON Patch, which needs a list)."""
    patch_fn(
        name,
        namespace,
        dict(patch),
        _content_type=MERGE_PATCH,
        _request_timeout=REQUEST_TIMEOUT_SECONDS,
    )


def _instant(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True, kw_only=True)
class EvictionResult:
    evicted: bool
    message: str


class _Suspending:
    """The verbs shared by every kind held through `spec.suspend`, each one merge patch of
    the object (`_patch`); placing and re-pointing are each kind's own."""

    def _patch(self, obj: WorkloadObject, patch: Mapping[str, Any]) -> None:
        raise NotImplementedError

    def annotate(self, obj: WorkloadObject, annotations: Mapping[str, str]) -> None:
        self._patch(obj, {"metadata": {"annotations": dict(annotations)}})

    def release_unplaced(self, obj: WorkloadObject, *, now: datetime) -> None:
        """Unsuspend without a placement (DryRun, or PlacementFailed: carbon-agnostic)."""
        patch = {
            "metadata": {"annotations": {ANNOTATION_RELEASED_AT: _instant(now)}},
            "spec": {"suspend": False},
        }
        self._patch(obj, patch)

    def hold(self, obj: WorkloadObject, *, now: datetime) -> None:
        """Suspend a workload the webhook never held (created while the webhook was down)
        and mark it held, in one patch: from the next pass it is placed like any other."""
        patch = {
            "metadata": {
                "annotations": {
                    names.ANNOTATION_HELD: "true",
                    names.ANNOTATION_HELD_AT: _instant(now),
                }
            },
            "spec": {"suspend": True},
        }
        self._patch(obj, patch)

    def suspend(self, obj: WorkloadObject) -> None:
        if not obj.suspended:
            self._patch(obj, {"spec": {"suspend": True}})

    def resume(self, obj: WorkloadObject) -> None:
        if obj.suspended:
            self._patch(obj, {"spec": {"suspend": False}})


class JobAdapter(_Suspending):
    """Jobs: suspended at creation by the webhook; placed by rewriting the pod template."""

    def __init__(self, api: client.BatchV1Api, core: client.CoreV1Api) -> None:
        self._api = api
        self._core = core

    def _patch(self, obj: WorkloadObject, patch: Mapping[str, Any]) -> None:
        _merge_patch(self._api.patch_namespaced_job, obj.name, obj.namespace, patch)

    def _template_patch(
        self, obj: WorkloadObject, region: str, node_selector: Mapping[str, str]
    ) -> dict[str, Any]:
        affinity = with_region_affinity(obj.pod_spec.get("affinity"), node_selector)
        return {
            "metadata": {"annotations": {names.ANNOTATION_REGION: region}},
            "spec": {
                "template": {
                    "metadata": {"annotations": {names.ANNOTATION_REGION: region}},
                    "spec": {"affinity": affinity},
                }
            },
        }

    def place_and_release(
        self,
        obj: WorkloadObject,
        *,
        region: str,
        node_selector: Mapping[str, str],
        now: datetime,
    ) -> None:
        """Point the pod template at the region and unsuspend, in one patch: a crash never
        leaves a released Job unplaced. The released-at mark makes the release visible."""
        patch = self._template_patch(obj, region, node_selector)
        patch["metadata"]["annotations"][ANNOTATION_RELEASED_AT] = _instant(now)
        patch["spec"]["suspend"] = False
        self._forget_start(obj)
        _merge_patch(self._api.patch_namespaced_job, obj.name, obj.namespace, patch)

    def _forget_start(self, obj: WorkloadObject) -> None:
        """Clear a suspended Job's `status.startTime` before its pod template is rewritten.

        The scheduling directives of a suspended Job are mutable only while it has no start
        time (KEP-2926, since 1.27) unless MutableSchedulingDirectivesForSuspendedJobs is on
        (beta from 1.36, KEP-5440). Clearing it through the status subresource, as Kueue and
        JobSet do, re-points a Job that already ran on every supported minor; the Job
        controller sets a new start time on resume, as it does on any resume.
        """
        if obj.suspended and obj.started:
            patch = {"status": {"startTime": None}}
            _merge_patch(self._api.patch_namespaced_job_status, obj.name, obj.namespace, patch)

    def repoint(
        self, obj: WorkloadObject, *, region: str, node_selector: Mapping[str, str]
    ) -> None:
        if obj.placed_region != region:
            patch = self._template_patch(obj, region, node_selector)
            self._forget_start(obj)
            _merge_patch(self._api.patch_namespaced_job, obj.name, obj.namespace, patch)

    def request_checkpoint(
        self, pods: Iterable[PodView], *, requested_at: datetime, deadline: datetime
    ) -> int:
        """Annotate each active pod that lacks this request; returns how many were patched.
        A pod that is gone meanwhile is skipped: its replacement is asked on the next pass."""
        patched = 0
        for pod in pods:
            if not pod.active:
                continue
            if pod.checkpoint_requested_at is not None and pod.checkpoint_requested_at >= (
                requested_at
            ):
                continue
            patch = {
                "metadata": {
                    "annotations": {
                        names.ANNOTATION_CHECKPOINT_REQUESTED_AT: _instant(requested_at),
                        names.ANNOTATION_CHECKPOINT_DEADLINE: _instant(deadline),
                    }
                }
            }
            try:
                _merge_patch(self._core.patch_namespaced_pod, pod.name, pod.namespace, patch)
            except ApiException as error:
                if error.status != HTTP_NOT_FOUND:
                    raise
                continue
            patched += 1
        return patched


class WorkloadAdapter(Protocol):
    """What the reconcile loop asks of every kind (Kueue's GenericJob, reduced to wattbit's
    verbs; what an object *is* - suspended, finished, its pod sets and GPUs - is read by
    `objects`/`jobsets` into a WorkloadObject). Every write is idempotent."""

    def place_and_release(
        self,
        obj: WorkloadObject,
        *,
        region: str,
        node_selector: Mapping[str, str],
        now: datetime,
    ) -> None:
        """Point it at the region and let it run, in one step a crash cannot split."""
        ...

    def release_unplaced(self, obj: WorkloadObject, *, now: datetime) -> None:
        """Let it run where the scheduler puts it (DryRun, PlacementFailed)."""
        ...


class SuspendingAdapter(WorkloadAdapter, Protocol):
    """A kind held and moved through `spec.suspend` (Job, JobSet, TrainJob), or through its
    Kueue Workload: everything but a bare Pod, which is gated and evicted instead."""

    def hold(self, obj: WorkloadObject, *, now: datetime) -> None: ...

    def suspend(self, obj: WorkloadObject) -> None: ...

    def repoint(
        self, obj: WorkloadObject, *, region: str, node_selector: Mapping[str, str]
    ) -> None: ...

    def resume(self, obj: WorkloadObject) -> None: ...

    def annotate(self, obj: WorkloadObject, annotations: Mapping[str, str]) -> None: ...


class KueueAdapter:
    """A workload behind one of wattbit's Kueue AdmissionChecks: placed by setting the check
    Ready with the region's nodeSelector, held by keeping it Pending, moved by deactivating
    and re-activating its Kueue Workload. Its own `suspend` is Kueue's alone. What wattbit
    must remember (region, release time) goes on the job's own metadata, which Kueue keeps.
    """

    def __init__(self, api: KueueApi, kinds: Callable[[WorkloadObject], SuspendingAdapter]) -> None:
        self._api = api
        self._kinds = kinds

    @staticmethod
    def _admission(obj: WorkloadObject) -> KueueAdmission:
        if obj.kueue is None:
            raise ValueError(f"{obj.key} is not behind a wattbit AdmissionCheck")
        return obj.kueue

    def place_and_release(
        self,
        obj: WorkloadObject,
        *,
        region: str,
        node_selector: Mapping[str, str],
        now: datetime,
    ) -> None:
        annotations = {names.ANNOTATION_REGION: region}
        if obj.released_at is None:
            annotations[ANNOTATION_RELEASED_AT] = _instant(now)
        self._kinds(obj).annotate(obj, annotations)  # intent first: a retry sees it
        self._api.set_check(
            self._admission(obj),
            state=CheckState.READY,
            message=f"placed in {region}",
            node_selector=node_selector,
            now=now,
        )

    def release_unplaced(self, obj: WorkloadObject, *, now: datetime) -> None:
        if obj.released_at is None:
            self._kinds(obj).annotate(obj, {ANNOTATION_RELEASED_AT: _instant(now)})
        self._api.set_check(
            self._admission(obj),
            state=CheckState.READY,
            message="released without a placement: Kueue and kube-scheduler decide",
            node_selector=None,
            now=now,
        )

    def keep_pending(self, obj: WorkloadObject, *, message: str, now: datetime) -> None:
        """Say why the check stays Pending (Kueue shows it on the Workload and as an Event on
        the job); written only when the words change."""
        admission = self._admission(obj)
        if admission.check.state == CheckState.PENDING and admission.check.message == message:
            return
        self._api.set_check(
            admission, state=CheckState.PENDING, message=message, node_selector=None, now=now
        )

    def hold(self, obj: WorkloadObject, *, now: datetime) -> None:
        """Nothing to do: Kueue holds what it queues."""

    def suspend(self, obj: WorkloadObject) -> None:
        workload = self._admission(obj).workload
        if workload.active:
            self._api.set_active(workload, active=False)

    def repoint(
        self, obj: WorkloadObject, *, region: str, node_selector: Mapping[str, str]
    ) -> None:
        admission = self._admission(obj)
        if obj.placed_region != region:
            self._kinds(obj).annotate(obj, {names.ANNOTATION_REGION: region})
        if admission.check.state != CheckState.READY or (
            admission.placed_region_selector != dict(node_selector)
        ):
            self._api.set_check(
                admission,
                state=CheckState.READY,
                message=f"moved to {region}",
                node_selector=node_selector,
                now=datetime.now(UTC),
            )

    def resume(self, obj: WorkloadObject) -> None:
        workload = self._admission(obj).workload
        if not workload.active:
            self._api.set_active(workload, active=True)

    def annotate(self, obj: WorkloadObject, annotations: Mapping[str, str]) -> None:
        self._kinds(obj).annotate(obj, annotations)

    def activate_check(self, name: str, *, now: datetime) -> None:
        self._api.activate_check(name, now=now)


class _CustomSuspending(_Suspending):
    """A custom resource held and moved through `spec.suspend`, placed by the one patch that
    `_placement` builds (a JobSet's nodeSelector, a TrainJob's runtime patch)."""

    group: str
    version: str
    plural: str

    def __init__(self, api: client.CustomObjectsApi) -> None:
        self._api = api

    def _patch(self, obj: WorkloadObject, patch: Mapping[str, Any]) -> None:
        self._api.patch_namespaced_custom_object(
            self.group,
            self.version,
            obj.namespace,
            self.plural,
            obj.name,
            dict(patch),
            _content_type=MERGE_PATCH,
            _request_timeout=REQUEST_TIMEOUT_SECONDS,
        )

    def _placement(self, obj: WorkloadObject, node_selector: Mapping[str, str]) -> dict[str, Any]:
        raise NotImplementedError

    def _placement_patch(
        self, obj: WorkloadObject, region: str, node_selector: Mapping[str, str]
    ) -> dict[str, Any]:
        # The placement rewrites a list whole (merge patch has no list merge): the
        # resourceVersion makes it conditional on the list as read, so a concurrent writer
        # gets a 409 and the next pass reads again, rather than losing its entry.
        metadata: dict[str, Any] = {"annotations": {names.ANNOTATION_REGION: region}}
        if obj.resource_version:
            metadata["resourceVersion"] = obj.resource_version
        return {"metadata": metadata, "spec": self._placement(obj, node_selector)}

    def place_and_release(
        self,
        obj: WorkloadObject,
        *,
        region: str,
        node_selector: Mapping[str, str],
        now: datetime,
    ) -> None:
        patch = self._placement_patch(obj, region, node_selector)
        patch["metadata"]["annotations"][ANNOTATION_RELEASED_AT] = _instant(now)
        patch["spec"]["suspend"] = False
        self._patch(obj, patch)

    def repoint(
        self, obj: WorkloadObject, *, region: str, node_selector: Mapping[str, str]
    ) -> None:
        if obj.placed_region != region:
            self._patch(obj, self._placement_patch(obj, region, node_selector))


class JobSetAdapter(_CustomSuspending):
    """JobSets: a suspended JobSet accepts a new nodeSelector in its Job templates, not
    affinity; on resume the JobSet controller merges it into the child Jobs (keys are never
    removed), so Regions should select nodes by the same label keys."""

    group, version, plural = "jobset.x-k8s.io", "v1alpha2", "jobsets"

    def _placement(self, obj: WorkloadObject, node_selector: Mapping[str, str]) -> dict[str, Any]:
        return jobset_placement(obj.spec, node_selector)


def jobset_placement(spec: Mapping[str, Any], node_selector: Mapping[str, str]) -> dict[str, Any]:
    """The JobSet spec patch that adds the region's labels to every Job template's
    nodeSelector (a merge patch replaces the list whole, so it is sent whole)."""
    replicated_jobs = copy.deepcopy(list(spec.get("replicatedJobs") or []))
    for replicated in replicated_jobs:
        job = replicated.setdefault("template", {}).setdefault("spec", {})
        pod_spec = job.setdefault("template", {}).setdefault("spec", {})
        pod_spec["nodeSelector"] = {**(pod_spec.get("nodeSelector") or {}), **node_selector}
    return {"replicatedJobs": replicated_jobs}


TRAINJOB_PATCH_MANAGER = "wattbit.io/placer"
"""wattbit's own entry in a TrainJob's `spec.runtimePatches` (keyed by manager; Kueue's is
`kueue.x-k8s.io/manager`): the others are kept as they are."""


class TrainJobAdapter(_CustomSuspending):
    """Kubeflow TrainJobs: placed by wattbit's own `runtimePatches` entry, a nodeSelector for
    every replicated Job of its runtime; the TrainJob controller renders it into the JobSet
    (only while suspended with no active Job, which a move waits for)."""

    group, version, plural = "trainer.kubeflow.org", "v1alpha1", "trainjobs"

    def _placement(self, obj: WorkloadObject, node_selector: Mapping[str, str]) -> dict[str, Any]:
        return trainjob_placement(obj, node_selector)


def trainjob_placement(obj: WorkloadObject, node_selector: Mapping[str, str]) -> dict[str, Any]:
    """The TrainJob spec patch that sets wattbit's runtimePatches entry: the region's labels
    in the nodeSelector of every replicated Job of its runtime; other managers' entries are
    kept as they are."""
    entries = [
        {
            "name": pod_set.name,
            "template": {"spec": {"template": {"spec": {"nodeSelector": dict(node_selector)}}}},
        }
        for pod_set in obj.groups()
    ]
    ours = {
        "manager": TRAINJOB_PATCH_MANAGER,
        "trainingRuntimeSpec": {"template": {"spec": {"replicatedJobs": entries}}},
    }
    others = [
        dict(entry)
        for entry in obj.spec.get("runtimePatches") or []
        if entry.get("manager") != TRAINJOB_PATCH_MANAGER
    ]
    return {"runtimePatches": [*others, ours]}


class PodAdapter:
    """Bare Pods: gated at creation by the webhook; placed while the gate holds them."""

    def __init__(self, api: client.CoreV1Api, policy: client.PolicyV1Api | None = None) -> None:
        self._api = api
        self._policy = policy

    def place_and_release(
        self,
        obj: WorkloadObject,
        *,
        region: str,
        node_selector: Mapping[str, str],
        now: datetime,
    ) -> None:
        # Node affinity may be set or tightened while the Pod is gated (KEP-3838); the API
        # server checks the Pod as it was, so one patch may place it and remove the gate: one
        # write per release, and no crash can leave it placed but held.
        patch = self._release_patch(obj, now)
        if obj.placed_region != region:
            affinity = with_region_affinity(obj.pod_spec.get("affinity"), node_selector)
            patch["metadata"]["annotations"][names.ANNOTATION_REGION] = region
            patch["spec"]["affinity"] = affinity
        _merge_patch(self._api.patch_namespaced_pod, obj.name, obj.namespace, patch)

    def release_unplaced(self, obj: WorkloadObject, *, now: datetime) -> None:
        patch = self._release_patch(obj, now)
        _merge_patch(self._api.patch_namespaced_pod, obj.name, obj.namespace, patch)

    @staticmethod
    def _release_patch(obj: WorkloadObject, now: datetime) -> dict[str, Any]:
        gates = obj.pod_spec.get("schedulingGates") or []
        remaining = [g for g in gates if g.get("name") != names.SCHEDULING_GATE]
        # Merge patch replaces the list whole: other controllers' gates are kept.
        return {
            "metadata": {"annotations": {ANNOTATION_RELEASED_AT: _instant(now)}},
            "spec": {"schedulingGates": remaining or None},
        }

    def evict(self, obj: WorkloadObject) -> EvictionResult:
        """Evict through the Eviction API, which honours PodDisruptionBudgets: a 429 means a
        budget refused it now (retry later)."""
        body = {
            "apiVersion": "policy/v1",
            "kind": "Eviction",
            "metadata": {"name": obj.name, "namespace": obj.namespace},
        }
        try:
            self._api.create_namespaced_pod_eviction(
                obj.name,
                obj.namespace,
                body,  # type: ignore[arg-type]  # the client serialises plain dicts as they are
                _request_timeout=REQUEST_TIMEOUT_SECONDS,
            )
        except ApiException as error:
            if error.status == HTTP_TOO_MANY_REQUESTS:
                return EvictionResult(evicted=False, message=_api_message(error))
            if error.status == HTTP_NOT_FOUND:
                return EvictionResult(evicted=True, message="already gone")
            raise
        return EvictionResult(evicted=True, message="evicted")


def _api_message(error: ApiException) -> str:
    """The API server's own message from an error body, else the status line."""
    import json  # noqa: PLC0415 - only on this error path

    try:
        body = json.loads(error.body or "{}")
    except ValueError:
        body = {}
    message = body.get("message") if isinstance(body, dict) else None
    return str(message or f"{error.status} {error.reason}")
