"""What every handler shares: configuration, API clients, adapters, and the decision lock.

Built once at startup and kept in kopf's memo. The lock serialises placement
decisions so that two workloads decided at once never count the same free GPUs;
``reservations`` remembers GPUs promised to workloads whose pods do not exist yet.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import requests
from kubernetes import client

from wattbit.config import OperatorConfig
from wattbit.k8s.workloads import JobAdapter, PodAdapter, WorkloadDefaults

if TYPE_CHECKING:  # a runtime import would be circular: signals needs this context
    from wattbit.handlers.signals import RegionFeed


RESERVATION_TTL = timedelta(minutes=10)


@dataclass(kw_only=True)
class OperatorContext:
    config: OperatorConfig
    api: client.ApiClient
    jobs: JobAdapter
    pods: PodAdapter
    custom: client.CustomObjectsApi
    core: client.CoreV1Api
    defaults: WorkloadDefaults
    decision_lock: threading.Lock = field(default_factory=threading.Lock)
    reservations: dict[str, tuple[str, int]] = field(default_factory=dict)
    """Workload UID -> (region, GPUs) for released workloads whose pods are not seen yet."""
    http: requests.Session = field(default_factory=requests.Session)
    """One HTTP session for every signal provider (connection reuse)."""
    feeds: dict[str, RegionFeed] = field(default_factory=dict)
    """Region name -> RegionFeed (provider and backoff), see wattbit.handlers.signals."""
    reserved_at: dict[str, datetime] = field(default_factory=dict)
    """Workload UID -> when its reservation was made; reservations lapse after a TTL."""
    last_hold_reason: dict[str, str] = field(default_factory=dict)
    """Workload UID -> reason of the last hold Event, so a hold is announced once."""

    def reserve(self, uid: str, region: str, gpus: int, now: datetime) -> None:
        self.reservations[uid] = (region, gpus)
        self.reserved_at[uid] = now

    def prune_reservations(self, now: datetime) -> None:
        """Forget reservations older than RESERVATION_TTL: by then the pods exist (and are
        counted themselves) or the workload is stuck elsewhere, and must not block GPUs."""
        for uid, at in list(self.reserved_at.items()):
            if now - at > RESERVATION_TTL:
                self.reservations.pop(uid, None)
                del self.reserved_at[uid]

    @classmethod
    def build(cls, *, config: OperatorConfig, api: client.ApiClient) -> OperatorContext:
        return cls(
            config=config,
            api=api,
            jobs=JobAdapter(client.BatchV1Api(api)),
            pods=PodAdapter(client.CoreV1Api(api)),
            custom=client.CustomObjectsApi(api),
            core=client.CoreV1Api(api),
            defaults=WorkloadDefaults(
                gpu_power_watts=config.default_gpu_power_watts,
                expected_duration_seconds=config.default_expected_duration_seconds,
            ),
        )
