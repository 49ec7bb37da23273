"""Glue between a Region's signal source, the providers, and the Region status model.

Builds the provider for a Region spec, and converts readings to and from the
status shape. Kept out of the Region handler so the handler stays wiring only.
"""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from kubernetes.client.exceptions import ApiException

from wattbit.api.v1alpha1.region import ForecastPoint as ForecastPointStatus
from wattbit.api.v1alpha1.region import GpuStatus, RegionSignalsStatus, RegionSpec
from wattbit.api.v1alpha1.signals import ProviderKind
from wattbit.core.signals import ProblemReason, SignalReading
from wattbit.handlers.context import OperatorContext
from wattbit.k8s.capacity import RegionGpus
from wattbit.providers.backoff import BackoffState
from wattbit.providers.base import ProviderError, SecretResolver, SignalProvider
from wattbit.providers.external import ExternalSignal
from wattbit.providers.registry import build_provider

FORECAST_POINTS_IN_STATUS = 48


@dataclass(kw_only=True)
class RegionFeed:
    """A Region's provider, built once per signal configuration, and its backoff."""

    config_key: str
    provider: SignalProvider | None = None
    """None until built, and again when the next attempt must rebuild it."""
    backoff: BackoffState = field(default_factory=BackoffState)
    fetched_at: datetime | None = None
    """Last successful fetch; the next waits for ``refreshIntervalSeconds``."""
    status_is_stale_config: bool = False
    """The Region's status still shows a reading from its previous signal configuration
    (it was switched to another provider or source): never served as fresh."""

    def last_reading(self, recorded: SignalReading | None) -> SignalReading | None:
        """The reading on record, unless it came from a configuration since replaced."""
        return None if self.status_is_stale_config else recorded


# Reasons after which the provider is rebuilt on the next attempt: a rotated Secret or
# a fixed configuration must take effect without restarting the operator.
# Providers that read memory only (their config, the embedded dataset, the PowerSignal
# index): evaluated on every tick, so a new PowerSignal takes effect within seconds.
_LOCAL_PROVIDERS = frozenset({ProviderKind.STATIC, ProviderKind.REPLAY, ProviderKind.EXTERNAL})

_REBUILD_AFTER = frozenset({ProblemReason.UNAUTHORIZED, ProblemReason.SECRET_MISSING})


def fetch(
    context: OperatorContext,
    region: str,
    spec: RegionSpec,
    now: datetime,
    *,
    external_signals: Callable[[], Iterable[ExternalSignal]],
) -> SignalReading | None:
    """The region's current reading, or None when it is not due yet or is backing off.

    Raises ProviderError when the feed fails; the failure also starts a backoff
    that honours the source's Retry-After. A changed configuration is used at once.
    """
    config_key = json.dumps(spec.signals.model_dump(mode="json"), sort_keys=True) + spec.grid_area
    feed = context.feeds.get(region)
    if feed is None or feed.config_key != config_key:
        replaced = feed is not None
        feed = context.feeds[region] = RegionFeed(
            config_key=config_key, status_is_stale_config=replaced
        )
        if replaced:
            context.readings.pop(region, None)  # the old source's values are not this one's
    else:
        if not feed.backoff.may_attempt(now):
            return None
        interval = timedelta(seconds=spec.signals.refresh_interval_seconds)
        remote = spec.signals.provider not in _LOCAL_PROVIDERS
        if remote and feed.fetched_at is not None and now - feed.fetched_at < interval:
            return None
    try:
        if feed.provider is None:
            feed.provider = build_provider(
                spec.signals,
                region=region,
                grid_area=spec.grid_area,
                secrets=_secret_resolver(context),
                session=context.http,
                external_signals=external_signals,
            )
        reading = feed.provider.fetch(now)
    except ProviderError as error:
        feed.backoff = feed.backoff.after_failure(
            now,
            random_fraction=random.random(),  # noqa: S311 - jitter, not security
            retry_after_seconds=error.retry_after_seconds,
        )
        if error.reason in _REBUILD_AFTER:
            feed.provider = None
        raise
    feed.backoff = feed.backoff.after_success()
    feed.fetched_at = now
    feed.status_is_stale_config = False
    return reading


def _secret_resolver(context: OperatorContext) -> SecretResolver:
    """Read provider credentials from Secrets in the operator's own namespace only."""

    def resolve(name: str, key: str) -> str:
        try:
            secret = context.core.read_namespaced_secret(
                name, context.config.namespace, _request_timeout=10.0
            )
        except ApiException as error:
            raise KeyError(f"{context.config.namespace}/{name}") from error
        data = secret.data or {}
        if key not in data:
            raise KeyError(f"{context.config.namespace}/{name}[{key}]")
        return base64.b64decode(data[key]).decode("utf-8").strip()

    return resolve


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def to_status(reading: SignalReading) -> RegionSignalsStatus:
    """The status shape, rounded for people (0.1 g/kWh, 0.001 JPY/kWh keeps the 0.01 floor)."""
    return RegionSignalsStatus(
        carbon_grams_per_kwh=_rounded(reading.carbon_g_per_kwh, 1),
        price_jpy_per_kwh=_rounded(reading.price_jpy_per_kwh, 3),
        renewable_percent=_rounded(reading.renewable_percent, 1),
        curtailment=reading.curtailment,
        observed_at=reading.observed_at,
        source=reading.source,
        forecast=[
            ForecastPointStatus(
                start=p.start,
                carbon_grams_per_kwh=_rounded(p.carbon_g_per_kwh, 1),
                price_jpy_per_kwh=_rounded(p.price_jpy_per_kwh, 3),
            )
            for p in reading.forecast[:FORECAST_POINTS_IN_STATUS]
        ],
    )


def describe(reading: SignalReading) -> str:
    """One line with the reading's numbers, for conditions and Events."""
    carbon = (
        f"{reading.carbon_g_per_kwh:.0f} gCO2/kWh"
        if reading.carbon_g_per_kwh is not None
        else "carbon unknown"
    )
    price = (
        f"{reading.price_jpy_per_kwh:.2f} JPY/kWh"
        if reading.price_jpy_per_kwh is not None
        else "price unknown"
    )
    return f"{carbon}, {price}, observed {reading.observed_at.isoformat()}"


def gpu_status(counts: RegionGpus) -> GpuStatus:
    return GpuStatus(total=counts.total, allocated=counts.allocated, free=counts.free)
