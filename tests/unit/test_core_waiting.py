"""Waiting for a cheaper window, re-decided every hour (wattbit.core.starts.waiting_charge).

Covers: the charge a later start pays grows with the wait (per half day of waiting); a wait planned
for a window keeps its start as the window nears (the receding-horizon erosion of a flat
charge); a marginal dip still does not justify waiting. Skips: capacity (test_core_planner).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from wattbit.core.model import (
    DecisionKind,
    Horizon,
    Policy,
    RegionName,
    RegionSnapshot,
    WorkloadId,
    WorkloadSnapshot,
)
from wattbit.core.planner import decide
from wattbit.core.starts import waiting_charge

JST = timezone(timedelta(hours=9))
T0 = datetime(2025, 7, 7, 18, 0, tzinfo=JST)
# Carbon falls by 40 g an hour towards a three-hour window at 100 g from hour 6, then peaks.
CARBON = [400.0 - 40.0 * hour for hour in range(6)] + [100.0] * 3 + [400.0] * 39


def _decide_at(hour: int, policy: Policy) -> tuple[DecisionKind, datetime | None]:
    now = T0 + timedelta(hours=hour)
    forecast = tuple(CARBON[hour : hour + 24])
    region = RegionSnapshot(
        name=RegionName("tokyo"),
        carbon_g_per_kwh=forecast[0],
        price_jpy_per_kwh=10.0,
        signal_observed_at=now,
        carbon_forecast_g_per_kwh=forecast,
        price_forecast_jpy_per_kwh=(10.0,),
        free_gpus=(64,),
    )
    job = WorkloadSnapshot(
        workload_id=WorkloadId("job"),
        gpus=8,
        remaining_runtime_s=3 * 3600.0,
        deadline=T0 + timedelta(hours=30),
        home_region=RegionName("tokyo"),
        submitted_at=T0,
    )
    (decision,) = decide(
        regions=[region],
        workloads=[job],
        policy=policy,
        now=now,
        horizon=Horizon(start=now, slot_s=3600.0, slot_count=24),
    )
    return decision.kind, decision.start_at


@pytest.mark.parametrize("share", [0.01, 0.05, 0.1])
def test_a_planned_wait_keeps_its_start_as_the_window_nears(share: float) -> None:
    # Starting at hour 5 instead of 6 costs under 3 % more: a flat charge of the minimum on
    # every later start made the workload start early once the window was that close.
    policy = Policy(min_saving_fraction=share)
    window = T0 + timedelta(hours=6)
    for hour in range(6):
        kind, start_at = _decide_at(hour, policy)
        assert (kind, start_at) == (DecisionKind.WAIT, window), f"hour {hour}"
    assert _decide_at(6, policy) == (DecisionKind.RUN_NOW, window)


def test_the_charge_grows_with_the_wait() -> None:
    class _Ctx:
        horizon = Horizon(start=T0, slot_s=3600.0, slot_count=48)
        policy = Policy(min_saving_jpy=5.0)

    required = np.array([240.0, 24.0])
    delays = np.array([0.0, 1.0, 12.0, 24.0, 48.0])
    charge = waiting_charge(required, delays, _Ctx())  # type: ignore[arg-type]
    # 240 JPY per half day is 20 an hour; the flat floor (5 JPY) applies to any later start.
    assert charge[0].tolist() == pytest.approx([0.0, 20.0, 240.0, 480.0, 960.0])
    assert charge[1].tolist() == pytest.approx([0.0, 5.0, 24.0, 48.0, 96.0])
