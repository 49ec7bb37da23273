"""Scenario files: parse and check a simulation scenario (YAML, with optional CSV parts).

This module's one job is to turn a scenario document (format: ``docs/scenario-format.md``) into
checked, frozen values: regions, APN links, the signal source, the wattbit policy, baseline
settings and the job trace (listed, from CSV, or generated from seeded groups).

WARNING: no simulation here, and no I/O beyond reading the scenario and the CSV files it names
(relative paths are resolved against the scenario's folder).
"""

from __future__ import annotations

import csv
import dataclasses
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

import yaml

from wattbit.core.model import Policy

SLOT_H: Final = 1.0
"""The simulator steps in hours: the dataset's profiles are hourly means."""


class ScenarioError(ValueError):
    """The scenario document is invalid; the message names the field."""


class SignalSource(StrEnum):
    """Where signal traces come from."""

    DATASET = "dataset"
    """The embedded Japan-grid replay model (wattbit.core.replay), seeded."""
    CSV = "csv"
    """A CSV file: hour, region, carbon_g_per_kwh, price_jpy_per_kwh."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RegionSpec:
    """One regional site."""

    name: str
    area: str | None = None
    """Dataset area (`JP-KY`) whose signals the region replays."""
    gpus: int
    power_cap_kw: float | None = None
    """Facility power cap; None: only GPUs limit."""
    pue: float = 1.2


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkSpec:
    """An APN link (both ways)."""

    from_region: str
    to_region: str
    latency_ms: float
    bandwidth_gbps: float
    energy_kwh_per_gb: float = 0.001


@dataclass(frozen=True, slots=True, kw_only=True)
class JobSpec:
    """One job of the trace; times are whole hours from the scenario's start."""

    job_id: str
    arrival_h: int
    runtime_h: int
    gpus: int
    home: str
    deadline_h: int | None = None
    power_kw_per_gpu: float = 0.7
    idle_power_kw_per_gpu: float = 0.1
    checkpoint_gb: float = 0.0
    checkpoint_interval_h: float = 1.0
    allowed: frozenset[str] | None = None
    data_region: str | None = None
    max_latency_ms: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SignalSpec:
    """How actual signals and forecasts are produced."""

    source: SignalSource = SignalSource.DATASET
    season: str = "spring_weekday"
    seed: int = 0
    noise: Mapping[str, float] = field(default_factory=dict)
    """Overrides of `wattbit.core.replay.ReplayNoise`."""
    csv_path: Path | None = None
    forecast_error_percent: float = 10.0
    """Error bound of the "wattbit with forecast error" policy's forecasts."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BaselineSpec:
    """Settings of the baselines."""

    threshold_g_per_kwh: float | None = None
    """Threshold-wait start level; None: each home region's 25th percentile over the trace."""
    forecast_horizon_h: int = 48


@dataclass(frozen=True, slots=True, kw_only=True)
class OptimumSpec:
    """Limits of the offline optimum's solver."""

    max_moves_per_job: int = 8
    max_iterations: int = 300
    time_limit_s: float = 30.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Scenario:
    """A whole scenario."""

    name: str
    description: str
    start: datetime
    seed: int
    regions: tuple[RegionSpec, ...]
    links: tuple[LinkSpec, ...]
    jobs: tuple[JobSpec, ...]
    signals: SignalSpec
    policy: Policy
    baselines: BaselineSpec
    optimum: OptimumSpec

    @property
    def region_names(self) -> tuple[str, ...]:
        """Region names in the order given."""
        return tuple(region.name for region in self.regions)

    @property
    def trace_hours(self) -> int:
        """Hours of signal needed: every job's window plus the forecast horizon."""
        last = max(
            (
                (job.deadline_h if job.deadline_h is not None else job.arrival_h + job.runtime_h)
                + job.runtime_h
                for job in self.jobs
            ),
            default=24,
        )
        return int(last + self.baselines.forecast_horizon_h + 24)


# ---------------------------------------------------------------- parsing helpers


def _mapping(raw: Any, where: str) -> Mapping[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ScenarioError(f"{where}: expected a mapping")
    return raw


def _number(raw: Any, where: str, *, minimum: float | None = None) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
        raise ScenarioError(f"{where}: expected a number, got {raw!r}")
    if minimum is not None and raw < minimum:
        raise ScenarioError(f"{where}: must be at least {minimum:g}, got {raw!r}")
    return float(raw)


def _whole(raw: Any, where: str, *, minimum: int = 0) -> int:
    value = _number(raw, where, minimum=minimum)
    if value != int(value):
        raise ScenarioError(f"{where}: must be a whole number of hours, got {raw!r}")
    return int(value)


def _text(raw: Any, where: str) -> str:
    if not isinstance(raw, str) or not raw:
        raise ScenarioError(f"{where}: expected a non-empty string")
    return raw


def _names(raw: Any, where: str) -> frozenset[str] | None:
    if raw is None:
        return None
    if not isinstance(raw, list) or not all(isinstance(n, str) for n in raw):
        raise ScenarioError(f"{where}: expected a list of region names")
    return frozenset(raw)


def _unknown_keys(raw: Mapping[str, Any], allowed: set[str], where: str) -> None:
    extra = sorted(set(raw) - allowed)
    if extra:
        raise ScenarioError(f"{where}: unknown field(s) {', '.join(extra)}")


# ---------------------------------------------------------------- sections

_REGION_KEYS = {"name", "area", "gpus", "power_cap_kw", "pue"}
_LINK_KEYS = {"from", "to", "latency_ms", "bandwidth_gbps", "energy_kwh_per_gb"}
_JOB_KEYS = {
    "id",
    "arrival_hour",
    "runtime_hours",
    "gpus",
    "home",
    "deadline_hour",
    "power_kw_per_gpu",
    "idle_power_kw_per_gpu",
    "checkpoint_gb",
    "checkpoint_interval_hours",
    "allowed",
    "data_region",
    "max_latency_ms",
}


def _region(raw: Any, where: str) -> RegionSpec:
    data = _mapping(raw, where)
    _unknown_keys(data, _REGION_KEYS, where)
    cap = data.get("power_cap_kw")
    return RegionSpec(
        name=_text(data.get("name"), f"{where}.name"),
        area=None if data.get("area") is None else _text(data["area"], f"{where}.area"),
        gpus=_whole(data.get("gpus"), f"{where}.gpus"),
        power_cap_kw=None if cap is None else _number(cap, f"{where}.power_cap_kw", minimum=0),
        pue=_number(data.get("pue", 1.2), f"{where}.pue", minimum=1.0),
    )


def _link(raw: Any, where: str) -> LinkSpec:
    data = _mapping(raw, where)
    _unknown_keys(data, _LINK_KEYS, where)
    return LinkSpec(
        from_region=_text(data.get("from"), f"{where}.from"),
        to_region=_text(data.get("to"), f"{where}.to"),
        latency_ms=_number(data.get("latency_ms"), f"{where}.latency_ms", minimum=0),
        bandwidth_gbps=_number(data.get("bandwidth_gbps"), f"{where}.bandwidth_gbps", minimum=1e-3),
        energy_kwh_per_gb=_number(
            data.get("energy_kwh_per_gb", 0.001), f"{where}.energy_kwh_per_gb", minimum=0
        ),
    )


def _job(raw: Mapping[str, Any], where: str) -> JobSpec:
    _unknown_keys(raw, _JOB_KEYS, where)
    deadline = raw.get("deadline_hour")
    latency = raw.get("max_latency_ms")
    arrival = _whole(raw.get("arrival_hour"), f"{where}.arrival_hour")
    runtime = _whole(raw.get("runtime_hours"), f"{where}.runtime_hours", minimum=1)
    job = JobSpec(
        job_id=str(raw.get("id") or where),
        arrival_h=arrival,
        runtime_h=runtime,
        gpus=_whole(raw.get("gpus"), f"{where}.gpus", minimum=1),
        home=_text(raw.get("home"), f"{where}.home"),
        deadline_h=None if deadline in (None, "") else _whole(deadline, f"{where}.deadline_hour"),
        power_kw_per_gpu=_number(raw.get("power_kw_per_gpu", 0.7), f"{where}.power_kw_per_gpu"),
        idle_power_kw_per_gpu=_number(
            raw.get("idle_power_kw_per_gpu", 0.1), f"{where}.idle_power_kw_per_gpu"
        ),
        checkpoint_gb=_number(raw.get("checkpoint_gb", 0.0), f"{where}.checkpoint_gb", minimum=0),
        checkpoint_interval_h=_number(
            raw.get("checkpoint_interval_hours", 1.0),
            f"{where}.checkpoint_interval_hours",
            minimum=0,
        ),
        allowed=_names(raw.get("allowed"), f"{where}.allowed"),
        data_region=raw.get("data_region") or None,
        max_latency_ms=None
        if latency in (None, "")
        else _number(latency, f"{where}.max_latency_ms"),
    )
    if job.deadline_h is not None and job.deadline_h < job.arrival_h + job.runtime_h:
        raise ScenarioError(f"{where}: deadline_hour is before arrival_hour + runtime_hours")
    return job


def _csv_jobs(path: Path) -> list[JobSpec]:
    jobs: list[JobSpec] = []
    with path.open(newline="", encoding="utf-8") as handle:
        for number, row in enumerate(csv.DictReader(handle), start=2):
            parsed: dict[str, Any] = {}
            for key, value in row.items():
                if value is None or value == "":
                    continue
                if key == "allowed":
                    parsed[key] = [name.strip() for name in value.split(";") if name.strip()]
                elif key in {"id", "home", "data_region"}:
                    parsed[key] = value
                else:
                    parsed[key] = float(value)
            jobs.append(_job(parsed, f"{path.name}:{number}"))
    return jobs


def _pick(rng: random.Random, raw: Any, where: str) -> Any:
    """A value from a generator field: a scalar, a [low, high] range or a list of choices."""
    if isinstance(raw, Mapping):
        if "choices" in raw:
            return rng.choice(list(raw["choices"]))
        low, high = raw.get("min"), raw.get("max")
        if isinstance(low, int) and isinstance(high, int):
            return rng.randint(low, high)
        return rng.uniform(_number(low, f"{where}.min"), _number(high, f"{where}.max"))
    if isinstance(raw, list):
        return rng.choice(raw)
    return raw


def _generated_jobs(raw: Mapping[str, Any], seed: int, where: str) -> list[JobSpec]:
    # A seeded, reproducible job trace, not security: random.Random is the right tool.
    rng = random.Random(int(raw.get("seed", seed)))  # noqa: S311
    until = _whole(raw.get("arrivals_until_hour", 144), f"{where}.arrivals_until_hour")
    groups = raw.get("groups")
    if not isinstance(groups, list) or not groups:
        raise ScenarioError(f"{where}.groups: expected a non-empty list")
    jobs: list[JobSpec] = []
    for group_index, group_raw in enumerate(groups):
        group_where = f"{where}.groups[{group_index}]"
        group = _mapping(group_raw, group_where)
        name = str(group.get("name", f"g{group_index}"))
        count = _whole(group.get("count"), f"{group_where}.count", minimum=1)
        workday = group.get("arrival", "uniform") == "workday"
        for number in range(count):
            if workday:
                # Weekdays 09:00-17:59 JST, as researchers submit (Let's Wait Awhile's shape).
                days = max(1, until // 24)
                day = rng.randrange(days)
                while day % 7 in (5, 6) and days > 2:
                    day = rng.randrange(days)
                arrival = min(until, day * 24 + rng.randint(9, 17))
            else:
                arrival = rng.randint(0, until)
            runtime = int(_pick(rng, group.get("runtime_hours"), f"{group_where}.runtime_hours"))
            slack = group.get("slack_hours")
            deadline = (
                None
                if slack is None
                else arrival + runtime + int(_pick(rng, slack, f"{group_where}.slack_hours"))
            )
            fields: dict[str, Any] = {
                "id": f"{name}-{number:03d}",
                "arrival_hour": arrival,
                "runtime_hours": runtime,
                "gpus": _pick(rng, group.get("gpus"), f"{group_where}.gpus"),
                "home": _pick(rng, group.get("home"), f"{group_where}.home"),
                "deadline_hour": deadline,
                "checkpoint_gb": round(
                    float(_pick(rng, group.get("checkpoint_gb", 0.0), f"{group_where}.ckpt")), 1
                ),
            }
            for key in (
                "power_kw_per_gpu",
                "idle_power_kw_per_gpu",
                "checkpoint_interval_hours",
                "allowed",
                "data_region",
                "max_latency_ms",
            ):
                if key in group:
                    fields[key] = group[key]
            jobs.append(_job(fields, f"{group_where}#{number}"))
    return jobs


_POLICY_FIELDS = {f.name for f in dataclasses.fields(Policy)}


def _policy(raw: Any, where: str) -> Policy:
    data = _mapping(raw, where)
    _unknown_keys(data, _POLICY_FIELDS, where)
    try:
        return Policy(**dict(data))
    except TypeError as error:
        raise ScenarioError(f"{where}: {error}") from error


def parse_scenario(document: Any, *, base_dir: Path) -> Scenario:
    """Check and convert a parsed scenario document (see ``docs/scenario-format.md``)."""
    data = _mapping(document, "scenario")
    _unknown_keys(
        data,
        {
            "name",
            "description",
            "start",
            "seed",
            "regions",
            "links",
            "jobs",
            "signals",
            "policy",
            "baselines",
            "optimum",
        },
        "scenario",
    )
    start_raw = data.get("start", "2025-04-07T00:00:00+09:00")
    start = start_raw if isinstance(start_raw, datetime) else datetime.fromisoformat(str(start_raw))
    if start.tzinfo is None:
        raise ScenarioError("scenario.start: needs a UTC offset, e.g. +09:00")
    seed = _whole(data.get("seed", 0), "scenario.seed")
    regions_raw = data.get("regions")
    if not isinstance(regions_raw, list) or not regions_raw:
        raise ScenarioError("scenario.regions: expected a non-empty list")
    regions = tuple(_region(r, f"regions[{i}]") for i, r in enumerate(regions_raw))
    names = [r.name for r in regions]
    if len(set(names)) != len(names):
        raise ScenarioError("scenario.regions: names must be unique")

    links_raw = data.get("links") or []
    if not isinstance(links_raw, list):
        raise ScenarioError("scenario.links: expected a list")
    links = tuple(_link(link, f"links[{i}]") for i, link in enumerate(links_raw))

    signals_raw = _mapping(data.get("signals"), "signals")
    _unknown_keys(
        signals_raw,
        {"source", "season", "seed", "noise", "csv", "forecast_error_percent"},
        "signals",
    )
    try:
        source = SignalSource(signals_raw.get("source", "dataset"))
    except ValueError as error:
        raise ScenarioError(f"signals.source: {error}") from error
    csv_name = signals_raw.get("csv")
    signals = SignalSpec(
        source=source,
        season=str(signals_raw.get("season", "spring_weekday")),
        seed=_whole(signals_raw.get("seed", seed), "signals.seed"),
        noise={str(k): float(v) for k, v in _mapping(signals_raw.get("noise"), "noise").items()},
        csv_path=None if csv_name is None else base_dir / str(csv_name),
        forecast_error_percent=_number(
            signals_raw.get("forecast_error_percent", 10.0), "signals.forecast_error_percent"
        ),
    )
    if source is SignalSource.CSV and signals.csv_path is None:
        raise ScenarioError("signals.csv: required when source is csv")
    if source is SignalSource.DATASET and any(r.area is None for r in regions):
        raise ScenarioError("regions[].area: required when signals come from the dataset")

    jobs_raw = _mapping(data.get("jobs"), "jobs")
    _unknown_keys(jobs_raw, {"list", "csv", "generate"}, "jobs")
    jobs: list[JobSpec] = []
    for index, item in enumerate(jobs_raw.get("list") or []):
        jobs.append(_job(_mapping(item, f"jobs.list[{index}]"), f"jobs.list[{index}]"))
    if jobs_raw.get("csv"):
        jobs.extend(_csv_jobs(base_dir / str(jobs_raw["csv"])))
    if jobs_raw.get("generate"):
        jobs.extend(
            _generated_jobs(_mapping(jobs_raw["generate"], "jobs.generate"), seed, "generate")
        )
    if not jobs:
        raise ScenarioError("scenario.jobs: no jobs (give list, csv or generate)")
    ids = [job.job_id for job in jobs]
    if len(set(ids)) != len(ids):
        raise ScenarioError("scenario.jobs: ids must be unique")
    _check_references(jobs, links, set(names))

    baselines_raw = _mapping(data.get("baselines"), "baselines")
    _unknown_keys(baselines_raw, {"threshold_g_per_kwh", "forecast_horizon_hours"}, "baselines")
    threshold = baselines_raw.get("threshold_g_per_kwh")
    optimum_raw = _mapping(data.get("optimum"), "optimum")
    _unknown_keys(optimum_raw, {"max_moves_per_job", "max_iterations", "time_limit_s"}, "optimum")
    return Scenario(
        name=str(data.get("name", "scenario")),
        description=str(data.get("description", "")).strip(),
        start=start,
        seed=seed,
        regions=regions,
        links=links,
        jobs=tuple(sorted(jobs, key=lambda job: (job.arrival_h, job.job_id))),
        signals=signals,
        policy=_policy(data.get("policy"), "policy"),
        baselines=BaselineSpec(
            threshold_g_per_kwh=None
            if threshold is None
            else _number(threshold, "baselines.threshold_g_per_kwh"),
            forecast_horizon_h=_whole(
                baselines_raw.get("forecast_horizon_hours", 48),
                "baselines.forecast_horizon_hours",
                minimum=1,
            ),
        ),
        optimum=OptimumSpec(
            max_moves_per_job=_whole(
                optimum_raw.get("max_moves_per_job", 8), "optimum.max_moves_per_job"
            ),
            max_iterations=_whole(optimum_raw.get("max_iterations", 300), "optimum.max_iterations"),
            time_limit_s=_number(optimum_raw.get("time_limit_s", 120.0), "optimum.time_limit_s"),
        ),
    )


def _check_references(jobs: Sequence[JobSpec], links: Sequence[LinkSpec], names: set[str]) -> None:
    for link in links:
        for end in (link.from_region, link.to_region):
            if end not in names:
                raise ScenarioError(f"links: unknown region {end!r}")
    for job in jobs:
        referenced = {job.home} | set(job.allowed or ()) | ({job.data_region} - {None})
        unknown = sorted(str(name) for name in referenced if name not in names)
        if unknown:
            raise ScenarioError(f"job {job.job_id}: unknown region(s) {', '.join(unknown)}")


def load_scenario(path: Path) -> Scenario:
    """Read and check the scenario file at `path`."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ScenarioError(f"{path}: not valid YAML: {error}") from error
    return parse_scenario(document, base_dir=path.parent)


def hour_start(scenario: Scenario, hour: float) -> datetime:
    """The instant of `hour` (from the scenario's start)."""
    return scenario.start + timedelta(hours=hour)
