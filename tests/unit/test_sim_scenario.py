"""Scenario parsing (wattbit.sim.scenario) and signal traces (wattbit.sim.traces).

Covers: a full document; every shipped example parses; defaults; jobs from a list, CSV and a
seeded generator (deterministic); errors that name the field (unknown keys, unknown regions,
fractional hours, deadline before the run, missing areas); CSV signal traces (repeating when
short) and dataset traces; forecasts with bounded error growing with lead time.
Skips: running policies (test_sim_run.py).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from wattbit.core.model import Policy
from wattbit.core.replay import ReplayNoise
from wattbit.sim import scenario as scenario_module
from wattbit.sim.scenario import ScenarioError, SignalSource, load_scenario, parse_scenario
from wattbit.sim.traces import Forecaster, build_trace, with_error

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "scenarios"


def document(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "tiny",
        "start": "2025-04-07T00:00:00+09:00",
        "seed": 3,
        "regions": [
            {"name": "tokyo", "area": "JP-TK", "gpus": 64},
            {"name": "kyushu", "area": "JP-KY", "gpus": 32, "power_cap_kw": 30, "pue": 1.3},
        ],
        "links": [{"from": "tokyo", "to": "kyushu", "latency_ms": 6.8, "bandwidth_gbps": 100}],
        "policy": {"carbon_price_jpy_per_tonne": 5000, "min_saving_fraction": 0.01},
        "jobs": {
            "list": [
                {
                    "id": "a",
                    "arrival_hour": 0,
                    "runtime_hours": 3,
                    "gpus": 8,
                    "home": "tokyo",
                    "deadline_hour": 12,
                },
                {"id": "b", "arrival_hour": 2, "runtime_hours": 5, "gpus": 16, "home": "tokyo"},
            ]
        },
    }
    base.update(changes)
    return base


def test_a_full_document_parses_with_defaults() -> None:
    scenario = parse_scenario(document(), base_dir=Path("."))
    assert scenario.region_names == ("tokyo", "kyushu")
    assert scenario.regions[1].power_cap_kw == 30
    assert scenario.regions[0].pue == 1.2
    assert scenario.policy.carbon_price_jpy_per_tonne == 5000
    assert [job.job_id for job in scenario.jobs] == ["a", "b"]
    assert scenario.jobs[1].deadline_h is None
    assert scenario.signals.source is SignalSource.DATASET
    assert scenario.trace_hours >= 12 + 48


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_shipped_scenario_parses(path: Path) -> None:
    scenario = load_scenario(path)
    assert len(scenario.jobs) >= 50
    assert len(scenario.regions) >= 5
    assert scenario.description


def test_at_least_three_scenarios_ship() -> None:
    assert len(list(EXAMPLES.glob("*.yaml"))) >= 3


def test_generated_jobs_are_seeded() -> None:
    generate = {
        "arrivals_until_hour": 48,
        "groups": [
            {
                "name": "g",
                "count": 20,
                "arrival": "workday",
                "runtime_hours": {"min": 1, "max": 4},
                "gpus": [8, 16],
                "slack_hours": {"min": 2, "max": 6},
                "checkpoint_gb": {"min": 10.0, "max": 50.0},
                "home": ["tokyo", "kyushu"],
                "max_latency_ms": 8.0,
            }
        ],
    }
    first = parse_scenario(document(jobs={"generate": generate}), base_dir=Path("."))
    again = parse_scenario(document(jobs={"generate": generate}), base_dir=Path("."))
    assert first.jobs == again.jobs
    assert len(first.jobs) == 20
    for job in first.jobs:
        assert 1 <= job.runtime_h <= 4
        assert job.deadline_h is not None
        assert job.arrival_h + job.runtime_h + 2 <= job.deadline_h
        assert 9 <= job.arrival_h % 24 <= 17
        assert job.max_latency_ms == 8.0


def test_jobs_and_signals_from_csv(tmp_path: Path) -> None:
    (tmp_path / "jobs.csv").write_text(
        "id,arrival_hour,runtime_hours,gpus,home,deadline_hour,allowed\n"
        "x,1,2,8,tokyo,10,tokyo;kyushu\n",
        encoding="utf-8",
    )
    rows = ["hour,region,carbon_g_per_kwh,price_jpy_per_kwh"]
    for hour in range(24):
        rows.append(f"{hour},tokyo,{400 + hour},12")
        rows.append(f"{hour},kyushu,{100 + hour},3")
    (tmp_path / "signals.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    scenario = parse_scenario(
        document(
            jobs={"csv": "jobs.csv"},
            signals={"source": "csv", "csv": "signals.csv"},
            regions=[{"name": "tokyo", "gpus": 8}, {"name": "kyushu", "gpus": 8}],
        ),
        base_dir=tmp_path,
    )
    assert scenario.jobs[0].allowed == frozenset({"tokyo", "kyushu"})
    trace = build_trace(scenario)
    assert trace.carbon_g_per_kwh[0, 5] == 405
    assert trace.carbon_g_per_kwh[1, 24 + 5] == 105  # a short trace repeats
    assert trace.price_jpy_per_kwh[1, 0] == 3


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"colour": "blue"}, "unknown field"),
        ({"regions": []}, "regions: must have at least 1 item"),
        (
            {"links": [{"from": "tokyo", "to": "osaka", "latency_ms": 1, "bandwidth_gbps": 1}]},
            "unknown region",
        ),
        ({"policy": {"carbon_price": 1}}, "unknown field"),
        ({"jobs": {}}, "no jobs"),
        ({"start": "2025-04-07T00:00:00"}, "UTC offset"),
        ({"regions": [{"name": "tokyo", "gpus": 8}]}, "area"),
        ({"signals": {"source": "magic"}}, "signals.source"),
    ],
)
def test_errors_name_the_field(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        parse_scenario(document(**changes), base_dir=Path("."))


@pytest.mark.parametrize(
    ("job", "message"),
    [
        ({"runtime_hours": 2.5}, "whole number"),
        ({"home": "osaka"}, "unknown region"),
        ({"deadline_hour": 1}, "before"),
        ({"gpus": 0}, "at least"),
    ],
)
def test_job_errors(job: dict[str, Any], message: str) -> None:
    entry = {"id": "a", "arrival_hour": 0, "runtime_hours": 3, "gpus": 8, "home": "tokyo"} | job
    with pytest.raises(ScenarioError, match=message):
        parse_scenario(document(jobs={"list": [entry]}), base_dir=Path("."))


def test_dataset_trace_and_forecast_error() -> None:
    scenario = parse_scenario(document(), base_dir=Path("."))
    trace = build_trace(scenario)
    assert trace.carbon_g_per_kwh.shape == (2, scenario.trace_hours)
    # Kyushu at spring noon is far cleaner than Tokyo.
    assert trace.carbon_g_per_kwh[1, 12] < trace.carbon_g_per_kwh[0, 12]
    assert trace.curtailment[1, 12]
    perfect = Forecaster(trace=trace)
    carbon, price = perfect.forecast(5, 48)
    assert np.array_equal(carbon, trace.carbon_g_per_kwh[:, 5:53])
    noisy_carbon, noisy_price = with_error(perfect, 10.0).forecast(5, 48)
    assert noisy_carbon[:, 0].tolist() == carbon[:, 0].tolist()  # the current hour is observed
    ratio = noisy_carbon[:, 12:] / np.maximum(carbon[:, 12:], 1e-9)
    assert np.all(np.abs(ratio - 1) <= 0.1 + 1e-9)
    assert not np.array_equal(noisy_price, price)


def test_the_document_schema_keeps_step_with_the_core() -> None:
    """Every Policy and ReplayNoise field can be set from a scenario, and no other."""
    assert set(scenario_module._Policy.model_fields) == {f.name for f in dataclasses.fields(Policy)}
    assert set(scenario_module._Noise.model_fields) == {
        f.name for f in dataclasses.fields(ReplayNoise)
    }
    defaults = parse_scenario(document(policy=None), base_dir=Path(".")).policy
    assert defaults == Policy()


def test_noise_overrides_reach_the_replay_model() -> None:
    noise = {"floor_draws": False, "price_sd_percent": 0}
    scenario = parse_scenario(document(signals={"noise": noise}), base_dir=Path("."))
    assert scenario.signals.noise == noise
    build_trace(scenario)
