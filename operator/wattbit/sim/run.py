"""Run every policy over one scenario, on the same traces, in one pass.

This module's one job is orchestration: build the signal trace once, solve the offline optimum
once, step each requested policy through the engine, and hand the runs to the report.

WARNING: no metrics here (that is `wattbit.sim.report`) and no printing (that is the CLI).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from wattbit.core.optimum import OptimumResult
from wattbit.sim.engine import Engine, RunResult, SimPolicy
from wattbit.sim.policies import (
    Agnostic,
    GreenestOnce,
    LowestWindow,
    OfflineOptimum,
    ThresholdWait,
    Wattbit,
    solve_scenario_optimum,
)
from wattbit.sim.report import Report, build_report
from wattbit.sim.scenario import Scenario
from wattbit.sim.traces import Forecaster, SignalTrace, build_trace, with_error

POLICY_NAMES: tuple[str, ...] = (
    "agnostic",
    "greenest-once",
    "threshold-wait",
    "lowest-window",
    "wattbit",
    "wattbit-forecast-error",
    "optimum",
)
"""Every policy the simulator knows, in table order; `agnostic` is the baseline."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """A finished comparison."""

    report: Report
    runs: tuple[RunResult, ...]
    trace: SignalTrace
    optimum: OptimumResult | None


def _policy(
    name: str, scenario: Scenario, forecaster: Forecaster, optimum: OptimumResult | None
) -> SimPolicy:
    makers: dict[str, Callable[[], SimPolicy]] = {
        "agnostic": Agnostic,
        "greenest-once": GreenestOnce,
        "threshold-wait": ThresholdWait,
        "lowest-window": lambda: LowestWindow(forecaster=forecaster),
        "wattbit": lambda: Wattbit(forecaster=forecaster),
        "wattbit-forecast-error": lambda: Wattbit(
            forecaster=with_error(forecaster, scenario.signals.forecast_error_percent),
            name="wattbit-forecast-error",
        ),
    }
    if optimum is not None:
        makers["optimum"] = lambda: OfflineOptimum(result=optimum, scenario=scenario)
    if name not in makers:
        raise ValueError(f"unknown policy {name!r}; known: {', '.join(POLICY_NAMES)}")
    return makers[name]()


def run_scenario(
    scenario: Scenario,
    *,
    policies: Sequence[str] = POLICY_NAMES,
    progress: Callable[[str], None] | None = None,
) -> Outcome:
    """Run `policies` (agnostic is always included, first) and build the report."""
    say = progress or (lambda _message: None)
    names = ["agnostic", *[p for p in policies if p != "agnostic"]]
    unknown = [p for p in names if p not in POLICY_NAMES]
    if unknown:
        raise ValueError(f"unknown policy {unknown[0]!r}; known: {', '.join(POLICY_NAMES)}")
    trace = build_trace(scenario)
    forecaster = Forecaster(trace=trace, seed=scenario.signals.seed)
    optimum: OptimumResult | None = None
    optimum_s = 0.0
    if "optimum" in names:
        say(f"solving the offline optimum ({len(scenario.jobs)} jobs, HiGHS)...")
        started = time.perf_counter()
        optimum = solve_scenario_optimum(scenario, trace)
        optimum_s = time.perf_counter() - started
    engine = Engine(scenario, trace)
    runs: list[RunResult] = []
    wall: list[float] = []
    for name in names:
        say(f"running {name}...")
        started = time.perf_counter()
        runs.append(engine.run(_policy(name, scenario, forecaster, optimum)))
        wall.append(time.perf_counter() - started + (optimum_s if name == "optimum" else 0.0))
    report = build_report(scenario, runs, wall, optimum, trace)
    return Outcome(report=report, runs=tuple(runs), trace=trace, optimum=optimum)
