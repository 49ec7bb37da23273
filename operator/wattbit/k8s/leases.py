"""Leader election on a coordination.k8s.io Lease, as client-go's leaderelection does it.

Two or more operator replicas serve the webhook; exactly one (the Lease's holder) acts on
workloads and polls the signal feeds. `claim` is the pure rule (who may hold the Lease now);
`LeaseClient` reads and writes it with optimistic concurrency, so two replicas racing for an
expired Lease cannot both win: the loser's write fails with 409 Conflict.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from kubernetes import client
from kubernetes.client.exceptions import ApiException

HTTP_NOT_FOUND = 404
HTTP_CONFLICT = 409
REQUEST_TIMEOUT_SECONDS = 5


@dataclass(frozen=True, slots=True, kw_only=True)
class LeaseRecord:
    """What the Lease says."""

    holder: str | None
    renewed_at: datetime | None
    duration_s: float
    acquired_at: datetime | None = None
    transitions: int = 0
    resource_version: str | None = None

    def expired(self, now: datetime) -> bool:
        if self.holder is None or self.renewed_at is None:
            return True
        return now >= self.renewed_at + timedelta(seconds=self.duration_s)


class Claim(StrEnum):
    """What a replica may do with the Lease now."""

    ACQUIRE = "Acquire"
    """Nobody holds it (or the holder let it expire): take it."""
    RENEW = "Renew"
    """We hold it: renew it."""
    STANDBY = "Standby"
    """Someone else holds it and renews it: wait."""


def claim(lease: LeaseRecord | None, *, me: str, now: datetime) -> Claim:
    """The pure rule: who may hold the Lease at `now`."""
    if lease is None or lease.expired(now):
        return Claim.RENEW if lease is not None and lease.holder == me else Claim.ACQUIRE
    return Claim.RENEW if lease.holder == me else Claim.STANDBY


class LeaseClient:
    """Reads and writes one Lease; every write carries the resourceVersion it read."""

    def __init__(self, api: client.CoordinationV1Api, *, namespace: str, name: str) -> None:
        self._api = api
        self._namespace = namespace
        self._name = name

    def read(self) -> LeaseRecord | None:
        try:
            lease = self._api.read_namespaced_lease(
                self._name, self._namespace, _request_timeout=REQUEST_TIMEOUT_SECONDS
            )
        except ApiException as error:
            if error.status == HTTP_NOT_FOUND:
                return None
            raise
        spec = lease.spec or client.V1LeaseSpec()
        metadata = lease.metadata or client.V1ObjectMeta()
        return LeaseRecord(
            holder=spec.holder_identity or None,
            renewed_at=spec.renew_time,
            duration_s=float(spec.lease_duration_seconds or 0),
            acquired_at=spec.acquire_time,
            transitions=int(spec.lease_transitions or 0),
            resource_version=metadata.resource_version,
        )

    def write(
        self, previous: LeaseRecord | None, *, holder: str | None, now: datetime, duration_s: int
    ) -> bool:
        """Write the Lease as held by `holder` (None: released) from `now`; False when another
        replica wrote it first (409) or created it meanwhile."""
        changes_hands = previous is None or previous.holder != holder
        transitions = (previous.transitions if previous else 0) + (
            1 if changes_hands and holder else 0
        )
        body = client.V1Lease(
            metadata=client.V1ObjectMeta(
                name=self._name,
                namespace=self._namespace,
                resource_version=previous.resource_version if previous else None,
            ),
            spec=client.V1LeaseSpec(
                holder_identity=holder,
                lease_duration_seconds=duration_s,
                acquire_time=now if changes_hands or previous is None else previous.acquired_at,
                renew_time=now,
                lease_transitions=transitions,
            ),
        )
        try:
            if previous is None:
                self._api.create_namespaced_lease(
                    self._namespace, body, _request_timeout=REQUEST_TIMEOUT_SECONDS
                )
            else:
                self._api.replace_namespaced_lease(
                    self._name, self._namespace, body, _request_timeout=REQUEST_TIMEOUT_SECONDS
                )
        except ApiException as error:
            if error.status == HTTP_CONFLICT:
                return False
            raise
        return True


__all__ = ["Claim", "LeaseClient", "LeaseRecord", "claim"]
