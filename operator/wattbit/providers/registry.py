"""Builds the `SignalProvider` a Region's `spec.signals` asks for.

This module's one job is to translate the API's `SignalSource` (one provider kind and its
block) into a configured provider: it resolves Secret references through the caller's
`SecretResolver`, loads the embedded dataset for `replay`, and wraps carbon-only providers
with the Region's fallback price.

WARNING: it never talks to Kubernetes (the caller resolves Secrets) and never fetches; a
missing Secret or an unknown area raises `ProviderError` here, before any request. Build once
per Region spec and Secret version and reuse the provider: WattTime caches its login token.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Final, assert_never

import requests

from wattbit.api.v1alpha1.common import SecretKeyRef
from wattbit.api.v1alpha1.signals import (
    CarbonAwareSdkSignals,
    ElectricityMapsSignals,
    ExternalSignals,
    HttpSignals,
    NoiseMode,
    PrometheusSignals,
    ReplaySignals,
    SignalSource,
    StaticSignals,
    WattTimeSignals,
)
from wattbit.api.v1alpha1.signals import (
    Season as ApiSeason,
)
from wattbit.core.replay import ReplayNoise, ReplaySettings, Season
from wattbit.core.signals import ProblemReason, SignalReading
from wattbit.providers import electricitymaps as electricitymaps_module
from wattbit.providers import watttime as watttime_module
from wattbit.providers.base import ProviderError, SecretResolver, SignalProvider
from wattbit.providers.carbon_aware_sdk import CarbonAwareSdkProvider
from wattbit.providers.dataset import profile_for
from wattbit.providers.electricitymaps import ElectricityMapsProvider
from wattbit.providers.external import ExternalProvider, ExternalSignal
from wattbit.providers.http_json import HttpFeedSpec, HttpJsonProvider
from wattbit.providers.prometheus import PrometheusProvider
from wattbit.providers.replay import ReplayProvider
from wattbit.providers.static import StaticProvider
from wattbit.providers.watttime import WattTimeProvider
from wattbit.providers.wire import Quantity, Unit

_SEASONS: Final[dict[ApiSeason, Season | None]] = {
    ApiSeason.SPRING: Season.SPRING_WEEKDAY,
    ApiSeason.SUMMER: Season.SUMMER_WEEKDAY,
    ApiSeason.AUTUMN: Season.AUTUMN_WEEKDAY,
    ApiSeason.WINTER: Season.WINTER_WEEKDAY,
    ApiSeason.CALENDAR: None,
}
"""A named season replays its weekday profile every day; `calendar` follows the date."""


def _no_signals() -> Iterable[ExternalSignal]:
    return ()


@dataclass(frozen=True, slots=True, kw_only=True)
class WithFallbackPrice:
    """Fills a price the wrapped provider does not publish with a flat configured price."""

    inner: SignalProvider
    price_jpy_per_kwh: float

    @property
    def name(self) -> str:
        """The wrapped provider's name."""
        return self.inner.name

    def fetch(self, now: datetime) -> SignalReading:
        """The wrapped reading, with missing current and forecast prices filled in."""
        reading = self.inner.fetch(now)
        return replace(
            reading,
            price_jpy_per_kwh=self.price_jpy_per_kwh
            if reading.price_jpy_per_kwh is None
            else reading.price_jpy_per_kwh,
            forecast=tuple(
                point
                if point.price_jpy_per_kwh is not None
                else replace(point, price_jpy_per_kwh=self.price_jpy_per_kwh)
                for point in reading.forecast
            ),
        )


def resolve_secret(secrets: SecretResolver, ref: SecretKeyRef | None) -> str | None:
    """The value behind `ref` (None when no reference); SecretMissing naming the reference,
    never a value, when it cannot be read."""
    if ref is None:
        return None
    try:
        value = secrets(ref.name, ref.key)
    except ProviderError:
        raise
    except LookupError:
        raise ProviderError(
            ProblemReason.SECRET_MISSING, f"Secret {ref.name!r} has no key {ref.key!r}"
        ) from None
    if not value:
        raise ProviderError(
            ProblemReason.SECRET_MISSING, f"Secret {ref.name!r} key {ref.key!r} is empty"
        )
    return value


def replay_settings(config: ReplaySignals) -> ReplaySettings:
    """Core replay settings from the API block (forecast error is a bound, in percent)."""
    return ReplaySettings(
        seed=config.seed,
        time_scale=float(config.time_scale),
        season=_SEASONS[config.season],
        forecast_error_percent=float(config.forecast_error_percent),
        noise=ReplayNoise() if config.noise is NoiseMode.GAUSSIAN else ReplayNoise.off(),
    )


def _replay(config: ReplaySignals, grid_area: str) -> ReplayProvider:
    area = config.area.value if config.area is not None else grid_area
    try:
        profile = profile_for(area)
    except KeyError:
        raise ProviderError(
            ProblemReason.INVALID_CONFIG, f"replay: no embedded data for grid area {area!r}"
        ) from None
    return ReplayProvider(profile=profile, settings=replay_settings(config))


def _static(config: StaticSignals) -> StaticProvider:
    return StaticProvider(
        carbon_g_per_kwh=float(config.carbon_grams_per_kwh),
        price_jpy_per_kwh=config.price_value(),
        renewable_percent=None
        if config.renewable_percent is None
        else float(config.renewable_percent),
        curtailment=config.curtailment,
    )


def _http(
    config: HttpSignals, secrets: SecretResolver, session: requests.Session
) -> HttpJsonProvider:
    feeds: list[HttpFeedSpec] = []
    for feed in config.feeds:
        headers: dict[str, str] = {}
        for header in feed.headers_from_secret:
            value = resolve_secret(secrets, SecretKeyRef(name=header.name, key=header.key))
            headers[header.header] = f"{header.value_prefix or ''}{value}"
        feeds.append(
            HttpFeedSpec(
                quantity=Quantity(feed.metric.value),
                url=feed.url,
                unit=Unit(feed.units.value),
                value_path=feed.value_path,
                timestamp_path=feed.timestamp_path,
                forecast_path=feed.forecast_path,
                forecast_value_field=feed.forecast_value_field or "value",
                forecast_time_field=feed.forecast_time_field or "time",
                headers=headers,
            )
        )
    return HttpJsonProvider(
        feeds=tuple(feeds), session=session, timeout_seconds=float(config.timeout_seconds)
    )


def _prometheus(
    config: PrometheusSignals, secrets: SecretResolver, session: requests.Session
) -> PrometheusProvider:
    return PrometheusProvider(
        base_url=config.url,
        session=session,
        carbon_query=config.carbon_query,
        price_query=config.price_query,
        renewable_query=config.renewable_query,
        carbon_forecast_query=config.carbon_forecast_query,
        price_forecast_query=config.price_forecast_query,
        forecast_horizon_seconds=config.forecast_horizon_minutes * 60.0,
        forecast_step_seconds=config.forecast_step_minutes * 60.0,
        bearer_token=resolve_secret(secrets, config.bearer_token_secret_ref),
        timeout_seconds=float(config.timeout_seconds),
    )


def _electricitymaps(
    config: ElectricityMapsSignals,
    grid_area: str,
    secrets: SecretResolver,
    session: requests.Session,
) -> ElectricityMapsProvider:
    return ElectricityMapsProvider(
        zone=config.zone or grid_area,
        session=session,
        api_token=resolve_secret(secrets, config.api_key_secret_ref),
        base_url=config.base_url or electricitymaps_module.PUBLIC_BASE_URL,
        emission_factor_type=config.emission_factor_type,
    )


def _watttime(
    config: WattTimeSignals, secrets: SecretResolver, session: requests.Session
) -> WattTimeProvider:
    return WattTimeProvider(
        region=config.region,
        session=session,
        token=resolve_secret(secrets, config.api_key_secret_ref),
        username=resolve_secret(secrets, config.username_secret_ref),
        password=resolve_secret(secrets, config.password_secret_ref),
        base_url=config.base_url or watttime_module.PUBLIC_BASE_URL,
    )


def _carbon_aware_sdk(
    config: CarbonAwareSdkSignals, secrets: SecretResolver, session: requests.Session
) -> CarbonAwareSdkProvider:
    return CarbonAwareSdkProvider(
        location=config.location,
        base_url=config.base_url,
        session=session,
        api_key=resolve_secret(secrets, config.api_key_secret_ref),
    )


def external_provider(
    config: ExternalSignals,
    region: str,
    grid_area: str,
    signals: Callable[[], Iterable[ExternalSignal]],
) -> ExternalProvider:
    selector = config.signal_selector

    def label_filter(labels: Mapping[str, str]) -> bool:
        return selector is not None and selector.matches(dict(labels))

    return ExternalProvider(
        region=region,
        grid_area=grid_area,
        signals=signals,
        namespaces=None if config.namespaces is None else frozenset(config.namespaces),
        # With a selector, PowerSignals count by label, not by the region they name.
        label_filter=None if selector is None else label_filter,
    )


def build_provider(
    source: SignalSource,
    *,
    region: str,
    grid_area: str,
    secrets: SecretResolver,
    session: requests.Session,
    external_signals: Callable[[], Iterable[ExternalSignal]] = _no_signals,
) -> SignalProvider:
    """The provider for one Region's `spec.signals`; raises `ProviderError` if unusable.

    `secrets(name, key)` returns a Secret value from the operator's namespace; `session` is
    shared by HTTP providers; `external_signals` lists the current PowerSignals (external
    provider only).
    """
    provider: SignalProvider
    match source.settings():
        case StaticSignals() as static:
            provider = _static(static)
        case ReplaySignals() as replay:
            provider = _replay(replay, grid_area)
        case HttpSignals() as http:
            provider = _http(http, secrets, session)
        case PrometheusSignals() as prometheus:
            provider = _prometheus(prometheus, secrets, session)
        case ElectricityMapsSignals() as electricitymaps:
            provider = _electricitymaps(electricitymaps, grid_area, secrets, session)
        case WattTimeSignals() as watttime:
            provider = _watttime(watttime, secrets, session)
        case CarbonAwareSdkSignals() as carbon_aware_sdk:
            provider = _carbon_aware_sdk(carbon_aware_sdk, secrets, session)
        case ExternalSignals() as external:
            provider = external_provider(external, region, grid_area, external_signals)
        case unknown:
            assert_never(unknown)
    if source.fallback_price_jpy_per_kwh is not None:
        provider = WithFallbackPrice(
            inner=provider, price_jpy_per_kwh=float(source.fallback_price_jpy_per_kwh)
        )
    return provider
