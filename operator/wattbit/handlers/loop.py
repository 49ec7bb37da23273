"""The one reconcile loop: when it runs, and what it reads.

A task started at operator startup runs `wattbit.handlers.reconcile.reconcile` on a period
(`WATTBIT_RECONCILE_PERIOD_SECONDS`), on every change that can alter a decision (a workload,
a pod, a node, a Region's signals, a PowerSignal, an APNLink, a PlacementPolicy, a record), and
at the times a step asked to be looked at again (a planned start, a checkpoint deadline).
Changes are debounced, so a burst costs one pass. Each pass copies kopf's indexes in the
event loop (they are only mutated there) and runs in a worker thread.

Why a task and not a timer: a timer is per object and needs a finalizer on it; the loop is
one for the whole cluster. kopf hands its indexes to startup handlers but fills them only
afterwards, so the loop waits for the first resource event, which kopf delivers only once
every index is populated (docs/design/2026-12-02-reconcile-loop.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import kopf

from wattbit import heap, metrics
from wattbit.api.v1alpha1.placementpolicy import PlacementPolicySpec
from wattbit.handlers.context import OperatorContext
from wattbit.handlers.indexes import ALL
from wattbit.handlers.reconcile import Apis, PassResult, reconcile
from wattbit.k8s import names
from wattbit.k8s.jobsets import trainjob_object
from wattbit.k8s.snapshots import (
    ClusterView,
    HintsCache,
    RegionEntry,
    SnapshotSettings,
    region_entry,
)

logger = logging.getLogger(__name__)

INDEXES = (
    "regions",
    "nodes",
    "gpu_pods",
    "policies",
    "deferrable_jobs",
    "deferrable_jobsets",
    "deferrable_trainjobs",
    "cluster_training_runtimes",
    "training_runtimes",
    "deferrable_pods",
    "owned_pods",
    "placement_records",
    "apn_links",
    "kueue_workloads",
    "kueue_checks",
)
"""The kopf indexes a pass reads (`collect`); kopf hands them to the startup handler."""
_TASK_KEY = "wattbit-loop"
HINTS: HintsCache = {}
"""Workload hints read per object version, across passes (one loop per process)."""


@kopf.on.startup(id="start-reconcile-loop")
async def start_loop(*, memo: Any, **kwargs: Any) -> None:
    context: OperatorContext | None = memo.get("wattbit")
    if context is None:  # configure has not run yet
        raise kopf.TemporaryError("waiting for the operator context", delay=0.2)
    context.event_loop = asyncio.get_running_loop()
    context.wake = asyncio.Event()
    context.indexed = asyncio.Event()
    indexes = {name: kwargs[name] for name in INDEXES}
    logging.getLogger("kopf.objects").addFilter(QuietWakeUps())
    # One access line per admission request says no more than the admissions metric.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    memo[_TASK_KEY] = asyncio.create_task(run(context, indexes), name="wattbit reconcile loop")


@kopf.on.cleanup(id="stop-reconcile-loop")
async def stop_loop(*, memo: Any, **_: Any) -> None:
    task: asyncio.Task[None] | None = memo.get(_TASK_KEY)
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def run(context: OperatorContext, indexes: dict[str, Any]) -> None:
    """Wait for the indexes, then reconcile forever; one pass's failure never stops it."""
    assert context.wake is not None  # noqa: S101 - an invariant, not input checking
    assert context.indexed is not None  # noqa: S101 - an invariant, not input checking
    await context.indexed.wait()
    config = context.config
    apis = Apis(
        jobs=context.jobs,
        pods=context.pods,
        jobsets=context.jobsets,
        trainjobs=context.trainjobs,
        custom=context.custom,
        core=context.core,
    )
    wake_at: datetime | None = None
    last_full = float("-inf")
    while True:
        timeout = config.reconcile_period_seconds
        if wake_at is not None:
            timeout = max(0.0, min(timeout, (wake_at - datetime.now(UTC)).total_seconds()))
        try:
            await asyncio.wait_for(context.wake.wait(), timeout=timeout)
        except TimeoutError:
            context.full_due = True  # the period, or a time a step asked to be looked at
            metrics.loop_wakeups.labels(source="timer", kind="full").inc()
        full = pass_is_full(context, last_full, time.monotonic())
        await asyncio.sleep(
            config.reconcile_debounce_seconds if full else config.reconcile_arrival_debounce_seconds
        )
        full = full or context.full_due  # a change during an arrivals debounce
        context.wake.clear()
        if full:
            # Cleared before the pass reads the indexes: a change during it brings another.
            context.full_due = False
        async with context.pass_lock:
            # A standby keeps its indexes warm and acts only once it holds the Lease.
            result = await _one_pass(context, indexes, apis, full=full) if context.leading else None
        if result is None:
            if context.leading:
                context.full_due = True  # the pass failed (logged): the next one is whole
            wake_at = None
            continue
        if full:
            last_full = time.monotonic()
            wake_at = result.wake_at
        elif result.wake_at is not None and (wake_at is None or result.wake_at < wake_at):
            wake_at = result.wake_at  # the full pass's own wake-up times still stand
        _after_pass(context, result, full=full)


def _after_pass(context: OperatorContext, result: PassResult, *, full: bool) -> None:
    """Log what a pass did, and ask for the next one at once when it left work behind."""
    assert context.wake is not None  # noqa: S101 - an invariant, not input checking
    if result.actions or result.writes:
        logger.info(
            "reconcile (%s): %d decided, %d record writes (%d rewordings left for the "
            "next pass), actions %s, %d errors",
            "full" if full else "arrivals",
            result.decided,
            result.writes,
            result.deferred,
            result.actions,
            result.errors,
        )
    if result.skipped:
        metrics.passes_skipped.inc()
    if result.deferred:
        context.full_due = True  # rewordings left over (`REWORDED_PER_PASS`)
        metrics.loop_wakeups.labels(source="rewordings-left", kind="full").inc()
        context.wake.set()
    if result.errors or result.actions:
        # Something was done or failed: look again soon rather than after a period; as a
        # full pass when a move or eviction steps on (or a full pass failed somewhere).
        # Releases and holds need no full pass: their watch events bring an arrivals one.
        again = steps_on(result.actions) or (full and result.errors)
        if again:
            context.full_due = True
        source = "pass-errors" if result.errors else "pass-actions"
        metrics.loop_wakeups.labels(source=source, kind="full" if again else "arrivals").inc()
        context.wake.set()


ARRIVAL_ACTIONS = ("release", "hold-ungated")
"""Actions of an arrivals pass's kind (release, release-unplaced, release-dry-run, ...)."""


def steps_on(actions: Mapping[str, int]) -> bool:
    """Whether a pass's actions need a full pass after them: a move or an eviction."""
    return any(not action.startswith(ARRIVAL_ACTIONS) for action in actions)


def pass_is_full(context: OperatorContext, last_full: float, now: float) -> bool:
    """Whether the next pass must be a full one: a change other than arrivals asked for it,
    arrivals passes are switched off, or the last full pass is a period old (a steady
    stream of arrivals never postpones re-planning, moves and planned starts)."""
    config = context.config
    return (
        context.full_due
        or not config.reconcile_arrival_passes
        or now - last_full >= config.reconcile_period_seconds
    )


async def _one_pass(
    context: OperatorContext, indexes: dict[str, Any], apis: Apis, *, full: bool = True
) -> PassResult | None:
    """One reconcile pass in a worker thread; None when it failed (logged)."""
    config = context.config
    started = time.perf_counter()
    result: PassResult | None = None
    try:
        view = collect(context, indexes, datetime.now(UTC))
        settings = SnapshotSettings(
            builtin_policy=PlacementPolicySpec(
                carbon_price_jpy_per_tonne=config.default_carbon_price_jpy_per_tonne
            ),
            default_gpu_power_watts=float(config.default_gpu_power_watts),
            default_expected_duration_s=float(config.default_expected_duration_seconds),
            excluded_namespaces=frozenset(config.excluded_namespaces),
            hints_cache=HINTS,
        )
        result = await asyncio.to_thread(reconcile, view, apis=apis, settings=settings, full=full)
    except Exception:
        logger.exception("reconcile pass failed; retrying on the next")
    finally:
        metrics.reconcile_seconds.observe(time.perf_counter() - started)
        if result is None or not result.skipped:
            # A pass's garbage would otherwise keep the RSS at its peak (`wattbit.heap`).
            await asyncio.to_thread(heap.trim)
    return result


def _values(index: Any, key: Any = ALL) -> list[Any]:
    return list(index.get(key, ()))


def collect(context: OperatorContext, indexes: dict[str, Any], now: datetime) -> ClusterView:
    """Copy what a pass reads out of the indexes (in the event loop, where they change)."""
    regions: dict[str, RegionEntry] = {}
    for name, store in indexes["regions"].items():
        for entry in store:
            try:
                regions[name] = region_entry(name, entry)
            except ValueError:
                logger.warning("Region %s does not parse; left out of decisions", name)
    owned = indexes["owned_pods"]
    runtimes = {
        runtime.key: runtime
        for runtime in _values(indexes["cluster_training_runtimes"])
        + _values(indexes["training_runtimes"])
    }
    records = {}
    for key, store in indexes["placement_records"].items():
        for entry in store:
            records[key] = entry
    return ClusterView(
        now=now,
        regions=regions,
        readings=dict(context.readings),
        nodes=_values(indexes["nodes"]),
        gpu_pods=_values(indexes["gpu_pods"]),
        workloads=_values(indexes["deferrable_jobs"])
        + _values(indexes["deferrable_jobsets"])
        + [trainjob_object(body, runtimes) for body in _values(indexes["deferrable_trainjobs"])]
        + _values(indexes["deferrable_pods"]),
        pods_by_owner={uid: list(store) for uid, store in owned.items()},
        records=records,
        policies={key: dict(next(iter(store))) for key, store in indexes["policies"].items()},
        links={key: dict(next(iter(store))) for key, store in indexes["apn_links"].items()},
        kueue_workloads={
            uid: workload for uid, store in indexes["kueue_workloads"].items() for workload in store
        },
        kueue_checks=frozenset(name for name, _ in _values(indexes["kueue_checks"])),
        kueue_inactive_checks=frozenset(
            name for name, active in _values(indexes["kueue_checks"]) if not active
        ),
    )


class QuietWakeUps(logging.Filter):
    """Drop kopf's "... succeeded." lines for the routine handlers: the wake-ups run on every
    pod, Job and record event (thousands a minute in a busy cluster), and a Region's refresh
    every 5 s; they say nothing that a pass's own line, or the Region's line when its
    signals or readiness change (handlers/regions.py), does not. Nor do the 10 s checks of
    APNLinks and PlacementPolicies (handlers/references.py: a change is an Event), the 10 s
    report on each PowerSignal (a change is in its status), or each admission (counted in
    wattbit_webhook_admissions_total; at a burst's 100/s the log would be most of the CPU)."""

    ROUTINE = (
        "Handler 'wake-on-",
        "Timer 'refresh-region'",
        "Handler 'forget-region-metrics'",
        "Timer 'check-apn-link'",
        "Timer 'check-placement-policy'",
        "Timer 'report-power-signal'",
        "Webhook '",
    )

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not (message.startswith(self.ROUTINE) and "succeeded" in message)


# ---------------------------------------------------------------- triggers
# Resource handlers run only after every index is populated, so the first one to fire
# releases the loop. Each one only asks for a pass; the pass reads everything itself.


def _poke(memo: Any, source: str, *, full: bool = True) -> None:
    """Ask for a pass: a full one, or (`full=False`, new or released workloads) one that
    decides only the workloads never decided, unless something else asked for a full one.
    `source` names the event for `wattbit_loop_wakeups_total`."""
    context: OperatorContext | None = memo.get("wattbit")
    if context is None or context.wake is None or context.indexed is None:
        return
    metrics.loop_wakeups.labels(source=source, kind="full" if full else "arrivals").inc()
    context.indexed.set()
    if full:
        context.full_due = True
    context.wake.set()


FINISHED_PHASES = ("Succeeded", "Failed")


def frees_capacity(body: Mapping[str, Any], type_: str | None) -> bool:
    """Whether a workload or pod event may free GPUs (deleted, being deleted or finished), or
    is the first of a watch (type None): such a change re-plans the waiting work in a full
    pass. A new object, or one of ours being released or running, does not."""
    if type_ in ("DELETED", None):
        return True
    metadata = body.get("metadata") or {}
    if metadata.get("deletionTimestamp"):
        return True
    status = body.get("status") or {}
    if status.get("phase") in FINISHED_PHASES:
        return True
    return any(
        c.get("type") in ("Complete", "Failed", "Completed") and c.get("status") == "True"
        for c in status.get("conditions") or []
    )


@kopf.on.event("batch", "v1", "jobs", id="wake-on-job", labels={names.LABEL_DEFERRABLE: "true"})
async def wake_on_job(*, memo: Any, body: kopf.Body, type: str | None, **_: Any) -> None:
    _poke(memo, "job", full=frees_capacity(body, type))


@kopf.on.event(
    "jobset.x-k8s.io",
    "v1alpha2",
    "jobsets",
    id="wake-on-jobset",
    labels={names.LABEL_DEFERRABLE: "true"},
)
async def wake_on_jobset(*, memo: Any, body: kopf.Body, type: str | None, **_: Any) -> None:
    _poke(memo, "jobset", full=frees_capacity(body, type))


@kopf.on.event(
    "trainer.kubeflow.org",
    "v1alpha1",
    "trainjobs",
    id="wake-on-trainjob",
    labels={names.LABEL_DEFERRABLE: "true"},
)
async def wake_on_trainjob(*, memo: Any, body: kopf.Body, type: str | None, **_: Any) -> None:
    _poke(memo, "trainjob", full=frees_capacity(body, type))


@kopf.on.event("kueue.x-k8s.io", "v1beta2", "workloads", id="wake-on-kueue-workload")
async def wake_on_kueue_workload(*, memo: Any, body: kopf.Body, **_: Any) -> None:
    # Only Workloads with a check of wattbit's kind: quota reserved, admitted, evicted.
    if (body.get("status") or {}).get("admissionChecks"):
        _poke(memo, "kueue-workload")


@kopf.on.event("", "v1", "pods", id="wake-on-pod")
async def wake_on_pod(*, memo: Any, body: kopf.Body, type: str | None, **_: Any) -> None:
    # Every pod: a finished or deleted GPU pod frees capacity for the next decision.
    if body.get("spec", {}).get("containers") is not None:
        _poke(memo, "pod", full=frees_capacity(body, type))


@kopf.on.event("", "v1", "nodes", id="wake-on-node")
async def wake_on_node(*, memo: Any, type: str | None, **_: Any) -> None:
    # Node heartbeats rewrite status often; only arrivals and departures change capacity.
    context: OperatorContext | None = memo.get("wattbit")
    if (
        context is not None and context.indexed is not None and not context.indexed.is_set()
    ) or type in ("ADDED", "DELETED", None):
        _poke(memo, "node")


@kopf.on.event("wattbit.io", "v1alpha1", "regions", id="wake-on-region")
async def wake_on_region(
    *,
    memo: Any,
    name: str | None,
    body: kopf.Body,
    type: str | None,
    **_: Any,
) -> None:
    # A Region's status is rewritten on every refresh (a feed's observedAt moves with each
    # reading); only a change in what decisions read is worth a pass.
    context: OperatorContext | None = memo.get("wattbit")
    gist = region_gist(body)
    if context is None or type == "DELETED" or context.region_gists.get(str(name)) != gist:
        if context is not None:
            context.region_gists[str(name)] = gist
        _poke(memo, "region")
    elif context.indexed is not None and not context.indexed.is_set():
        _poke(memo, "region")


def region_gist(body: Mapping[str, Any]) -> str:
    """What of a Region a decision depends on: its spec, its signal values and forecast, and
    its conditions' states; not the observation time or the GPU counts (pods wake the loop)."""
    status = body.get("status") or {}
    signals = {k: v for k, v in (status.get("signals") or {}).items() if k != "observedAt"}
    conditions = sorted(
        (c.get("type"), c.get("status"), c.get("reason")) for c in status.get("conditions") or []
    )
    return json.dumps([body.get("spec"), signals, conditions], sort_keys=True, default=str)


@kopf.on.event("wattbit.io", "v1alpha1", "powersignals", id="wake-on-powersignal")
async def wake_on_power_signal(*, memo: Any, **_: Any) -> None:
    _poke(memo, "powersignal")


@kopf.on.event("wattbit.io", "v1alpha1", "apnlinks", id="wake-on-apnlink")
async def wake_on_apn_link(*, memo: Any, **_: Any) -> None:
    _poke(memo, "apnlink")


@kopf.on.event("wattbit.io", "v1alpha1", "placementpolicies", id="wake-on-policy")
async def wake_on_policy(*, memo: Any, **_: Any) -> None:
    _poke(memo, "policy")


@kopf.on.event("wattbit.io", "v1alpha1", "workloadplacements", id="wake-on-record")
async def wake_on_record(*, memo: Any, type: str | None, **_: Any) -> None:
    # Our own writes come back here; a pass over an unchanged cluster writes nothing, so
    # this settles. Deletions matter most: a deleted record is recreated at once (in a
    # full pass: the record's own decision is rewritten whole).
    _poke(memo, "record", full=type in ("DELETED", None))
