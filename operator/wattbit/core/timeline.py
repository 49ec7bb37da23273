"""How a run with moves spends its slots: the one timeline the optimum prices and the engine books.

This module's one job is the physics of a planned run, so that a plan's price and the cost of
replaying it agree by construction (issue 11):

- `move_delay`: what one move takes: the downtime (checkpoint write, transfer over the link,
  restart), during which the GPUs idle in the target region, the work since the last
  checkpoint (done again), and the network's transfer energy;
- `split_slot`: how one slot is spent: pending downtime first, then work;
- `lay_out`: a plan (start slot, region per slot, delays of its moves) slot by slot, as the
  simulator's engine steps it: the downtime a move adds may last several slots, and the
  redone work and the work the downtime displaced run after the plan's last slot, in its last
  region;
- `price_layout`: that layout at per-slot rates: GPU energy (busy or idle) at the region's
  carbon-adjusted rate per GPU kWh in that slot, each move's network energy at the target's
  rate per facility kWh in the slot it moves.

WARNING: pure; no clock, no I/O. Slots are the caller's (the simulator's are hours).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from wattbit.core.cost import FloatArray, checkpoint_write_s
from wattbit.core.model import BITS_PER_BYTE, SECONDS_PER_HOUR, Policy

DONE_EPS = 1e-9
"""A run with less work and downtime left than this (in slots) is done."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MoveDelay:
    """What one move takes, in hours (slots of one hour) and kWh."""

    downtime_h: float
    """Checkpoint write, transfer and restart: the GPUs idle in the target meanwhile."""
    lost_h: float
    """Work since the last checkpoint, done again after the move."""
    network_kwh: float
    transfer_s: float
    """Time the checkpoint spends on the link (latency included)."""


def move_delay(
    *,
    checkpoint_gb: float,
    checkpoint_interval_s: float,
    latency_ms: float,
    bandwidth_gbps: float,
    energy_kwh_per_gb: float,
    policy: Policy,
) -> MoveDelay:
    """A move's delays over a link; half a checkpoint interval of work is expected lost."""
    transfer_s = checkpoint_gb * BITS_PER_BYTE / bandwidth_gbps + latency_ms / 1000.0
    downtime_s = checkpoint_write_s(checkpoint_gb, policy) + transfer_s + policy.restart_overhead_s
    return MoveDelay(
        downtime_h=downtime_s / SECONDS_PER_HOUR,
        lost_h=checkpoint_interval_s / 2.0 / SECONDS_PER_HOUR,
        network_kwh=checkpoint_gb * energy_kwh_per_gb,
        transfer_s=transfer_s,
    )


def split_slot(downtime: float, remaining: float, length: float = 1.0) -> tuple[float, float]:
    """(idle, work) of a slot of `length`: downtime still pending is spent first."""
    idle = min(downtime, length)
    return idle, min(remaining, length - idle)


def is_done(downtime: float, remaining: float) -> bool:
    """Whether a run with this much downtime and work left has finished."""
    return remaining <= DONE_EPS and downtime <= DONE_EPS


@dataclass(frozen=True, slots=True)
class SlotUse:
    """What a run does in one slot, in fractions of the slot."""

    slot: int
    region: int
    idle: float
    work: float


@dataclass(frozen=True, slots=True)
class PlannedMove:
    """A move of a plan: at the start of `slot`, into `target`; downtime and redone work in
    slots, network energy in kWh."""

    slot: int
    target: int
    downtime: float
    lost: float
    network_kwh: float


def lay_out(
    start: int, regions: Sequence[int], moves: Sequence[PlannedMove]
) -> tuple[SlotUse, ...]:
    """The plan slot by slot until its work is done, exactly as the engine steps a run.

    Each move adds its downtime and its redone work when its slot begins; after the plan's
    last slot the run stays in its last region.
    """
    at = {move.slot: move for move in moves}
    remaining = float(len(regions))
    downtime = 0.0
    uses: list[SlotUse] = []
    offset = 0
    while offset < len(regions) or not is_done(downtime, remaining):
        slot = start + offset
        move = at.get(slot)
        if move is not None:
            downtime += move.downtime
            remaining += move.lost
        idle, work = split_slot(downtime, remaining)
        downtime -= idle
        remaining -= work
        uses.append(SlotUse(slot, regions[min(offset, len(regions) - 1)], idle, work))
        offset += 1
    return tuple(uses)


def price_layout(
    uses: Sequence[SlotUse],
    moves: Sequence[PlannedMove],
    *,
    busy_kw: float,
    idle_kw: float,
    slot_h: float,
    unit_jpy_per_it_kwh: FloatArray,
    adjusted_jpy_per_kwh: FloatArray,
) -> float:
    """Carbon-adjusted cost of a laid-out plan (rates: regions x slots).

    GPU energy at the region's rate per GPU kWh (PUE included) in each slot; each move's
    network energy (no PUE) at the target's rate per facility kWh in the slot it moves.
    """
    if not uses:
        return 0.0
    region = np.array([use.region for use in uses], dtype=np.intp)
    slot = np.array([use.slot for use in uses], dtype=np.intp)
    kwh = (
        np.array([use.work for use in uses]) * busy_kw
        + np.array([use.idle for use in uses]) * idle_kw
    ) * slot_h
    network = sum(
        move.network_kwh * float(adjusted_jpy_per_kwh[move.target, move.slot]) for move in moves
    )
    return float(kwh @ unit_jpy_per_it_kwh[region, slot]) + network
