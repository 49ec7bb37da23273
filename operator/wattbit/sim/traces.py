"""Signal traces for a scenario: the actual hourly carbon and price of every region, and
forecasts of them with or without error.

This module's one job is to produce the numbers every policy sees. Actual values come from the
embedded Japan-grid replay model (`wattbit.core.replay`, seeded; the operator's replay provider
uses the same model) or from a CSV file. Forecast errors follow the replay model's shape: a
uniform relative error bounded by `forecast_error_percent`, growing linearly with lead time to
its full size at 12 hours, drawn from a seeded generator per issue hour.

WARNING: the same trace feeds every policy in a run; nothing here decides anything.
"""

from __future__ import annotations

import csv
import dataclasses
import math
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

import numpy as np
from numpy.typing import NDArray

from wattbit.core.replay import (
    FULL_ERROR_LEAD_HOURS,
    REPLAY_EPOCH,
    ReplayNoise,
    ReplaySettings,
    Season,
    sample_hour,
    sim_hour_index,
)
from wattbit.sim.dataset import load_profiles
from wattbit.sim.scenario import CALENDAR_SEASON, Scenario, ScenarioError, SignalSource

FloatArray = NDArray[np.float64]


@dataclass(frozen=True, slots=True, kw_only=True)
class SignalTrace:
    """Actual hourly signals, regions (scenario order) x hours from the scenario's start."""

    carbon_g_per_kwh: FloatArray
    price_jpy_per_kwh: FloatArray
    curtailment: NDArray[np.bool_]

    @property
    def hours(self) -> int:
        """Length of the trace."""
        return int(self.carbon_g_per_kwh.shape[1])


def build_trace(scenario: Scenario) -> SignalTrace:
    """Actual signals for `scenario.trace_hours` hours, with the scenario's curtailment events."""
    if scenario.signals.source is SignalSource.CSV:
        trace = _csv_trace(scenario)
    else:
        trace = _dataset_trace(scenario)
    for event in scenario.signals.curtailment:
        row = scenario.region_names.index(event.region)
        hours = slice(event.from_h, event.from_h + event.hours)
        trace.price_jpy_per_kwh[row, hours] = event.price_jpy_per_kwh
        trace.carbon_g_per_kwh[row, hours] *= event.carbon_factor
        trace.curtailment[row, hours] = True
    return trace


def _dataset_trace(scenario: Scenario) -> SignalTrace:
    profiles = load_profiles()
    spec = scenario.signals
    try:
        season = None if spec.season == CALENDAR_SEASON else Season(spec.season)
        # Field names come from the scenario file; unknown ones raise TypeError below.
        noise = cast(Any, ReplayNoise)(**dict(spec.noise))
    except (ValueError, TypeError) as error:
        raise ScenarioError(f"signals: {error}") from error
    settings = ReplaySettings(seed=spec.seed, season=season, noise=noise)
    first = sim_hour_index(scenario.start, settings)
    hours = scenario.trace_hours
    shape = (len(scenario.regions), hours)
    carbon = np.empty(shape)
    price = np.empty(shape)
    curtailment = np.zeros(shape, dtype=np.bool_)
    for row, region in enumerate(scenario.regions):
        area = region.area or ""
        if area not in profiles:
            raise ScenarioError(f"region {region.name}: unknown dataset area {area!r}")
        for hour in range(hours):
            sample = sample_hour(profiles[area], settings, first + hour)
            carbon[row, hour] = sample.carbon_g_per_kwh
            price[row, hour] = sample.price_jpy_per_kwh
            curtailment[row, hour] = sample.curtailment
    return SignalTrace(carbon_g_per_kwh=carbon, price_jpy_per_kwh=price, curtailment=curtailment)


def _csv_trace(scenario: Scenario) -> SignalTrace:
    path = scenario.signals.csv_path
    if path is None:
        raise ScenarioError("signals.csv: required when source is csv")
    index = {name: row for row, name in enumerate(scenario.region_names)}
    rows: dict[tuple[int, int], tuple[float, float]] = {}
    last_hour = -1
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            records = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise ScenarioError(f"signals.csv: cannot read {path}: {error}") from None
    for number, record in enumerate(records, start=2):
        try:
            hour = int(record["hour"])
            region = index[record["region"]]
            carbon_g_per_kwh = float(record["carbon_g_per_kwh"])
            price_jpy_per_kwh = float(record["price_jpy_per_kwh"])
        except KeyError as error:
            raise ScenarioError(
                f"signals.csv {path.name}:{number}: no column or unknown region {error}"
            ) from None
        except (TypeError, ValueError) as error:
            raise ScenarioError(f"signals.csv {path.name}:{number}: {error}") from None
        if hour < 0 or not math.isfinite(carbon_g_per_kwh) or carbon_g_per_kwh < 0:
            raise ScenarioError(
                f"signals.csv {path.name}:{number}: hour and carbon_g_per_kwh must be >= 0"
            )
        if not math.isfinite(price_jpy_per_kwh):
            raise ScenarioError(f"signals.csv {path.name}:{number}: price must be finite")
        rows[(region, hour)] = (carbon_g_per_kwh, price_jpy_per_kwh)
        last_hour = max(last_hour, hour)
    period = last_hour + 1
    if period <= 0:
        raise ScenarioError(f"signals.csv {path.name}: no rows")
    hours = scenario.trace_hours
    shape = (len(scenario.regions), hours)
    carbon = np.empty(shape)
    price = np.empty(shape)
    for region in range(len(scenario.regions)):
        for hour in range(hours):
            # A trace shorter than needed repeats from its start (documented).
            key = (region, hour % period)
            if key not in rows:
                name = scenario.region_names[region]
                raise ScenarioError(
                    f"signals.csv {path.name}: no row for region {name} hour {hour % period}"
                )
            carbon[region, hour], price[region, hour] = rows[key]
    return SignalTrace(
        carbon_g_per_kwh=carbon, price_jpy_per_kwh=price, curtailment=np.zeros(shape, dtype=bool)
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Forecaster:
    """Forecasts of a trace issued at an hour: perfect, or with bounded relative error."""

    trace: SignalTrace
    error_fraction: float = 0.0
    seed: int = 0

    def forecast(self, issued_h: int, horizon_h: int) -> tuple[FloatArray, FloatArray]:
        """Carbon and price (regions x horizon) for hours [issued_h, issued_h + horizon_h).

        The first value is the actual current one; hours past the trace repeat its last day.
        """
        hours = np.arange(issued_h, issued_h + horizon_h)
        limit = self.trace.hours
        hours = np.where(hours < limit, hours, limit - 24 + (hours - limit) % 24)
        carbon = self.trace.carbon_g_per_kwh[:, hours].copy()
        price = self.trace.price_jpy_per_kwh[:, hours].copy()
        if self.error_fraction > 0:
            rng = np.random.default_rng([self.seed, issued_h])
            lead = np.minimum(np.arange(horizon_h) / FULL_ERROR_LEAD_HOURS, 1.0)
            scale = self.error_fraction * lead[None, :]
            carbon *= 1.0 + scale * rng.uniform(-1.0, 1.0, size=carbon.shape)
            price *= 1.0 + scale * rng.uniform(-1.0, 1.0, size=price.shape)
            np.maximum(carbon, 0.0, out=carbon)
            np.maximum(price, 0.01, out=price)
        return carbon, price


def with_error(forecaster: Forecaster, error_percent: float) -> Forecaster:
    """The same forecaster with an error bound of `error_percent`."""
    return dataclasses.replace(forecaster, error_fraction=error_percent / 100.0)


def replay_epoch_offset_h(scenario: Scenario) -> float:
    """Hours between the replay epoch and the scenario's start (for plots and docs)."""
    return (scenario.start - REPLAY_EPOCH) / timedelta(hours=1)
