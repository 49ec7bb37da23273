"""Kueue: wattbit as an AdmissionCheck controller (`controllerName: wattbit.io/carbon-aware`).

A workload queued in Kueue (label `kueue.x-k8s.io/queue-name`) whose ClusterQueue lists a
wattbit AdmissionCheck is placed through Kueue, never by writing `suspend`: Kueue reserves
quota and sets the check `Pending`; wattbit keeps it `Pending` (with why) while the
workload waits for its window, and sets it `Ready` with `podSetUpdates` carrying the chosen
region's nodeSelector, which Kueue merges into the pod templates when it admits. A move
deactivates the Kueue Workload (`spec.active: false`: Kueue evicts it and resets the checks),
sets the check `Ready` for the new region, and activates it again; quota stays Kueue's.

This module parses Kueue's objects and builds the writes; `KueueAdapter` sends them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kubernetes import client

GROUP = "kueue.x-k8s.io"
VERSION = "v1beta2"
API_VERSION = f"{GROUP}/{VERSION}"
CONTROLLER_NAME = "wattbit.io/carbon-aware"
"""The AdmissionCheck `spec.controllerName` that wattbit serves."""
FIELD_MANAGER = "wattbit"
MERGE_PATCH = "application/merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
REQUEST_TIMEOUT_SECONDS = 10.0
MAX_MESSAGE = 1024
"""Kueue's limit on an admission check message (api validation: maxLength 32768; an Event
carries it too, so it is kept short)."""


class CheckState:
    PENDING = "Pending"
    READY = "Ready"
    RETRY = "Retry"
    REJECTED = "Rejected"


@dataclass(frozen=True, slots=True, kw_only=True)
class AdmissionCheckStatus:
    """One entry of a Workload's `status.admissionChecks`."""

    name: str
    state: str
    message: str = ""
    node_selectors: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """Pod set name -> the nodeSelector of its podSetUpdate."""


@dataclass(frozen=True, slots=True, kw_only=True)
class KueueWorkload:
    """A Kueue Workload, as wattbit reads it."""

    namespace: str
    name: str
    owner_uid: str
    active: bool
    quota_reserved: bool
    admitted: bool
    finished: bool
    pod_sets: tuple[str, ...]
    checks: tuple[AdmissionCheckStatus, ...]
    cluster_queue: str | None = None

    def check(self, ours: Iterable[str]) -> AdmissionCheckStatus | None:
        """The first of its checks that wattbit serves, if any."""
        names = set(ours)
        return next((check for check in self.checks if check.name in names), None)


def _condition_true(status: Mapping[str, Any], kind: str) -> bool:
    return any(
        c.get("type") == kind and c.get("status") == "True" for c in status.get("conditions") or []
    )


def kueue_workload(body: Mapping[str, Any]) -> KueueWorkload | None:
    """A Workload owned by its job (Kueue creates one per job); None without such an owner."""
    metadata = body.get("metadata") or {}
    spec = body.get("spec") or {}
    status = body.get("status") or {}
    owner = next((o for o in metadata.get("ownerReferences") or [] if o.get("controller")), None)
    if owner is None:
        return None
    checks = tuple(
        AdmissionCheckStatus(
            name=str(check.get("name")),
            state=str(check.get("state") or CheckState.PENDING),
            message=str(check.get("message") or ""),
            node_selectors={
                str(update.get("name")): dict(update.get("nodeSelector") or {})
                for update in check.get("podSetUpdates") or []
            },
        )
        for check in status.get("admissionChecks") or []
    )
    admission = status.get("admission") or {}
    return KueueWorkload(
        namespace=str(metadata.get("namespace")),
        name=str(metadata.get("name")),
        owner_uid=str(owner.get("uid")),
        active=spec.get("active") is not False,
        quota_reserved=_condition_true(status, "QuotaReserved"),
        admitted=_condition_true(status, "Admitted"),
        finished=_condition_true(status, "Finished"),
        pod_sets=tuple(str(p.get("name")) for p in spec.get("podSets") or []),
        checks=checks,
        cluster_queue=admission.get("clusterQueue"),
    )


def serves(body: Mapping[str, Any]) -> bool:
    """Whether an AdmissionCheck is wattbit's to answer."""
    return (body.get("spec") or {}).get("controllerName") == CONTROLLER_NAME


def is_active(body: Mapping[str, Any]) -> bool:
    """Whether an AdmissionCheck's Active condition is True."""
    return _condition_true(body.get("status") or {}, "Active")


ACTIVE_MESSAGE = (
    "wattbit answers this check: Pending while a workload waits for its region and hour "
    "(the check's message says why), Ready with the region's nodeSelector. While wattbit is "
    "not running, workloads behind it stay Pending and are admitted once it is back."
)


def _instant(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def check_apply(
    workload: KueueWorkload,
    *,
    check: str,
    state: str,
    message: str,
    node_selector: Mapping[str, str] | None,
    now: datetime,
) -> dict[str, Any]:
    """Server-side apply body for the Workload's status: wattbit's one check entry (the list
    is a map keyed by name, so Kueue's and other controllers' entries are left alone)."""
    entry: dict[str, Any] = {
        "name": check,
        "state": state,
        "message": message[:MAX_MESSAGE],
        "lastTransitionTime": _instant(now),
    }
    if node_selector is not None:
        entry["podSetUpdates"] = [
            {"name": name, "nodeSelector": dict(node_selector)} for name in workload.pod_sets
        ]
    return {
        "apiVersion": API_VERSION,
        "kind": "Workload",
        "metadata": {"name": workload.name, "namespace": workload.namespace},
        "status": {"admissionChecks": [entry]},
    }


def active_condition(*, message: str, now: datetime) -> dict[str, Any]:
    return {
        "type": "Active",
        "status": "True",
        "reason": "Active",
        "message": message,
        "lastTransitionTime": _instant(now),
    }


@dataclass(frozen=True, slots=True, kw_only=True)
class KueueAdmission:
    """A workload wattbit places through one of its AdmissionChecks on a Kueue Workload."""

    workload: KueueWorkload
    check: AdmissionCheckStatus

    @property
    def placed_region_selector(self) -> Mapping[str, str]:
        """The nodeSelector the check gave (of its first pod set), empty before Ready."""
        return next(iter(self.check.node_selectors.values()), {})


Annotate = Callable[[Any, Mapping[str, str]], None]
"""Writes annotations on the job's own metadata (which Kueue never resets)."""


class KueueApi:
    """The writes an AdmissionCheck controller makes: its check on a Workload, a Workload's
    `spec.active`, and the Active condition of its AdmissionChecks."""

    def __init__(self, api: client.CustomObjectsApi) -> None:
        self._api = api

    def set_check(
        self,
        admission: KueueAdmission,
        *,
        state: str,
        message: str,
        node_selector: Mapping[str, str] | None,
        now: datetime,
    ) -> None:
        workload = admission.workload
        body = check_apply(
            workload,
            check=admission.check.name,
            state=state,
            message=message,
            node_selector=node_selector,
            now=now,
        )
        self._api.patch_namespaced_custom_object_status(
            GROUP,
            VERSION,
            workload.namespace,
            "workloads",
            workload.name,
            body,
            field_manager=FIELD_MANAGER,
            force=True,
            _content_type=APPLY_PATCH,
            _request_timeout=REQUEST_TIMEOUT_SECONDS,
        )

    def set_active(self, workload: KueueWorkload, *, active: bool) -> None:
        self._api.patch_namespaced_custom_object(
            GROUP,
            VERSION,
            workload.namespace,
            "workloads",
            workload.name,
            {"spec": {"active": active}},
            _content_type=MERGE_PATCH,
            _request_timeout=REQUEST_TIMEOUT_SECONDS,
        )

    def activate_check(self, name: str, *, now: datetime) -> None:
        """Mark an AdmissionCheck Active: Kueue uses a ClusterQueue only when all its checks
        are. It stays so when wattbit stops, as after a crash: a stop must not change what
        admission does (workloads wait Pending either way)."""
        body = {
            "apiVersion": API_VERSION,
            "kind": "AdmissionCheck",
            "metadata": {"name": name},
            "status": {"conditions": [active_condition(message=ACTIVE_MESSAGE, now=now)]},
        }
        self._api.patch_cluster_custom_object_status(
            GROUP,
            VERSION,
            "admissionchecks",
            name,
            body,
            field_manager=FIELD_MANAGER,
            force=True,
            _content_type=APPLY_PATCH,
            _request_timeout=REQUEST_TIMEOUT_SECONDS,
        )
