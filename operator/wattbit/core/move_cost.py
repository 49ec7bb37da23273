"""Whether moving running work pays: move costs per region pair and the best onward plan.

This module's one job is the arithmetic of migration for many running workloads at once:

- `LinkTable`: the APN links as region x region arrays (latency, bandwidth, energy per GB);
- `MoveTensors`: for each workload and region pair, a move's itemised cost (checkpoint write,
  transfer = size / bandwidth, restart, redone work, idle GPUs, network energy) in parts that
  are priced at any slot's rate;
- `plan_moves`: for each workload and target, the cheaper of moving there for good and a round
  trip (move there now, move back at the best slot boundary), so a region that is greener only
  at midday is worth a hop.

Every plan cost is non-decreasing in every move cost and is compared with staying put for the
whole run, so a bigger checkpoint or a slower link can never make a move more attractive (the
monotonicity the property tests check). Plans with more moves are not costed: they would be
compared with a baseline that itself moves, which breaks that guarantee.

WARNING: no decisions and no rule reasons here (that is `wattbit.core.rules` and the planner).
A move's delay is charged as energy (`wattbit.core.cost.move_cost_jpy`); runs are not shifted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from numpy.typing import NDArray

from wattbit.core.cost import (
    CostCurve,
    FloatArray,
    RegionGrid,
    checkpoint_write_s,
    lost_work_s,
    move_cost_jpy,
)
from wattbit.core.model import (
    BITS_PER_BYTE,
    SECONDS_PER_HOUR,
    LinkSnapshot,
    Policy,
    RegionName,
    WorkloadSnapshot,
)

Index = NDArray[np.intp] | int
"""An index into one axis of the move tensors (arrays broadcast together)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkTable:
    """APN links as region x region arrays (the grid's region order)."""

    latency_ms: FloatArray
    """`inf` where there is no link; 0 on the diagonal."""
    bandwidth_gbps: FloatArray
    energy_kwh_per_gb: FloatArray
    usable: NDArray[np.bool_]
    """A link exists and is within the policy's latency limit (a move may use it)."""


def build_link_table(
    links: Sequence[LinkSnapshot], names: Sequence[RegionName], policy: Policy
) -> LinkTable:
    """Arrange `links` on the region order `names`; of parallel links the fastest wins."""
    size = len(names)
    index = {name: position for position, name in enumerate(names)}
    latency = np.full((size, size), np.inf)
    bandwidth = np.zeros((size, size))
    energy = np.zeros((size, size))
    np.fill_diagonal(latency, 0.0)
    np.fill_diagonal(bandwidth, np.inf)
    for link in links:
        ends = [(link.from_region, link.to_region)]
        if link.bidirectional:
            ends.append((link.to_region, link.from_region))
        for source, target in ends:
            if source not in index or target not in index or source == target:
                continue
            a, b = index[source], index[target]
            if link.bandwidth_gbps > bandwidth[a, b]:
                latency[a, b] = link.latency_ms
                bandwidth[a, b] = link.bandwidth_gbps
                energy[a, b] = link.energy_kwh_per_gb
    usable = np.isfinite(latency)
    if policy.max_link_latency_ms is not None:
        usable &= latency <= policy.max_link_latency_ms
    return LinkTable(
        latency_ms=latency, bandwidth_gbps=bandwidth, energy_kwh_per_gb=energy, usable=usable
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class MoveTensors:
    """A move's parts for each workload (axis 0) from region a (axis 1) to region b (axis 2).

    Priced by `wattbit.core.cost.move_cost_jpy` at a slot's rates of b (see `priced`).
    `fixed_jpy` is `inf` where no usable link exists; every part is 0 on the diagonal.
    """

    idle_it_kwh: FloatArray
    """GPU energy of the idle downtime (checkpoint write, transfer, restart)."""
    redo_it_kwh: FloatArray
    """GPU energy of the work since the last checkpoint, done again."""
    shift_it_kwh: FloatArray
    """GPU energy of the work the downtime pushes to the end of the run."""
    network_kwh: FloatArray
    fixed_jpy: FloatArray
    """Value of the GPU-hours lost; `inf` where the move is impossible."""
    write_s: FloatArray
    """Per workload."""
    transfer_s: FloatArray
    restart_s: float
    lost_s: FloatArray
    """Per workload."""

    def delay_s(self, rows: Index, sources: Index, targets: Index) -> FloatArray:
        """How much later the workloads at `rows` finish after moving `sources` -> `targets`
        (the three indices broadcast together, as in `transfer_s[rows, sources, targets]`).

        Indexed rather than whole: callers need a slice, and the whole tensor is workloads x
        regions x regions.
        """
        return self.downtime_s(rows, sources, targets) + self.lost_s[rows]

    def downtime_s(self, rows: Index, sources: Index, targets: Index) -> FloatArray:
        """How long the workloads at `rows` make no progress moving `sources` -> `targets`
        (write, transfer, restart; indices broadcast as in `delay_s`)."""
        return np.asarray(
            self.write_s[rows] + self.transfer_s[rows, sources, targets] + self.restart_s,
            dtype=np.float64,
        )

    def priced(self, grid: RegionGrid, slot: int, end_unit: FloatArray) -> FloatArray:
        """Move costs in JPY at `slot`, the redone work priced at `end_unit` (workloads x
        regions: the GPU-kWh rate of each region when each run ends)."""
        return (
            move_cost_jpy(
                idle_it_kwh=self.idle_it_kwh,
                redo_it_kwh=self.redo_it_kwh,
                shift_it_kwh=self.shift_it_kwh,
                network_kwh=self.network_kwh,
                gpu_hours=0.0,
                unit_now_jpy_per_it_kwh=grid.unit_cost_jpy_per_it_kwh[None, None, :, slot],
                unit_end_jpy_per_it_kwh=end_unit[:, None, :],
                adjusted_now_jpy_per_kwh=grid.adjusted_jpy_per_kwh[None, None, :, slot],
                gpu_hour_value_jpy=0.0,
            )
            + self.fixed_jpy
        )


def last_move_downtime_s(
    workload: WorkloadSnapshot, links: LinkTable, names: Sequence[RegionName], policy: Policy
) -> float:
    """How long the workload's last move kept it from working (write, transfer over the link
    from `previous_region`, restart); 0 when it never moved. An unknown link counts no
    transfer."""
    if workload.last_moved_at is None:
        return 0.0
    index = {name: position for position, name in enumerate(names)}
    source = index.get(workload.previous_region) if workload.previous_region else None
    target = index.get(workload.current_region) if workload.current_region else None
    transfer_s = 0.0
    if source is not None and target is not None and np.isfinite(links.latency_ms[source, target]):
        bandwidth = float(links.bandwidth_gbps[source, target])
        transfer_s = (
            workload.checkpoint_size_gb * BITS_PER_BYTE / bandwidth
            + float(links.latency_ms[source, target]) / 1000.0
        )
    return (
        checkpoint_write_s(workload.checkpoint_size_gb, policy)
        + transfer_s
        + policy.restart_overhead_s
    )


def move_tensors(
    workloads: Sequence[WorkloadSnapshot], links: LinkTable, policy: Policy, now: datetime
) -> MoveTensors:
    """Itemised move costs for every workload and region pair (see `MoveTensors`)."""
    size_gb = np.array([w.checkpoint_size_gb for w in workloads], dtype=np.float64)
    write_s = np.array(
        [checkpoint_write_s(w.checkpoint_size_gb, policy) for w in workloads], dtype=np.float64
    ).reshape(len(workloads))
    lost_s = np.array([lost_work_s(w, now) for w in workloads], dtype=np.float64)
    idle_kw = np.array([w.idle_kw for w in workloads], dtype=np.float64)[:, None, None]
    busy_kw = np.array([w.busy_kw for w in workloads], dtype=np.float64)[:, None, None]
    gpus = np.array([w.gpus for w in workloads], dtype=np.float64)[:, None, None]
    diagonal = np.eye(links.usable.shape[0], dtype=np.bool_)[None]
    reachable = links.usable[None] & ~diagonal
    with np.errstate(divide="ignore", invalid="ignore"):
        transfer_s = (
            size_gb[:, None, None] * BITS_PER_BYTE / links.bandwidth_gbps[None, :, :]
            + links.latency_ms[None, :, :] / 1000.0
        )
    transfer_s = np.where(reachable, transfer_s, 0.0)
    downtime_h = (
        np.where(reachable, (write_s[:, None, None] + transfer_s + policy.restart_overhead_s), 0.0)
        / SECONDS_PER_HOUR
    )
    lost_h = np.where(reachable, (lost_s / SECONDS_PER_HOUR)[:, None, None], 0.0)
    fixed_jpy = gpus * (downtime_h + lost_h) * policy.gpu_hour_value_jpy
    return MoveTensors(
        idle_it_kwh=idle_kw * downtime_h,
        redo_it_kwh=busy_kw * lost_h,
        shift_it_kwh=busy_kw * downtime_h,
        network_kwh=np.where(
            reachable, size_gb[:, None, None] * links.energy_kwh_per_gb[None, :, :], 0.0
        ),
        fixed_jpy=np.where(links.usable[None] | diagonal, fixed_jpy, np.inf),
        write_s=write_s,
        transfer_s=transfer_s,
        restart_s=policy.restart_overhead_s,
        lost_s=lost_s,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class MovePlans:
    """For each workload and target region: the best plan that starts by moving there now."""

    cost_jpy: FloatArray
    """workloads x regions: move now, run there, maybe return (both moves included)."""
    margin_jpy: FloatArray
    """workloads x regions: the plan's saving over staying, minus the saving it must show."""
    required_jpy: FloatArray
    """workloads x regions: the saving the chosen plan must show (hysteresis)."""
    move_now_jpy: FloatArray
    """workloads x regions: the cost of the move now alone."""
    return_slot: NDArray[np.intp]
    """workloads x regions: slot at which the plan moves back; the horizon length if never."""


def plan_moves(
    *,
    tensors: MoveTensors,
    grid: RegionGrid,
    curve: CostCurve,
    current: NDArray[np.intp],
    start_position: float,
    end_position: FloatArray,
    it_kwh_per_slot: FloatArray,
    end_unit: FloatArray,
    may_return: NDArray[np.bool_],
    earliest_return: FloatArray,
    stay_cost_jpy: FloatArray,
    saving_share: float,
    saving_min_jpy: float,
) -> MovePlans:
    """Cost the two plans that start with a move to region r (vectorised over workloads):

    - one way: move now, finish in r;
    - round trip: move now, run in r until a slot boundary t, move back, finish at home
      (only where `may_return`, workloads x regions: budget, deadline and link allow it,
      and not before `earliest_return`, workloads x regions in slots: a return the policy
      would refuse, or one before the move out has ended, is no plan).

    Each plan must save at least `saving_share` of the cost of the part of the run it
    changes (the whole rest of the run one way, the time away on a round trip), and at least
    `saving_min_jpy`; of the plans, the one with the largest margin over that is kept.

    Plan costs are sums of move costs and window integrals and the savings they must show do
    not depend on move costs, so a bigger checkpoint or a slower link never makes a move more
    attractive. `end_unit` (workloads x regions) prices the work a move appends to the run.
    """
    count = current.size
    slots = grid.adjusted_jpy_per_kwh.shape[1]
    rows = np.arange(count)
    first = int(np.floor(start_position))
    out_now = tensors.priced(grid, first, end_unit)[rows, current, :]  # workloads x targets
    regions = out_now.shape[1]
    region_index = np.arange(regions)
    begin = curve.at(region_index[None, :], np.full((1, regions), start_position))
    one_way = (
        out_now
        + (curve.at(region_index[None, :], end_position[:, None]) - begin)
        * it_kwh_per_slot[:, None]
    )
    one_way_required = np.maximum(saving_min_jpy, saving_share * np.abs(stay_cost_jpy))
    cost = one_way
    required = np.broadcast_to(one_way_required[:, None], (count, regions)).copy()
    margin = stay_cost_jpy[:, None] - one_way - required
    back_at = np.full((count, regions), slots, dtype=np.intp)
    boundaries = np.arange(first + 1, slots)
    if boundaries.size and may_return.any():
        # The move back r -> current at each boundary t, priced at the current region's rates.
        home_end = end_unit[rows, current]
        unit_home = grid.unit_cost_jpy_per_it_kwh[current][:, boundaries]  # workloads x t
        adjusted_home = grid.adjusted_jpy_per_kwh[current][:, boundaries]

        def leg(parts: FloatArray) -> FloatArray:
            return parts[rows, :, current][:, :, None]  # workloads x r x 1

        back = move_cost_jpy(
            idle_it_kwh=leg(tensors.idle_it_kwh),
            redo_it_kwh=leg(tensors.redo_it_kwh),
            shift_it_kwh=leg(tensors.shift_it_kwh),
            network_kwh=leg(tensors.network_kwh),
            gpu_hours=0.0,
            unit_now_jpy_per_it_kwh=unit_home[:, None, :],
            unit_end_jpy_per_it_kwh=home_end[:, None, None],
            adjusted_now_jpy_per_kwh=adjusted_home[:, None, :],
            gpu_hour_value_jpy=0.0,
        ) + leg(tensors.fixed_jpy)
        away = curve.cumulative[:, boundaries][None, :, :] - begin[:, :, None]
        home_to_end = (
            curve.at(current, end_position)[:, None] - curve.cumulative[current][:, boundaries]
        )[:, None, :]
        trip = out_now[:, :, None] + back + (away + home_to_end) * it_kwh_per_slot[:, None, None]
        valid = (
            may_return[:, :, None]
            & (boundaries[None, None, :] < end_position[:, None, None])
            & (boundaries[None, None, :] >= earliest_return[:, :, None] - 1e-9)
        )
        away_home = (
            curve.cumulative[current][:, boundaries] - curve.at(current, start_position)[:, None]
        ) * it_kwh_per_slot[:, None]
        trip_required = np.maximum(saving_min_jpy, saving_share * np.abs(away_home))[:, None, :]
        trip_margin = np.where(valid, stay_cost_jpy[:, None, None] - trip - trip_required, -np.inf)
        best = np.argmax(trip_margin, axis=2)
        best_margin = np.take_along_axis(trip_margin, best[:, :, None], axis=2)[:, :, 0]
        better = best_margin > margin
        cost = np.where(better, np.take_along_axis(trip, best[:, :, None], axis=2)[:, :, 0], cost)
        required = np.where(better, trip_required[:, 0, :][rows[:, None], best], required)
        margin = np.where(better, best_margin, margin)
        back_at = np.where(better, boundaries[best], slots)
    return MovePlans(
        cost_jpy=cost,
        margin_jpy=margin,
        required_jpy=required,
        move_now_jpy=out_now,
        return_slot=back_at,
    )
