"""What every handler shares: configuration, API clients, adapters, the feeds' latest readings
and the reconcile loop's wake-up.

Built once at startup and kept in kopf's memo. Nothing about workloads in flight is kept here:
that lives in the WorkloadPlacement records, so a restarted operator sees all of it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import requests
from kubernetes import client

from wattbit import metrics
from wattbit.config import OperatorConfig
from wattbit.core.signals import SignalReading
from wattbit.k8s.workloads import JobAdapter, JobSetAdapter, PodAdapter, TrainJobAdapter

if TYPE_CHECKING:  # a runtime import would be circular: signals needs this context
    from wattbit.handlers.signals import RegionFeed


class CountingApiClient(client.ApiClient):
    """The API client, counting every request it sends by HTTP method: a benchmark's "API
    requests per reconcile" reads `wattbit_api_requests_total`."""

    def call_api(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        metrics.api_requests_total.labels(method=method.upper()).inc()
        return super().call_api(method, url, *args, **kwargs)


@dataclass(kw_only=True)
class OperatorContext:
    config: OperatorConfig
    api: client.ApiClient
    jobs: JobAdapter
    pods: PodAdapter
    jobsets: JobSetAdapter
    trainjobs: TrainJobAdapter
    custom: client.CustomObjectsApi
    core: client.CoreV1Api
    http: requests.Session = field(default_factory=requests.Session)
    """One HTTP session for every signal provider (connection reuse)."""
    feeds: dict[str, RegionFeed] = field(default_factory=dict)
    """Region name -> RegionFeed (provider and backoff), see wattbit.handlers.signals."""
    readings: dict[str, SignalReading] = field(default_factory=dict)
    """Region name -> the feed's latest reading, unrounded: what decisions read."""
    region_gists: dict[str, str] = field(default_factory=dict)
    """Region name -> what of it decisions read, to wake the loop only when that changes."""
    wake: asyncio.Event | None = None
    """Set to run the reconcile loop soon (debounced); created in the operator's event loop."""
    full_due: bool = True
    """A change other than new workloads arriving happened since the last full pass (or
    none has run yet): the next pass is a full one (wattbit.handlers.loop)."""
    indexed: asyncio.Event | None = None
    """Set once kopf's indexes are fully populated (the first resource event proves it)."""
    event_loop: asyncio.AbstractEventLoop | None = None
    leading: bool = True
    """This replica holds the Lease (or runs alone): it acts on workloads and polls feeds."""
    pass_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    """Held through each reconcile pass, so that giving up the Lease waits for the pass."""

    def request_reconcile(self, source: str) -> None:
        """Ask for a full reconcile pass soon; safe from any thread. `source` names the asker
        for `wattbit_loop_wakeups_total`."""
        loop, wake = self.event_loop, self.wake
        if loop is None or wake is None or loop.is_closed():
            return
        loop.call_soon_threadsafe(self._wake_full, source)

    def _wake_full(self, source: str) -> None:
        metrics.loop_wakeups.labels(source=source, kind="full").inc()
        self.full_due = True
        if self.wake is not None:
            self.wake.set()

    @classmethod
    def build(cls, *, config: OperatorConfig, api: client.ApiClient) -> OperatorContext:
        core = client.CoreV1Api(api)
        custom = client.CustomObjectsApi(api)
        return cls(
            config=config,
            api=api,
            jobs=JobAdapter(client.BatchV1Api(api), core),
            pods=PodAdapter(core),
            jobsets=JobSetAdapter(custom),
            trainjobs=TrainJobAdapter(custom),
            custom=custom,
            core=core,
        )


def leads(memo: Any) -> bool:
    """Whether this replica holds the Lease: only it writes status and acts (a standby keeps
    quiet). True before startup has built the context, as kopf may call a handler early."""
    context: OperatorContext | None = memo.get("wattbit")
    return context is None or context.leading
