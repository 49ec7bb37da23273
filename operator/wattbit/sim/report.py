"""Turn simulation runs into the comparison: one row per policy, as a table, JSON or CSV.

This module's one job is the metrics (benchmark.md §5, Layer A): carbon kg, bill JPY,
carbon-adjusted cost, reductions against the carbon-agnostic baseline, the share of the offline
optimum's saving each policy reaches, deadline misses, migrations, GPU-hours lost to moves and
completion-time stretch.

``fraction_of_optimum`` is measured on carbon-adjusted cost (the objective every cost-aware
policy and the optimum minimise):

    (agnostic - policy) / (agnostic - optimum_reference)

where ``optimum_reference`` is the lower of the optimum's proven lower bound and its replayed
cost, so the fraction is never flattered by a weak optimum.

The JSON also carries what is needed to check every figure without wattbit: the hourly signals
the run used and, per policy, every job's schedule (its running intervals, its moves with their
idle downtime and transfer energy) and figures. The arithmetic that re-prices them is in
``docs/simulation-json.md``.

WARNING: no simulation here; it only reads `RunResult`s.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import numpy as np

from wattbit.core import accounting
from wattbit.core.model import GRAMS_PER_KG, SECONDS_PER_HOUR
from wattbit.core.optimum import OptimumResult
from wattbit.sim.engine import JobRun, RunResult
from wattbit.sim.scenario import Scenario
from wattbit.sim.traces import SignalTrace

_EPS = 1e-6


@dataclass(frozen=True, slots=True, kw_only=True)
class PolicyRow:
    """One policy's figures (the JSON `policies` entries)."""

    name: str
    carbon_kg: float
    cost_jpy: float
    adjusted_cost_jpy: float
    carbon_reduction_percent: float
    cost_reduction_percent: float
    adjusted_reduction_percent: float
    fraction_of_optimum: float | None
    carbon_fraction_of_optimum: float | None
    deadline_misses: int
    unfinished: int
    migrations: int
    gpu_hours_lost: float
    stretch_mean: float
    stretch_p95: float
    rejected_actions: int
    wall_s: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Report:
    """The whole comparison."""

    scenario: str
    jobs: int
    regions: tuple[str, ...]
    hours: int
    carbon_price_jpy_per_tonne: float
    rows: tuple[PolicyRow, ...]
    optimum: OptimumResult | None
    optimum_reference_jpy: float | None
    hour_zero: str = ""
    """The scenario's start (ISO 8601): hour h of every schedule is hour_zero + h hours."""
    signals: dict[str, Any] | None = None
    """The hourly signals the runs were priced at (JSON-ready; `docs/simulation-json.md`)."""
    schedules: tuple[tuple[dict[str, Any], ...], ...] = ()
    """Per row, every job's schedule and figures (JSON-ready; `docs/simulation-json.md`)."""

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready mapping; `policies` lists the rows."""
        optimum: dict[str, Any] | None = None
        if self.optimum is not None:
            optimum = {
                "lower_bound_jpy": _finite(self.optimum.lower_bound_jpy),
                "objective_jpy": _finite(self.optimum.objective_jpy),
                "reference_jpy": _finite(self.optimum_reference_jpy),
                "gap": self.optimum.gap,
                "iterations": self.optimum.iterations,
                "columns": self.optimum.columns,
                "converged": self.optimum.converged,
                "max_moves_used": self.optimum.max_moves_used,
                "unscheduled_jobs": sum(run is None for run in self.optimum.runs),
            }
        return {
            "scenario": self.scenario,
            "jobs": self.jobs,
            "regions": list(self.regions),
            "hours": self.hours,
            "carbon_price_jpy_per_tonne": self.carbon_price_jpy_per_tonne,
            "objective": "carbon-adjusted cost = bill + carbon x internal carbon price",
            "hour_zero": self.hour_zero,
            "policies": [
                {k: _finite(v) for k, v in asdict(row).items()}
                | ({"jobs": list(self.schedules[index])} if self.schedules else {})
                for index, row in enumerate(self.rows)
            ],
            "optimum": optimum,
            "signals": self.signals,
        }


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _percent(base: float, value: float) -> float:
    return 100.0 * (base - value) / base if abs(base) > _EPS else 0.0


def _totals(run: RunResult, carbon_price_jpy_per_kg: float) -> tuple[float, float, float]:
    carbon = sum(job.carbon_kg for job in run.jobs)
    cost = sum(job.cost_jpy for job in run.jobs)
    return carbon, cost, cost + carbon * carbon_price_jpy_per_kg


def _hours(start: datetime, zero: datetime) -> float:
    return (start - zero).total_seconds() / SECONDS_PER_HOUR


def _interval_json(interval: accounting.Interval, zero: datetime) -> dict[str, Any]:
    return {
        "region": interval.region,
        "start_hour": _hours(interval.start, zero),
        "duration_hours": interval.duration_s / SECONDS_PER_HOUR,
        "power_kw_per_gpu": interval.power_kw_per_gpu,
    }


def _merged(intervals: Sequence[accounting.Interval], zero: datetime) -> list[dict[str, Any]]:
    """Consecutive intervals in one region at one power, joined: the engine books hour by
    hour, the schedule shows each stretch once (re-pricing splits it at hour boundaries)."""
    merged: list[dict[str, Any]] = []
    for interval in intervals:
        item = _interval_json(interval, zero)
        last = merged[-1] if merged else None
        if (
            last is not None
            and last["region"] == item["region"]
            and last["power_kw_per_gpu"] == item["power_kw_per_gpu"]
            and abs(last["start_hour"] + last["duration_hours"] - item["start_hour"]) < 1e-9
        ):
            last["duration_hours"] = (
                item["start_hour"] + item["duration_hours"] - last["start_hour"]
            )
        else:
            merged.append(item)
    return merged


def job_schedule(job: JobRun, zero: datetime, carbon_price_jpy_per_kg: float) -> dict[str, Any]:
    """One job's schedule and figures, JSON-ready (`docs/simulation-json.md`)."""
    spec = job.spec
    return {
        "id": spec.job_id,
        "gpus": spec.gpus,
        "arrival_hour": spec.arrival_h,
        "runtime_hours": spec.runtime_h,
        "deadline_hour": spec.deadline_h,
        "finished_hour": job.finished_h,
        "intervals": _merged(job.intervals, zero),
        "moves": [
            {
                "from": move.from_region,
                "to": move.to_region,
                "at_hour": _hours(move.at, zero),
                "checkpoint_gb": move.checkpoint_gb,
                "transfer_s": move.transfer_s,
                "transfer_energy_kwh": move.transfer_energy_kwh,
                "work_redone_hours": move.work_redone_s / SECONDS_PER_HOUR,
                "idle": _merged(move.idle, zero),
            }
            for move in job.move_records
        ],
        "energy_kwh": job.energy_kwh,
        "carbon_kg": job.carbon_kg,
        "cost_jpy": job.cost_jpy,
        "adjusted_cost_jpy": job.cost_jpy + job.carbon_kg * carbon_price_jpy_per_kg,
    }


def signals_json(scenario: Scenario, trace: SignalTrace) -> dict[str, Any]:
    """The hourly signals of every region (index h: hour_zero + h hours to + h + 1)."""
    return {
        "pue": {region.name: region.pue for region in scenario.regions},
        "carbon_g_per_kwh": {
            name: [float(v) for v in trace.carbon_g_per_kwh[row]]
            for row, name in enumerate(scenario.region_names)
        },
        "price_jpy_per_kwh": {
            name: [float(v) for v in trace.price_jpy_per_kwh[row]]
            for row, name in enumerate(scenario.region_names)
        },
    }


def build_report(
    scenario: Scenario,
    runs: Sequence[RunResult],
    wall_s: Sequence[float],
    optimum: OptimumResult | None,
    trace: SignalTrace | None = None,
) -> Report:
    """Compare `runs` (the first named ``agnostic`` is the baseline)."""
    price_per_kg = scenario.policy.carbon_price_jpy_per_tonne / GRAMS_PER_KG
    totals = {run.policy: _totals(run, price_per_kg) for run in runs}
    base = totals.get("agnostic", next(iter(totals.values())))
    reference: float | None = None
    optimum_carbon: float | None = None
    if "optimum" in totals:
        replayed = totals["optimum"][2]
        bound = optimum.lower_bound_jpy if optimum is not None else math.inf
        reference = min(replayed, bound) if math.isfinite(bound) else replayed
        optimum_carbon = totals["optimum"][0]
    rows = []
    for run, seconds in zip(runs, wall_s, strict=True):
        carbon, cost, adjusted = totals[run.policy]
        saving_possible = None if reference is None else base[2] - reference
        fraction = (
            (base[2] - adjusted) / saving_possible
            if saving_possible is not None and saving_possible > _EPS
            else None
        )
        carbon_possible = None if optimum_carbon is None else base[0] - optimum_carbon
        carbon_fraction = (
            (base[0] - carbon) / carbon_possible
            if carbon_possible is not None and abs(carbon_possible) > _EPS
            else None
        )
        misses = 0
        unfinished = 0
        stretches = []
        for job in run.jobs:
            spec = job.spec
            if job.finished_h is None:
                unfinished += 1
            else:
                stretches.append((job.finished_h - spec.arrival_h) / spec.runtime_h)
            late = job.finished_h is None or (
                spec.deadline_h is not None and job.finished_h > spec.deadline_h + _EPS
            )
            if spec.deadline_h is not None and late:
                misses += 1
        rows.append(
            PolicyRow(
                name=run.policy,
                carbon_kg=carbon,
                cost_jpy=cost,
                adjusted_cost_jpy=adjusted,
                carbon_reduction_percent=_percent(base[0], carbon),
                cost_reduction_percent=_percent(base[1], cost),
                adjusted_reduction_percent=_percent(base[2], adjusted),
                fraction_of_optimum=fraction,
                carbon_fraction_of_optimum=carbon_fraction,
                deadline_misses=misses,
                unfinished=unfinished,
                migrations=sum(job.moves for job in run.jobs),
                gpu_hours_lost=sum(job.gpu_hours_lost for job in run.jobs),
                stretch_mean=float(np.mean(stretches)) if stretches else math.nan,
                stretch_p95=float(np.percentile(stretches, 95)) if stretches else math.nan,
                rejected_actions=run.rejected_actions,
                wall_s=seconds,
            )
        )
    return Report(
        scenario=scenario.name,
        jobs=len(scenario.jobs),
        regions=scenario.region_names,
        hours=max((run.hours_simulated for run in runs), default=0),
        carbon_price_jpy_per_tonne=scenario.policy.carbon_price_jpy_per_tonne,
        rows=tuple(rows),
        optimum=optimum,
        optimum_reference_jpy=reference,
        hour_zero=scenario.start.isoformat(),
        signals=None if trace is None else signals_json(scenario, trace),
        schedules=tuple(
            tuple(job_schedule(job, scenario.start, price_per_kg) for job in run.jobs)
            for run in runs
        ),
    )


_COLUMNS = (
    ("policy", "{:<24}", "name"),
    ("carbon kg", "{:>10,.0f}", "carbon_kg"),
    ("cost JPY", "{:>11,.0f}", "cost_jpy"),
    ("adj. JPY", "{:>11,.0f}", "adjusted_cost_jpy"),
    ("CO2 -%", "{:>7.1f}", "carbon_reduction_percent"),
    ("JPY -%", "{:>7.1f}", "cost_reduction_percent"),
    ("adj -%", "{:>7.1f}", "adjusted_reduction_percent"),
    ("of opt", "{:>7}", "fraction_of_optimum"),
    ("misses", "{:>6}", "deadline_misses"),
    ("moves", "{:>6}", "migrations"),
    ("GPUh lost", "{:>9.1f}", "gpu_hours_lost"),
    ("stretch", "{:>7.2f}", "stretch_mean"),
    ("p95", "{:>6.2f}", "stretch_p95"),
)


def format_table(report: Report) -> str:
    """The one comparison table, with a header naming the scenario and the optimum's quality."""
    lines = [
        f"scenario {report.scenario}: {report.jobs} jobs, {len(report.regions)} regions "
        f"({', '.join(report.regions)}), {report.hours} h simulated; carbon priced at "
        f"{report.carbon_price_jpy_per_tonne:,.0f} JPY/t",
    ]
    header = []
    for title, fmt, _ in _COLUMNS:
        width = len(fmt.format(0)) if "s" not in fmt and title != "policy" else 24
        if title == "of opt":
            width = 7
        header.append(title.rjust(width) if title != "policy" else title.ljust(24))
    lines.append(" ".join(header))
    for row in report.rows:
        cells = []
        for _, fmt, key in _COLUMNS:
            value = getattr(row, key)
            if key == "fraction_of_optimum":
                cells.append(fmt.format("-" if value is None else f"{100 * value:.1f}%"))
            else:
                cells.append(fmt.format(value))
        lines.append(" ".join(cells))
    if report.optimum is not None:
        opt = report.optimum
        lines.append(
            f"optimum: lower bound {opt.lower_bound_jpy:,.0f} JPY, schedule "
            f"{opt.objective_jpy:,.0f} JPY (gap {100 * opt.gap:.2f}%), "
            f"{opt.iterations} column-generation rounds, {opt.columns} plans, "
            f"{'converged' if opt.converged else 'NOT converged'}, "
            f"at most {opt.max_moves_used} moves per job; 'of opt' = share of the saving "
            f"to {report.optimum_reference_jpy or 0:,.0f} JPY (carbon-adjusted)"
        )
    return "\n".join(lines)


def to_csv(report: Report) -> str:
    """The rows as CSV (same fields as the JSON `policies` entries)."""
    buffer = io.StringIO()
    fields = list(PolicyRow.__dataclass_fields__)
    writer = csv.DictWriter(buffer, fieldnames=fields)
    writer.writeheader()
    for row in report.rows:
        writer.writerow({k: _finite(v) for k, v in asdict(row).items()})
    return buffer.getvalue()


def to_json_text(report: Report) -> str:
    """The report as one JSON object."""
    return json.dumps(report.to_json(), indent=2, sort_keys=False)
