"""The offline optimum: the cheapest schedule of a whole job trace with perfect knowledge.

This module's one job is the benchmark's yardstick. Given every job (arrival, run length, GPUs,
deadline, allowed regions, move costs) and the true carbon-adjusted rate of every region in
every slot, it finds start times and a region for every slot of every run (moves allowed, each
charged its full cost and its delay against the deadline) such that no region ever exceeds its
GPUs or power cap. Runs are non-interruptible, as for every online policy compared.

Method: column generation on a 0-1 programme, solved with HiGHS through scipy.

- A column is one job's complete plan. Every no-move plan is a column from the start; the
  restricted master LP (`scipy.optimize.linprog`, HiGHS) chooses plans under the capacity
  rows; its duals price capacity.
- Pricing: a dynamic programme over (start slot, region, moves so far) finds each job's
  cheapest plans under those prices (exact but for the relaxation below); a plan whose exact
  reduced cost is negative is added as a column.
- Two jobs that each need more than half a region's GPUs can never share it: a row per region
  and slot allows one of them. Valid for every schedule; it tightens the LP bound a lot when
  big jobs compete for small sites.
- Pricing uses smoothed duals (Wentges): a mix of the master's duals and the prices that gave
  the best bound so far, so the prices settle instead of zig-zagging (plain column generation
  tailed off for hundreds of rounds on the shipped scenarios; smoothed, it converges in tens).
- `lower_bound_jpy` is the best Lagrangian bound met (`lagrangian_bound`: at any capacity
  prices, the sum of each job's cheapest plan less the priced capacity), a valid lower bound
  on any capacity-feasible schedule in this model (the LP optimum once no column prices out).
  The integer schedule comes from `scipy.optimize.milp` (HiGHS) over the generated columns;
  `gap` says how far it is from the bound.

A plan costs what replaying it in the simulator costs: `_Solver.cost` lays it out slot by slot
with `wattbit.core.timeline`, the timeline the engine steps (during a move's downtime the GPUs
idle in the target, slot after slot if it lasts longer; that work, plus the work redone since
the last checkpoint, is appended after the run in the final region). Plans never move again
while a checkpoint is still on its way, and a move holds the region it leaves in its slot too
(the engine applies moves one after another, so two jobs can never trade places at once).
Pricing is that cost with one relaxation: the appended work is priced with the job's smallest
delay per move, and the rest of a slower move's delay at the lowest rate it could meet, so
pricing never exceeds a plan's cost and the bound stays a bound. Deadlines and occupancy use
the largest delay (so replayed schedules stay feasible).

WARNING: pure numpy/scipy; no I/O, no clock (HiGHS's own time limit is the only timer).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

from wattbit.core.cost import FloatArray
from wattbit.core.timeline import PlannedMove, lay_out, price_layout

_REDUCED_COST_TOL = 1e-6
_COLUMNS_PER_PRICING = 3
_BOUND_TOL = 1e-4
"""Column generation stops once the Lagrangian bound is this close to the LP optimum."""
_SMOOTHING = 0.9
"""Weight of the best-bound prices in the smoothed prices (Wentges smoothing)."""
_STALL_ROUNDS = 20
"""Column generation also stops when the gap between the master LP and the bound closed by
less than `_BOUND_TOL` over this many rounds: pricing underestimates some plans (see
`_Solver.price`), so the bound may never close the last gap, and new columns then only tail
off."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OptimumJob:
    """One job of the trace, in slots of the instance."""

    arrival_slot: int
    duration_slots: int
    end_by_slot: int
    """The run, move delays included, must end by this slot boundary (deadline or horizon)."""
    gpus: float
    busy_kw: float
    """IT power while computing."""
    idle_kw: float
    """IT power while allocated but idle (during a move's downtime)."""
    allowed: NDArray[np.bool_]
    """Per region."""
    move_downtime_slots: FloatArray
    """regions x regions: checkpoint write, transfer and restart; 0 on the diagonal."""
    lost_slots: float
    """Work redone after each move (since the last checkpoint)."""
    move_network_kwh: FloatArray
    move_fixed_jpy: FloatArray
    """regions x regions: GPU-hour value; `inf` where no link; 0 on the diagonal."""

    @property
    def _usable_downtime(self) -> FloatArray:
        off_diagonal = ~np.eye(self.allowed.size, dtype=np.bool_)
        return self.move_downtime_slots[off_diagonal & np.isfinite(self.move_fixed_jpy)]

    @property
    def delay_min_slots(self) -> float:
        """A move's smallest delay (downtime plus redone work)."""
        usable = self._usable_downtime
        return float(usable.min()) + self.lost_slots if usable.size else 0.0

    @property
    def delay_max_slots(self) -> float:
        """A move's largest delay: what deadlines and occupancy are checked with."""
        usable = self._usable_downtime
        return float(usable.max()) + self.lost_slots if usable.size else 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class OptimumInstance:
    """Rates and capacities of every region in every slot, and the jobs."""

    unit_cost_jpy_per_it_kwh: FloatArray
    """regions x slots: carbon-adjusted cost of one GPU kWh (PUE included)."""
    adjusted_jpy_per_kwh: FloatArray
    """regions x slots: carbon-adjusted cost of one facility kWh (prices network energy)."""
    pue: FloatArray
    capacity_gpus: FloatArray
    """regions x slots."""
    power_cap_kw: FloatArray
    """regions x slots, facility power; `inf` where uncapped."""
    slot_h: float
    jobs: tuple[OptimumJob, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class PlannedRun:
    """One job's plan: its start slot and its region in each slot of the run."""

    start_slot: int
    regions: tuple[int, ...]
    """Region per slot from `start_slot`, for the run's `duration_slots`."""
    moves: int
    cost_jpy: float


@dataclass(frozen=True, slots=True, kw_only=True)
class OptimumResult:
    """The schedule and how good it provably is."""

    runs: tuple[PlannedRun | None, ...]
    """Per job; None when no capacity-feasible plan was found (a deadline miss)."""
    objective_jpy: float
    """Cost of the integer schedule (unscheduled jobs excluded)."""
    lower_bound_jpy: float
    """No capacity-feasible schedule of this model costs less (scheduled jobs only)."""
    iterations: int
    columns: int
    converged: bool
    max_moves_used: int
    message: str = field(default="")

    @property
    def gap(self) -> float:
        """Relative distance between the schedule and the bound."""
        if self.objective_jpy <= 0:
            return 0.0
        return max(0.0, (self.objective_jpy - self.lower_bound_jpy) / self.objective_jpy)


@dataclass(slots=True)
class _Column:
    """One job's plan as the master sees it."""

    job: int
    start: int
    regions: tuple[int, ...]
    cost: float
    moves: int
    rows: NDArray[np.intp]
    """Capacity rows it occupies (GPU rows, then power rows)."""
    values: FloatArray


@dataclass(frozen=True, slots=True, kw_only=True)
class _Prepared:
    """What pricing needs about one job that does not change between rounds."""

    starts: NDArray[np.intp]
    move_cap: NDArray[np.intp]
    """Per start: most moves whose delays still fit before the deadline and the horizon."""
    extension: NDArray[np.intp]
    """Per number of moves: slots held after the run."""
    can_move: bool
    delay_min_slots: float
    lock: NDArray[np.intp]
    """regions x regions: slots a move a -> b keeps the run in b (its downtime, rounded up):
    no second move while a checkpoint is still on its way."""


def _lock(job: OptimumJob) -> NDArray[np.intp]:
    """Slots each move's downtime lasts, rounded up (at least the slot it moves in)."""
    downtime = np.where(np.isfinite(job.move_downtime_slots), job.move_downtime_slots, 0.0)
    return np.maximum(1, np.ceil(downtime - 1e-9)).astype(np.intp)


def _prepare(job: OptimumJob, slots: int, max_moves: int) -> _Prepared:
    last = min(job.end_by_slot, slots) - job.duration_slots
    starts = np.arange(job.arrival_slot, last + 1, dtype=np.intp)
    delay_max = job.delay_max_slots
    extension = np.array(
        [math.ceil(m * delay_max - 1e-9) if m else 0 for m in range(max_moves + 1)],
        dtype=np.intp,
    )
    slack = np.minimum(job.end_by_slot, slots) - starts - job.duration_slots
    if delay_max > 0:
        move_cap = np.minimum(max_moves, np.floor(slack / delay_max + 1e-9)).astype(np.intp)
    else:
        move_cap = np.full(starts.size, max_moves, dtype=np.intp)
    # The slots held after the run must stay inside the instance.
    room = slots - starts - job.duration_slots
    fits = extension[None, :] <= room[:, None]
    move_cap = np.minimum(move_cap, fits.sum(axis=1) - 1).astype(np.intp)
    off_diagonal = ~np.eye(job.allowed.size, dtype=np.bool_)
    usable = np.isfinite(job.move_fixed_jpy) & off_diagonal
    usable &= job.allowed[:, None] & job.allowed[None, :]
    return _Prepared(
        starts=starts,
        move_cap=np.maximum(move_cap, 0),
        extension=extension,
        can_move=bool(usable.any()) and max_moves > 0,
        delay_min_slots=job.delay_min_slots,
        lock=_lock(job),
    )


def _move_price(instance: OptimumInstance, job: OptimumJob, slots: NDArray[np.intp]) -> FloatArray:
    """Cost of each move a -> b at the start of each of `slots`: (slots, a, b).

    The GPUs idle through the downtime in b instead of computing, slot after slot when it lasts
    longer than one (the plan stays in b meanwhile, see `_Prepared.lock`), as the engine idles
    them; the work they would have done is appended to the run and priced there (`_tail_cost`).
    The network energy is priced at b's rate in the slot of the move.
    """
    unit = instance.unit_cost_jpy_per_it_kwh
    last = unit.shape[1] - 1
    downtime = np.where(np.isfinite(job.move_downtime_slots), job.move_downtime_slots, 0.0)
    idle_unit = np.zeros((slots.size, *downtime.shape))
    for step in range(int(_lock(job).max())):
        fraction = np.clip(downtime - step, 0.0, 1.0)
        idle_unit += fraction[None] * unit[:, np.minimum(slots + step, last)].T[:, None, :]
    adjusted = instance.adjusted_jpy_per_kwh[:, slots].T[:, None, :]
    price = (
        (job.idle_kw - job.busy_kw) * instance.slot_h * idle_unit
        + job.move_network_kwh[None] * adjusted
        + job.move_fixed_jpy[None]
    )
    diagonal = np.eye(job.allowed.size, dtype=np.bool_)
    return np.where(diagonal[None], np.inf, price)


def _tail_cost(
    *,
    energy_prefix: FloatArray,
    job: OptimumJob,
    delay_min: float,
    end: NDArray[np.intp],
    moves: int,
    slot_h: float,
) -> FloatArray:
    """Regions x ends: the work `moves` moves append after the run, in the final region."""
    if moves == 0:
        return np.zeros((energy_prefix.shape[0], end.size))
    slots = energy_prefix.shape[1] - 1
    stop = np.minimum(end + moves * delay_min, float(slots))
    whole = np.minimum(np.floor(stop).astype(np.intp), slots - 1)
    frac = stop - whole
    upto = energy_prefix[:, whole] + frac[None, :] * (
        energy_prefix[:, whole + 1] - energy_prefix[:, whole]
    )
    return np.asarray((upto - energy_prefix[:, end]) * job.busy_kw * slot_h, dtype=np.float64)


def _fitting(instance: OptimumInstance) -> OptimumInstance:
    """The instance with each job barred from regions it can never fit in on its own.

    A plan there is infeasible anyway, but the LP relaxation would run a fraction of the job
    there (say 89 % of it under a power cap) and weaken the lower bound.
    """
    gpus_max = instance.capacity_gpus.max(axis=1)
    power_max = instance.power_cap_kw.max(axis=1)
    jobs = tuple(
        dataclasses.replace(
            job,
            allowed=job.allowed
            & (job.gpus <= gpus_max + 1e-9)
            & (job.busy_kw * instance.pue <= power_max + 1e-9),
        )
        for job in instance.jobs
    )
    return dataclasses.replace(instance, jobs=jobs)


class _Solver:
    """Column generation state for one instance."""

    def __init__(self, instance: OptimumInstance, max_moves: int) -> None:
        instance = _fitting(instance)
        self.instance = instance
        self.regions, self.slots = instance.unit_cost_jpy_per_it_kwh.shape
        self.prepared = [_prepare(job, self.slots, max_moves) for job in instance.jobs]
        self.energy_prefix = np.zeros((self.regions, self.slots + 1))
        np.cumsum(instance.unit_cost_jpy_per_it_kwh, axis=1, out=self.energy_prefix[:, 1:])
        self.capped = np.isfinite(instance.power_cap_kw)
        # Jobs bigger than half a region's GPUs cannot share it: at most one of them per
        # region and slot. Valid for every integer schedule, and it keeps the LP relaxation
        # from packing one and a half such jobs into a region (a much tighter bound).
        self.big = [job.gpus * 2 > instance.capacity_gpus + 1e-9 for job in instance.jobs]
        self.columns: list[_Column] = []
        self.seen: set[tuple[int, int, tuple[int, ...]]] = set()
        # Right-hand side of every capacity row: GPUs, power (0 where uncapped, where no
        # column ever has a coefficient), big jobs' places.
        self.limit = np.concatenate(
            [
                instance.capacity_gpus.reshape(-1),
                np.where(self.capped, instance.power_cap_kw, 0.0).reshape(-1),
                np.ones(self.regions * self.slots),
            ]
        )

    # ------------------------------------------------------------ columns

    def cost(self, job_index: int, start: int, path: tuple[int, ...]) -> tuple[float, int]:
        """The plan's carbon-adjusted cost and its number of moves: the plan laid out slot by
        slot as the simulator's engine replays it (`wattbit.core.timeline`), so a plan costs
        what replaying it costs. Pricing (`price`) only bounds this from below."""
        instance, job = self.instance, self.instance.jobs[job_index]
        moves = tuple(
            PlannedMove(
                slot=start + k,
                target=path[k],
                downtime=float(job.move_downtime_slots[path[k - 1], path[k]]),
                lost=job.lost_slots,
                network_kwh=float(job.move_network_kwh[path[k - 1], path[k]]),
            )
            for k in range(1, len(path))
            if path[k] != path[k - 1]
        )
        if not moves:
            # The layout of a plan without moves: every slot worked, nothing appended.
            slots = np.arange(start, start + len(path), dtype=np.intp)
            rates = instance.unit_cost_jpy_per_it_kwh[list(path), slots]
            return float(job.busy_kw * instance.slot_h * rates.sum()), 0
        cost = price_layout(
            lay_out(start, path, moves),
            moves,
            busy_kw=job.busy_kw,
            idle_kw=job.idle_kw,
            slot_h=instance.slot_h,
            unit_jpy_per_it_kwh=instance.unit_cost_jpy_per_it_kwh,
            adjusted_jpy_per_kwh=instance.adjusted_jpy_per_kwh,
        )
        fixed = sum(
            float(job.move_fixed_jpy[path[k - 1], path[k]])
            for k in range(1, len(path))
            if path[k] != path[k - 1]
        )
        return cost + fixed, len(moves)

    def add(self, job_index: int, start: int, path: tuple[int, ...]) -> bool:
        """Add the plan as a column unless it is already there."""
        key = (job_index, start, path)
        if key in self.seen:
            return False
        self.seen.add(key)
        self.columns.append(self.column(job_index, start, path))
        return True

    def column(self, job_index: int, start: int, path: tuple[int, ...]) -> _Column:
        """The plan as the master sees it: its cost and the capacity rows it occupies."""
        job = self.instance.jobs[job_index]
        cost, moves = self.cost(job_index, start, path)
        held = list(path) + [path[-1]] * int(self.prepared[job_index].extension[moves])
        # A move also holds the region it leaves in its slot: the simulator applies one move
        # after another, so a plan must never need two jobs to trade places at once.
        left = [k for k in range(1, len(path)) if path[k] != path[k - 1]]
        slots = np.concatenate(
            [np.arange(start, start + len(held)), np.asarray(left, dtype=np.intp) + start]
        ).astype(np.intp)
        regions = np.asarray(held + [path[k - 1] for k in left], dtype=np.intp)
        keep = slots < self.slots
        slots, regions = slots[keep], regions[keep]
        gpu_rows = regions * self.slots + slots
        capped = self.capped[regions, slots]
        power_rows = self.regions * self.slots + gpu_rows[capped]
        power = job.busy_kw * self.instance.pue[regions[capped]]
        big = self.big[job_index][regions, slots]
        pair_rows = 2 * self.regions * self.slots + gpu_rows[big]
        return _Column(
            job=job_index,
            start=start,
            regions=path,
            cost=cost,
            moves=moves,
            rows=np.concatenate([gpu_rows, power_rows, pair_rows]),
            values=np.concatenate(
                [np.full(gpu_rows.size, job.gpus), power, np.ones(pair_rows.size)]
            ),
        )

    def add_plain(self, every_start: bool) -> None:
        """No-move plans: each job's cheapest start per region, or every start."""
        slot_h = self.instance.slot_h
        for index, (job, prep) in enumerate(zip(self.instance.jobs, self.prepared, strict=True)):
            if prep.starts.size == 0:
                continue
            window = (
                (
                    self.energy_prefix[:, prep.starts + job.duration_slots]
                    - self.energy_prefix[:, prep.starts]
                )
                * job.busy_kw
                * slot_h
            )
            for region in np.flatnonzero(job.allowed):
                chosen = (
                    range(prep.starts.size) if every_start else [int(np.argmin(window[region]))]
                )
                for row in chosen:
                    self.add(index, int(prep.starts[row]), (int(region),) * job.duration_slots)

    # ------------------------------------------------------------ master

    def master(
        self, penalty: FloatArray
    ) -> tuple[FloatArray, sparse.csr_array, sparse.csr_array, FloatArray, NDArray[np.intp]]:
        jobs = len(self.instance.jobs)
        count = len(self.columns)
        total = count + jobs
        costs = np.concatenate([np.array([c.cost for c in self.columns]), penalty])
        owners = np.concatenate(
            [np.array([c.job for c in self.columns], dtype=np.intp), np.arange(jobs)]
        )
        convexity = sparse.csr_array(
            (np.ones(total), (owners, np.arange(total))), shape=(jobs, total)
        )
        rows = np.concatenate([c.rows for c in self.columns] or [np.zeros(0, dtype=np.intp)])
        cols = np.repeat(np.arange(count), [c.rows.size for c in self.columns])
        values = np.concatenate([c.values for c in self.columns] or [np.zeros(0)])
        present, local = np.unique(rows, return_inverse=True)
        capacity = sparse.csr_array((values, (local, cols)), shape=(present.size, total))
        return costs, convexity, capacity, self.limit[present], present

    # ------------------------------------------------------------ pricing

    def price(
        self, job_index: int, slot_price: FloatArray
    ) -> list[tuple[float, int, tuple[int, ...]]]:
        """Pricing: the job's cheapest plans under capacity prices (cost plus the capacity it
        holds at those prices, start, path).

        Exact but for one relaxation: the work moves append after the run is priced with the
        job's smallest delay per move, so a plan's value here never exceeds its true cost
        (`cost`) plus its capacity, and the Lagrangian bound stays a bound.

        `slot_price` (3 x regions x slots) is the capacity price of a GPU, of a GPU-side kW
        and of a big job's place, in each region and slot.
        """
        instance = self.instance
        job = instance.jobs[job_index]
        prep = self.prepared[job_index]
        starts = prep.starts
        duration = job.duration_slots
        if starts.size == 0 or duration <= 0:
            return []
        regions = self.regions
        capacity_price = (
            slot_price[0] * job.gpus
            + slot_price[1] * job.busy_kw
            + np.where(self.big[job_index], slot_price[2], 0.0)
        )
        held_prefix = np.zeros((regions, self.slots + 1))
        np.cumsum(capacity_price, axis=1, out=held_prefix[:, 1:])
        depth = int(prep.move_cap.max()) + 1 if prep.can_move else 1
        paths = _cheapest_paths(instance, job, prep, capacity_price, depth)
        value = paths.value
        total = np.where(
            np.arange(depth)[None, None, :] <= prep.move_cap[:, None, None], value, np.inf
        )
        first = starts + duration
        for moves in range(1, depth):
            last = np.minimum(first + prep.extension[moves], self.slots)
            held = held_prefix[:, last] - held_prefix[:, first]
            tail = _tail_cost(
                energy_prefix=self.energy_prefix,
                job=job,
                delay_min=prep.delay_min_slots,
                end=first,
                moves=moves,
                slot_h=instance.slot_h,
            )
            total[:, :, moves] += (held + tail).T
        priced = total.reshape(-1)
        found: list[tuple[float, int, tuple[int, ...]]] = []
        for flat_index in np.argsort(priced, kind="stable")[:_COLUMNS_PER_PRICING]:
            plan_cost = float(priced[flat_index])
            if not math.isfinite(plan_cost):
                break
            start_row, region, level = (
                int(v) for v in np.unravel_index(int(flat_index), total.shape)
            )
            path = paths.walk_back(start_row, region, level)
            found.append((plan_cost, int(starts[start_row]), path))
        return found


@dataclass(frozen=True, slots=True)
class _Paths:
    """Pricing's dynamic programme over (start, region, moves so far), run to the last slot."""

    value: FloatArray
    """starts x regions x moves: cheapest cost (capacity included) ending there."""
    source: NDArray[np.int16]
    """steps x starts x regions x moves: the region a move into this state came from; -1 if
    the run was already here the step before."""
    moved_at: NDArray[np.int16]
    """Same shape: the step that move happened (the run stayed here from it on)."""

    def walk_back(self, start_row: int, region: int, level: int) -> tuple[int, ...]:
        """The region of every slot of the cheapest path ending in `region` after `level`
        moves."""
        path: list[int] = []
        current, step = region, self.source.shape[0] - 1
        while step >= 0:
            previous = int(self.source[step, start_row, current, level])
            if previous < 0:
                path.append(current)
                step -= 1
                continue
            first_there = int(self.moved_at[step, start_row, current, level])
            path.extend([current] * (step - first_there + 1))
            current, step, level = previous, first_there - 1, level - 1
        path.reverse()
        return tuple(path)


def _excess_tail(instance: OptimumInstance, job: OptimumJob, prep: _Prepared) -> FloatArray:
    """starts x a x b: a floor on what a move a -> b appends beyond the smallest delay.

    `_tail_cost` prices each move's appended work with the smallest delay; the rest of a
    slower move's delay also runs after the run, where no rate is below the lowest of any
    allowed region over the slots the run may hold after its end. Charging it at that rate
    keeps pricing below a plan's true cost, and much closer to it where links differ.
    """
    slots = instance.unit_cost_jpy_per_it_kwh.shape[1]
    downtime = np.where(np.isfinite(job.move_downtime_slots), job.move_downtime_slots, 0.0)
    usable = job._usable_downtime
    beyond = np.maximum(downtime - (float(usable.min()) if usable.size else 0.0), 0.0)
    rates = np.where(job.allowed[:, None], instance.unit_cost_jpy_per_it_kwh, np.inf).min(axis=0)
    ends = prep.starts + job.duration_slots
    floor = np.array(
        [
            rates[end : end + max(int(prep.extension[-1]), 1)].min() if end < slots else 0.0
            for end in ends
        ]
    )
    floor = np.where(np.isfinite(floor), np.maximum(floor, 0.0), 0.0)
    return np.asarray(
        floor[:, None, None] * beyond[None] * job.busy_kw * instance.slot_h, dtype=np.float64
    )


def _cheapest_paths(
    instance: OptimumInstance,
    job: OptimumJob,
    prep: _Prepared,
    capacity_price: FloatArray,
    depth: int,
) -> _Paths:
    """The cheapest way to every (start, final region, moves) through the run's slots.

    A move a -> b at step k keeps the run in b for `lock[a, b]` slots (to its last slot at
    most): it lands at step k + lock - 1 with those slots paid, and waits in `landing` until
    then. So no plan moves again while a checkpoint is still on its way, and each move's idle
    slots are where `_move_price` prices them.
    """
    starts, duration = prep.starts, job.duration_slots
    regions, slots = instance.unit_cost_jpy_per_it_kwh.shape
    blocked = np.where(job.allowed, 0.0, np.inf)
    running = job.busy_kw * instance.slot_h * instance.unit_cost_jpy_per_it_kwh + capacity_price
    slot_cost = running + blocked[:, None]
    stay_prefix = np.zeros((regions, slots + 1))
    np.cumsum(running, axis=1, out=stay_prefix[:, 1:])
    value = np.full((starts.size, regions, depth), np.inf)
    value[:, :, 0] = slot_cost[:, starts].T
    locks = [int(lock) for lock in np.unique(prep.lock)] if depth > 1 else []
    excess = _excess_tail(instance, job, prep) if locks else np.zeros((starts.size, 1, 1))
    landing = np.full((duration, starts.size, regions, max(depth - 1, 0)), np.inf)
    landing_source = np.full(landing.shape, -1, dtype=np.int16)
    landing_step = np.zeros(landing.shape, dtype=np.int16)
    source = np.full((duration, starts.size, regions, depth), -1, dtype=np.int16)
    moved_at = np.zeros((duration, starts.size, regions, depth), dtype=np.int16)
    for step in range(1, duration):
        slot = starts + step
        if locks:
            move = _move_price(instance, job, slot)
            for lock in locks:
                land = min(step + lock - 1, duration - 1)
                held_there = (stay_prefix[:, starts + land + 1] - stay_prefix[:, slot]).T
                leg = np.where(prep.lock[None] == lock, move + excess, np.inf)
                leg = leg + (held_there + blocked[None, :])[:, None, :]
                leg = leg + capacity_price[:, slot].T[:, :, None]  # the region left, held
                arrive = value[:, :, None, :-1] + leg[:, :, :, None]  # start, from, to, m-1
                origin = np.argmin(arrive, axis=1)
                best = np.take_along_axis(arrive, origin[:, None, :, :], axis=1)[:, 0]
                better = best < landing[land]
                landing[land] = np.where(better, best, landing[land])
                landing_source[land] = np.where(better, origin, landing_source[land])
                landing_step[land] = np.where(better, step, landing_step[land])
        value += slot_cost[:, slot].T[:, :, None]
        if locks:
            improved = landing[step] < value[:, :, 1:]
            value[:, :, 1:] = np.where(improved, landing[step], value[:, :, 1:])
            source[step, :, :, 1:] = np.where(improved, landing_source[step], -1)
            moved_at[step, :, :, 1:] = landing_step[step]
    return _Paths(value=value, source=source, moved_at=moved_at)


def _integer_stage(
    solver: _Solver, penalty: FloatArray, time_limit_s: float
) -> tuple[list[PlannedRun | None], float, str]:
    """The 0-1 programme over the generated columns (every no-move plan among them, so
    packing big jobs has room to choose): the runs, their cost and HiGHS's message."""
    jobs = len(solver.instance.jobs)
    costs, convexity, capacity, limit, _ = solver.master(penalty)
    solved = milp(
        costs,
        constraints=[
            LinearConstraint(convexity, np.ones(jobs), np.ones(jobs)),
            LinearConstraint(capacity, np.full(limit.size, -np.inf), limit),
        ],
        integrality=np.ones(costs.size),
        bounds=Bounds(0.0, 1.0),
        options={"time_limit": time_limit_s, "mip_rel_gap": 1e-4, "disp": False},
    )
    runs: list[PlannedRun | None] = [None] * jobs
    objective = 0.0
    if solved.x is not None:
        chosen = np.flatnonzero(np.asarray(solved.x)[: len(solver.columns)] > 0.5)
        for index in chosen:
            column = solver.columns[int(index)]
            runs[column.job] = PlannedRun(
                start_slot=column.start,
                regions=column.regions,
                moves=column.moves,
                cost_jpy=column.cost,
            )
            objective += column.cost
    return runs, objective, str(solved.message)


@dataclass(frozen=True, slots=True)
class _Pricing:
    """Every job priced at one capacity price: its Lagrangian bound and the plans found."""

    bound: float
    plans: list[list[tuple[int, tuple[int, ...]]]]
    """Per job, its cheapest plans (start, path) at that price."""
    cheapest: FloatArray
    """Per job, pricing's value of its cheapest plan at that price (capacity included;
    `inf` when it has none): a lower bound on every plan's true cost plus capacity."""


def _slot_price(solver: _Solver, row_price: FloatArray) -> FloatArray:
    """Row prices (GPU, power, big-job rows) as `price` wants them: per GPU, per GPU-side kW
    (the power row's price times PUE) and per big job's place, in each region and slot."""
    gpu, power, pair = row_price.reshape(3, solver.regions, solver.slots)
    return np.stack([gpu, power * solver.instance.pue[:, None], pair])


def _price_all(solver: _Solver, row_price: FloatArray, penalty: FloatArray) -> _Pricing:
    """The Lagrangian bound at `row_price` (any prices >= 0 give one) and each job's best plans.

    Relaxing the capacity rows at prices p leaves one independent problem per job:
    L(p) = sum over jobs of min(its cheapest plan at p, not scheduling it) - p . limit.
    """
    slot_price = _slot_price(solver, row_price)
    bound = -float(row_price @ solver.limit)
    plans: list[list[tuple[int, tuple[int, ...]]]] = []
    cheapest = np.full(len(solver.instance.jobs), np.inf)
    for index in range(len(solver.instance.jobs)):
        found = solver.price(index, slot_price)
        if found:
            cheapest[index] = found[0][0]
        bound += min([float(penalty[index]), *(total for total, _, _ in found)])
        plans.append([(start, path) for _, start, path in found])
    return _Pricing(bound=bound, plans=plans, cheapest=cheapest)


def lagrangian_bound(
    instance: OptimumInstance, row_price: FloatArray, *, max_moves_per_job: int = 8
) -> float:
    """The Lagrangian lower bound at capacity prices `row_price` (>= 0; GPU rows, then power
    rows, then big-job rows, each regions x slots flattened): no schedule that schedules every
    job costs less. Column generation evaluates it every round; exposed for tests."""
    solver = _Solver(instance, max_moves_per_job)
    # Leaving a job unscheduled is priced out: every plan is cheaper than this.
    penalty = np.full(len(instance.jobs), np.inf)
    return _price_all(solver, np.asarray(row_price, dtype=np.float64), penalty).bound


def _add_improving(
    solver: _Solver,
    plans: list[list[tuple[int, tuple[int, ...]]]],
    row_price: FloatArray,
    convexity_dual: FloatArray,
) -> int:
    """Add the plans whose reduced cost at the master's duals is negative; how many were."""
    added = 0
    for index, job_plans in enumerate(plans):
        dual = float(convexity_dual[index])
        for start, path in job_plans:
            key = (index, start, path)
            if key in solver.seen:
                continue
            column = solver.column(index, start, path)
            reduced = column.cost + float(row_price[column.rows] @ column.values) - dual
            if reduced < -_REDUCED_COST_TOL * max(1.0, abs(dual)):
                solver.seen.add(key)
                solver.columns.append(column)
                added += 1
    return added


def solve_optimum(
    instance: OptimumInstance,
    *,
    max_moves_per_job: int = 8,
    max_iterations: int = 300,
    time_limit_s: float = 120.0,
) -> OptimumResult:
    """Column generation, then a 0-1 programme over the columns (see the module docstring).

    Duals are smoothed (Wentges): each round prices at a mix of the master's duals and the
    prices that gave the best Lagrangian bound so far. Plain column generation zig-zags
    through dual space and tails off for hundreds of rounds; the smoothed prices move steadily
    towards the optimum's, and every round still yields a valid bound. When the smoothed
    prices find no improving column, the round falls back to the master's own duals.
    """
    solver = _Solver(instance, max_moves_per_job)
    jobs = instance.jobs
    # Every no-move plan from the start: most of any good schedule is made of them, and the
    # master LP handles tens of thousands of columns in well under a second.
    solver.add_plain(every_start=True)
    # Not scheduling a job costs more than any plan of it: every feasible job gets scheduled.
    worst = np.zeros(len(jobs))
    for column in solver.columns:
        worst[column.job] = max(worst[column.job], column.cost)
    penalty = 10.0 * worst + 1e6
    lower_bound = -math.inf
    centre = np.zeros_like(solver.limit)
    converged = False
    iterations = 0
    history: list[float] = []
    for iterations in range(1, max_iterations + 1):  # noqa: B007 - reported after the loop
        costs, convexity, capacity, limit, present = solver.master(penalty)
        result = linprog(
            costs,
            A_ub=capacity,
            b_ub=limit,
            A_eq=convexity,
            b_eq=np.ones(len(jobs)),
            bounds=(0, None),
            method="highs",
        )
        if result.status != 0:
            break
        master_price = np.zeros_like(solver.limit)
        # Duals of <= rows are <= 0; a capacity price is their negation.
        master_price[present] = np.maximum(-np.asarray(result.ineqlin.marginals), 0.0)
        convexity_dual = np.asarray(result.eqlin.marginals, dtype=np.float64)
        added = 0
        for alpha in (_SMOOTHING, 0.0) if math.isfinite(lower_bound) else (0.0,):
            row_price = alpha * centre + (1.0 - alpha) * master_price
            pricing = _price_all(solver, row_price, penalty)
            if pricing.bound > lower_bound:
                lower_bound, centre = pricing.bound, row_price
            added = _add_improving(solver, pricing.plans, master_price, convexity_dual)
            if added:
                break
        value = float(result.fun)
        if added == 0 or value - lower_bound <= _BOUND_TOL * max(1.0, abs(value)):
            converged = True
            reduced = pricing.cheapest - convexity_dual
            if added == 0 and bool(
                (reduced >= -_REDUCED_COST_TOL * np.maximum(1.0, np.abs(convexity_dual))).all()
            ):
                # Not even pricing's lower estimate of any plan prices out at the master's
                # duals, so no column can: the LP optimum is a bound. (Pricing may find plans
                # that only look improving: their tails are priced with the smallest delay.)
                lower_bound = max(lower_bound, value)
            break
        history.append(value - lower_bound)
        if len(history) > _STALL_ROUNDS and history[-_STALL_ROUNDS - 1] - history[-1] <= (
            _BOUND_TOL * max(1.0, abs(value))
        ):
            break

    runs, objective, message = _integer_stage(solver, penalty, time_limit_s)
    unscheduled = sum(penalty[i] for i, run in enumerate(runs) if run is None)
    bound = lower_bound - unscheduled if math.isfinite(lower_bound) else -math.inf
    return OptimumResult(
        runs=tuple(runs),
        objective_jpy=objective,
        lower_bound_jpy=min(bound, objective) if any(runs) else bound,
        iterations=iterations,
        columns=len(solver.columns),
        converged=converged,
        max_moves_used=max((run.moves for run in runs if run is not None), default=0),
        message=message,
    )
