"""Building providers from `spec.signals` (`wattbit.providers.registry`): no network.

Matrix: every provider kind is built from its API block with Secret values resolved by the
caller (headers, tokens, username/password), defaults (replay of the Region's grid area, public
API URLs), the fallback price wrapper on carbon-only feeds, replay settings mapped from the API
(season, time scale, noise off/gaussian, error bound), and the errors raised before any request
(an unknown replay area, a missing Secret key, an empty Secret). Fetching is only exercised for
providers that need no network (static, replay, external).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from wattbit.api.v1alpha1.signals import SignalSource
from wattbit.core.replay import ReplayNoise, Season
from wattbit.core.signals import ForecastPoint, ProblemReason, SignalReading
from wattbit.providers.base import ProviderError, SignalProvider
from wattbit.providers.carbon_aware_sdk import CarbonAwareSdkProvider
from wattbit.providers.electricitymaps import PUBLIC_BASE_URL, ElectricityMapsProvider
from wattbit.providers.external import ExternalProvider
from wattbit.providers.http_json import HttpJsonProvider
from wattbit.providers.prometheus import PrometheusProvider
from wattbit.providers.registry import WithFallbackPrice, build_provider
from wattbit.providers.replay import ReplayProvider
from wattbit.providers.static import StaticProvider
from wattbit.providers.watttime import WattTimeProvider
from wattbit.providers.wire import Quantity, Unit

NOW = datetime(2026, 4, 1, 3, 0, tzinfo=UTC)
SECRETS = {("feeds", "token"): "tok-123", ("wt", "user"): "alice", ("wt", "pass"): "pw"}


def _resolve(name: str, key: str) -> str:
    return SECRETS[(name, key)]


def _build(spec: dict[str, Any], **kwargs: Any) -> SignalProvider:
    return build_provider(
        SignalSource.model_validate(spec),
        region="kyushu-itoshima",
        grid_area="JP-KY",
        secrets=_resolve,
        session=requests.Session(),
        **kwargs,
    )


def test_replay_is_the_default_and_replays_the_grid_area() -> None:
    provider = _build({})

    assert isinstance(provider, ReplayProvider)
    assert provider.profile.area == "JP-KY"
    assert provider.settings.season is Season.SPRING_WEEKDAY
    assert provider.settings.noise == ReplayNoise.off()
    reading = provider.fetch(NOW)
    assert reading.source == "replay:JP-KY/spring_weekday"
    assert reading.carbon_g_per_kwh == 106  # Kyushu spring noon, exact


def test_replay_settings_come_from_the_block() -> None:
    provider = _build(
        {
            "provider": "replay",
            "replay": {
                "area": "JP-HKD",
                "season": "winter",
                "seed": 9,
                "timeScale": 60,
                "forecastErrorPercent": 15,
                "noise": "gaussian",
            },
        }
    )

    assert isinstance(provider, ReplayProvider)
    assert provider.profile.area == "JP-HKD"
    assert provider.settings.season is Season.WINTER_WEEKDAY
    assert provider.settings.time_scale == 60
    assert provider.settings.seed == 9
    assert provider.settings.forecast_error_percent == 15
    assert provider.settings.noise == ReplayNoise()


def test_replay_of_an_area_without_data_is_invalid_config() -> None:
    with pytest.raises(ProviderError) as caught:
        build_provider(
            SignalSource(),
            region="frankfurt",
            grid_area="DE",
            secrets=_resolve,
            session=requests.Session(),
        )

    assert caught.value.reason is ProblemReason.INVALID_CONFIG


def test_static() -> None:
    provider = _build(
        {"provider": "static", "static": {"carbonGramsPerKwh": 120, "priceJpyPerKwh": "0.01"}}
    )

    assert isinstance(provider, StaticProvider)
    reading = provider.fetch(NOW)
    assert (reading.carbon_g_per_kwh, reading.price_jpy_per_kwh) == (120.0, 0.01)


def test_http_headers_come_from_secrets() -> None:
    provider = _build(
        {
            "provider": "http",
            "http": {
                "feeds": [
                    {
                        "metric": "carbon",
                        "url": "https://feeds.example/carbon",
                        "units": "lbsCO2PerMWh",
                        "valuePath": "data.moer",
                        "headersFromSecret": [
                            {
                                "header": "Authorization",
                                "name": "feeds",
                                "key": "token",
                                "valuePrefix": "Bearer ",
                            }
                        ],
                    }
                ],
                "timeoutSeconds": 3,
            },
        }
    )

    assert isinstance(provider, HttpJsonProvider)
    feed = provider.feeds[0]
    assert (feed.quantity, feed.unit) == (Quantity.CARBON, Unit.LBS_CO2_PER_MWH)
    assert feed.headers == {"Authorization": "Bearer tok-123"}
    assert (feed.forecast_value_field, feed.forecast_time_field) == ("value", "time")
    assert provider.timeout_seconds == 3


def test_prometheus_with_bearer_token() -> None:
    provider = _build(
        {
            "provider": "prometheus",
            "prometheus": {
                "url": "http://prometheus:9090",
                "priceQuery": "jepx_price",
                "bearerTokenSecretRef": {"name": "feeds", "key": "token"},
                "forecastHorizonMinutes": 60,
                "forecastStepMinutes": 30,
            },
        }
    )

    assert isinstance(provider, PrometheusProvider)
    assert provider.bearer_token == SECRETS[("feeds", "token")]
    assert (provider.forecast_horizon_seconds, provider.forecast_step_seconds) == (3600, 1800)


def test_carbon_only_feeds_get_the_fallback_price() -> None:
    provider = _build(
        {
            "provider": "electricitymaps",
            "electricitymaps": {"apiKeySecretRef": {"name": "feeds", "key": "token"}},
            "fallbackPriceJpyPerKwh": "12.5",
        }
    )

    assert isinstance(provider, WithFallbackPrice)
    assert provider.name == "electricitymaps"
    inner = provider.inner
    assert isinstance(inner, ElectricityMapsProvider)
    assert (inner.zone, inner.api_token, inner.base_url) == ("JP-KY", "tok-123", PUBLIC_BASE_URL)


def test_fallback_price_fills_current_and_forecast() -> None:
    class CarbonOnly:
        name = "carbon-only"

        def fetch(self, now: datetime) -> SignalReading:
            return SignalReading(
                carbon_g_per_kwh=100.0,
                price_jpy_per_kwh=None,
                observed_at=now,
                source="x",
                forecast=(
                    ForecastPoint(start=now, carbon_g_per_kwh=90.0, price_jpy_per_kwh=None),
                    ForecastPoint(start=now, carbon_g_per_kwh=None, price_jpy_per_kwh=3.0),
                ),
            )

    reading = WithFallbackPrice(inner=CarbonOnly(), price_jpy_per_kwh=9.5).fetch(NOW)

    assert reading.price_jpy_per_kwh == 9.5
    assert [p.price_jpy_per_kwh for p in reading.forecast] == [9.5, 3.0]


def test_watttime_and_carbon_aware_sdk() -> None:
    watttime = _build(
        {
            "provider": "watttime",
            "watttime": {
                "region": "CAISO_NORTH",
                "usernameSecretRef": {"name": "wt", "key": "user"},
                "passwordSecretRef": {"name": "wt", "key": "pass"},
            },
        }
    )
    sdk = _build(
        {
            "provider": "carbonAwareSDK",
            "carbonAwareSDK": {"location": "japaneast", "baseUrl": "http://sdk:8080"},
        }
    )

    assert isinstance(watttime, WattTimeProvider)
    assert (watttime.username, watttime.password, watttime.token) == ("alice", "pw", None)
    assert isinstance(sdk, CarbonAwareSdkProvider)
    assert sdk.api_key is None


def test_external_uses_the_callers_signals() -> None:
    provider = _build({"provider": "external"}, external_signals=lambda: ())

    assert isinstance(provider, ExternalProvider)
    with pytest.raises(ProviderError) as caught:
        provider.fetch(NOW)
    assert caught.value.reason is ProblemReason.NO_DATA


@pytest.mark.parametrize("key", ["missing", "empty"])
def test_unreadable_secret_is_secret_missing(key: str) -> None:
    def resolve(name: str, item: str) -> str:
        if item == "empty":
            return ""
        raise KeyError(item)

    with pytest.raises(ProviderError) as caught:
        build_provider(
            SignalSource.model_validate(
                {
                    "provider": "electricitymaps",
                    "electricitymaps": {"apiKeySecretRef": {"name": "feeds", "key": key}},
                }
            ),
            region="kyushu-itoshima",
            grid_area="JP-KY",
            secrets=resolve,
            session=requests.Session(),
        )

    assert caught.value.reason is ProblemReason.SECRET_MISSING
    assert "feeds" in caught.value.message
