"""The wattbit.io/v1alpha1 models: wire round-trips, defaults, helpers, mirrored CEL checks.

Matrix:
- every kind: a full wire object -> model -> wire is the identity (camelCase aliases,
  RFC 3339 timestamps, no None fields);
- defaults: a minimal object parses, and its defaults are themselves valid input;
- helpers: effective node selector, pue/price values, replay area default, link direction;
- the pydantic validators that mirror CEL rules reject the same mistakes (the API server
  itself is checked in tests/integration/test_crd_validation.py).

Skipped on purpose: CEL evaluation (the real API server is the judge) and status semantics
(the handlers' tests).
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from wattbit.api.schema import WattbitResource
from wattbit.api.v1alpha1 import (
    KINDS,
    APNLink,
    PlacementPolicy,
    PlacementPolicySpec,
    PowerSignal,
    ProviderKind,
    Region,
    RegionSpec,
    ReplaySignals,
    SignalSource,
    StaticSignals,
    WorkloadPlacement,
)
from wattbit.api.v1alpha1.common import API_VERSION, GROUP, VERSION, LabelSelector

T0 = "2026-04-01T03:00:00Z"
T1 = "2026-04-01T09:00:00Z"

CONDITION = {
    "type": "Ready",
    "status": "True",
    "reason": "Reconciled",
    "message": "ok",
    "observedGeneration": 2,
    "lastTransitionTime": T0,
}

REGION: dict[str, Any] = {
    "apiVersion": API_VERSION,
    "kind": "Region",
    "metadata": {"name": "kyushu", "generation": 2},
    "spec": {
        "gridArea": "JP-KY",
        "nodeSelector": {"example.com/site": "fukuoka-1"},
        "capacity": {"gpus": 64, "powerCapKilowatts": 500},
        "pue": "1.25",
        "availability": "Draining",
        "signals": {
            "provider": "static",
            "static": {
                "carbonGramsPerKwh": 120,
                "priceJpyPerKwh": "0.01",
                "renewablePercent": 80,
                "curtailment": True,
            },
            "fallbackPriceJpyPerKwh": "12.5",
            "maxAgeSeconds": 600,
            "refreshIntervalSeconds": 30,
        },
    },
    "status": {
        "observedGeneration": 2,
        "conditions": [CONDITION],
        "signals": {
            "carbonGramsPerKwh": 120.5,
            "priceJpyPerKwh": 0.01,
            "renewablePercent": 80.0,
            "curtailment": True,
            "observedAt": T0,
            "source": "static",
            "forecast": [{"start": T1, "carbonGramsPerKwh": 300.0, "priceJpyPerKwh": 9.5}],
        },
        "gpus": {"total": 16, "allocated": 4, "free": 12},
        "nodes": 2,
    },
}

APN_LINK: dict[str, Any] = {
    "apiVersion": API_VERSION,
    "kind": "APNLink",
    "metadata": {"name": "kyushu-tokyo"},
    "spec": {
        "fromRegion": "kyushu",
        "toRegion": "tokyo",
        "latencyMicroseconds": 5500,
        "bandwidthGbps": 100,
        "energyJoulesPerGigabyte": 1800,
        "bidirectional": False,
    },
    "status": {
        "observedGeneration": 1,
        "conditions": [CONDITION],
        "movesCompleted": 1,
        "recentMoves": [
            {
                "workload": "Job/ml/llm-sft",
                "fromRegion": "tokyo",
                "toRegion": "kyushu",
                "completedAt": "2026-04-01T03:00:00Z",
            }
        ],
    },
}

POWER_SIGNAL: dict[str, Any] = {
    "apiVersion": API_VERSION,
    "kind": "PowerSignal",
    "metadata": {"name": "curtailment", "namespace": "grid"},
    "spec": {
        "gridArea": "JP-KY",
        "source": "kyuden-feed",
        "validFrom": T0,
        "validUntil": T1,
        "observation": {"carbonGramsPerKwh": 90, "priceJpyPerKwh": "0.01", "curtailment": True},
        "forecast": [{"start": "2026-04-01T04:00:00Z", "priceJpyPerKwh": "0.01"}],
        "events": [
            {
                "type": "DemandResponse",
                "start": T0,
                "end": T1,
                "reductionKilowatts": 200,
                "description": "evening peak",
            }
        ],
    },
    "status": {"conditions": [CONDITION], "regions": ["kyushu"]},
}

POLICY: dict[str, Any] = {
    "apiVersion": API_VERSION,
    "kind": "PlacementPolicy",
    "metadata": {"name": "default", "namespace": "ml"},
    "spec": {
        "mode": "DryRun",
        "carbonPriceJpyPerTonne": 20000,
        "minimumSavingPercent": 15,
        "toleranceWindowMinutes": 120,
        "stabilityWindowMinutes": 10,
        "cooldownMinutes": 30,
        "maxMovesPerWorkload": 2,
        "safetyMarginMinutes": 45,
        "checkpointNoticeSeconds": 120,
        "maxSuspendedMinutes": 20,
        "maxPlacementFailures": 2,
        "maxMovesInFlight": 4,
        "maxLinkLatencyMicroseconds": 20000,
        "allowedRegions": ["kyushu", "hokkaido"],
        "workloadSelector": {
            "matchLabels": {"team": "llm"},
            "matchExpressions": [{"key": "tier", "operator": "In", "values": ["batch"]}],
        },
    },
}

WORKLOAD_PLACEMENT: dict[str, Any] = {
    "apiVersion": API_VERSION,
    "kind": "WorkloadPlacement",
    "metadata": {"name": "train-1", "namespace": "ml"},
    "spec": {
        "workloadRef": {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "name": "train-1",
            "uid": "0b7e6a1c-3f2d-4c5e-9a8b-1c2d3e4f5a6b",
        },
        "policyName": "default",
        "deadline": T1,
        "notBefore": T0,
        "expectedDurationMinutes": 120,
        "checkpointGigabytes": 40,
        "gpus": 8,
    },
    "status": {
        "observedGeneration": 1,
        "conditions": [{**CONDITION, "type": "Placed"}],
        "region": "kyushu",
        "decision": "RunNow",
        "reason": "BestRegion",
        "message": "kyushu is 41% cheaper than tokyo",
        "decidedAt": T0,
        "candidates": [
            {
                "region": "kyushu",
                "eligible": True,
                "gpusFree": 12,
                "carbonGramsPerKwh": 120.0,
                "priceJpyPerKwh": 0.01,
                "energyKwh": 14.0,
                "carbonKg": 1.7,
                "costJpy": 17.0,
                "moveCostJpy": 0.0,
            },
            {"region": "tokyo", "eligible": False, "reason": "SignalStale"},
        ],
        "history": [
            {
                "region": "kyushu",
                "startedAt": T0,
                "endedAt": T1,
                "energyKwh": 7.0,
                "carbonKg": 0.8,
                "costJpy": 0.1,
            }
        ],
        "moves": 1,
        "placementFailures": 0,
        "lastMoveAt": T0,
        "totals": {"energyKwh": 7.0, "carbonKg": 0.8, "costJpy": 0.1},
        "baseline": {"region": "tokyo", "energyKwh": 7.0, "carbonKg": 3.2, "costJpy": 98.0},
    },
}

FULL: list[tuple[type[WattbitResource], dict[str, Any]]] = [
    (Region, REGION),
    (APNLink, APN_LINK),
    (PowerSignal, POWER_SIGNAL),
    (PlacementPolicy, POLICY),
    (WorkloadPlacement, WORKLOAD_PLACEMENT),
]


def test_constants() -> None:
    assert (GROUP, VERSION, API_VERSION) == ("wattbit.io", "v1alpha1", "wattbit.io/v1alpha1")
    assert {m.kind_info.kind for m in KINDS} == {
        "Region",
        "APNLink",
        "PowerSignal",
        "PlacementPolicy",
        "WorkloadPlacement",
    }


@pytest.mark.parametrize(("model", "wire"), FULL, ids=lambda v: getattr(v, "__name__", ""))
def test_round_trip(model: type[WattbitResource], wire: dict[str, Any]) -> None:
    parsed = model.model_validate(copy.deepcopy(wire))
    assert parsed.to_wire() == wire
    assert parsed.model_dump(by_alias=True, exclude_none=True, mode="json") == wire


def test_minimal_region_defaults() -> None:
    region = Region.model_validate(
        {
            "apiVersion": API_VERSION,
            "kind": "Region",
            "metadata": {"name": "hokkaido"},
            "spec": {"gridArea": "JP-HKD"},
        }
    )
    spec = region.spec
    assert spec.pue == "1.2"
    assert spec.pue_value() == pytest.approx(1.2)
    assert spec.availability == "Available"
    assert spec.signals.provider == ProviderKind.REPLAY
    assert spec.signals.max_age_seconds == 900
    assert spec.signals.refresh_interval_seconds == 60
    assert spec.effective_node_selector(region.name) == {
        "topology.kubernetes.io/region": "hokkaido"
    }
    assert spec.replay_settings().area == "JP-HKD"
    assert spec.signals.settings() == ReplaySignals()
    # The defaults are valid input themselves (what the API server stores is re-readable).
    assert RegionSpec.model_validate(spec.to_wire()) == spec


def test_node_selector_and_replay_area_override() -> None:
    spec = RegionSpec(
        grid_area="DE",
        node_selector={"example.com/site": "a"},
        signals=SignalSource(replay=ReplaySignals(area="JP-TK")),  # type: ignore[arg-type]
    )
    assert spec.effective_node_selector("x") == {"example.com/site": "a"}
    assert spec.replay_settings().area == "JP-TK"


def test_policy_defaults_are_valid() -> None:
    defaults = PlacementPolicySpec()
    assert defaults.mode == "Enforce"
    assert defaults.carbon_price_jpy_per_tonne == 10_000
    assert PlacementPolicySpec.model_validate(defaults.to_wire()) == defaults
    policy = PlacementPolicy.model_validate(
        {"apiVersion": API_VERSION, "kind": "PlacementPolicy", "metadata": {"name": "p"}}
    )
    assert policy.spec == defaults


def test_static_price_value_and_settings() -> None:
    source = SignalSource(
        provider=ProviderKind.STATIC,
        static=StaticSignals(carbon_grams_per_kwh=300, price_jpy_per_kwh="12.5"),
    )
    settings = source.settings()
    assert isinstance(settings, StaticSignals)
    assert settings.price_value() == 12.5


def test_timestamps_are_rfc3339_utc() -> None:
    parsed = PowerSignal.model_validate(
        {**POWER_SIGNAL, "spec": {**POWER_SIGNAL["spec"], "validFrom": "2026-04-01T12:00:00+09:00"}}
    )
    assert parsed.spec.valid_from == datetime(2026, 4, 1, 3, tzinfo=UTC)
    assert parsed.to_wire()["spec"]["validFrom"] == T0


def test_link_helpers() -> None:
    link = APNLink.model_validate(APN_LINK).spec
    assert link.connects("kyushu", "tokyo")
    assert not link.connects("tokyo", "kyushu")  # bidirectional: false
    assert link.transfer_seconds(100) == pytest.approx(8.0055)


def test_label_selector_matches() -> None:
    selector = LabelSelector.model_validate(POLICY["spec"]["workloadSelector"])
    assert selector.matches({"team": "llm", "tier": "batch"})
    assert not selector.matches({"team": "llm", "tier": "online"})
    assert LabelSelector().matches({})


def _with(wire: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of ``wire`` with the dotted ``path`` set (or removed for ``...``)."""
    out = copy.deepcopy(wire)
    *parents, leaf = path.split(".")
    node = out
    for key in parents:
        node = node[key]
    if value is ...:
        node.pop(leaf, None)
    else:
        node[leaf] = value
    return out


BAD_FEED = {
    "metric": "carbon",
    "url": "https://x.example/c",
    "units": "JPYPerKWh",
    "valuePath": "data.value",
}

MISTAKES: list[tuple[type[WattbitResource], dict[str, Any], str, Any]] = [
    (Region, REGION, "spec.nodeSelector", {}),
    (Region, REGION, "spec.pue", "0.9"),
    (Region, REGION, "spec.pue", "abc"),
    (Region, REGION, "spec.capacity.gpus", -1),
    (Region, REGION, "spec.gridArea", "japan"),
    (Region, REGION, "spec.signals.maxAgeSeconds", 0),
    (Region, REGION, "spec.signals.static", ...),
    (Region, REGION, "spec.signals.replay", {}),
    (Region, REGION, "spec.signals.static.priceJpyPerKwh", "-1"),
    (Region, REGION, "spec.signals.refreshIntervalSeconds", 3600),
    (Region, REGION, "spec.signals.provider", "replay"),
    (Region, REGION, "spec.unknownField", 1),
    (APNLink, APN_LINK, "spec.toRegion", "kyushu"),
    (APNLink, APN_LINK, "spec.latencyMicroseconds", -5),
    (APNLink, APN_LINK, "spec.bandwidthGbps", 0),
    (PowerSignal, POWER_SIGNAL, "spec.region", "kyushu"),
    (PowerSignal, POWER_SIGNAL, "spec.validUntil", T0),
    (PowerSignal, POWER_SIGNAL, "spec.validUntil", "2026-04-09T03:00:00Z"),
    (PowerSignal, POWER_SIGNAL, "spec.events", [{"type": "Curtailment", "start": T1, "end": T0}]),
    (PowerSignal, POWER_SIGNAL, "spec.forecast", [{"start": "2026-05-01T00:00:00Z"}]),
    (PowerSignal, POWER_SIGNAL, "spec.validFrom", "2026-04-01T03:00:00"),  # no zone
    (PlacementPolicy, POLICY, "spec.allowedRegions", []),
    (PlacementPolicy, POLICY, "spec.minimumSavingPercent", 101),
    (PlacementPolicy, POLICY, "spec.cooldownMinutes", -1),
    (PlacementPolicy, POLICY, "spec.mode", "Yolo"),
    (WorkloadPlacement, WORKLOAD_PLACEMENT, "spec.deadline", "2026-04-01T02:00:00Z"),
    (WorkloadPlacement, WORKLOAD_PLACEMENT, "spec.expectedDurationMinutes", 600),
    (WorkloadPlacement, WORKLOAD_PLACEMENT, "spec.workloadRef.kind", "Deployment"),
    (WorkloadPlacement, WORKLOAD_PLACEMENT, "spec.workloadRef.uid", "not-a-uid"),
    (WorkloadPlacement, WORKLOAD_PLACEMENT, "spec.workloadRef.apiVersion", "v1"),
    (Region, REGION, "spec.signals", {"provider": "http", "http": {"feeds": [BAD_FEED]}}),
    (Region, REGION, "spec.signals", {"provider": "watttime", "watttime": {"region": "X"}}),
    (Region, REGION, "spec.signals", {"provider": "prometheus", "prometheus": {"url": "http://p"}}),
    (Region, REGION, "spec.nodeSelector", {"bad key!": "x"}),
    (
        PlacementPolicy,
        POLICY,
        "spec.workloadSelector",
        {"matchExpressions": [{"key": "a", "operator": "In"}]},
    ),
]


@pytest.mark.parametrize(
    ("model", "wire", "path", "value"),
    MISTAKES,
    ids=[f"{m.__name__}:{p}={v!r}" for m, _, p, v in MISTAKES],
)
def test_python_rejects_what_the_api_server_rejects(
    model: type[WattbitResource], wire: dict[str, Any], path: str, value: Any
) -> None:
    with pytest.raises(ValidationError):
        model.model_validate(_with(wire, path, value))
