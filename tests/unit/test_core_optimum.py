"""The offline optimum (wattbit.core.optimum): column generation and the 0-1 programme.

Covers, on instances small enough to check by hand: the cheapest window and region; capacity
shared over time (the second job waits or goes elsewhere); a deadline that forbids the cheap
window; a profitable hop (move there and back) with its costs; regions a job can never fit in;
the bound never exceeds the schedule. Skips: scale (bench/bench_policies.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from wattbit.core.optimum import OptimumInstance, OptimumJob, solve_optimum


def instance(
    rates: Sequence[Sequence[float]],
    jobs: list[OptimumJob],
    capacity: float = 8.0,
    power: float = np.inf,
) -> OptimumInstance:
    unit = np.array(rates, dtype=np.float64)
    regions, slots = unit.shape
    return OptimumInstance(
        unit_cost_jpy_per_it_kwh=unit,
        adjusted_jpy_per_kwh=unit,
        pue=np.ones(regions),
        capacity_gpus=np.full((regions, slots), capacity),
        power_cap_kw=np.full((regions, slots), power),
        slot_h=1.0,
        jobs=tuple(jobs),
    )


def job(
    *,
    arrival: int = 0,
    duration: int = 2,
    end_by: int = 6,
    gpus: float = 8.0,
    regions: int = 2,
    downtime: float = 0.1,
    lost: float = 0.0,
    movable: bool = True,
) -> OptimumJob:
    fixed = (
        np.zeros((regions, regions))
        if movable
        else np.where(np.eye(regions, dtype=bool), 0.0, np.inf)
    )
    return OptimumJob(
        arrival_slot=arrival,
        duration_slots=duration,
        end_by_slot=end_by,
        gpus=gpus,
        busy_kw=1.0,
        idle_kw=0.1,
        allowed=np.ones(regions, dtype=bool),
        move_downtime_slots=np.where(np.eye(regions, dtype=bool), 0.0, downtime),
        lost_slots=lost,
        move_network_kwh=np.zeros((regions, regions)),
        move_fixed_jpy=fixed,
    )


def test_picks_the_cheapest_window_and_region() -> None:
    rates = [[5, 5, 1, 1, 5, 5], [4, 4, 4, 4, 4, 4]]
    result = solve_optimum(instance(rates, [job(movable=False)]))
    run = result.runs[0]
    assert run is not None
    assert (run.start_slot, run.regions) == (2, (0, 0))
    assert result.objective_jpy == pytest.approx(2.0)
    assert result.lower_bound_jpy <= result.objective_jpy + 1e-6
    assert result.converged


def test_capacity_is_shared_over_time() -> None:
    rates = [[1, 1, 1, 1, 9, 9], [3, 3, 3, 3, 3, 3]]
    jobs = [job(movable=False, duration=4), job(movable=False, duration=4)]
    result = solve_optimum(instance(rates, jobs, capacity=8.0))
    runs = [run for run in result.runs if run is not None]
    assert len(runs) == 2
    regions = sorted(run.regions[0] for run in runs)
    assert regions == [0, 1]  # both cannot fit in region 0's cheap slots
    assert result.objective_jpy == pytest.approx(4 * 1 + 4 * 3)


def test_the_deadline_rules_out_the_cheap_window() -> None:
    rates = [[5, 5, 5, 1, 1, 1]]
    result = solve_optimum(instance(rates, [job(regions=1, end_by=3, movable=False)]))
    run = result.runs[0]
    assert run is not None
    assert run.start_slot + 2 <= 3


def test_a_hop_pays_when_a_dip_beats_its_cost() -> None:
    # Region 1 is nearly free for two slots in the middle of a six-slot run.
    rates = [[5, 5, 5, 5, 5, 5, 5, 5], [9, 9, 0, 0, 9, 9, 9, 9]]
    result = solve_optimum(
        instance(rates, [job(duration=6, end_by=8, downtime=0.1)]), max_moves_per_job=2
    )
    run = result.runs[0]
    assert run is not None
    assert run.moves == 2
    # Slots 2 and 3 (absolute) run in region 1, the rest in region 0.
    by_slot = {run.start_slot + k: region for k, region in enumerate(run.regions)}
    assert (by_slot[2], by_slot[3]) == (1, 1)
    assert {by_slot[k] for k in by_slot if k not in (2, 3)} == {0}
    # 4 slots at 5, 2 at 0, two downtimes swapping busy for idle work, and their delay
    # appended at the end (region 0 at 5).
    assert run.cost_jpy < 6 * 5


def test_a_region_a_job_can_never_fit_in_is_not_used() -> None:
    rates = [[0, 0, 0, 0], [5, 5, 5, 5]]
    small_region = instance(rates, [job(gpus=16, end_by=4, movable=False)], capacity=16.0)
    capacity = small_region.capacity_gpus.copy()
    capacity[0] = 8.0
    result = solve_optimum(
        OptimumInstance(
            unit_cost_jpy_per_it_kwh=small_region.unit_cost_jpy_per_it_kwh,
            adjusted_jpy_per_kwh=small_region.adjusted_jpy_per_kwh,
            pue=small_region.pue,
            capacity_gpus=capacity,
            power_cap_kw=small_region.power_cap_kw,
            slot_h=1.0,
            jobs=small_region.jobs,
        )
    )
    run = result.runs[0]
    assert run is not None
    assert set(run.regions) == {1}
    assert result.lower_bound_jpy == pytest.approx(result.objective_jpy)


def test_an_impossible_job_is_left_unscheduled() -> None:
    result = solve_optimum(
        instance([[1, 1]], [job(regions=1, duration=4, end_by=2, movable=False)])
    )
    assert result.runs == (None,)
