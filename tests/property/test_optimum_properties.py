"""Properties of the offline optimum (wattbit.core.optimum) against brute force.

On random instances small enough to enumerate (jobs that cannot move, competing for one
region's GPUs in each slot), the column generation's lower bound never exceeds the true
optimum and the 0-1 programme finds it. The bound comes from the smoothed prices of every
round, so this also checks that each of those rounds yields a valid bound.
"""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.test_core_optimum import instance, job
from wattbit.core.optimum import OptimumJob, lagrangian_bound, solve_optimum

SLOTS = 6
REGIONS = 2
CAPACITY = 8.0
rates_strategy = st.lists(
    st.integers(min_value=0, max_value=9), min_size=REGIONS * SLOTS, max_size=REGIONS * SLOTS
)
shapes_strategy = st.lists(
    st.tuples(st.integers(min_value=1, max_value=3), st.integers(min_value=0, max_value=2)),
    min_size=2,
    max_size=4,
)
"""(duration, arrival) of each job; every job needs a whole region's GPUs and cannot move."""
SMALL = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _world(rates: list[int], shapes: list[tuple[int, int]]) -> tuple[np.ndarray, list[OptimumJob]]:
    unit = np.array(rates, dtype=np.float64).reshape(REGIONS, SLOTS)
    jobs = [
        job(
            arrival=arrival,
            duration=duration,
            end_by=SLOTS,
            gpus=CAPACITY,
            regions=REGIONS,
            movable=False,
        )
        for duration, arrival in shapes
    ]
    return unit, jobs


def _brute_force(rates: np.ndarray, jobs: list[OptimumJob]) -> float:
    """The cheapest capacity-feasible schedule, by trying every start and region."""
    choices = [
        [
            (region, start)
            for region in range(REGIONS)
            for start in range(item.arrival_slot, SLOTS - item.duration_slots + 1)
        ]
        for item in jobs
    ]
    best = np.inf
    for plan in itertools.product(*choices):
        used = np.zeros((REGIONS, SLOTS))
        cost = 0.0
        for item, (region, start) in zip(jobs, plan, strict=True):
            used[region, start : start + item.duration_slots] += item.gpus
            cost += float(rates[region, start : start + item.duration_slots].sum())
        if (used <= CAPACITY).all():
            best = min(best, cost)
    return float(best)


@SMALL
@given(rates=rates_strategy, shapes=shapes_strategy)
def test_the_bound_never_exceeds_the_optimum_and_the_schedule_reaches_it(
    rates: list[int], shapes: list[tuple[int, int]]
) -> None:
    unit, jobs = _world(rates, shapes)
    optimum = _brute_force(unit, jobs)
    if not np.isfinite(optimum):
        return  # no capacity-feasible schedule: the solver's treatment is tested elsewhere
    result = solve_optimum(instance(unit.tolist(), jobs, capacity=CAPACITY))
    assert all(run is not None for run in result.runs)
    assert result.converged
    assert result.lower_bound_jpy <= optimum + 1e-6
    assert abs(result.objective_jpy - optimum) <= 1e-4 * max(1.0, optimum) + 1e-6


@SMALL
@given(
    rates=rates_strategy,
    shapes=shapes_strategy,
    prices=st.lists(
        st.floats(min_value=0.0, max_value=20.0), min_size=REGIONS * SLOTS, max_size=REGIONS * SLOTS
    ),
)
def test_any_capacity_prices_give_a_valid_bound(
    rates: list[int], shapes: list[tuple[int, int]], prices: list[float]
) -> None:
    # Every round of column generation prices at some mix of duals; whatever the mix, the
    # Lagrangian bound there must stay below the true optimum.
    unit, jobs = _world(rates, shapes)
    optimum = _brute_force(unit, jobs)
    if not np.isfinite(optimum):
        return
    row_price = np.zeros(3 * REGIONS * SLOTS)
    # Per-GPU prices on the GPU rows (the power and big-job rows stay unpriced here).
    row_price[: REGIONS * SLOTS] = np.array(prices) / CAPACITY
    world = instance(unit.tolist(), jobs, capacity=CAPACITY)
    assert lagrangian_bound(world, row_price) <= optimum + 1e-6
