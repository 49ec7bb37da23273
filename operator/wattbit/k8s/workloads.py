"""Read and steer deferrable workloads (Jobs and bare Pods) through standard fields.

Reads turn raw objects into the core's ``WorkloadDemand``; writes place a workload
in a region (required node affinity) and release it (unsuspend the Job, remove the
scheduling gate). Nothing here decides anything.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from kubernetes import client

from wattbit.core.placement import WorkloadDemand
from wattbit.errors import InvalidWorkloadError
from wattbit.k8s import names
from wattbit.k8s.hints import gpus_per_pod, parse_duration_seconds

MERGE_PATCH = "application/merge-patch+json"
REQUEST_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkloadDefaults:
    """Values used when a workload gives no hint."""

    gpu_power_watts: int
    expected_duration_seconds: int


def workload_demand(
    *,
    pod_spec: Mapping[str, Any],
    pods: int,
    annotations: Mapping[str, str],
    defaults: WorkloadDefaults,
) -> WorkloadDemand:
    """Build the core's demand from a pod spec, a pod count and the wattbit hints."""
    try:
        duration_seconds = (
            parse_duration_seconds(annotations[names.ANNOTATION_EXPECTED_DURATION])
            if names.ANNOTATION_EXPECTED_DURATION in annotations
            else float(defaults.expected_duration_seconds)
        )
    except ValueError as error:
        raise InvalidWorkloadError("InvalidExpectedDuration", str(error)) from error
    power_text = annotations.get(names.ANNOTATION_GPU_POWER_WATTS)
    if power_text is None:
        power_watts = float(defaults.gpu_power_watts)
    else:
        try:
            power_watts = float(power_text)
        except ValueError:
            power_watts = -1.0
        if not 0 < power_watts <= 5000:
            raise InvalidWorkloadError(
                "InvalidGpuPower",
                f"{names.ANNOTATION_GPU_POWER_WATTS}={power_text!r}: expected watts in (0, 5000]",
            )
    return WorkloadDemand(
        gpus=gpus_per_pod(pod_spec) * pods,
        power_kw_per_gpu=power_watts / 1000.0,
        expected_duration_hours=duration_seconds / 3600.0,
    )


def job_pod_count(job_spec: Mapping[str, Any]) -> int:
    """Pods a Job runs at once: parallelism, capped by completions when set."""
    parallelism = job_spec.get("parallelism")
    parallelism = 1 if parallelism is None else int(parallelism)
    completions = job_spec.get("completions")
    return parallelism if completions is None else min(parallelism, int(completions))


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


class WorkloadAdapter(Protocol):
    """Steers one kind of workload; Kueue's GenericJob shape, reduced to what we need."""

    def place(
        self,
        *,
        namespace: str,
        name: str,
        body: Mapping[str, Any],
        region: str,
        node_selector: Mapping[str, str],
    ) -> None:
        """Pin the workload to the region's nodes (nothing is released yet)."""

    def release(self, *, namespace: str, name: str, body: Mapping[str, Any]) -> None:
        """Let the workload run: unsuspend the Job or remove the Pod's gate."""


class JobAdapter:
    """Jobs: suspended at creation by the webhook; placed by rewriting the pod template."""

    def __init__(self, api: client.BatchV1Api) -> None:
        self._api = api

    def place(
        self,
        *,
        namespace: str,
        name: str,
        body: Mapping[str, Any],
        region: str,
        node_selector: Mapping[str, str],
    ) -> None:
        template_spec = body.get("spec", {}).get("template", {}).get("spec", {})
        affinity = with_region_affinity(template_spec.get("affinity"), node_selector)
        patch = {
            "metadata": {"annotations": {names.ANNOTATION_REGION: region}},
            "spec": {
                "template": {
                    "metadata": {"annotations": {names.ANNOTATION_REGION: region}},
                    "spec": {"affinity": affinity},
                }
            },
        }
        # A suspended Job's scheduling directives are mutable (stable for never-started
        # Jobs since 1.27; for any suspended Job from 1.36, KEP-2926 / KEP-5440).
        _merge_patch(self._api.patch_namespaced_job, name, namespace, patch)

    def release(self, *, namespace: str, name: str, body: Mapping[str, Any]) -> None:
        patch = {"spec": {"suspend": False}}
        _merge_patch(self._api.patch_namespaced_job, name, namespace, patch)


class PodAdapter:
    """Bare Pods: gated at creation by the webhook; placed while the gate holds them."""

    def __init__(self, api: client.CoreV1Api) -> None:
        self._api = api

    def place(
        self,
        *,
        namespace: str,
        name: str,
        body: Mapping[str, Any],
        region: str,
        node_selector: Mapping[str, str],
    ) -> None:
        affinity = with_region_affinity(body.get("spec", {}).get("affinity"), node_selector)
        # While a gate remains, node affinity may be set or tightened (KEP-3838).
        patch = {
            "metadata": {"annotations": {names.ANNOTATION_REGION: region}},
            "spec": {"affinity": affinity},
        }
        _merge_patch(self._api.patch_namespaced_pod, name, namespace, patch)

    def release(self, *, namespace: str, name: str, body: Mapping[str, Any]) -> None:
        gates = body.get("spec", {}).get("schedulingGates") or []
        remaining = [g for g in gates if g.get("name") != names.SCHEDULING_GATE]
        if len(remaining) == len(gates):
            return
        # Merge patch replaces the list whole: other controllers' gates are kept.
        patch = {"spec": {"schedulingGates": remaining or None}}
        _merge_patch(self._api.patch_namespaced_pod, name, namespace, patch)
