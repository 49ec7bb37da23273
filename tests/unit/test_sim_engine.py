"""The simulation engine (wattbit.sim.engine) and the baselines (wattbit.sim.policies).

Covers: energy, carbon and bill booked at each hour's actual signals (PUE included); a job
that ends mid-hour; capacity (a start that does not fit is rejected and counted); a move's
downtime, redone work, network energy and GPU-hours lost; each baseline's rule (agnostic,
greenest once, threshold wait, lowest window) on hand-made traces; the optimum's replay.
Skips: wattbit's own decisions (the core's tests) and the report (test_sim_run.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from wattbit.sim.engine import Action, Engine, Move, Start, View
from wattbit.sim.policies import (
    Agnostic,
    GreenestOnce,
    LowestWindow,
    OfflineOptimum,
    ThresholdWait,
    solve_scenario_optimum,
)
from wattbit.sim.scenario import Scenario, parse_scenario
from wattbit.sim.traces import Forecaster, SignalTrace

HOURS = 80


def scenario(jobs: list[dict[str, Any]], **changes: Any) -> Scenario:
    document: dict[str, Any] = {
        "name": "engine",
        "start": "2025-04-07T00:00:00+09:00",
        "regions": [
            {"name": "home", "gpus": 16, "pue": 1.0},
            {"name": "green", "gpus": 8, "pue": 1.5},
        ],
        "links": [{"from": "home", "to": "green", "latency_ms": 0, "bandwidth_gbps": 80}],
        "signals": {"source": "csv", "csv": "unused.csv"},
        "policy": {"restart_overhead_s": 360, "checkpoint_write_gbps": 80},
        "baselines": {"forecast_horizon_hours": 8},
        "jobs": {"list": jobs},
    }
    document.update(changes)
    return parse_scenario(document, base_dir=Path("."))


def trace(
    home_carbon: Sequence[float], green_carbon: Sequence[float], price: float = 10.0
) -> SignalTrace:
    def padded(values: Sequence[float]) -> list[float]:
        return (list(values) + [values[-1]] * HOURS)[:HOURS]

    carbon = np.array([padded(home_carbon), padded(green_carbon)], dtype=np.float64)
    return SignalTrace(
        carbon_g_per_kwh=carbon,
        price_jpy_per_kwh=np.full_like(carbon, price),
        curtailment=np.zeros_like(carbon, dtype=bool),
    )


JOB = {
    "id": "j",
    "arrival_hour": 0,
    "runtime_hours": 2,
    "gpus": 8,
    "home": "home",
    "deadline_hour": 10,
}


@dataclass
class Script:
    """Replays fixed actions per hour."""

    plan: dict[int, list[Action]]
    name: str = "script"
    seen: list[int] = field(default_factory=list)

    def act(self, view: View) -> Sequence[Action]:
        self.seen.append(view.hour)
        return self.plan.get(view.hour, [])


def test_energy_carbon_and_bill_are_booked_at_actual_signals() -> None:
    result = Engine(scenario([JOB]), trace([500, 100], [100, 100])).run(
        Script({0: [Start("j", 0)]})
    )
    job = result.jobs[0]
    # 8 GPUs x 0.7 kW: 5.6 kWh at 500 g, then 5.6 kWh at 100 g; 10 JPY/kWh.
    assert job.energy_kwh == pytest.approx(11.2)
    assert job.carbon_kg == pytest.approx(5.6 * 0.5 + 5.6 * 0.1)
    assert job.cost_jpy == pytest.approx(112.0)
    assert (job.started_h, job.finished_h) == (0.0, 2.0)
    assert result.gpus_by_region_hour[0, :3].tolist() == [8, 8, 0]


def test_a_start_that_does_not_fit_is_rejected() -> None:
    big = JOB | {"gpus": 16}
    result = Engine(scenario([big]), trace([1], [1])).run(Script({0: [Start("j", 1)]}))
    assert result.rejected_actions == 1
    assert result.jobs[0].finished_h is None


def test_a_move_costs_downtime_redone_work_and_network_energy() -> None:
    job = JOB | {"runtime_hours": 4, "checkpoint_gb": 800, "checkpoint_interval_hours": 1}
    engine = Engine(scenario([job]), trace([100], [100]))
    result = engine.run(Script({0: [Start("j", 0)], 1: [Move("j", 1)]}))
    run = result.jobs[0]
    # Write 800 GB at 80 Gbps: 80 s; transfer at 80 Gbps: 80 s; restart 360 s = 520 s down.
    downtime_h = 520 / 3600
    assert run.moves == 1
    assert run.gpu_hours_lost == pytest.approx(8 * (downtime_h + 0.5))
    assert run.finished_h == pytest.approx(4 + downtime_h + 0.5)
    idle = 8 * 0.1 * downtime_h * 1.5
    busy = 8 * 0.7 * (4 + 0.5 - 1) * 1.5 + 8 * 0.7 * 1
    assert run.energy_kwh == pytest.approx(idle + busy + 800 * 0.001)


def test_agnostic_runs_at_arrival_at_home_and_queues_when_full() -> None:
    jobs = [JOB | {"id": "a", "gpus": 16}, JOB | {"id": "b", "gpus": 16}]
    result = Engine(scenario(jobs), trace([1], [1])).run(Agnostic())
    starts = {job.job_id: job.started_h for job in result.jobs}
    assert starts == {"a": 0.0, "b": 2.0}
    assert all(j.regions_by_hour[int(j.started_h or 0)] == 0 for j in result.jobs)


def test_greenest_once_uses_the_lowest_mean_carbon_region() -> None:
    result = Engine(scenario([JOB]), trace([500], [100])).run(GreenestOnce())
    assert result.jobs[0].regions_by_hour == {0: 1, 1: 1}


def test_threshold_wait_starts_when_green_or_at_the_latest() -> None:
    home = [500] * 3 + [100] + [500] * 76
    waits = Engine(
        scenario([JOB], baselines={"threshold_g_per_kwh": 200, "forecast_horizon_hours": 8}),
        trace(home, [1]),
    ).run(ThresholdWait())
    assert waits.jobs[0].started_h == 3.0
    never_green = Engine(
        scenario([JOB], baselines={"threshold_g_per_kwh": 50, "forecast_horizon_hours": 8}),
        trace([500], [1]),
    ).run(ThresholdWait())
    assert never_green.jobs[0].started_h == 8.0  # deadline 10 - runtime 2


def test_lowest_window_picks_the_forecast_minimum_at_home() -> None:
    home = [500, 500, 500, 100, 100, 500] + [500] * 74
    data = trace(home, [1])
    result = Engine(scenario([JOB]), data).run(LowestWindow(forecaster=Forecaster(trace=data)))
    assert result.jobs[0].started_h == 3.0
    assert result.jobs[0].regions_by_hour == {3: 0, 4: 0}


def test_the_optimum_replays_its_schedule() -> None:
    home = [500, 500, 500, 100, 100, 500] + [500] * 74
    case = scenario([JOB])
    data = trace(home, [300])
    optimum = solve_scenario_optimum(case, data)
    result = Engine(case, data).run(OfflineOptimum(result=optimum, scenario=case))
    run = optimum.runs[0]
    assert run is not None
    assert result.jobs[0].started_h == run.start_slot
    carbon = result.jobs[0].carbon_kg
    cost = result.jobs[0].cost_jpy
    adjusted = cost + carbon * case.policy.carbon_price_jpy_per_tonne / 1000
    assert adjusted == pytest.approx(optimum.objective_jpy)
    assert optimum.lower_bound_jpy <= optimum.objective_jpy + 1e-6
