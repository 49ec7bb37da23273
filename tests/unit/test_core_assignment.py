"""Capacity-aware assignment (wattbit.core.assignment): the ledger, greedy and exact passes.

Covers: fits and reserve over slot ranges, GPUs and power; greedy takes the first option that
fits, in order, and reports contention; the exact pass (HiGHS) beats greedy order on a case
where the first workload's greedy choice starves the second; it never over-commits.
Skips: how the planner builds options (test_core_planner.py).
"""

from __future__ import annotations

import numpy as np

from wattbit.core.assignment import CapacityLedger, Option, assign_exactly, assign_greedily


def option(
    workload: int, region: int, cost: float, *, gpus: float = 8, slots: tuple[int, int] = (0, 2)
) -> Option:
    return Option(
        workload=workload,
        region=region,
        first_slot=slots[0],
        end_slot=slots[1],
        gpus=gpus,
        power_kw=gpus * 0.7,
        cost_jpy=cost,
    )


def ledger(gpus: list[list[float]], power: list[list[float]] | None = None) -> CapacityLedger:
    free = np.array(gpus, dtype=np.float64)
    headroom = np.full_like(free, np.inf) if power is None else np.array(power, dtype=np.float64)
    return CapacityLedger(free, headroom)


def test_ledger_checks_every_slot_and_power() -> None:
    room = ledger([[8, 8, 4]], power=[[100, 100, 100]])
    assert room.fits(option(0, 0, 1.0, slots=(0, 2)))
    assert not room.fits(option(0, 0, 1.0, slots=(1, 3)))
    room.reserve(option(0, 0, 1.0, slots=(0, 1)))
    assert room.free_gpus[0].tolist() == [0, 8, 4]
    assert room.power_headroom_kw[0].tolist() == [100 - 5.6, 100, 100]
    tight = ledger([[64]], power=[[5.0]])
    assert not tight.fits(option(0, 0, 1.0, slots=(0, 1)))
    assert tight.fits(option(0, 0, 1.0, slots=(0, 0)))  # an empty range always fits


def test_greedy_takes_the_first_option_that_fits_and_reports_contention() -> None:
    room = ledger([[8, 8], [8, 8]])
    choices = [[option(0, 0, 1.0), option(0, 1, 2.0)], [option(1, 0, 1.0), option(1, 1, 2.0)]]
    chosen, contended = assign_greedily(choices, room)
    assert [(o.workload, o.region) for o in chosen if o] == [(0, 0), (1, 1)]
    assert contended
    assert room.free_gpus.sum() == 0


def test_greedy_without_contention() -> None:
    chosen, contended = assign_greedily([[option(0, 0, 1.0)]], ledger([[8, 8]]))
    assert chosen[0] is not None
    assert not contended


def test_exact_assignment_beats_the_greedy_order() -> None:
    # Workload 0 barely prefers region 0; workload 1 loses a lot outside it.
    choices = [
        [option(0, 0, 10.0), option(0, 1, 11.0)],
        [option(1, 0, 10.0), option(1, 1, 100.0)],
    ]
    greedy, _ = assign_greedily(choices, ledger([[8, 8], [8, 8]]))
    exact = assign_exactly(choices, ledger([[8, 8], [8, 8]]))
    assert exact is not None
    greedy_cost = sum(o.cost_jpy for o in greedy if o)
    exact_cost = sum(o.cost_jpy for o in exact if o)
    assert exact_cost < greedy_cost
    assert [(o.workload, o.region) for o in exact if o] == [(0, 1), (1, 0)]


def test_exact_assignment_places_as_many_as_fit_and_never_overcommits() -> None:
    room = ledger([[8, 8]])
    choices = [[option(0, 0, 1.0)], [option(1, 0, 1.0)], []]
    exact = assign_exactly(choices, room)
    assert exact is not None
    assert sum(o is not None for o in exact) == 1
    assert (room.free_gpus >= 0).all()
    assert assign_exactly([[], []], ledger([[8]])) == [None, None]
