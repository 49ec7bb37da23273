"""Scenario files: parse and check a simulation scenario (YAML, with optional CSV parts).

This module's one job is to turn a scenario document (format: ``docs/scenario-format.md``) into
checked, frozen values: regions, APN links, the signal source, the wattbit policy, baseline
settings and the job trace (listed, from CSV, or generated from seeded groups).

The document's shape is checked by pydantic models (unknown keys are errors), then the checks
that span sections: regions named by links and jobs exist, every job fits some region it may
run in, deadlines leave room for the run. Every problem is a `ScenarioError` whose message is
one line naming the field (``regions[2].gpus: ...``).

WARNING: no simulation here, and no I/O beyond reading the scenario and the CSV files it names
(relative paths are resolved against the scenario's folder).
"""

from __future__ import annotations

import csv
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Final, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeInt,
    StrictBool,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from wattbit.core.model import Policy
from wattbit.core.replay import ReplayNoise, Season
from wattbit.sim.dataset import load_profiles

SLOT_H: Final = 1.0
"""The simulator steps in hours: the dataset's profiles are hourly means."""


CALENDAR_SEASON: Final = "calendar"
"""`signals.season` value: each simulated day replays the profile of its JST date (season by
month, weekend on Saturday and Sunday), `wattbit.core.replay.season_for_date`."""


def scenario_seasons() -> tuple[str, ...]:
    """The values `signals.season` accepts: every dataset profile, then `calendar`."""
    return (*(season.value for season in Season), CALENDAR_SEASON)


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
class CurtailmentEvent:
    """Renewable output curtailed in one region for some hours: the market clears at the floor
    and the grid is cleaner. Applied to the actual trace, so forecasts see it too."""

    region: str
    from_h: int
    hours: int
    price_jpy_per_kwh: float = 0.01
    """JEPX's floor price."""
    carbon_factor: float = 0.6
    """Carbon intensity is multiplied by this during the event."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SignalSpec:
    """How actual signals and forecasts are produced."""

    source: SignalSource = SignalSource.DATASET
    season: str = "spring_weekday"
    """A `wattbit.core.replay.Season` value (that profile every day) or `calendar`."""
    seed: int = 0
    noise: Mapping[str, float | bool] = field(default_factory=dict)
    """Overrides of `wattbit.core.replay.ReplayNoise`."""
    csv_path: Path | None = None
    forecast_error_percent: float = 10.0
    """Error bound of the "wattbit with forecast error" policy's forecasts."""
    curtailment: tuple[CurtailmentEvent, ...] = ()
    """Curtailment events laid over the trace (dataset or CSV)."""


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


# ---------------------------------------------------------------- the document's shape (pydantic)


class _Section(BaseModel):
    """A mapping of the document: unknown keys are errors that list the known ones; a key set
    to null (or an empty CSV cell) means "use the default"."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, allow_inf_nan=False, populate_by_name=False
    )

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        known = {field.alias or name for name, field in cls.model_fields.items()}
        unknown = sorted(str(key) for key in data if key not in known)
        if unknown:
            raise ValueError(
                f"unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        return {key: value for key, value in data.items() if value is not None}


Name = Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]
NonNegative = Annotated[float, Field(ge=0)]
Positive = Annotated[float, Field(gt=0)]
AtLeastOne = Annotated[int, Field(ge=1)]


class _Region(_Section):
    name: Name
    area: Name | None = None
    gpus: AtLeastOne
    power_cap_kw: Positive | None = None
    pue: Annotated[float, Field(ge=1.0)] = 1.2


class _Link(_Section):
    from_region: Name = Field(alias="from")
    to_region: Name = Field(alias="to")
    latency_ms: NonNegative
    bandwidth_gbps: Positive
    energy_kwh_per_gb: NonNegative = 0.001


class _Noise(_Section):
    """Overrides of `ReplayNoise`; its own checks give the ranges."""

    price_sd_percent: float | None = None
    system_correlation: float | None = None
    carbon_hourly_sd_percent: float | None = None
    carbon_weather_percent: float | None = None
    floor_weather_gain: float | None = None
    floor_draws: StrictBool | None = None

    @model_validator(mode="after")
    def _in_range(self) -> _Noise:
        ReplayNoise(**self.overrides())
        return self

    def overrides(self) -> dict[str, Any]:
        """The fields the document sets."""
        return {key: value for key, value in self.model_dump().items() if value is not None}


class _Curtailment(_Section):
    region: Name
    from_hour: NonNegativeInt
    hours: AtLeastOne
    price_jpy_per_kwh: Annotated[float, Field(ge=0)] = 0.01
    carbon_factor: Annotated[float, Field(ge=0, le=1)] = 0.6


class _Signals(_Section):
    source: SignalSource = SignalSource.DATASET
    season: str = Season.SPRING_WEEKDAY.value
    seed: NonNegativeInt | None = None
    noise: _Noise = _Noise()
    csv: Name | None = None
    forecast_error_percent: Annotated[float, Field(ge=0, le=100)] = 10.0
    curtailment: list[_Curtailment] = Field(default_factory=list)

    @field_validator("season")
    @classmethod
    def _known_season(cls, value: str) -> str:
        if value not in scenario_seasons():
            valid = ", ".join(repr(season) for season in scenario_seasons())
            raise ValueError(f"got {_short(value)}; valid: {valid}")
        return value


_POLICY: Final = Policy()
"""The defaults users get."""


class _Policy(_Section):
    """`wattbit.core.model.Policy`, field by field (a unit test keeps the two in step)."""

    carbon_price_jpy_per_tonne: NonNegative = _POLICY.carbon_price_jpy_per_tonne
    price_weight: NonNegative = _POLICY.price_weight
    carbon_weight: NonNegative = _POLICY.carbon_weight
    min_saving_fraction: Annotated[float, Field(ge=0, le=1)] = _POLICY.min_saving_fraction
    min_saving_jpy: NonNegative = _POLICY.min_saving_jpy
    forecast_uncertainty_fraction: Annotated[float, Field(ge=0, le=1)] = (
        _POLICY.forecast_uncertainty_fraction
    )
    stability_window_s: NonNegative = _POLICY.stability_window_s
    cooldown_s: NonNegative = _POLICY.cooldown_s
    max_moves: NonNegativeInt = _POLICY.max_moves
    safety_margin_s: NonNegative = _POLICY.safety_margin_s
    safety_margin_fraction: Annotated[float, Field(ge=0, le=1)] = _POLICY.safety_margin_fraction
    max_wait_s: NonNegative = _POLICY.max_wait_s
    max_stale_hold_s: NonNegative = _POLICY.max_stale_hold_s
    max_link_latency_ms: NonNegative | None = _POLICY.max_link_latency_ms
    restart_overhead_s: NonNegative = _POLICY.restart_overhead_s
    checkpoint_write_gbps: Positive = _POLICY.checkpoint_write_gbps
    gpu_hour_value_jpy: NonNegative = _POLICY.gpu_hour_value_jpy
    allow_waiting: StrictBool = _POLICY.allow_waiting
    exact_assignment_max_options: NonNegativeInt = _POLICY.exact_assignment_max_options
    options_per_workload: AtLeastOne = _POLICY.options_per_workload


class _Job(_Section):
    id: Name
    arrival_hour: NonNegativeInt
    runtime_hours: AtLeastOne
    gpus: AtLeastOne
    home: Name
    deadline_hour: NonNegativeInt | None = None
    power_kw_per_gpu: Positive = 0.7
    idle_power_kw_per_gpu: NonNegative = 0.1
    checkpoint_gb: NonNegative = 0.0
    checkpoint_interval_hours: NonNegative = 1.0
    allowed: Annotated[list[Name], Field(min_length=1)] | None = None
    data_region: Name | None = None
    max_latency_ms: NonNegative | None = None


def _draw_shape(value: Any, kind: type, what: str) -> Any:
    """Check a generator field: a value, a list to pick from, {choices: [...]} or {min, max}."""

    def fits(item: Any) -> bool:
        if kind is str:
            return isinstance(item, str) and bool(item)
        if isinstance(item, bool) or not isinstance(item, int | float) or not math.isfinite(item):
            return False
        return kind is float or float(item).is_integer()

    if isinstance(value, Mapping):
        if set(value) == {"choices"}:
            value = value["choices"]
        elif set(value) == {"min", "max"}:
            low, high = value["min"], value["max"]
            if kind is str or not fits(low) or not fits(high):
                raise ValueError(f"min and max must be {what}, got {dict(value)!r}")
            if low > high:
                raise ValueError(f"min ({low}) is above max ({high})")
            return dict(value)
        else:
            raise ValueError(
                f"expected {what}, a list of them, {{choices: [...]}} or {{min: , max: }}, "
                f"got {dict(value)!r}"
            )
    if isinstance(value, list):
        if not value or not all(fits(item) for item in value):
            raise ValueError(f"expected a non-empty list of {what}, got {value!r}")
        return value
    if not fits(value):
        raise ValueError(f"expected {what}, got {value!r}")
    return value


class _Group(_Section):
    name: Name | None = None
    count: AtLeastOne
    arrival: Literal["uniform", "workday"] = "uniform"
    runtime_hours: Any
    gpus: Any
    home: Any
    slack_hours: Any = None
    checkpoint_gb: Any = 0.0
    power_kw_per_gpu: Positive | None = None
    idle_power_kw_per_gpu: NonNegative | None = None
    checkpoint_interval_hours: NonNegative | None = None
    allowed: Annotated[list[Name], Field(min_length=1)] | None = None
    data_region: Name | None = None
    max_latency_ms: NonNegative | None = None

    @field_validator("runtime_hours", "gpus", "slack_hours")
    @classmethod
    def _whole(cls, value: Any) -> Any:
        return value if value is None else _draw_shape(value, int, "whole numbers")

    @field_validator("checkpoint_gb")
    @classmethod
    def _number(cls, value: Any) -> Any:
        return _draw_shape(value, float, "numbers")

    @field_validator("home")
    @classmethod
    def _name(cls, value: Any) -> Any:
        return _draw_shape(value, str, "region names")


class _Generate(_Section):
    seed: NonNegativeInt | None = None
    arrivals_until_hour: NonNegativeInt = 144
    groups: Annotated[list[_Group], Field(min_length=1)]


class _Jobs(_Section):
    listed: list[_Job] = Field(default_factory=list, alias="list")
    csv: Name | None = None
    generate: _Generate | None = None


class _Baselines(_Section):
    threshold_g_per_kwh: NonNegative | None = None
    forecast_horizon_hours: AtLeastOne = 48


class _Optimum(_Section):
    max_moves_per_job: NonNegativeInt = 8
    max_iterations: AtLeastOne = 300
    time_limit_s: Positive = 120.0


_START_EXAMPLE: Final = "2025-04-07T00:00:00+09:00"


class _Document(_Section):
    name: Name = "scenario"
    description: str = ""
    start: datetime = datetime.fromisoformat(_START_EXAMPLE)
    seed: NonNegativeInt = 0
    regions: Annotated[list[_Region], Field(min_length=1)]
    links: list[_Link] = Field(default_factory=list)
    signals: _Signals = _Signals()
    policy: _Policy = _Policy()
    jobs: _Jobs
    baselines: _Baselines = _Baselines()
    optimum: _Optimum = _Optimum()

    @field_validator("start", mode="before")
    @classmethod
    def _iso_8601(cls, value: Any) -> datetime:
        # YAML turns an unquoted timestamp into a datetime (naive without an offset). pydantic
        # reports only ValueError (and assertions) as validation errors, hence ValueError.
        if isinstance(value, datetime):
            parsed = value
        elif isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value.strip())
            except ValueError:
                raise ValueError(
                    f"not an ISO 8601 time, got {value!r}; write e.g. {_START_EXAMPLE}"
                ) from None
        else:
            raise ValueError(  # noqa: TRY004 - pydantic turns only ValueError into its errors
                f"expected an ISO 8601 time with UTC offset (e.g. {_START_EXAMPLE}), got {value!r}"
            )
        if parsed.tzinfo is None:
            raise ValueError(f"needs a UTC offset, e.g. {_START_EXAMPLE}; got {value!s}")
        return parsed


# ---------------------------------------------------------------- one-line errors


def _where(loc: Sequence[int | str]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


_MESSAGES: Final = {
    "int_from_float": "must be a whole number",
    "int_parsing": "expected a whole number",
    "int_type": "expected a whole number",
    "float_parsing": "expected a number",
    "float_type": "expected a number",
    "finite_number": "must be a finite number",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
    "string_type": "expected a string",
    "list_type": "expected a list",
    "model_type": "expected a mapping",
    "model_attributes_type": "expected a mapping",
    "dict_type": "expected a mapping",
    "datetime_type": "expected an ISO 8601 time",
    "greater_than": "must be greater than {gt}",
    "greater_than_equal": "must be at least {ge}",
    "less_than": "must be less than {lt}",
    "less_than_equal": "must be at most {le}",
    "too_short": "must have at least {min_length} item(s)",
    "string_too_short": "must not be empty",
}
"""pydantic's error types in the scenario's words (the input is appended)."""


def _message(error: ErrorDetails) -> str:
    kind = error["type"]
    context = error.get("ctx") or {}
    if kind == "missing":
        return "required"
    if kind == "value_error":
        return error["msg"].removeprefix("Value error, ")
    if kind in {"enum", "literal_error"}:
        expected = str(context.get("expected", "")).replace(" or ", ", ")
        return f"got {_short(error['input'])}; valid: {expected}"
    template = _MESSAGES.get(kind)
    if template is None:
        message = error["msg"]
        return f"{message[:1].lower()}{message[1:]}, got {_short(error['input'])}"
    return f"{template.format(**context)}, got {_short(error['input'])}"


def _one_line(error: ValidationError, prefix: Sequence[int | str] = ()) -> ScenarioError:
    """The first problem as one line naming its field (and how many more there are)."""
    problems = error.errors(include_url=False)
    first = problems[0]
    where = _where([*prefix, *first["loc"]]) or "scenario"
    more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
    return ScenarioError(f"{where}: {_message(first)}{more}")


# ---------------------------------------------------------------- conversion and cross-checks


def _job_spec(job: _Job) -> JobSpec:
    return JobSpec(
        job_id=job.id,
        arrival_h=job.arrival_hour,
        runtime_h=job.runtime_hours,
        gpus=job.gpus,
        home=job.home,
        deadline_h=job.deadline_hour,
        power_kw_per_gpu=job.power_kw_per_gpu,
        idle_power_kw_per_gpu=job.idle_power_kw_per_gpu,
        checkpoint_gb=job.checkpoint_gb,
        checkpoint_interval_h=job.checkpoint_interval_hours,
        allowed=None if job.allowed is None else frozenset(job.allowed),
        data_region=job.data_region,
        max_latency_ms=job.max_latency_ms,
    )


def _validated_job(raw: Mapping[str, Any], where: str) -> _Job:
    try:
        return _Job.model_validate(raw)
    except ValidationError as error:
        raise _one_line(error, (where,)) from None


def _csv_jobs(path: Path, where: str) -> list[tuple[str, JobSpec]]:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise ScenarioError(f"{where}: cannot read {path}: {error}") from None
    jobs: list[tuple[str, JobSpec]] = []
    for number, row in enumerate(rows, start=2):
        parsed: dict[str, Any] = {}
        for key, value in row.items():
            if key is None:
                raise ScenarioError(f"{where} {path.name}:{number}: more cells than columns")
            if value is None or value.strip() == "":
                continue
            parsed[key] = (
                [name.strip() for name in value.split(";") if name.strip()]
                if key == "allowed"
                else value.strip()
            )
        row_where = f"{path.name}:{number}"
        jobs.append((row_where, _job_spec(_validated_job(parsed, row_where))))
    return jobs


def _pick(rng: random.Random, raw: Any) -> Any:
    """A value from a checked generator field: a value, a list or {choices}, or {min, max}
    (integers: uniform inclusive; otherwise uniform)."""
    if isinstance(raw, Mapping):
        low, high = raw["min"], raw["max"]
        if isinstance(low, int) and isinstance(high, int):
            return rng.randint(low, high)
        return rng.uniform(low, high)
    if isinstance(raw, list):
        return rng.choice(raw)
    return raw


_GROUP_JOB_KEYS: Final = (
    "power_kw_per_gpu",
    "idle_power_kw_per_gpu",
    "checkpoint_interval_hours",
    "allowed",
    "data_region",
    "max_latency_ms",
)


def _generated_jobs(generate: _Generate, seed: int) -> list[tuple[str, JobSpec]]:
    # A seeded, reproducible job trace, not security: random.Random is the right tool.
    rng = random.Random(generate.seed if generate.seed is not None else seed)  # noqa: S311
    until = generate.arrivals_until_hour
    jobs: list[tuple[str, JobSpec]] = []
    for group_index, group in enumerate(generate.groups):
        where = f"jobs.generate.groups[{group_index}]"
        name = group.name or f"g{group_index}"
        for number in range(group.count):
            if group.arrival == "workday":
                # Weekdays 09:00-17:59 JST, as researchers submit (Let's Wait Awhile's shape).
                days = max(1, until // 24)
                day = rng.randrange(days)
                while day % 7 in (5, 6) and days > 2:
                    day = rng.randrange(days)
                arrival = min(until, day * 24 + rng.randint(9, 17))
            else:
                arrival = rng.randint(0, until)
            runtime = int(_pick(rng, group.runtime_hours))
            deadline = (
                None
                if group.slack_hours is None
                else arrival + runtime + int(_pick(rng, group.slack_hours))
            )
            fields: dict[str, Any] = {
                "id": f"{name}-{number:03d}",
                "arrival_hour": arrival,
                "runtime_hours": runtime,
                "gpus": int(_pick(rng, group.gpus)),
                "home": _pick(rng, group.home),
                "deadline_hour": deadline,
                "checkpoint_gb": round(float(_pick(rng, group.checkpoint_gb)), 1),
            }
            fields.update(
                {key: getattr(group, key) for key in _GROUP_JOB_KEYS if getattr(group, key)}
            )
            job_where = f"{where} (job {fields['id']})"
            jobs.append((job_where, _job_spec(_validated_job(fields, job_where))))
    return jobs


def _check_regions(document: _Document) -> None:
    if document.signals.source is not SignalSource.DATASET:
        return
    areas = sorted(load_profiles())
    for index, region in enumerate(document.regions):
        if region.area is None:
            raise ScenarioError(
                f"regions[{index}].area: required when signals come from the dataset; "
                f"valid: {', '.join(areas)}"
            )
        if region.area not in areas:
            raise ScenarioError(
                f"regions[{index}].area: unknown area {region.area!r}; valid: {', '.join(areas)}"
            )


def _check_links(links: Sequence[LinkSpec], names: Sequence[str]) -> None:
    for index, link in enumerate(links):
        for key, end in (("from", link.from_region), ("to", link.to_region)):
            if end not in names:
                raise ScenarioError(
                    f"links[{index}].{key}: unknown region {end!r}; regions: {', '.join(names)}"
                )
        if link.from_region == link.to_region:
            raise ScenarioError(f"links[{index}]: links {link.from_region} to itself")


def _latency_ms(links: Sequence[LinkSpec], a: str, b: str) -> float:
    if a == b:
        return 0.0
    return min(
        (link.latency_ms for link in links if {link.from_region, link.to_region} == {a, b}),
        default=math.inf,
    )


def _check_job(
    job: JobSpec, where: str, regions: Sequence[RegionSpec], links: Sequence[LinkSpec]
) -> None:
    """A job names known regions, leaves room for its run before its deadline, and fits (GPUs
    and power) in at least one region it may run in; otherwise no policy could ever run it."""
    names = [region.name for region in regions]
    for key, value in (("home", job.home), ("data_region", job.data_region)):
        if value is not None and value not in names:
            raise ScenarioError(
                f"{where}.{key}: unknown region {value!r}; regions: {', '.join(names)}"
            )
    unknown = sorted(set(job.allowed or ()) - set(names))
    if unknown:
        raise ScenarioError(
            f"{where}.allowed: unknown region(s) {', '.join(unknown)}; regions: {', '.join(names)}"
        )
    if job.deadline_h is not None and job.deadline_h < job.arrival_h + job.runtime_h:
        raise ScenarioError(
            f"{where}.deadline_hour: {job.deadline_h} is before arrival_hour + runtime_hours "
            f"({job.arrival_h} + {job.runtime_h})"
        )
    eligible = [r for r in regions if job.allowed is None or r.name in job.allowed]
    if job.max_latency_ms is not None:
        anchor = job.data_region or job.home
        eligible = [r for r in eligible if _latency_ms(links, anchor, r.name) <= job.max_latency_ms]
        if not eligible:
            raise ScenarioError(
                f"{where}.max_latency_ms: no region it may run in is within "
                f"{job.max_latency_ms:g} ms of {anchor} (over one link)"
            )
    largest = max(eligible, key=lambda r: r.gpus)
    if job.gpus > largest.gpus:
        scope = "every region" if job.allowed is None else "every region it may run in"
        raise ScenarioError(
            f"{where}.gpus: job {job.job_id} needs {job.gpus} GPUs, more than {scope} has "
            f"(largest: {largest.name}, {largest.gpus} GPUs)"
        )
    fitting = [r for r in eligible if r.gpus >= job.gpus]
    need = [(r, job.gpus * job.power_kw_per_gpu * r.pue) for r in fitting]
    if all(r.power_cap_kw is not None and kw > r.power_cap_kw + 1e-9 for r, kw in need):
        detail = ", ".join(
            f"{r.name} needs {kw:,.0f} of {r.power_cap_kw:,.0f} kW" for r, kw in need
        )
        raise ScenarioError(
            f"{where}.power_kw_per_gpu: job {job.job_id} draws more than the power cap of every "
            f"region with room for its {job.gpus} GPUs ({detail})"
        )


def parse_scenario(document: Any, *, base_dir: Path) -> Scenario:
    """Check and convert a parsed scenario document (see ``docs/scenario-format.md``)."""
    if not isinstance(document, Mapping):
        raise ScenarioError(
            "scenario: expected a mapping of keys (name, regions, jobs, ...), "
            f"got {_short(document)}"
        )
    try:
        parsed = _Document.model_validate(document)
    except ValidationError as error:
        raise _one_line(error) from None
    _check_regions(parsed)
    regions = tuple(
        RegionSpec(
            name=region.name,
            area=region.area,
            gpus=region.gpus,
            power_cap_kw=region.power_cap_kw,
            pue=region.pue,
        )
        for region in parsed.regions
    )
    names = [region.name for region in regions]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ScenarioError(f"regions: names must be unique; repeated: {', '.join(duplicates)}")
    links = tuple(
        LinkSpec(
            from_region=link.from_region,
            to_region=link.to_region,
            latency_ms=link.latency_ms,
            bandwidth_gbps=link.bandwidth_gbps,
            energy_kwh_per_gb=link.energy_kwh_per_gb,
        )
        for link in parsed.links
    )
    _check_links(links, names)

    signals_doc = parsed.signals
    csv_path = None if signals_doc.csv is None else base_dir / signals_doc.csv
    if signals_doc.source is SignalSource.CSV and csv_path is None:
        raise ScenarioError("signals.csv: required when signals.source is csv")
    signals = SignalSpec(
        source=signals_doc.source,
        season=signals_doc.season,
        seed=parsed.seed if signals_doc.seed is None else signals_doc.seed,
        noise=signals_doc.noise.overrides(),
        csv_path=csv_path,
        forecast_error_percent=signals_doc.forecast_error_percent,
        curtailment=tuple(
            CurtailmentEvent(
                region=event.region,
                from_h=event.from_hour,
                hours=event.hours,
                price_jpy_per_kwh=event.price_jpy_per_kwh,
                carbon_factor=event.carbon_factor,
            )
            for event in signals_doc.curtailment
        ),
    )
    for index, event in enumerate(signals.curtailment):
        if event.region not in names:
            raise ScenarioError(
                f"signals.curtailment[{index}].region: unknown region {event.region!r}; "
                f"regions: {', '.join(names)}"
            )

    placed: list[tuple[str, JobSpec]] = [
        (f"jobs.list[{index}]", _job_spec(job)) for index, job in enumerate(parsed.jobs.listed)
    ]
    if parsed.jobs.csv is not None:
        placed.extend(_csv_jobs(base_dir / parsed.jobs.csv, "jobs.csv"))
    if parsed.jobs.generate is not None:
        placed.extend(_generated_jobs(parsed.jobs.generate, parsed.seed))
    if not placed:
        raise ScenarioError("jobs: no jobs (give list, csv or generate)")
    seen: dict[str, str] = {}
    for where, job in placed:
        if job.job_id in seen:
            raise ScenarioError(
                f"{where}.id: {job.job_id!r} is already the id of {seen[job.job_id]}; "
                "ids must be unique"
            )
        seen[job.job_id] = where
        _check_job(job, where, regions, links)

    return Scenario(
        name=parsed.name,
        description=parsed.description.strip(),
        start=parsed.start,
        seed=parsed.seed,
        regions=regions,
        links=links,
        jobs=tuple(sorted((job for _, job in placed), key=lambda job: (job.arrival_h, job.job_id))),
        signals=signals,
        policy=Policy(**parsed.policy.model_dump()),
        baselines=BaselineSpec(
            threshold_g_per_kwh=parsed.baselines.threshold_g_per_kwh,
            forecast_horizon_h=parsed.baselines.forecast_horizon_hours,
        ),
        optimum=OptimumSpec(
            max_moves_per_job=parsed.optimum.max_moves_per_job,
            max_iterations=parsed.optimum.max_iterations,
            time_limit_s=parsed.optimum.time_limit_s,
        ),
    )


def load_scenario(path: Path) -> Scenario:
    """Read and check the scenario file at `path`."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ScenarioError(f"{path}: cannot read: {error}") from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or "syntax error"
        raise ScenarioError(f"{path}: not valid YAML{at}: {problem}") from None
    return parse_scenario(document, base_dir=path.parent)


def hour_start(scenario: Scenario, hour: float) -> datetime:
    """The instant of `hour` (from the scenario's start)."""
    return scenario.start + timedelta(hours=hour)
