"""Capacity-aware assignment of workloads to (region, start) options: greedy, or exact.

This module's one job is to pick at most one option per workload so that, in every region and
horizon slot, the assigned GPUs and facility power stay within what is free, at the lowest total
cost. The greedy pass takes workloads in the given order and each its cheapest option that
still fits (spilling to the next region or slot: no herding). When options compete and the
problem is small enough, `assign_exactly` solves the same problem as a 0-1 programme with HiGHS
(`scipy.optimize.milp`).

WARNING: costs and option lists come from the planner; nothing here knows about rules, reasons
or signals, and nothing reads the clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

from wattbit.core.cost import FloatArray

_EPS = 1e-9
_SOLVER_TIME_LIMIT_S = 2.0
"""The exact pass runs inside a reconcile; past this the greedy answer is kept."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Option:
    """One way to run one workload: a region and a slot range, with its cost."""

    workload: int
    """Index into the caller's workload list."""
    region: int
    first_slot: int
    end_slot: int
    """Exclusive; the slots in which GPUs and power are reserved (within the horizon)."""
    gpus: float
    power_kw: float
    cost_jpy: float


class CapacityLedger:
    """Free GPUs and power per region and slot, minus what has been reserved so far."""

    def __init__(self, free_gpus: FloatArray, power_headroom_kw: FloatArray) -> None:
        self.free_gpus = free_gpus.copy()
        self.power_headroom_kw = power_headroom_kw.copy()
        self.capped = [bool(np.isfinite(row).any()) for row in power_headroom_kw]
        """Per region: whether power is capped at all (skips a check when it is not)."""

    def fits(self, option: Option) -> bool:
        """True when `option` fits in every slot it reserves."""
        return self.fits_range(
            option.region, option.first_slot, option.end_slot, option.gpus, option.power_kw
        )

    def fits_range(
        self, region: int, first_slot: int, end_slot: int, gpus: float, power_kw: float
    ) -> bool:
        """True when `gpus` and `power_kw` fit in `region` over [first_slot, end_slot)."""
        if end_slot <= first_slot:
            return True
        if self.free_gpus[region, first_slot:end_slot].min() < gpus - _EPS:
            return False
        if not self.capped[region]:
            return True
        headroom = self.power_headroom_kw[region, first_slot:end_slot].min()
        return bool(headroom >= power_kw - _EPS)

    def reserve(self, option: Option) -> None:
        """Take `option`'s GPUs and power out of the free capacity."""
        a, b = option.first_slot, option.end_slot
        self.free_gpus[option.region, a:b] -= option.gpus
        self.power_headroom_kw[option.region, a:b] -= option.power_kw

    def release(self, option: Option) -> None:
        """Give `option`'s GPUs and power back (undo `reserve`)."""
        a, b = option.first_slot, option.end_slot
        self.free_gpus[option.region, a:b] += option.gpus
        self.power_headroom_kw[option.region, a:b] += option.power_kw


def assign_greedily(
    choices: Sequence[Iterable[Option]], ledger: CapacityLedger
) -> tuple[list[Option | None], bool]:
    """Give each workload (in order) its first option that fits; reserve it in `ledger`.

    Options are read lazily, cheapest first. Returns the chosen options and whether capacity
    forced anyone off their first choice.
    """
    chosen: list[Option | None] = []
    contended = False
    for options in choices:
        pick: Option | None = None
        for rank, option in enumerate(options):
            if ledger.fits(option):
                pick = option
                contended |= rank > 0
                break
        else:
            contended = True
        if pick is not None:
            ledger.reserve(pick)
        chosen.append(pick)
    return chosen, contended


def _capacity_constraints(
    flat: Sequence[Option], columns: int, ledger: CapacityLedger
) -> list[LinearConstraint]:
    """GPU and power rows for every (region, slot) some option touches."""
    slots = ledger.free_gpus.shape[1]
    rows: list[int] = []
    cols: list[int] = []
    gpus: list[float] = []
    power: list[float] = []
    for column, option in enumerate(flat):
        for slot in range(option.first_slot, option.end_slot):
            rows.append(option.region * slots + slot)
            cols.append(column)
            gpus.append(option.gpus)
            power.append(option.power_kw)
    shape = (ledger.free_gpus.size, columns)
    used = np.unique(np.asarray(rows, dtype=np.intp))
    gpu_limit = ledger.free_gpus.reshape(-1)[used] + _EPS
    kw_limit = np.where(
        np.isfinite(ledger.power_headroom_kw), ledger.power_headroom_kw, 1e18
    ).reshape(-1)[used]
    unbounded = np.full(used.size, -np.inf)
    return [
        LinearConstraint(
            sparse.csr_array((gpus, (rows, cols)), shape=shape)[used], unbounded, gpu_limit
        ),
        LinearConstraint(
            sparse.csr_array((power, (rows, cols)), shape=shape)[used], unbounded, kw_limit + _EPS
        ),
    ]


def assign_exactly(
    choices: Sequence[Sequence[Option]], ledger: CapacityLedger
) -> list[Option | None] | None:
    """The cheapest capacity-feasible choice of at most one option per workload (HiGHS).

    A workload left without an option costs more than any of its options, so as many as
    possible are placed. Returns None when the solver gives no answer in time; on success the
    chosen options are reserved in `ledger`.
    """
    flat: list[Option] = [option for options in choices for option in options]
    if not flat:
        return [None] * len(choices)
    workloads = len(choices)
    columns = len(flat) + workloads  # one "unplaced" column per workload
    cost = np.empty(columns, dtype=np.float64)
    cost[: len(flat)] = [option.cost_jpy for option in flat]
    for index, options in enumerate(choices):
        worst = max((abs(option.cost_jpy) for option in options), default=0.0)
        cost[len(flat) + index] = 10.0 * worst + 1e6
    owners = [index for index, options in enumerate(choices) for _ in options]
    one_each = sparse.csr_array(
        (np.ones(columns), (owners + list(range(workloads)), np.arange(columns))),
        shape=(workloads, columns),
    )
    constraints = [
        LinearConstraint(one_each, np.ones(workloads), np.ones(workloads)),
        *_capacity_constraints(flat, columns, ledger),
    ]
    result = milp(
        cost,
        constraints=constraints,
        integrality=np.ones(columns),
        bounds=Bounds(0.0, 1.0),
        options={"time_limit": _SOLVER_TIME_LIMIT_S, "disp": False},
    )
    if result.x is None:
        return None
    picked: NDArray[np.float64] = np.asarray(result.x, dtype=np.float64)
    chosen: list[Option | None] = []
    column = 0
    for options in choices:
        pick: Option | None = None
        for option in options:
            if picked[column] > 0.5:
                pick = option
            column += 1
        chosen.append(pick)
    trial = CapacityLedger(ledger.free_gpus, ledger.power_headroom_kw)
    for pick in chosen:
        if pick is None:
            continue
        if not trial.fits(pick):  # numerical safety: never over-commit
            return None
        trial.reserve(pick)
    ledger.free_gpus[:] = trial.free_gpus
    ledger.power_headroom_kw[:] = trial.power_headroom_kw
    return chosen
