"""How far runs overrun their expected duration, from the runs that finished.

The deadline margin protects against a run taking longer than it said. A constant share of the
runtime (the policy's `safety_margin_fraction`) is a guess: too small where estimates are poor,
and where they are good it gives up every cheap window in the last hours before a deadline. Once
enough runs have finished, the share is sized from their errors instead: a high quantile of
(actual - expected) / expected, so that about one run in ten overruns the margin's share.

Pure: the operator feeds it finished Jobs, the simulator its finished jobs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

MIN_RUNS = 10
"""Finished runs needed before their errors replace the policy's constant share."""
QUANTILE = 0.9
"""The share of runs the margin's share covers."""


@dataclass(frozen=True, slots=True)
class FinishedRun:
    """One run that finished, never moved or suspended (its wall time is its run time)."""

    expected_s: float
    actual_s: float


def overrun_fraction(runs: Iterable[FinishedRun]) -> float | None:
    """The `QUANTILE` of the runs' relative overruns (0 when runs end early); None with fewer
    than `MIN_RUNS` usable runs (a positive expected duration)."""
    errors = [
        (run.actual_s - run.expected_s) / run.expected_s for run in runs if run.expected_s > 0.0
    ]
    if len(errors) < MIN_RUNS:
        return None
    return max(float(np.quantile(np.array(errors), QUANTILE)), 0.0)
