"""What running and moving cost: carbon-adjusted rates per slot, window integrals, move costs.

This module's one job is arithmetic: fold carbon into price with the policy's internal carbon
price, turn a region's per-slot signals into a cumulative cost curve that can be integrated over
any (fractional) window, and itemise the full cost of moving a workload over an APN link.

    adjusted_jpy_per_kwh = price_weight * price + carbon_weight * carbon * carbon_price_per_g

WARNING: no decisions here (that is `wattbit.core.rules` and the planner), no I/O, no clock.
Functions take numpy arrays so the planner can cost thousands of workloads in one pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from numpy.typing import NDArray

from wattbit.core.model import (
    BITS_PER_BYTE,
    GRAMS_PER_KG,
    SECONDS_PER_HOUR,
    Horizon,
    LinkSnapshot,
    MoveCost,
    Policy,
    RegionName,
    RegionSnapshot,
    WorkloadSnapshot,
)

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]


def adjusted_jpy_per_kwh(
    price_jpy_per_kwh: FloatArray | float, carbon_g_per_kwh: FloatArray | float, policy: Policy
) -> FloatArray:
    """Carbon-adjusted cost of one facility kWh (the objective's rate)."""
    return np.asarray(
        policy.price_weight * np.asarray(price_jpy_per_kwh, dtype=np.float64)
        + policy.carbon_weight
        * np.asarray(carbon_g_per_kwh, dtype=np.float64)
        * policy.carbon_price_jpy_per_g,
        dtype=np.float64,
    )


def _per_slot(values: Sequence[float], current: float, slot_count: int) -> FloatArray:
    """Forecast values on the horizon grid: slot 0 is the current value, gaps repeat the last."""
    out = np.empty(slot_count, dtype=np.float64)
    given = np.asarray(values[:slot_count], dtype=np.float64)
    out[: given.size] = given
    out[given.size :] = given[-1] if given.size else current
    out[0] = current
    return out


def _per_slot_capacity(values: Sequence[float], slot_count: int, empty: float) -> FloatArray:
    out = np.empty(slot_count, dtype=np.float64)
    given = np.asarray(values[:slot_count], dtype=np.float64)
    out[: given.size] = given
    out[given.size :] = given[-1] if given.size else empty
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class RegionGrid:
    """Every region's signals and capacity on the horizon grid, as arrays (regions x slots).

    Regions are sorted by name, so results never depend on the order they were given in.
    """

    names: tuple[RegionName, ...]
    carbon_g_per_kwh: FloatArray
    price_jpy_per_kwh: FloatArray
    adjusted_jpy_per_kwh: FloatArray
    """Carbon-adjusted cost per facility kWh."""
    pue: FloatArray
    free_gpus: FloatArray
    power_headroom_kw: FloatArray
    """`inf` where the region has no power cap."""
    fresh: NDArray[np.bool_]
    available: NDArray[np.bool_]
    positions: dict[RegionName, int]
    """Name -> row."""

    @property
    def unit_cost_jpy_per_it_kwh(self) -> FloatArray:
        """Carbon-adjusted cost of one kWh drawn by the GPUs (PUE included)."""
        return self.adjusted_jpy_per_kwh * self.pue[:, None]

    def index(self, name: RegionName | None) -> int:
        """Position of `name`, or -1 when unknown."""
        return -1 if name is None else self.positions.get(name, -1)


def build_region_grid(
    regions: Sequence[RegionSnapshot], horizon: Horizon, policy: Policy, now: datetime
) -> RegionGrid:
    """Arrange the snapshots on the horizon grid (see `RegionGrid`)."""
    ordered = sorted(regions, key=lambda region: region.name)
    names = tuple(region.name for region in ordered)
    if len(set(names)) != len(names):
        raise ValueError("region names must be unique")
    slots = horizon.slot_count
    carbon = np.array(
        [_per_slot(r.carbon_forecast_g_per_kwh, r.carbon_g_per_kwh, slots) for r in ordered]
    ).reshape(len(ordered), slots)
    price = np.array(
        [_per_slot(r.price_forecast_jpy_per_kwh, r.price_jpy_per_kwh, slots) for r in ordered]
    ).reshape(len(ordered), slots)
    free = np.array(
        [_per_slot_capacity([float(g) for g in r.free_gpus], slots, 0.0) for r in ordered]
    ).reshape(len(ordered), slots)
    headroom = np.array(
        [_per_slot_capacity(r.power_headroom_kw, slots, np.inf) for r in ordered]
    ).reshape(len(ordered), slots)
    return RegionGrid(
        names=names,
        carbon_g_per_kwh=carbon,
        price_jpy_per_kwh=price,
        adjusted_jpy_per_kwh=adjusted_jpy_per_kwh(price, carbon, policy),
        pue=np.array([r.pue for r in ordered], dtype=np.float64),
        free_gpus=np.maximum(free, 0.0),
        power_headroom_kw=np.maximum(headroom, 0.0),
        fresh=np.array([not r.is_stale(now) for r in ordered], dtype=np.bool_),
        available=np.array([r.available for r in ordered], dtype=np.bool_),
        positions={name: row for row, name in enumerate(names)},
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class CostCurve:
    """Cumulative per-slot rates, integrable over any fractional window of slots.

    Past the horizon the daily shape repeats: each slot of a day at the mean of that slot over
    every whole day of the forecast (a run ending past the forecast still meets the solar noon
    and the evening peak). The mean, not the last day alone: a forecast ending on a weekend
    or a curtailment day made a whole week past it look that cheap, and long runs waited or
    moved for savings that never came. With no period, or fewer slots than one, the rate is
    the horizon's mean.
    """

    cumulative: FloatArray
    """regions x (slots + extension + 1): the integral from slot 0 up to each slot boundary,
    the horizon followed by `EXTENSION_PERIODS` repeats of the period."""
    slots: int
    """Slots in the horizon (the rest of `cumulative` is extrapolated)."""
    tail_rate: FloatArray
    """Per region: the mean rate past the horizon (over the period, or the whole horizon)."""

    EXTENSION_PERIODS = 7
    """Repeats tabulated past the horizon (a week of days); beyond them the mean applies."""

    @classmethod
    def from_rates(cls, rates: FloatArray, period_slots: int = 0) -> CostCurve:
        """Build the curve of `rates` (regions x slots, a rate per slot)."""
        regions, slots = rates.shape
        if 0 < period_slots <= slots:
            days = slots // period_slots
            whole = rates[:, slots - days * period_slots :]  # aligned on the horizon's end
            shape = whole.reshape(regions, days, period_slots).mean(axis=1)
            rates = np.concatenate([rates, np.tile(shape, cls.EXTENSION_PERIODS)], axis=1)
            tail = shape.mean(axis=1)
        else:
            tail = rates.mean(axis=1)
        cumulative = np.zeros((regions, rates.shape[1] + 1), dtype=np.float64)
        np.cumsum(rates, axis=1, out=cumulative[:, 1:])
        return cls(cumulative=cumulative, slots=slots, tail_rate=tail)

    @property
    def slot_count(self) -> int:
        """Number of slots on the grid."""
        return self.slots

    def at(self, region: IntArray | int, position: FloatArray | float) -> FloatArray:
        """The integral from slot 0 to `position` (fractional slots), broadcast over inputs."""
        tabulated = self.cumulative.shape[1] - 1
        where = np.asarray(position, dtype=np.float64)
        clipped = np.clip(where, 0.0, float(tabulated))
        knot = np.minimum(clipped.astype(np.intp), tabulated - 1)
        frac = clipped - knot
        low = self.cumulative[region, knot]
        high = self.cumulative[region, knot + 1]
        beyond = np.maximum(where - tabulated, 0.0) * self.tail_rate[region]
        return np.asarray(low + frac * (high - low) + beyond, dtype=np.float64)

    def between(
        self, region: IntArray | int, start: FloatArray | float, end: FloatArray | float
    ) -> FloatArray:
        """The integral of the rate over [start, end) in slots."""
        return self.at(region, end) - self.at(region, start)

    def windows(self, starts: FloatArray, lengths: FloatArray) -> FloatArray:
        """lengths x regions x starts: the integral over [start, start + length) everywhere.

        The same numbers as `between` broadcast over every region, start and length, computed
        one region at a time: each region's slice stays in the CPU cache, where the broadcast
        form makes a dozen passes over tensors of workloads x regions x starts (10,000 x 30 x 48
        is 115 MB each).
        """
        tabulated = self.cumulative.shape[1] - 1
        ends = lengths[:, None] + starts[None, :]
        clipped = np.clip(ends, 0.0, float(tabulated))
        knot = np.minimum(clipped.astype(np.intp), tabulated - 1)
        frac = clipped - knot
        beyond = np.maximum(ends - tabulated, 0.0)
        past_table = bool(beyond.any())
        regions = self.cumulative.shape[0]
        begin = self.at(np.arange(regions)[:, None], starts[None, :])
        out = np.empty((len(lengths), regions, len(starts)), dtype=np.float64)
        for region in range(regions):
            cumulative = self.cumulative[region]
            low = cumulative[knot]
            slice_ = out[:, region, :]
            np.subtract(cumulative[knot + 1], low, out=slice_)
            slice_ *= frac
            slice_ += low
            slice_ -= begin[region][None, :]
            if past_table:
                slice_ += beyond * self.tail_rate[region]
        return out


def checkpoint_write_s(checkpoint_size_gb: float, policy: Policy) -> float:
    """Seconds to write a checkpoint of `checkpoint_size_gb` before sending it."""
    return checkpoint_size_gb * BITS_PER_BYTE / policy.checkpoint_write_gbps


def lost_work_s(workload: WorkloadSnapshot, now: datetime) -> float:
    """Work done since the last checkpoint, redone after a move.

    Unknown checkpoint time: half an interval is expected to be lost.
    """
    if workload.last_checkpoint_at is None:
        return workload.checkpoint_interval_s / 2.0
    since_s = (now - workload.last_checkpoint_at).total_seconds()
    return min(max(since_s, 0.0), workload.checkpoint_interval_s)


def move_cost(
    *,
    workload: WorkloadSnapshot,
    link: LinkSnapshot,
    policy: Policy,
    now: datetime,
    target_adjusted_jpy_per_kwh: float,
    target_pue: float,
    extension_adjusted_jpy_per_kwh: float | None = None,
) -> MoveCost:
    """The full cost of moving `workload` over `link` (see `move_cost_jpy` for the pricing).

    Items: checkpoint write, transfer (size / bandwidth), restart overhead, redone work since
    the last checkpoint, GPUs idle meanwhile, and the network's transfer energy.
    `extension_adjusted_jpy_per_kwh` is the target's rate when the run ends (where the redone
    work lands); None: its rate now.
    """
    write_s = checkpoint_write_s(workload.checkpoint_size_gb, policy)
    transfer_s = link.transfer_s(workload.checkpoint_size_gb)
    restart_s = policy.restart_overhead_s
    lost_s = lost_work_s(workload, now)
    downtime_h = (write_s + transfer_s + restart_s) / SECONDS_PER_HOUR
    lost_h = lost_s / SECONDS_PER_HOUR
    network_kwh = workload.checkpoint_size_gb * link.energy_kwh_per_gb
    extension = (
        target_adjusted_jpy_per_kwh
        if extension_adjusted_jpy_per_kwh is None
        else extension_adjusted_jpy_per_kwh
    )
    return MoveCost(
        checkpoint_write_s=write_s,
        transfer_s=transfer_s,
        restart_s=restart_s,
        lost_work_s=lost_s,
        energy_kwh=(workload.idle_kw * downtime_h + workload.busy_kw * lost_h) * target_pue
        + network_kwh,
        cost_jpy=float(
            move_cost_jpy(
                idle_it_kwh=workload.idle_kw * downtime_h,
                redo_it_kwh=workload.busy_kw * lost_h,
                shift_it_kwh=workload.busy_kw * downtime_h,
                network_kwh=network_kwh,
                gpu_hours=workload.gpus * (downtime_h + lost_h),
                unit_now_jpy_per_it_kwh=target_adjusted_jpy_per_kwh * target_pue,
                unit_end_jpy_per_it_kwh=extension * target_pue,
                adjusted_now_jpy_per_kwh=target_adjusted_jpy_per_kwh,
                gpu_hour_value_jpy=policy.gpu_hour_value_jpy,
            )
        ),
    )


def move_cost_jpy(
    *,
    idle_it_kwh: float | FloatArray,
    redo_it_kwh: float | FloatArray,
    shift_it_kwh: float | FloatArray,
    network_kwh: float | FloatArray,
    gpu_hours: float | FloatArray,
    unit_now_jpy_per_it_kwh: float | FloatArray,
    unit_end_jpy_per_it_kwh: float | FloatArray,
    adjusted_now_jpy_per_kwh: float | FloatArray,
    gpu_hour_value_jpy: float,
) -> FloatArray:
    """Carbon-adjusted cost of a move, non-decreasing in downtime and lost work.

    - GPUs idle through the downtime at the target's rate now;
    - the redone work runs when the run ends (it is appended to the run), at that rate;
    - the downtime pushes that much work to the end: it costs the rise from now to then, and
      is never credited when the end is cheaper (so a longer move can never look cheaper);
    - the network's transfer energy at the rate now, and the GPU-hours lost at their value.
    """
    return np.asarray(
        idle_it_kwh * unit_now_jpy_per_it_kwh
        + redo_it_kwh * unit_end_jpy_per_it_kwh
        + shift_it_kwh * np.maximum(unit_end_jpy_per_it_kwh - unit_now_jpy_per_it_kwh, 0.0)
        + network_kwh * adjusted_now_jpy_per_kwh
        + gpu_hours * gpu_hour_value_jpy,
        dtype=np.float64,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanFigures:
    """Energy, carbon and bill of running in one region over one window."""

    energy_kwh: float
    carbon_kg: float
    cost_jpy: float
    adjusted_cost_jpy: float


@dataclass(frozen=True, slots=True, kw_only=True)
class FigureCurves:
    """Cost curves per IT kWh for each figure: facility energy, carbon, bill, objective."""

    energy: CostCurve
    carbon: CostCurve
    bill: CostCurve
    adjusted: CostCurve

    @classmethod
    def from_grid(cls, grid: RegionGrid, period_slots: int = 0) -> FigureCurves:
        """Curves for `grid`; multiply by IT kWh per slot to get the figure."""
        pue = grid.pue[:, None]
        ones = np.ones_like(grid.adjusted_jpy_per_kwh)
        return cls(
            energy=CostCurve.from_rates(ones * pue, period_slots),
            carbon=CostCurve.from_rates(grid.carbon_g_per_kwh * pue / GRAMS_PER_KG, period_slots),
            bill=CostCurve.from_rates(grid.price_jpy_per_kwh * pue, period_slots),
            adjusted=CostCurve.from_rates(grid.unit_cost_jpy_per_it_kwh, period_slots),
        )

    def window(
        self, *, region: int, start: float, end: float, it_kwh_per_slot: float
    ) -> PlanFigures:
        """Figures of drawing `it_kwh_per_slot` in `region` over [start, end) slots."""
        return PlanFigures(
            energy_kwh=float(self.energy.between(region, start, end)) * it_kwh_per_slot,
            carbon_kg=float(self.carbon.between(region, start, end)) * it_kwh_per_slot,
            cost_jpy=float(self.bill.between(region, start, end)) * it_kwh_per_slot,
            adjusted_cost_jpy=float(self.adjusted.between(region, start, end)) * it_kwh_per_slot,
        )
