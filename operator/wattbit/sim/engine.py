"""The discrete-time engine: step a policy through a scenario hour by hour and account for it.

This module's one job is to be the one physics every policy is measured with. Each hour:
jobs that arrive join the queue; the policy sees the queue, the running jobs and the signals
and answers with starts and moves; the engine applies them only if the target region has the
GPUs and power free (otherwise the action is rejected and counted); then every running job works
for the hour and its energy, carbon and bill are booked at that hour's actual signals.

A move takes what `wattbit.core.timeline` says, the timeline the optimum prices its plans by:
the job stops for the checkpoint write, the transfer over the APN link and the restart (its
GPUs idle in the target meanwhile, hour after hour if it lasts longer), redoes the work since
its last checkpoint (half an interval on average), and the network's transfer energy is booked.

Booking goes through `wattbit.core.accounting`, the operator's receipt arithmetic: each hour's
work and idle time are `Interval`s priced by `price_interval`, each move a `Move` priced by
`price_move` (its transfer energy at the destination's signals in the hour it moves, no PUE; its
idle GPUs as intervals in the destination, hour by hour). Every job keeps its ledger, so
`Engine.receipt` gives a simulated job the same receipt a live one gets.

WARNING: policies never mutate engine state; they only return actions. No wall clock here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from enum import StrEnum
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from wattbit.core import accounting
from wattbit.core.model import GRAMS_PER_KG, SECONDS_PER_HOUR
from wattbit.core.timeline import MoveDelay, is_done, move_delay, split_slot
from wattbit.sim.scenario import JobSpec, Scenario, SignalSource
from wattbit.sim.traces import FloatArray, SignalTrace

_EPS = 1e-9


class JobStatus(StrEnum):
    """Where a job is."""

    WAITING = "Waiting"
    """Not yet arrived."""
    PENDING = "Pending"
    RUNNING = "Running"
    DONE = "Done"


@dataclass(frozen=True, slots=True)
class Start:
    """Start a pending job in a region now."""

    job_id: str
    region: int


@dataclass(frozen=True, slots=True)
class Move:
    """Move a running job to another region now."""

    job_id: str
    region: int


Action = Start | Move


@dataclass(slots=True)
class JobRun:
    """A job's state and accounts during a run."""

    spec: JobSpec
    status: JobStatus = JobStatus.WAITING
    region: int | None = None
    remaining_h: float = 0.0
    downtime_h: float = 0.0
    """Downtime of a move still to be spent before work resumes."""
    started_h: float | None = None
    finished_h: float | None = None
    moves: int = 0
    last_moved_h: float | None = None
    previous_region: int | None = None
    gpu_hours_lost: float = 0.0
    energy_kwh: float = 0.0
    carbon_kg: float = 0.0
    cost_jpy: float = 0.0
    regions_by_hour: dict[int, int] = field(default_factory=dict)
    intervals: list[accounting.Interval] = field(default_factory=list)
    """The hours (or parts) it worked, as booked: the receipt's running intervals."""
    move_records: list[accounting.Move] = field(default_factory=list)
    """Its moves as booked, each with the idle intervals of its downtime."""

    @property
    def job_id(self) -> str:
        """The job's id."""
        return self.spec.job_id


@dataclass(frozen=True, slots=True, kw_only=True)
class View:
    """What a policy may look at in one hour (read-only by convention)."""

    hour: int
    scenario: Scenario
    trace: SignalTrace
    pending: tuple[JobRun, ...]
    running: tuple[JobRun, ...]
    finished: tuple[JobRun, ...] = ()
    """Jobs done by this hour (how long runs really took, as a cluster's history shows)."""
    capacity_gpus: FloatArray
    power_cap_kw: FloatArray
    pue: FloatArray
    used_gpus: FloatArray
    used_kw: FloatArray

    def projected_usage(self, horizon_h: int) -> tuple[FloatArray, FloatArray]:
        """GPUs and facility kW the running jobs are expected to hold, regions x hours ahead."""
        regions = self.capacity_gpus.size
        gpus = np.zeros((regions, horizon_h))
        kw = np.zeros((regions, horizon_h))
        for job in self.running:
            if job.region is None:
                continue
            hours = min(horizon_h, max(1, math.ceil(job.remaining_h + job.downtime_h - _EPS)))
            gpus[job.region, :hours] += job.spec.gpus
            kw[job.region, :hours] += (
                job.spec.gpus * job.spec.power_kw_per_gpu * float(self.pue[job.region])
            )
        return gpus, kw


class SimPolicy(Protocol):
    """A placement policy under test."""

    name: str

    def act(self, view: View) -> Sequence[Action]:
        """The starts and moves to make this hour."""
        ...


def move_overhead(scenario: Scenario, job: JobSpec, source: int, target: int) -> MoveDelay:
    """What moving `job` from `source` to `target` takes (the optimum's plans use the same)."""
    link = link_between(scenario, source, target)
    if link is None:
        raise ValueError(f"no link between regions {source} and {target}")
    latency_ms, bandwidth_gbps, energy_kwh_per_gb = link
    return move_delay(
        checkpoint_gb=job.checkpoint_gb,
        checkpoint_interval_s=job.checkpoint_interval_h * SECONDS_PER_HOUR,
        latency_ms=latency_ms,
        bandwidth_gbps=bandwidth_gbps,
        energy_kwh_per_gb=energy_kwh_per_gb,
        policy=scenario.policy,
    )


def link_between(scenario: Scenario, source: int, target: int) -> tuple[float, float, float] | None:
    """(latency_ms, bandwidth_gbps, energy_kwh_per_gb) of the fastest link, or None."""
    names = scenario.region_names
    best: tuple[float, float, float] | None = None
    for link in scenario.links:
        ends = {(link.from_region, link.to_region), (link.to_region, link.from_region)}
        if (names[source], names[target]) in ends and (
            best is None or link.bandwidth_gbps > best[1]
        ):
            best = (link.latency_ms, link.bandwidth_gbps, link.energy_kwh_per_gb)
    return best


@dataclass(frozen=True, slots=True, kw_only=True)
class RunResult:
    """Everything a run produced, for the report."""

    policy: str
    jobs: tuple[JobRun, ...]
    rejected_actions: int
    hours_simulated: int
    gpus_by_region_hour: NDArray[np.float64]
    """regions x hours: GPUs in use (for plots and capacity checks)."""


class Engine:
    """Runs one policy over one scenario's traces."""

    def __init__(self, scenario: Scenario, trace: SignalTrace) -> None:
        self.scenario = scenario
        self.trace = trace
        self.capacity_gpus = np.array([r.gpus for r in scenario.regions], dtype=np.float64)
        self.power_cap_kw = np.array(
            [r.power_cap_kw if r.power_cap_kw is not None else np.inf for r in scenario.regions]
        )
        self.pue = np.array([r.pue for r in scenario.regions], dtype=np.float64)
        self.carbon_price_jpy_per_kg = scenario.policy.carbon_price_jpy_per_tonne / 1000.0
        self.carbon_price_jpy_per_tonne = scenario.policy.carbon_price_jpy_per_tonne
        self.hour_starts = tuple(
            scenario.start + timedelta(hours=hour) for hour in range(trace.hours)
        )
        """The instant each hour of the trace starts (the receipt's clock)."""
        self.signals = tuple(
            tuple(
                accounting.Signals(
                    carbon_g_per_kwh=float(trace.carbon_g_per_kwh[row, hour]),
                    price_jpy_per_kwh=float(trace.price_jpy_per_kwh[row, hour]),
                    source=signal_source(scenario, row),
                    observed_at=self.hour_starts[hour],
                )
                for hour in range(trace.hours)
            )
            for row in range(len(scenario.regions))
        )
        """Regions x hours: the actual signals as the receipt records them."""

    def receipt(self, job: JobRun) -> accounting.Receipt:
        """`job`'s receipt from its ledger, against running at arrival in its first eligible
        region (home, unless not allowed: then the first allowed in scenario order)."""
        spec = job.spec
        jpy_per_tonne = self.carbon_price_jpy_per_tonne
        names = self.scenario.region_names
        eligible = [r for r in range(len(names)) if self._allowed(spec, r)]
        home = names.index(spec.home)
        region = home if home in eligible else (eligible[0] if eligible else home)
        return accounting.build_receipt(
            intervals=job.intervals,
            moves=job.move_records,
            counterfactual=accounting.counterfactual_intervals(
                region=names[region],
                arrival=self.hour_starts[spec.arrival_h],
                work_s=spec.runtime_h * SECONDS_PER_HOUR,
                gpus=spec.gpus,
                power_kw_per_gpu=spec.power_kw_per_gpu,
                pue=float(self.pue[region]),
                timeline=tuple(
                    accounting.SignalPeriod(start=start, signals=signals)
                    for start, signals in zip(self.hour_starts, self.signals[region], strict=True)
                ),
            ),
            carbon_price_jpy_per_tonne=jpy_per_tonne,
            assumptions=(
                "Simulated: signals are the scenario's hourly trace, observed at each hour's "
                "start; a move's downtime and redone work are the engine's estimates.",
            ),
        )

    def run(self, policy: SimPolicy) -> RunResult:
        """Step `policy` until every job is done or the trace ends."""
        scenario, trace = self.scenario, self.trace
        jobs = [JobRun(spec=spec, remaining_h=float(spec.runtime_h)) for spec in scenario.jobs]
        by_id = {job.job_id: job for job in jobs}
        regions = len(scenario.regions)
        usage = np.zeros((regions, trace.hours))
        rejected = 0
        hour = 0
        last_hour = trace.hours - scenario.baselines.forecast_horizon_h
        for hour in range(last_hour):
            for job in jobs:
                if job.status is JobStatus.WAITING and job.spec.arrival_h <= hour:
                    job.status = JobStatus.PENDING
            if all(job.status is JobStatus.DONE for job in jobs):
                break
            used_gpus, used_kw = self._usage(jobs)
            view = View(
                hour=hour,
                scenario=scenario,
                trace=trace,
                pending=tuple(j for j in jobs if j.status is JobStatus.PENDING),
                running=tuple(j for j in jobs if j.status is JobStatus.RUNNING),
                finished=tuple(j for j in jobs if j.status is JobStatus.DONE),
                capacity_gpus=self.capacity_gpus,
                power_cap_kw=self.power_cap_kw,
                pue=self.pue,
                used_gpus=used_gpus,
                used_kw=used_kw,
            )
            for action in policy.act(view):
                job = by_id[action.job_id]
                if not self._apply(job, action, hour, used_gpus, used_kw):
                    rejected += 1
            self._work(jobs, hour, usage)
        return RunResult(
            policy=policy.name,
            jobs=tuple(jobs),
            rejected_actions=rejected,
            hours_simulated=hour + 1,
            gpus_by_region_hour=usage,
        )

    def _usage(self, jobs: Sequence[JobRun]) -> tuple[FloatArray, FloatArray]:
        gpus = np.zeros(self.capacity_gpus.size)
        kw = np.zeros(self.capacity_gpus.size)
        for job in jobs:
            if job.status is JobStatus.RUNNING and job.region is not None:
                gpus[job.region] += job.spec.gpus
                kw[job.region] += self._kw(job.spec, job.region)
        return gpus, kw

    def _kw(self, spec: JobSpec, region: int) -> float:
        return spec.gpus * spec.power_kw_per_gpu * float(self.pue[region])

    def _fits(self, spec: JobSpec, region: int, gpus: FloatArray, kw: FloatArray) -> bool:
        return bool(
            gpus[region] + spec.gpus <= self.capacity_gpus[region] + _EPS
            and kw[region] + self._kw(spec, region) <= self.power_cap_kw[region] + _EPS
        )

    def _allowed(self, spec: JobSpec, region: int) -> bool:
        return spec.allowed is None or self.scenario.region_names[region] in spec.allowed

    def _apply(
        self, job: JobRun, action: Action, hour: int, gpus: FloatArray, kw: FloatArray
    ) -> bool:
        spec = job.spec
        if not self._allowed(spec, action.region):
            return False
        if isinstance(action, Start):
            if job.status is not JobStatus.PENDING or not self._fits(spec, action.region, gpus, kw):
                return False
            job.status = JobStatus.RUNNING
            job.region = action.region
            job.started_h = float(hour)
            gpus[action.region] += spec.gpus
            kw[action.region] += self._kw(spec, action.region)
            return True
        source = job.region
        if (
            job.status is not JobStatus.RUNNING
            or source is None
            or source == action.region
            or link_between(self.scenario, source, action.region) is None
            or not self._fits(spec, action.region, gpus, kw)
        ):
            return False
        overhead = move_overhead(self.scenario, spec, source, action.region)
        gpus[source] -= spec.gpus
        kw[source] -= self._kw(spec, source)
        gpus[action.region] += spec.gpus
        kw[action.region] += self._kw(spec, action.region)
        job.previous_region = source
        job.region = action.region
        job.moves += 1
        job.last_moved_h = float(hour)
        job.downtime_h += overhead.downtime_h
        job.remaining_h += overhead.lost_h
        job.gpu_hours_lost += spec.gpus * (overhead.downtime_h + overhead.lost_h)
        names = self.scenario.region_names
        jpy_per_tonne = self.carbon_price_jpy_per_tonne
        move = accounting.Move(
            from_region=names[source],
            to_region=names[action.region],
            at=self.hour_starts[hour],
            checkpoint_gb=spec.checkpoint_gb,
            transfer_s=overhead.transfer_s,
            transfer_energy_kwh=overhead.network_kwh,
            signals=self.signals[action.region][hour],
            work_redone_s=overhead.lost_h * SECONDS_PER_HOUR,
        )
        job.move_records.append(move)
        # The idle GPUs are booked hour by hour in `_work`, and added to the move's record.
        self._book(job, accounting.price_move(move, carbon_price_jpy_per_tonne=jpy_per_tonne))
        return True

    def _book(
        self, job: JobRun, figures: accounting.PricedInterval | accounting.PricedMove
    ) -> None:
        job.energy_kwh += figures.energy_kwh
        job.carbon_kg += figures.carbon_g / GRAMS_PER_KG
        job.cost_jpy += figures.cost_jpy

    def _work(self, jobs: Sequence[JobRun], hour: int, usage: FloatArray) -> None:
        jpy_per_tonne = self.carbon_price_jpy_per_tonne
        for job in jobs:
            if job.status is not JobStatus.RUNNING or job.region is None:
                continue
            spec, region = job.spec, job.region
            usage[region, hour] += spec.gpus
            job.regions_by_hour[hour] = region
            # The same split of the hour as the optimum's plans (`wattbit.core.timeline`).
            idle_h, work_h = split_slot(job.downtime_h, job.remaining_h)
            job.downtime_h -= idle_h
            job.remaining_h -= work_h
            if idle_h > 0.0:
                idle = self._interval(
                    job, region, hour, offset_h=0.0, hours=idle_h, kw=spec.idle_power_kw_per_gpu
                )
                self._book(
                    job, accounting.price_interval(idle, carbon_price_jpy_per_tonne=jpy_per_tonne)
                )
                if job.move_records:
                    last = job.move_records[-1]
                    job.move_records[-1] = replace(last, idle=(*last.idle, idle))
            if work_h > 0.0:
                work = self._interval(
                    job, region, hour, offset_h=idle_h, hours=work_h, kw=spec.power_kw_per_gpu
                )
                self._book(
                    job, accounting.price_interval(work, carbon_price_jpy_per_tonne=jpy_per_tonne)
                )
                job.intervals.append(work)
            if is_done(job.downtime_h, job.remaining_h):
                job.status = JobStatus.DONE
                job.finished_h = hour + idle_h + work_h

    def _interval(
        self, job: JobRun, region: int, hour: int, *, offset_h: float, hours: float, kw: float
    ) -> accounting.Interval:
        start = self.hour_starts[hour]
        return accounting.Interval(
            region=self.scenario.region_names[region],
            start=start + timedelta(hours=offset_h) if offset_h else start,
            duration_s=hours * SECONDS_PER_HOUR,
            gpus=job.spec.gpus,
            power_kw_per_gpu=kw,
            pue=float(self.pue[region]),
            signals=self.signals[region][hour],
        )


def signal_source(scenario: Scenario, region: int) -> str:
    """The receipt's name for where a region's simulated signals come from."""
    if scenario.signals.source is SignalSource.CSV and scenario.signals.csv_path is not None:
        return f"csv:{scenario.signals.csv_path.name}"
    spec = scenario.regions[region]
    return f"replay:{spec.area or spec.name}/{scenario.signals.season}"
