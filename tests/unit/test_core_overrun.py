"""The deadline margin sized from how far finished runs overran (wattbit.core.overrun).

Matrix: too few runs -> unknown; the 90th percentile of relative overruns; runs that end early
count as no overrun; runs without an expected duration are ignored; and in `decide`, the same
tight deadline lets a workload wait for a cheap window when runs kept to their estimates,
while with the policy's constant share, or with runs that overran, it may not.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from tests.unit.test_core_planner import NOW, make_region, one, workload
from wattbit.core.model import DecisionKind
from wattbit.core.overrun import MIN_RUNS, FinishedRun, overrun_fraction


def runs(*overruns: float, expected_s: float = 3600.0) -> list[FinishedRun]:
    return [FinishedRun(expected_s=expected_s, actual_s=expected_s * (1 + o)) for o in overruns]


def test_too_few_runs_say_nothing() -> None:
    assert overrun_fraction(runs(*[0.5] * (MIN_RUNS - 1))) is None
    assert overrun_fraction(runs(*[0.5] * MIN_RUNS)) == pytest.approx(0.5)


def test_the_ninetieth_percentile_of_overruns() -> None:
    overruns = [i / 100 for i in range(101)]  # 0 % .. 100 %
    assert overrun_fraction(runs(*overruns)) == pytest.approx(0.9)


def test_runs_that_end_early_are_no_overrun() -> None:
    assert overrun_fraction(runs(*[-0.3] * 20)) == 0.0


def test_runs_without_an_expected_duration_are_ignored() -> None:
    assert overrun_fraction(runs(*[0.1] * 20, expected_s=0.0)) is None


def test_the_margin_follows_the_overrun() -> None:
    dip = [400.0] * 3 + [100.0] * 21
    regions = [make_region("tokyo").carbon(*dip).price(10)]
    item = workload(hours=20, deadline_h=24.0)
    # Unknown: 30 min + 5 % of 20 h leaves the start at hour 2 at the latest.
    unknown = one(regions, item)
    assert unknown.kind is DecisionKind.WAIT
    assert unknown.start_at == NOW + timedelta(hours=2)
    # Runs kept to their estimates: 30 min is kept, and the whole cheap window fits.
    kept = one(regions, replace(item, runtime_overrun_fraction=0.0))
    assert kept.kind is DecisionKind.WAIT
    assert kept.start_at == NOW + timedelta(hours=3)
    # Runs overran by 20 %: 4.5 h of margin; it cannot wait at all.
    assert one(regions, replace(item, runtime_overrun_fraction=0.2)).kind is DecisionKind.RUN_NOW
