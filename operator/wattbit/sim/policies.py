"""The policies compared by the simulator: four baselines, wattbit, and the offline optimum.

This module's one job is to turn what each policy knows into starts and moves:

- ``agnostic``: run at arrival in the home region (carbon- and price-agnostic).
- ``greenest-once``: run at arrival in the region with the lowest mean carbon over the trace
  (Sukprasert's "one migration"), or the next greenest with room; never moves.
- ``threshold-wait``: in the home region, wait until carbon is at or below a threshold, or
  until waiting longer would miss the deadline (compute-gardener style).
- ``lowest-window``: in the home region, start at the lowest-carbon window within the deadline
  that the forecast shows (GAIA's LCS; temporal shifting only).
- ``wattbit``: the decision core (`wattbit.core.planner.decide`) every hour, with forecasts
  (perfect, or with bounded error for ``wattbit-forecast-error``).
- ``optimum``: replays the offline optimum (`wattbit.core.optimum`), which knew everything.

WARNING: policies only read the `View` and return actions; the engine applies and accounts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import numpy as np
from numpy.typing import NDArray

from wattbit.core.cost import adjusted_jpy_per_kwh
from wattbit.core.model import (
    SECONDS_PER_HOUR,
    DecisionKind,
    Horizon,
    LinkSnapshot,
    Policy,
    RegionName,
    RegionSnapshot,
    WorkloadId,
    WorkloadSnapshot,
    WorkloadState,
)
from wattbit.core.move_cost import build_link_table
from wattbit.core.optimum import OptimumInstance, OptimumJob, OptimumResult, solve_optimum
from wattbit.core.overrun import FinishedRun, overrun_fraction
from wattbit.core.planner import decide
from wattbit.sim.engine import Action, JobRun, Move, Start, View, move_overhead
from wattbit.sim.scenario import JobSpec, Scenario
from wattbit.sim.traces import FloatArray, Forecaster, SignalTrace

_EPS = 1e-9


class _Room:
    """Free GPUs and power this hour, so a policy never asks for more than there is."""

    def __init__(self, view: View) -> None:
        self.gpus = view.capacity_gpus - view.used_gpus
        self.kw = view.power_cap_kw - view.used_kw
        self.pue = view.pue

    def take(self, spec: JobSpec, region: int) -> bool:
        kw = spec.gpus * spec.power_kw_per_gpu * float(self.pue[region])
        if self.gpus[region] + _EPS < spec.gpus or self.kw[region] + _EPS < kw:
            return False
        self.gpus[region] -= spec.gpus
        self.kw[region] -= kw
        return True

    def give(self, spec: JobSpec, region: int) -> None:
        self.gpus[region] += spec.gpus
        self.kw[region] += spec.gpus * spec.power_kw_per_gpu * float(self.pue[region])


def _latest_start_h(spec: JobSpec, policy: Policy) -> float:
    if spec.deadline_h is not None:
        return float(spec.deadline_h - spec.runtime_h)
    return spec.arrival_h + policy.max_wait_s / SECONDS_PER_HOUR


def _region_index(scenario: Scenario) -> dict[str, int]:
    return {name: index for index, name in enumerate(scenario.region_names)}


@dataclass(slots=True)
class Agnostic:
    """Run at arrival in the home region; queue there when it is full."""

    name: str = "agnostic"

    def act(self, view: View) -> Sequence[Action]:
        index = _region_index(view.scenario)
        room = _Room(view)
        actions: list[Action] = []
        for job in view.pending:
            home = index[job.spec.home]
            if room.take(job.spec, home):
                actions.append(Start(job.job_id, home))
        return actions


@dataclass(slots=True)
class GreenestOnce:
    """Run at arrival in the greenest region on average that has room."""

    name: str = "greenest-once"
    ranking: tuple[int, ...] = ()

    def act(self, view: View) -> Sequence[Action]:
        if not self.ranking:
            mean = view.trace.carbon_g_per_kwh.mean(axis=1)
            self.ranking = tuple(int(r) for r in np.argsort(mean, kind="stable"))
        names = view.scenario.region_names
        room = _Room(view)
        actions: list[Action] = []
        for job in view.pending:
            for region in self.ranking:
                allowed = job.spec.allowed is None or names[region] in job.spec.allowed
                if allowed and room.take(job.spec, region):
                    actions.append(Start(job.job_id, region))
                    break
        return actions


@dataclass(slots=True)
class ThresholdWait:
    """In the home region, start once carbon is at or below the threshold, or at the latest."""

    name: str = "threshold-wait"
    thresholds: FloatArray = field(default_factory=lambda: np.zeros(0))

    def act(self, view: View) -> Sequence[Action]:
        if self.thresholds.size == 0:
            fixed = view.scenario.baselines.threshold_g_per_kwh
            carbon = view.trace.carbon_g_per_kwh
            self.thresholds = (
                np.full(carbon.shape[0], fixed)
                if fixed is not None
                else np.percentile(carbon, 25, axis=1)
            )
        index = _region_index(view.scenario)
        room = _Room(view)
        actions: list[Action] = []
        for job in view.pending:
            home = index[job.spec.home]
            green = view.trace.carbon_g_per_kwh[home, view.hour] <= self.thresholds[home]
            late = view.hour >= _latest_start_h(job.spec, view.scenario.policy) - _EPS
            if (green or late) and room.take(job.spec, home):
                actions.append(Start(job.job_id, home))
        return actions


@dataclass(slots=True)
class LowestWindow:
    """In the home region, start at the forecast's lowest-carbon window within the deadline."""

    forecaster: Forecaster
    name: str = "lowest-window"
    planned: dict[str, int] = field(default_factory=dict)

    def act(self, view: View) -> Sequence[Action]:
        index = _region_index(view.scenario)
        horizon = view.scenario.baselines.forecast_horizon_h
        carbon, _ = self.forecaster.forecast(view.hour, horizon)
        room = _Room(view)
        actions: list[Action] = []
        for job in view.pending:
            spec = job.spec
            home = index[spec.home]
            if job.job_id not in self.planned:
                latest = math.floor(_latest_start_h(spec, view.scenario.policy) + _EPS)
                last = min(latest, view.hour + horizon - spec.runtime_h)
                best, best_hour = math.inf, view.hour
                for hour in range(view.hour, max(view.hour, last) + 1):
                    offset = hour - view.hour
                    total = float(carbon[home, offset : offset + spec.runtime_h].sum())
                    if total < best - _EPS:
                        best, best_hour = total, hour
                self.planned[job.job_id] = best_hour
            if view.hour >= self.planned[job.job_id] and room.take(spec, home):
                actions.append(Start(job.job_id, home))
        return actions


def _links(scenario: Scenario) -> tuple[LinkSnapshot, ...]:
    return tuple(
        LinkSnapshot(
            from_region=RegionName(link.from_region),
            to_region=RegionName(link.to_region),
            latency_ms=link.latency_ms,
            bandwidth_gbps=link.bandwidth_gbps,
            energy_kwh_per_gb=link.energy_kwh_per_gb,
        )
        for link in scenario.links
    )


def workload_snapshot(
    scenario: Scenario, job: JobRun, now: datetime, *, running: bool
) -> WorkloadSnapshot:
    """The core's view of one simulated job."""
    spec = job.spec
    names = scenario.region_names
    deadline = (
        None if spec.deadline_h is None else scenario.start + timedelta(hours=spec.deadline_h)
    )
    return WorkloadSnapshot(
        workload_id=WorkloadId(spec.job_id),
        gpus=spec.gpus,
        power_kw_per_gpu=spec.power_kw_per_gpu,
        idle_power_kw_per_gpu=spec.idle_power_kw_per_gpu,
        remaining_runtime_s=(job.remaining_h + job.downtime_h) * SECONDS_PER_HOUR,
        deadline=deadline,
        state=WorkloadState.RUNNING if running else WorkloadState.PENDING,
        current_region=RegionName(names[job.region])
        if running and job.region is not None
        else None,
        home_region=RegionName(spec.home),
        allowed_regions=None
        if spec.allowed is None
        else frozenset(RegionName(n) for n in spec.allowed),
        data_region=None if spec.data_region is None else RegionName(spec.data_region),
        max_latency_ms=spec.max_latency_ms,
        checkpoint_size_gb=spec.checkpoint_gb,
        checkpoint_interval_s=spec.checkpoint_interval_h * SECONDS_PER_HOUR,
        submitted_at=scenario.start + timedelta(hours=spec.arrival_h),
        last_moved_at=None
        if job.last_moved_h is None
        else scenario.start + timedelta(hours=job.last_moved_h),
        previous_region=None
        if job.previous_region is None
        else RegionName(names[job.previous_region]),
        move_count=job.moves,
    )


def finished_runs(jobs: Sequence[JobRun]) -> list[FinishedRun]:
    """The finished jobs that never moved, as the operator counts them: wall time from start
    to finish against the declared runtime."""
    return [
        FinishedRun(
            expected_s=job.spec.runtime_h * SECONDS_PER_HOUR,
            actual_s=(job.finished_h - job.started_h) * SECONDS_PER_HOUR,
        )
        for job in jobs
        if job.moves == 0 and job.started_h is not None and job.finished_h is not None
    ]


@dataclass(slots=True)
class Wattbit:
    """The decision core, called once per hour for every pending and running job."""

    forecaster: Forecaster
    name: str = "wattbit"
    decide_s: list[float] = field(default_factory=list)

    def act(self, view: View) -> Sequence[Action]:
        scenario = view.scenario
        horizon_h = scenario.baselines.forecast_horizon_h
        now = scenario.start + timedelta(hours=view.hour)
        carbon, price = self.forecaster.forecast(view.hour, horizon_h)
        used_gpus, used_kw = view.projected_usage(horizon_h)
        free = view.capacity_gpus[:, None] - used_gpus
        headroom = view.power_cap_kw[:, None] - used_kw
        regions = [
            RegionSnapshot(
                name=RegionName(spec.name),
                carbon_g_per_kwh=float(carbon[row, 0]),
                price_jpy_per_kwh=float(price[row, 0]),
                signal_observed_at=now,
                carbon_forecast_g_per_kwh=tuple(float(v) for v in carbon[row]),
                price_forecast_jpy_per_kwh=tuple(float(v) for v in price[row]),
                free_gpus=tuple(int(max(v, 0.0)) for v in free[row]),
                power_headroom_kw=()
                if not np.isfinite(view.power_cap_kw[row])
                else tuple(float(v) for v in headroom[row]),
                pue=spec.pue,
            )
            for row, spec in enumerate(scenario.regions)
        ]
        workloads = [workload_snapshot(scenario, j, now, running=False) for j in view.pending]
        workloads += [workload_snapshot(scenario, j, now, running=True) for j in view.running]
        overrun = overrun_fraction(finished_runs(view.finished))
        workloads = [replace(w, runtime_overrun_fraction=overrun) for w in workloads]
        if not workloads:
            return []
        decisions = decide(
            regions=regions,
            workloads=workloads,
            policy=scenario.policy,
            now=now,
            links=_links(scenario),
            horizon=Horizon(start=now, slot_s=SECONDS_PER_HOUR, slot_count=horizon_h),
        )
        index = _region_index(scenario)
        actions: list[Action] = []
        # Moves first: a workload that makes room frees it for a start in the same hour.
        ordered = sorted(decisions, key=lambda d: d.kind is not DecisionKind.MOVE)
        for decision in ordered:
            if decision.region is None:
                continue
            if decision.kind is DecisionKind.RUN_NOW:
                actions.append(Start(decision.workload_id, index[decision.region]))
            elif decision.kind is DecisionKind.MOVE:
                actions.append(Move(decision.workload_id, index[decision.region]))
        return actions


def objective_rates(scenario: Scenario, trace: SignalTrace) -> tuple[FloatArray, FloatArray]:
    """The benchmark's carbon-adjusted rate per facility kWh and per GPU kWh (regions x hours).

    Price plus carbon at the scenario's internal carbon price, both weighted 1.
    """
    objective = Policy(carbon_price_jpy_per_tonne=scenario.policy.carbon_price_jpy_per_tonne)
    adjusted = adjusted_jpy_per_kwh(trace.price_jpy_per_kwh, trace.carbon_g_per_kwh, objective)
    pue = np.array([r.pue for r in scenario.regions])
    return adjusted, adjusted * pue[:, None]


def optimum_instance(scenario: Scenario, trace: SignalTrace) -> OptimumInstance:
    """The offline optimum's instance: every job, every region, every hour of the trace."""
    adjusted, unit = objective_rates(scenario, trace)
    names = scenario.region_names
    hours = trace.hours
    policy = scenario.policy
    links = build_link_table(_links(scenario), [RegionName(n) for n in names], policy)
    jobs: list[OptimumJob] = []
    for spec in scenario.jobs:
        delays = _move_delays(scenario, spec, links.usable)
        allowed = np.array(
            [spec.allowed is None or name in spec.allowed for name in names], dtype=np.bool_
        )
        if spec.max_latency_ms is not None:
            anchor = names.index(spec.data_region or spec.home)
            allowed &= links.latency_ms[anchor] <= spec.max_latency_ms
        end_by = (
            spec.deadline_h
            if spec.deadline_h is not None
            else math.floor(_latest_start_h(spec, policy)) + spec.runtime_h
        )
        jobs.append(
            OptimumJob(
                arrival_slot=spec.arrival_h,
                duration_slots=spec.runtime_h,
                end_by_slot=min(end_by, hours),
                gpus=float(spec.gpus),
                busy_kw=spec.gpus * spec.power_kw_per_gpu,
                idle_kw=spec.gpus * spec.idle_power_kw_per_gpu,
                allowed=allowed,
                move_downtime_slots=delays.downtime,
                lost_slots=delays.lost,
                move_network_kwh=delays.network_kwh,
                move_fixed_jpy=delays.fixed_jpy,
            )
        )
    capacity = np.array([r.gpus for r in scenario.regions], dtype=np.float64)
    power = np.array(
        [r.power_cap_kw if r.power_cap_kw is not None else np.inf for r in scenario.regions]
    )
    return OptimumInstance(
        unit_cost_jpy_per_it_kwh=unit,
        adjusted_jpy_per_kwh=adjusted,
        pue=np.array([r.pue for r in scenario.regions]),
        capacity_gpus=np.repeat(capacity[:, None], hours, axis=1),
        power_cap_kw=np.repeat(power[:, None], hours, axis=1),
        slot_h=1.0,
        jobs=tuple(jobs),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class _MoveDelays:
    """One job's moves between every pair of regions, in hourly slots (regions x regions)."""

    downtime: FloatArray
    lost: float
    network_kwh: FloatArray
    fixed_jpy: FloatArray
    """0 where a usable link exists (and on the diagonal), `inf` elsewhere."""


def _move_delays(scenario: Scenario, spec: JobSpec, usable: NDArray[np.bool_]) -> _MoveDelays:
    """A job's moves as the optimum sees them: the engine's own delays (`move_overhead`).

    No GPU-hour value (`policy.gpu_hour_value_jpy`): the benchmark's cost does not contain
    it, so an optimum that weighed it would price its plans above their replay and would
    neither be the cheapest schedule nor bound one.
    """
    size = usable.shape[0]
    pairs = usable & ~np.eye(size, dtype=np.bool_)
    downtime = np.zeros((size, size))
    network = np.zeros((size, size))
    lost = spec.checkpoint_interval_h / 2.0
    for source, target in zip(*np.nonzero(pairs), strict=True):
        delay = move_overhead(scenario, spec, int(source), int(target))
        downtime[source, target] = delay.downtime_h
        network[source, target] = delay.network_kwh
        lost = delay.lost_h
    return _MoveDelays(
        downtime=downtime,
        lost=lost,
        network_kwh=network,
        fixed_jpy=np.where(pairs | np.eye(size, dtype=np.bool_), 0.0, np.inf),
    )


@dataclass(slots=True)
class OfflineOptimum:
    """Replays the optimum's schedule: start where and when it says, move when it says."""

    result: OptimumResult
    scenario: Scenario
    name: str = "optimum"
    by_job: dict[str, int] = field(default_factory=dict)

    def act(self, view: View) -> Sequence[Action]:
        if not self.by_job:
            self.by_job = {spec.job_id: i for i, spec in enumerate(self.scenario.jobs)}
        index = _region_index(view.scenario)
        actions: list[Action] = []
        room = _Room(view)
        # Moves first: they free the capacity that planned starts may need this hour.
        for job in view.running:
            run = self.result.runs[self.by_job[job.job_id]]
            if run is None or job.region is None:
                continue
            offset = view.hour - run.start_slot
            if 0 < offset < len(run.regions) and run.regions[offset] != job.region:
                target = run.regions[offset]
                if room.take(job.spec, target):
                    room.give(job.spec, job.region)
                    actions.append(Move(job.job_id, target))
        for job in view.pending:
            run = self.result.runs[self.by_job[job.job_id]]
            if run is None:
                home = index[job.spec.home]
                if room.take(job.spec, home):
                    actions.append(Start(job.job_id, home))
            elif view.hour >= run.start_slot:
                offset = min(view.hour - run.start_slot, len(run.regions) - 1)
                if room.take(job.spec, run.regions[offset]):
                    actions.append(Start(job.job_id, run.regions[offset]))
        return actions


def solve_scenario_optimum(scenario: Scenario, trace: SignalTrace) -> OptimumResult:
    """Solve the offline optimum of `scenario` on `trace` (HiGHS; may take a minute)."""
    spec = scenario.optimum
    return solve_optimum(
        optimum_instance(scenario, trace),
        max_moves_per_job=spec.max_moves_per_job,
        max_iterations=spec.max_iterations,
        time_limit_s=spec.time_limit_s,
    )
