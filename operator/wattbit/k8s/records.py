"""Create and update WorkloadPlacement records, the decision log of each workload.

One record per workload, named after it and owned by it (garbage-collected with
it). This module writes what it is given; it decides nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

GROUP = "wattbit.io"
VERSION = "v1alpha1"
PLURAL = "workloadplacements"
MERGE_PATCH = "application/merge-patch+json"
REQUEST_TIMEOUT_SECONDS = 10.0
HTTP_CONFLICT = 409


def record_name(kind: str, name: str) -> str:
    return f"{kind.lower()}-{name}"


def ensure_record(
    api: client.CustomObjectsApi,
    *,
    workload: Mapping[str, Any],
    policy_name: str | None,
) -> str:
    """Create the record for a workload if it does not exist; return its name."""
    metadata = workload["metadata"]
    kind, name, namespace = workload["kind"], metadata["name"], metadata["namespace"]
    owner = {
        "apiVersion": workload["apiVersion"],
        "kind": kind,
        "name": name,
        "uid": metadata["uid"],
        "controller": True,
        "blockOwnerDeletion": False,
    }
    spec: dict[str, Any] = {
        "workloadRef": {k: owner[k] for k in ("apiVersion", "kind", "name", "uid")},
    }
    if policy_name:
        spec["policyName"] = policy_name
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "WorkloadPlacement",
        "metadata": {
            "name": record_name(kind, name),
            "namespace": namespace,
            "ownerReferences": [owner],
            "labels": {"wattbit.io/workload-kind": kind, "wattbit.io/workload-name": name},
        },
        "spec": spec,
    }
    try:
        api.create_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, body, _request_timeout=REQUEST_TIMEOUT_SECONDS
        )
    except ApiException as error:
        if error.status != HTTP_CONFLICT:  # already exists: level-based, nothing to do
            raise
    return record_name(kind, name)


def create_record(
    api: client.CustomObjectsApi,
    *,
    kind: str,
    api_version: str,
    namespace: str,
    name: str,
    uid: str,
    policy_name: str | None,
) -> str:
    """Create the record of a workload if it does not exist; return its name."""
    return ensure_record(
        api,
        workload={
            "kind": kind,
            "apiVersion": api_version,
            "metadata": {"name": name, "namespace": namespace, "uid": uid},
        },
        policy_name=policy_name,
    )


def merge_patch(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON merge patch (RFC 7386) that turns ``old`` into ``new``: changed keys with their
    new value, removed keys as null, nested objects diffed, lists replaced whole."""
    patch: dict[str, Any] = {}
    for key in old.keys() - new.keys():
        patch[key] = None
    for key, value in new.items():
        before = old.get(key)
        if isinstance(value, Mapping) and isinstance(before, Mapping):
            nested = merge_patch(before, value)
            if nested:
                patch[key] = nested
        elif value != before or key not in old:
            patch[key] = value
    return patch


def read_record_status(
    api: client.CustomObjectsApi, *, namespace: str, name: str
) -> dict[str, Any]:
    body = api.get_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, name, _request_timeout=REQUEST_TIMEOUT_SECONDS
    )
    status = body.get("status") if isinstance(body, dict) else None
    return dict(status or {})


def patch_record_status(
    api: client.CustomObjectsApi, *, namespace: str, name: str, status: Mapping[str, Any]
) -> None:
    api.patch_namespaced_custom_object_status(
        GROUP,
        VERSION,
        namespace,
        PLURAL,
        name,
        {"status": dict(status)},
        _content_type=MERGE_PATCH,
        _request_timeout=REQUEST_TIMEOUT_SECONDS,
    )
