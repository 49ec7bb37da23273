"""Choosing among PowerSignals (`wattbit.providers.external`): pure, no I/O.

Matrix: newest valid signal wins (by `validFrom`), region-scoped and grid-area-scoped signals,
other regions ignored, expired and not-yet-valid signals ignored and reported, absurd values
rejected in favour of an older sane signal, windows merged from every valid signal, namespace
and label filters, the provider's errors (Expired, NoData, OutOfRange), and conversion from the
API's `PowerSignal` model.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from wattbit.api.v1alpha1.powersignal import PowerSignal
from wattbit.core.signals import ProblemReason, SignalWindow, WindowKind
from wattbit.providers.base import ProviderError
from wattbit.providers.external import (
    ExternalProvider,
    ExternalSelection,
    ExternalSignal,
    ExternalValues,
    from_power_signal,
    select_external,
)

NOW = datetime(2026, 4, 1, 3, 0, tzinfo=UTC)


def _signal(
    name: str,
    *,
    start_hours: float = -1,
    end_hours: float = 1,
    carbon: float | None = 100.0,
    region: str | None = "kyushu-itoshima",
    grid_area: str | None = None,
    namespace: str = "grid",
    windows: tuple[SignalWindow, ...] = (),
    labels: dict[str, str] | None = None,
) -> ExternalSignal:
    return ExternalSignal(
        namespace=namespace,
        name=name,
        valid_from=NOW + timedelta(hours=start_hours),
        valid_until=NOW + timedelta(hours=end_hours),
        region=region,
        grid_area=grid_area,
        labels=labels or {},
        observation=None if carbon is None else ExternalValues(carbon_g_per_kwh=carbon),
        windows=windows,
    )


def _select(*signals: ExternalSignal, **kwargs: Any) -> ExternalSelection:
    return select_external(signals, region="kyushu-itoshima", grid_area="JP-KY", now=NOW, **kwargs)


def test_newest_valid_signal_wins_and_others_are_reported() -> None:
    selection = _select(
        _signal("old", start_hours=-3, carbon=300.0),
        _signal("new", start_hours=-1, carbon=120.0),
        _signal("gone", start_hours=-5, end_hours=0, carbon=50.0),
        _signal("later", start_hours=1, end_hours=2, carbon=10.0),
        _signal("elsewhere", region="tokyo-inzai", carbon=1.0),
    )

    assert selection.chosen == "grid/new"
    assert selection.reading is not None
    assert selection.reading.carbon_g_per_kwh == 120.0
    assert selection.reading.observed_at == NOW
    assert selection.reading.source == "powersignal:grid/new"
    assert selection.expired == ("grid/gone",)
    assert selection.not_yet_valid == ("grid/later",)


def test_grid_area_signal_applies_to_the_region() -> None:
    selection = _select(_signal("area", region=None, grid_area="JP-KY"))

    assert selection.chosen == "grid/area"


def test_absurd_values_fall_back_to_an_older_sane_signal() -> None:
    selection = _select(
        _signal("sane", start_hours=-2, carbon=200.0),
        _signal("absurd", start_hours=-1, carbon=-500.0),
    )

    assert selection.chosen == "grid/sane"
    assert [key for key, _ in selection.rejected] == ["grid/absurd"]


def test_windows_come_from_every_valid_signal() -> None:
    curtailment = SignalWindow(kind=WindowKind.CURTAILMENT, start=NOW, end=NOW + timedelta(hours=2))
    demand = SignalWindow(
        kind=WindowKind.DEMAND_RESPONSE,
        start=NOW + timedelta(hours=5),
        end=NOW + timedelta(hours=6),
    )
    selection = _select(
        _signal("values", start_hours=-1),
        _signal("events-only", start_hours=-0.5, carbon=None, windows=(curtailment, demand)),
        _signal("dup", start_hours=-2, carbon=None, windows=(curtailment,)),
    )

    assert selection.chosen == "grid/values"
    assert selection.reading is not None
    assert selection.reading.windows == (curtailment, demand)


def test_namespace_and_label_filters() -> None:
    signals = (
        _signal("trusted", namespace="utility", labels={"feed": "kyuden"}),
        _signal("untrusted", namespace="default", start_hours=-0.5, labels={"feed": "kyuden"}),
        _signal("unlabelled", namespace="utility", start_hours=-0.2),
    )

    selection = _select(
        *signals,
        namespaces=frozenset({"utility"}),
        label_filter=lambda labels: labels.get("feed") == "kyuden",
    )

    assert selection.chosen == "utility/trusted"


@pytest.mark.parametrize(
    ("signals", "reason"),
    [
        ((_signal("gone", start_hours=-3, end_hours=-1),), ProblemReason.EXPIRED),
        ((), ProblemReason.NO_DATA),
        ((_signal("events", carbon=None),), ProblemReason.NO_DATA),
        ((_signal("absurd", carbon=99999.0),), ProblemReason.OUT_OF_RANGE),
    ],
)
def test_provider_errors(signals: tuple[ExternalSignal, ...], reason: ProblemReason) -> None:
    provider = ExternalProvider(
        region="kyushu-itoshima", grid_area="JP-KY", signals=lambda: signals
    )

    with pytest.raises(ProviderError) as caught:
        provider.fetch(NOW)

    assert caught.value.reason is reason


def test_from_power_signal() -> None:
    resource = PowerSignal.model_validate(
        {
            "apiVersion": "wattbit.io/v1alpha1",
            "kind": "PowerSignal",
            "metadata": {"name": "kyuden-noon", "namespace": "grid", "labels": {"feed": "ky"}},
            "spec": {
                "gridArea": "JP-KY",
                "source": "kyuden-curtailment-feed",
                "validFrom": "2026-04-01T01:00:00Z",
                "validUntil": "2026-04-01T06:00:00Z",
                "observation": {"carbonGramsPerKwh": 110, "priceJpyPerKwh": "0.01"},
                "forecast": [{"start": "2026-04-01T04:00:00Z", "carbonGramsPerKwh": 120}],
                "events": [
                    {
                        "type": "Curtailment",
                        "start": "2026-04-01T01:00:00Z",
                        "end": "2026-04-01T06:00:00Z",
                    }
                ],
            },
        }
    )

    signal = from_power_signal(resource, namespace="grid", name="kyuden-noon")
    selection = _select(signal)

    assert signal.labels == {"feed": "ky"}  # a Region's signalSelector reads them
    assert selection.reading is not None
    assert selection.reading.carbon_g_per_kwh == 110.0
    assert selection.reading.price_jpy_per_kwh == 0.01
    assert selection.reading.forecast[0].carbon_g_per_kwh == 120.0
    assert selection.reading.forecast[0].price_jpy_per_kwh is None
    assert selection.reading.windows[0].kind is WindowKind.CURTAILMENT


def test_a_selector_chooses_by_label_whatever_region_the_signal_names() -> None:
    # The Region's signalSelector is the rule: a utility's labelled feed for a grid area
    # other than the Region's own, or for another region name, still counts.
    signals = (
        _signal("labelled", region=None, grid_area="JP-TK", labels={"feed": "kyuden"}),
        _signal("named-only", start_hours=-0.2),  # names this region, but no label
    )

    selection = _select(*signals, label_filter=lambda labels: labels.get("feed") == "kyuden")

    assert selection.chosen == "grid/labelled"


def test_without_a_selector_a_signal_counts_by_its_region_or_grid_area() -> None:
    signals = (
        _signal("elsewhere", region="tokyo", labels={"feed": "kyuden"}),
        _signal("area", region=None, grid_area="JP-KY", start_hours=-0.5),
    )

    assert _select(*signals).chosen == "grid/area"
