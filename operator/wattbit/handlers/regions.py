"""Region status: refresh each Region's signals and GPU counts on a timer.

Reads the signal source named in the spec, counts GPUs from the node and pod
indexes, and writes ``status`` with the ``SignalsFresh`` and ``Ready``
conditions. A failing feed never raises out of the handler: the region keeps
its last reading, goes stale after ``maxAgeSeconds``, and says why.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import kopf

from wattbit import metrics
from wattbit.api.conditions import ConditionStatus, find_condition, set_status_condition
from wattbit.api.v1alpha1.region import RegionSpec, RegionStatus
from wattbit.core.model import Reason
from wattbit.core.signals import SignalReading, is_fresh, signal_age_seconds
from wattbit.handlers import signals as signal_reading
from wattbit.handlers.context import OperatorContext
from wattbit.handlers.indexes import ALL
from wattbit.k8s.capacity import RegionGpus, by_precedence, node_owners, region_gpus
from wattbit.k8s.objects import parse_time
from wattbit.k8s.snapshots import status_reading
from wattbit.providers.base import ProviderError
from wattbit.providers.external import ExternalSignal

logger = logging.getLogger(__name__)

# How often each Region is looked at; a feed itself is asked every refreshIntervalSeconds.
REFRESH_INTERVAL_SECONDS = 5.0


@kopf.timer(
    "wattbit.io",
    "v1alpha1",
    "regions",
    id="refresh-region",
    interval=REFRESH_INTERVAL_SECONDS,
    initial_delay=0.5,
)
def refresh_region(
    *,
    name: str,
    body: kopf.Body,
    spec: kopf.Spec,
    status: kopf.Status,
    patch: kopf.Patch,
    memo: Any,
    logger: kopf.Logger,
    **kwargs: Any,
) -> None:
    context: OperatorContext = memo["wattbit"]
    if not context.leading:
        return  # the Lease's holder polls the feeds and writes Region status
    nodes: kopf.Index[str, Any] = kwargs["nodes"]
    gpu_pods: kopf.Index[str, Any] = kwargs["gpu_pods"]
    power_signals: kopf.Index[str, Any] = kwargs["power_signals"]
    now = datetime.now(UTC)
    region_spec = RegionSpec.model_validate(dict(spec))
    previous = RegionStatus.model_validate(dict(status))
    new_status = previous.model_copy(deep=True)
    new_status.observed_generation = body.metadata.get("generation")

    _refresh_signals(
        context,
        body,
        name=name,
        region_spec=region_spec,
        previous=previous,
        new_status=new_status,
        now=now,
        external_signals=lambda: list(power_signals.get(ALL, ())),
    )

    selector = region_spec.effective_node_selector(name)
    selectors = _selectors_by_precedence(kwargs["regions"], name, selector)
    node_list = list(nodes.get(ALL, ()))
    overlap = node_owners(selectors, node_list)[1].get(name)
    counts = region_gpus(selectors, node_list, gpu_pods.get(ALL, ()))[name]
    if region_spec.capacity is not None and region_spec.capacity.gpus is not None:
        # What wattbit may fill here: the cap, if lower than what the nodes offer.
        counts = RegionGpus(
            total=min(counts.total, region_spec.capacity.gpus), allocated=counts.allocated
        )
    new_status.gpus = signal_reading.gpu_status(counts)
    metrics.region_gpus_free.labels(region=name).set(counts.free)

    fresh_condition = find_condition(new_status.conditions, "SignalsFresh")
    signals_ok = fresh_condition is not None and fresh_condition.status == ConditionStatus.TRUE
    # On every refresh, whichever way the feed answered (the age is set only on a new reading).
    metrics.region_signals_stale.labels(region=name).set(0 if signals_ok else 1)
    available = region_spec.availability.value == "Available"
    if not available:
        ready, reason, message = (
            False,
            "RegionUnavailable",
            (f"availability is {region_spec.availability.value}: no new work is placed here"),
        )
    elif overlap is not None:
        ready, reason, message = False, Reason.OVERLAPPING_NODES.value, overlap.message
    elif not signals_ok:
        ready, reason, message = False, "SignalStale", "signals are not fresh"
    elif counts.total == 0:
        ready, reason, message = (
            False,
            "NoNodes",
            (f"no ready, schedulable node with GPUs matches {selector}"),
        )
    else:
        ready, reason, message = (
            True,
            "Ready",
            (f"{counts.free} of {counts.total} GPUs free; signals fresh"),
        )
    set_status_condition(new_status, now, "Ready", ready, reason=reason, message=message)
    before = find_condition(previous.conditions, "Ready")
    if reason in _WARNED_READY_REASONS and (before is None or before.reason != reason):
        kopf.warn(body, reason=reason, message=message)  # once, when it becomes so

    dumped = new_status.model_dump(by_alias=True, mode="json", exclude_none=True)
    if dumped != dict(status):
        # A merge patch: a field dropped from the status (signals of a replaced source) is
        # removed only by an explicit null.
        patch["status"] = dumped | {key: None for key in dict(status) if key not in dumped}
    said, says = region_summary(dict(status)), region_summary(dumped)
    if said != says:
        logger.info("region %s: %s", name, says)


def region_summary(status: dict[str, Any]) -> str:
    """The Region's values and readiness in one line: logged when it changes, not on every
    refresh (the observation time moves on each one)."""
    signals = status.get("signals") or {}
    gpus = status.get("gpus") or {}
    conditions = {c.get("type"): c for c in status.get("conditions") or []}
    parts = [
        f"{_number(signals.get('carbonGramsPerKwh'))} gCO2/kWh",
        f"{_number(signals.get('priceJpyPerKwh'))} JPY/kWh",
        f"{gpus.get('free')}/{gpus.get('total')} GPUs free",
    ]
    for kind in ("SignalsFresh", "Ready"):
        condition = conditions.get(kind) or {}
        parts.append(f"{kind}={condition.get('status')} ({condition.get('reason')})")
    return ", ".join(parts)


def _number(value: Any) -> str:
    """A value as written and as read back alike: the API server returns 450.0 as 450."""
    return f"{float(value):g}" if isinstance(value, int | float) else str(value)


_WARNED_READY_REASONS = frozenset({Reason.OVERLAPPING_NODES.value, Reason.NO_NODES.value})
"""Ready=False reasons that are mistakes in the spec: a Warning Event when they appear (stale
signals have their own, on SignalsFresh; an Unavailable region is the administrator's will)."""


def _selectors_by_precedence(
    regions: kopf.Index[str, Any], name: str, selector: dict[str, str]
) -> dict[str, dict[str, str]]:
    """Every Region's node selector, oldest first (this one's as just read): the order in which
    they claim nodes. A Region whose spec does not parse claims none."""
    created: dict[str, datetime | None] = {name: None}
    selectors = {name: selector}
    for other, store in regions.items():
        for entry in store:
            if other != name:
                try:
                    spec = RegionSpec.model_validate(entry["spec"])
                except ValueError:
                    continue
                selectors[other] = spec.effective_node_selector(other)
            metadata = entry.get("metadata") or {}
            created[other] = parse_time(metadata.get("creationTimestamp"))
    return {region: selectors[region] for region in by_precedence(created) if region in selectors}


@kopf.on.event("wattbit.io", "v1alpha1", "regions", id="forget-region-metrics")
def forget_region_metrics(*, name: str | None, type: str | None, **_: Any) -> None:
    """A deleted Region's gauges go with it: a region stale when deleted must not show as
    stale for as long as the operator runs."""
    if type == "DELETED" and name:
        metrics.forget_region(name)


def _refresh_signals(
    context: OperatorContext,
    body: kopf.Body,
    *,
    name: str,
    region_spec: RegionSpec,
    previous: RegionStatus,
    new_status: RegionStatus,
    now: datetime,
    external_signals: Callable[[], Iterable[ExternalSignal]],
) -> None:
    """Fetch the region's signals into ``new_status`` and set ``SignalsFresh``."""
    max_age_seconds = float(region_spec.signals.max_age_seconds)
    try:
        reading = signal_reading.fetch(
            context,
            name,
            region_spec,
            now,
            external_signals=external_signals,
        )
    except ProviderError as error:
        metrics.provider_errors_total.labels(
            region=name, provider=region_spec.signals.provider.value, reason=error.reason.value
        ).inc()
        feed = context.feeds[name]
        if feed.status_is_stale_config:
            new_status.signals = None  # the replaced source's values: neither shown nor used
        last = feed.last_reading(status_reading(previous))
        fresh = last is not None and is_fresh(last, now, max_age_seconds)
        consequence = (
            "keeping the last reading, still within maxAge"
            if fresh
            else "region is stale and will not be chosen"
        )
        set_status_condition(
            new_status,
            now,
            "SignalsFresh",
            fresh,
            reason="SignalsFresh" if fresh else str(error.reason),
            message=f"{error.reason}: {error.message}; {consequence}",
        )
        if not fresh:
            _warn_on_transition(body, previous, reason=str(error.reason), message=error.message)
    else:
        if reading is not None:
            context.readings[name] = reading  # decisions read the feed's own values
            new_status.signals = signal_reading.to_status(reading)
            _record_metrics(name, reading, now)
        latest = reading or context.feeds[name].last_reading(status_reading(previous))
        fresh = latest is not None and is_fresh(latest, now, max_age_seconds)
        backing_off = reading is None
        if fresh and latest is not None and not backing_off:
            set_status_condition(
                new_status,
                now,
                "SignalsFresh",
                True,
                reason="SignalsFresh",
                message=f"{latest.source}: {signal_reading.describe(latest)}",
            )
            before = find_condition(previous.conditions, "SignalsFresh")
            if before is not None and before.status == ConditionStatus.FALSE:
                kopf.event(
                    body,
                    type="Normal",
                    reason="SignalsFresh",
                    message=f"signals fresh again: {signal_reading.describe(latest)}",
                )
        elif not fresh:
            age = (
                f"{signal_age_seconds(latest, now):.0f}s old"
                if latest is not None
                else "no reading yet"
            )
            message = (
                f"latest reading is {age}, older than maxAgeSeconds={max_age_seconds:.0f}; "
                "region is stale and will not be chosen"
            )
            set_status_condition(
                new_status, now, "SignalsFresh", False, reason="SignalStale", message=message
            )
            _warn_on_transition(body, previous, reason="SignalStale", message=message)
        # Backing off with a reading still fresh: leave the condition as the last attempt set it.


def _record_metrics(region: str, reading: SignalReading, now: datetime) -> None:
    if reading.carbon_g_per_kwh is not None:
        metrics.region_carbon_grams_per_kwh.labels(region=region).set(reading.carbon_g_per_kwh)
    if reading.price_jpy_per_kwh is not None:
        metrics.region_price_jpy_per_kwh.labels(region=region).set(reading.price_jpy_per_kwh)
    metrics.region_signal_age_seconds.labels(region=region).set(signal_age_seconds(reading, now))


def _warn_on_transition(
    body: kopf.Body, previous: RegionStatus, *, reason: str, message: str
) -> None:
    """One Warning Event when a region goes stale, not one every refresh."""
    before = find_condition(previous.conditions, "SignalsFresh")
    if before is None or before.status == ConditionStatus.TRUE or before.reason != reason:
        kopf.warn(body, reason=reason, message=f"signals stale: {message}")
