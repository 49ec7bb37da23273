"""Where a Region's power signals come from: ``spec.signals`` and one block per provider.

A Region names one ``provider`` and, in the block of the same name, that provider's
settings. The CRD enforces "the block named by ``provider`` is set and no other" with CEL;
``replay`` and ``external`` need no settings, so their blocks may be omitted. Credentials
are only ever referenced from Secrets (``SecretKeyRef``), never written in the spec.

Data definitions only: the providers themselves live in ``wattbit.providers``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, ClassVar, Self

from pydantic import Field, model_validator

from wattbit.api.v1alpha1.common import (
    CelRule,
    GridAreaCode,
    HttpUrl,
    LabelSelector,
    ObjectName,
    PriceString,
    SecretKeyRef,
    WattbitModel,
)


class ProviderKind(StrEnum):
    """Which signal provider feeds a Region."""

    STATIC = "static"
    """Fixed values from ``signals.static`` (tests, demos, a flat tariff)."""
    REPLAY = "replay"
    """The embedded Japanese grid dataset, replayed on a compressed clock (the default)."""
    HTTP = "http"
    """Generic HTTP/JSON feeds (``signals.http``)."""
    PROMETHEUS = "prometheus"
    """PromQL queries against a Prometheus server (``signals.prometheus``)."""
    ELECTRICITYMAPS = "electricitymaps"
    """The Electricity Maps API (carbon intensity)."""
    WATTTIME = "watttime"
    """The WattTime API (marginal emissions)."""
    CARBON_AWARE_SDK = "carbonAwareSDK"
    """A Green Software Foundation Carbon Aware SDK web API."""
    EXTERNAL = "external"
    """Only ``PowerSignal`` objects written by someone else."""


class JapanGridArea(StrEnum):
    """The ten Japanese grid areas (JEPX area prices; Electricity Maps zone codes)."""

    HOKKAIDO = "JP-HKD"
    TOHOKU = "JP-TH"
    TOKYO = "JP-TK"
    CHUBU = "JP-CB"
    HOKURIKU = "JP-HR"
    KANSAI = "JP-KN"
    CHUGOKU = "JP-CG"
    SHIKOKU = "JP-SK"
    KYUSHU = "JP-KY"
    OKINAWA = "JP-ON"


JAPAN_GRID_AREAS: tuple[str, ...] = tuple(a.value for a in JapanGridArea)


class Season(StrEnum):
    """Which season of the replay dataset to play (a season's weekday profile, every day), or
    ``calendar``."""

    SPRING = "spring"
    """Sunny, mild days: midday solar surplus, curtailment in Kyushu, prices at the floor."""
    SUMMER = "summer"
    """Cooling load: afternoon and evening price peaks, little curtailment."""
    AUTUMN = "autumn"
    """A shoulder season: a shallower midday dip than spring, occasional floor prices."""
    WINTER = "winter"
    """Heating peaks: high evening prices, little curtailment."""
    CALENDAR = "calendar"
    """Follow the simulated date: season by month, the weekend/holiday profile on Saturdays
    and Sundays."""


class NoiseMode(StrEnum):
    """Random variation added to replayed values (seeded, so runs repeat)."""

    OFF = "off"
    """Replay the dataset exactly."""
    GAUSSIAN = "gaussian"
    """Add seeded Gaussian noise so that successive days differ."""


class SignalMetric(StrEnum):
    """What a feed measures."""

    CARBON = "carbon"
    """Carbon intensity of the grid mix."""
    PRICE = "price"
    """Electricity price."""
    RENEWABLE = "renewable"
    """Renewable share of generation."""


class SignalUnit(StrEnum):
    """Unit of the values a feed publishes; providers convert to gCO2/kWh, JPY/kWh, %."""

    G_CO2_PER_KWH = "gCO2PerKWh"
    KG_CO2_PER_MWH = "kgCO2PerMWh"
    LBS_CO2_PER_MWH = "lbsCO2PerMWh"
    JPY_PER_KWH = "JPYPerKWh"
    JPY_PER_MWH = "JPYPerMWh"
    PERCENT = "percent"
    FRACTION = "fraction"


CarbonGramsPerKwh = Annotated[int, Field(ge=0, le=2000)]
"""Carbon intensity in gCO2/kWh (0 to 2000; coal is about 900)."""
Percent = Annotated[int, Field(ge=0, le=100)]
"""An integer percentage."""
JsonPath = Annotated[str, Field(min_length=1, max_length=256, pattern=r"^[^\s]+$")]
"""A dotted path into a JSON document, e.g. ``data.carbonIntensity`` or ``items[0].value``."""
Query = Annotated[str, Field(min_length=1, max_length=4096)]
"""A PromQL expression."""


class StaticSignals(WattbitModel):
    """Fixed signal values: tests, demos, or a site on a flat tariff."""

    carbon_grams_per_kwh: CarbonGramsPerKwh
    """Carbon intensity in gCO2/kWh."""
    price_jpy_per_kwh: PriceString
    """Price in JPY/kWh as a decimal string, e.g. ``"12.5"``; ``"0.01"`` is the JEPX floor."""
    renewable_percent: Percent | None = None
    """Renewable share of generation, 0-100; unknown when unset."""
    curtailment: bool | None = None
    """Whether renewables are being curtailed (a "welcome zone" for extra load)."""

    def price_value(self) -> float:
        """``price_jpy_per_kwh`` as a number."""
        return float(self.price_jpy_per_kwh)


class ReplaySignals(WattbitModel):
    """Replay of the embedded Japanese grid dataset (carbon, JEPX price, curtailment).

    Every field has a default, so ``provider: replay`` alone is a complete configuration.
    """

    area: JapanGridArea | None = None
    """Grid area to replay; defaults to the Region's ``gridArea``, which must then be a
    Japanese area."""
    season: Season = Season.SPRING
    """Dataset season: a season's weekday profile every day, or ``calendar`` to follow the
    simulated date (season by month, the weekend/holiday profile on Saturdays and Sundays)."""
    seed: Annotated[int, Field(ge=0, le=2147483647)] = 0
    """Seed for noise and forecast error; the same seed replays the same values."""
    time_scale: Annotated[int, Field(ge=1, le=3600)] = 1
    """Simulated hours per real hour: 1 is real time, 60 plays a day in 24 minutes."""
    forecast_error_percent: Percent = 0
    """Typical relative error (1 sigma) applied to the published forecast, 0-100."""
    noise: NoiseMode = NoiseMode.OFF
    """Noise added to the replayed values."""


class HttpHeaderFromSecret(WattbitModel):
    """An HTTP request header whose value comes from a Secret (an API key, a token)."""

    header: Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9-]+$")]
    """Header name, e.g. ``Authorization`` or ``auth-token``."""
    name: ObjectName
    """Secret name (in the operator's namespace)."""
    key: Annotated[str, Field(min_length=1, max_length=253, pattern=r"^[-._a-zA-Z0-9]+$")]
    """Key within the Secret."""
    value_prefix: Annotated[str, Field(max_length=32)] | None = None
    """Text put before the secret value, e.g. ``"Bearer "``."""


_UNITS_BY_METRIC: dict[SignalMetric, frozenset[SignalUnit]] = {
    SignalMetric.CARBON: frozenset(
        {SignalUnit.G_CO2_PER_KWH, SignalUnit.KG_CO2_PER_MWH, SignalUnit.LBS_CO2_PER_MWH}
    ),
    SignalMetric.PRICE: frozenset({SignalUnit.JPY_PER_KWH, SignalUnit.JPY_PER_MWH}),
    SignalMetric.RENEWABLE: frozenset({SignalUnit.PERCENT, SignalUnit.FRACTION}),
}
_CARBON_UNITS = "['gCO2PerKWh', 'kgCO2PerMWh', 'lbsCO2PerMWh']"
_PRICE_UNITS = "['JPYPerKWh', 'JPYPerMWh']"
_SHARE_UNITS = "['percent', 'fraction']"


class HttpFeed(WattbitModel):
    """One HTTP/JSON endpoint publishing one metric (and optionally its forecast)."""

    cel_rules: ClassVar[tuple[CelRule, ...]] = (
        CelRule(
            rule=(
                f"self.metric == 'carbon' ? self.units in {_CARBON_UNITS} : "
                f"self.metric == 'price' ? self.units in {_PRICE_UNITS} : "
                f"self.units in {_SHARE_UNITS}"
            ),
            message=(
                "units do not fit metric: carbon takes gCO2PerKWh, kgCO2PerMWh or "
                "lbsCO2PerMWh; price takes JPYPerKWh or JPYPerMWh; renewable takes percent "
                "or fraction"
            ),
            field_path=".units",
        ),
        CelRule(
            rule="!has(self.forecastValueField) || has(self.forecastPath)",
            message="forecastValueField needs forecastPath (the path to the forecast array)",
            field_path=".forecastValueField",
        ),
    )

    metric: SignalMetric
    """What this feed measures; at most one feed per metric."""
    url: HttpUrl
    """Endpoint to GET."""
    units: SignalUnit
    """Unit of the values at ``valuePath`` (and in the forecast)."""
    value_path: JsonPath
    """Path to the current value in the JSON response."""
    timestamp_path: JsonPath | None = None
    """Path to the RFC 3339 time of the current value; the fetch time when unset (then
    freshness cannot be checked against the source)."""
    forecast_path: JsonPath | None = None
    """Path to an array of forecast points; no forecast when unset."""
    forecast_value_field: JsonPath | None = None
    """Path to the value inside each forecast point; ``value`` when unset."""
    forecast_time_field: JsonPath | None = None
    """Path to the RFC 3339 start time inside each forecast point; ``time`` when unset."""
    headers_from_secret: list[HttpHeaderFromSecret] = Field(default_factory=list, max_length=8)
    """Request headers whose values are read from Secrets."""

    @model_validator(mode="after")
    def _checks(self) -> Self:
        # Mirrors the CEL rules above.
        if self.units not in _UNITS_BY_METRIC[self.metric]:
            raise ValueError(f"units {self.units} do not fit metric {self.metric}")
        if self.forecast_value_field is not None and self.forecast_path is None:
            raise ValueError("forecastValueField needs forecastPath")
        return self


class HttpSignals(WattbitModel):
    """Generic HTTP/JSON feeds: one endpoint per metric."""

    feeds: Annotated[
        list[HttpFeed],
        Field(
            min_length=1,
            max_length=3,
            json_schema_extra={
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["metric"],
            },
        ),
    ]
    """The feeds, at most one per metric (carbon, price, renewable)."""
    timeout_seconds: Annotated[int, Field(ge=1, le=60)] = 10
    """Per-request timeout."""


class PrometheusSignals(WattbitModel):
    """PromQL queries; each must return one series (instant vector of length 1)."""

    cel_rules: ClassVar[tuple[CelRule, ...]] = (
        CelRule(
            rule="has(self.carbonQuery) || has(self.priceQuery)",
            message="set carbonQuery, priceQuery or both: a feed without either has nothing "
            "to rank regions by",
        ),
        CelRule(
            rule="!has(self.carbonForecastQuery) || has(self.carbonQuery)",
            message="carbonForecastQuery needs carbonQuery",
            field_path=".carbonForecastQuery",
        ),
        CelRule(
            rule="!has(self.priceForecastQuery) || has(self.priceQuery)",
            message="priceForecastQuery needs priceQuery",
            field_path=".priceForecastQuery",
        ),
        CelRule(
            rule="self.forecastStepMinutes <= self.forecastHorizonMinutes",
            message="forecastStepMinutes must not exceed forecastHorizonMinutes",
            field_path=".forecastStepMinutes",
        ),
    )

    url: HttpUrl
    """Base URL of the Prometheus HTTP API, e.g. ``http://prometheus:9090``."""
    carbon_query: Query | None = None
    """Query returning carbon intensity in gCO2/kWh."""
    price_query: Query | None = None
    """Query returning the price in JPY/kWh."""
    renewable_query: Query | None = None
    """Query returning the renewable share in percent."""
    carbon_forecast_query: Query | None = None
    """Range query (evaluated over the forecast horizon) for forecast carbon intensity."""
    price_forecast_query: Query | None = None
    """Range query (evaluated over the forecast horizon) for forecast prices."""
    forecast_horizon_minutes: Annotated[int, Field(ge=30, le=2880)] = 1440
    """How far ahead forecast range queries reach."""
    forecast_step_minutes: Annotated[int, Field(ge=5, le=1440)] = 30
    """Step of forecast range queries (30 matches JEPX half-hour slots)."""
    bearer_token_secret_ref: SecretKeyRef | None = None
    """Secret key holding a bearer token, if the server needs one."""
    timeout_seconds: Annotated[int, Field(ge=1, le=60)] = 10
    """Per-request timeout."""

    @model_validator(mode="after")
    def _checks(self) -> Self:
        # Mirrors the CEL rules above.
        if self.carbon_query is None and self.price_query is None:
            raise ValueError("set carbonQuery, priceQuery or both")
        if self.carbon_forecast_query is not None and self.carbon_query is None:
            raise ValueError("carbonForecastQuery needs carbonQuery")
        if self.price_forecast_query is not None and self.price_query is None:
            raise ValueError("priceForecastQuery needs priceQuery")
        if self.forecast_step_minutes > self.forecast_horizon_minutes:
            raise ValueError("forecastStepMinutes must not exceed forecastHorizonMinutes")
        return self


class ElectricityMapsSignals(WattbitModel):
    """The Electricity Maps API: carbon intensity (and forecast) for one zone."""

    zone: GridAreaCode | None = None
    """Zone code, e.g. ``JP-KY``; defaults to the Region's ``gridArea``."""
    api_key_secret_ref: SecretKeyRef | None = None
    """Secret key holding the API token (sent as ``auth-token``); required by the public
    service."""
    base_url: HttpUrl | None = None
    """API base URL override (tests point it at 127.0.0.1); the public API when unset."""
    emission_factor_type: Annotated[str, Field(pattern=r"^(lifecycle|direct)$", max_length=9)] = (
        "lifecycle"
    )
    """``lifecycle`` (includes upstream emissions) or ``direct`` (combustion only)."""


class WattTimeSignals(WattbitModel):
    """The WattTime API: marginal operating emissions rate (MOER) for one region.

    WattTime issues short-lived tokens from a username and password; give those, or a
    pre-issued token in ``apiKeySecretRef``.
    """

    cel_rules: ClassVar[tuple[CelRule, ...]] = (
        CelRule(
            rule="has(self.apiKeySecretRef) || "
            "(has(self.usernameSecretRef) && has(self.passwordSecretRef))",
            message="set apiKeySecretRef, or both usernameSecretRef and passwordSecretRef",
        ),
    )

    region: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
    """WattTime balancing-authority region, e.g. ``CAISO_NORTH``."""
    api_key_secret_ref: SecretKeyRef | None = None
    """Secret key holding a pre-issued bearer token."""
    username_secret_ref: SecretKeyRef | None = None
    """Secret key holding the WattTime username."""
    password_secret_ref: SecretKeyRef | None = None
    """Secret key holding the WattTime password."""
    base_url: HttpUrl | None = None
    """API base URL override (tests point it at 127.0.0.1); the public API when unset."""

    @model_validator(mode="after")
    def _checks(self) -> Self:
        # Mirrors the CEL rule above.
        if self.api_key_secret_ref is None and (
            self.username_secret_ref is None or self.password_secret_ref is None
        ):
            raise ValueError("set apiKeySecretRef, or both usernameSecretRef and passwordSecretRef")
        return self


class CarbonAwareSdkSignals(WattbitModel):
    """A Carbon Aware SDK web API (self-hosted, so ``baseUrl`` is required)."""

    location: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
    """SDK location name, e.g. ``japaneast``."""
    base_url: HttpUrl
    """Base URL of the SDK web API."""
    api_key_secret_ref: SecretKeyRef | None = None
    """Secret key holding an API key, if the deployment needs one."""


class ExternalSignals(WattbitModel):
    """Signals only from ``PowerSignal`` objects written by others (a utility, a person)."""

    signal_selector: LabelSelector | None = None
    """Which PowerSignals count, by label; all whose ``spec.region`` (or ``gridArea``)
    matches this Region when unset."""
    namespaces: (
        Annotated[
            list[ObjectName],
            Field(
                min_length=1,
                max_length=32,
                json_schema_extra={"x-kubernetes-list-type": "set"},
            ),
        ]
        | None
    ) = None
    """Namespaces whose PowerSignals are trusted; every namespace when unset."""


ProviderSettings = (
    StaticSignals
    | ReplaySignals
    | HttpSignals
    | PrometheusSignals
    | ElectricityMapsSignals
    | WattTimeSignals
    | CarbonAwareSdkSignals
    | ExternalSignals
)
"""The settings block of any provider."""

_BLOCKS: tuple[tuple[ProviderKind, str], ...] = (
    (ProviderKind.STATIC, "static"),
    (ProviderKind.REPLAY, "replay"),
    (ProviderKind.HTTP, "http"),
    (ProviderKind.PROMETHEUS, "prometheus"),
    (ProviderKind.ELECTRICITYMAPS, "electricitymaps"),
    (ProviderKind.WATTTIME, "watttime"),
    (ProviderKind.CARBON_AWARE_SDK, "carbonAwareSDK"),
    (ProviderKind.EXTERNAL, "external"),
)
"""(provider, wire name of its block); the two are equal by design."""

_OPTIONAL_BLOCKS = frozenset({ProviderKind.REPLAY, ProviderKind.EXTERNAL})
"""Providers whose settings all have defaults, so their block may be omitted."""


def _block_rule(provider: ProviderKind, block: str) -> CelRule:
    if provider in _OPTIONAL_BLOCKS:
        return CelRule(
            rule=f"!has(self.{block}) || self.provider == '{provider}'",
            message=f"{block} is set but provider is not {provider}: set only the block "
            "named by provider",
            field_path=f".{block}",
        )
    return CelRule(
        rule=f"self.provider == '{provider}' ? has(self.{block}) : !has(self.{block})",
        message=f"provider {provider} needs the {block} block, and {block} may only be set "
        f"when provider is {provider}",
        field_path=f".{block}",
    )


class SignalSource(WattbitModel):
    """``spec.signals``: which provider feeds the Region, and how fresh data must be."""

    cel_rules: ClassVar[tuple[CelRule, ...]] = (
        *(_block_rule(provider, block) for provider, block in _BLOCKS),
        CelRule(
            rule="self.refreshIntervalSeconds <= self.maxAgeSeconds",
            message="refreshIntervalSeconds must not exceed maxAgeSeconds, or signals go "
            "stale between two refreshes",
            field_path=".refreshIntervalSeconds",
        ),
    )

    provider: ProviderKind = ProviderKind.REPLAY
    """Provider feeding this Region; its block (same name) holds the settings. ``replay``
    (the embedded dataset) needs no account or network."""
    static: StaticSignals | None = None
    """Settings for ``provider: static`` (required then)."""
    replay: ReplaySignals | None = None
    """Settings for ``provider: replay`` (optional: all defaults)."""
    http: HttpSignals | None = None
    """Settings for ``provider: http`` (required then)."""
    prometheus: PrometheusSignals | None = None
    """Settings for ``provider: prometheus`` (required then)."""
    electricitymaps: ElectricityMapsSignals | None = None
    """Settings for ``provider: electricitymaps`` (required then)."""
    watttime: WattTimeSignals | None = None
    """Settings for ``provider: watttime`` (required then)."""
    carbon_aware_sdk: CarbonAwareSdkSignals | None = Field(default=None, alias="carbonAwareSDK")
    """Settings for ``provider: carbonAwareSDK`` (required then)."""
    external: ExternalSignals | None = None
    """Settings for ``provider: external`` (optional)."""
    fallback_price_jpy_per_kwh: PriceString | None = None
    """Flat price used when the provider publishes no price (Electricity Maps, WattTime,
    the Carbon Aware SDK, a carbon-only feed); the price is unknown when unset."""
    max_age_seconds: Annotated[int, Field(ge=1, le=86400)] = 900
    """Signals older than this are stale: a stale Region never wins a placement or move."""
    refresh_interval_seconds: Annotated[int, Field(ge=5, le=3600)] = 60
    """How often the provider is polled."""

    @model_validator(mode="after")
    def _one_block(self) -> Self:
        # Mirrors the CEL rules, so a spec the API server accepted always parses here and
        # unit tests catch a mismatch between the two.
        for provider, block in _BLOCKS:
            present = getattr(self, _attr(block)) is not None
            if provider == self.provider and not present and provider not in _OPTIONAL_BLOCKS:
                raise ValueError(f"provider {provider} needs the {block} block")
            if provider != self.provider and present:
                raise ValueError(f"{block} is set but provider is {self.provider}")
        if self.refresh_interval_seconds > self.max_age_seconds:
            raise ValueError("refreshIntervalSeconds must not exceed maxAgeSeconds")
        return self

    def settings(self) -> ProviderSettings:
        """The active provider's block, with defaults filled in for ``replay``/``external``."""
        match self.provider:
            case ProviderKind.REPLAY:
                return self.replay or ReplaySignals()
            case ProviderKind.EXTERNAL:
                return self.external or ExternalSignals()
            case ProviderKind.STATIC:
                block: ProviderSettings | None = self.static
            case ProviderKind.HTTP:
                block = self.http
            case ProviderKind.PROMETHEUS:
                block = self.prometheus
            case ProviderKind.ELECTRICITYMAPS:
                block = self.electricitymaps
            case ProviderKind.WATTTIME:
                block = self.watttime
            case ProviderKind.CARBON_AWARE_SDK:
                block = self.carbon_aware_sdk
        if block is None:  # only reachable for a model built with model_construct()
            raise ValueError(f"provider {self.provider} has no settings block")
        return block


def _attr(block: str) -> str:
    return "carbon_aware_sdk" if block == "carbonAwareSDK" else block
