"""Cost arithmetic (wattbit.core.cost): carbon folded into price, window integrals, moves.

Covers: the adjusted rate and its weights; the region grid (slot 0 is the current signal,
short forecasts repeat, sorted by name, stale and free capacity); cost curves over fractional
windows and past the horizon; every item of a move's cost and its monotonicity in downtime and
lost work; link transfer time. Skips: planner decisions (test_core_planner.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wattbit.core.cost import (
    CostCurve,
    adjusted_jpy_per_kwh,
    build_region_grid,
    checkpoint_write_s,
    lost_work_s,
    move_cost,
    move_cost_jpy,
)
from wattbit.core.model import (
    Horizon,
    LinkSnapshot,
    Policy,
    RegionName,
    RegionSnapshot,
    WorkloadId,
    WorkloadSnapshot,
)

JST = timezone(timedelta(hours=9))
NOW = datetime(2025, 4, 7, 9, 0, tzinfo=JST)


def test_carbon_is_folded_into_price_at_the_internal_carbon_price() -> None:
    policy = Policy(carbon_price_jpy_per_tonne=10_000)
    # 10 JPY + 500 g x 0.01 JPY/g
    assert float(adjusted_jpy_per_kwh(10.0, 500.0, policy)) == pytest.approx(15.0)
    weighted = Policy(carbon_price_jpy_per_tonne=10_000, price_weight=0.0, carbon_weight=2.0)
    assert float(adjusted_jpy_per_kwh(10.0, 500.0, weighted)) == pytest.approx(10.0)


def test_required_saving_uses_the_larger_of_share_and_minimum() -> None:
    policy = Policy(min_saving_fraction=0.05, min_saving_jpy=100.0)
    assert policy.required_saving_jpy(1000.0) == 100.0
    assert policy.required_saving_jpy(10_000.0) == 500.0
    assert Policy(forecast_uncertainty_fraction=0.1, min_saving_fraction=0.05).required_saving_jpy(
        100.0
    ) == pytest.approx(15.0)


def region(name: str, **changes: object) -> RegionSnapshot:
    values: dict[str, object] = {
        "name": RegionName(name),
        "carbon_g_per_kwh": 100.0,
        "price_jpy_per_kwh": 5.0,
        "signal_observed_at": NOW,
    }
    values.update(changes)
    return RegionSnapshot(**values)  # type: ignore[arg-type]


def test_grid_sorts_regions_uses_current_signal_for_slot_zero_and_repeats_short_forecasts() -> None:
    grid = build_region_grid(
        [
            region("b", carbon_forecast_g_per_kwh=(999.0, 200.0), free_gpus=(4, 8)),
            region("a", signal_observed_at=NOW - timedelta(hours=2), pue=1.5),
        ],
        Horizon(start=NOW, slot_count=4),
        Policy(),
        NOW,
    )
    assert grid.names == ("a", "b")
    assert grid.carbon_g_per_kwh[1].tolist() == [100.0, 200.0, 200.0, 200.0]
    assert grid.carbon_g_per_kwh[0].tolist() == [100.0] * 4
    assert grid.free_gpus[1].tolist() == [4, 8, 8, 8]
    assert grid.fresh.tolist() == [False, True]
    assert np.isinf(grid.power_headroom_kw).all()
    assert grid.unit_cost_jpy_per_it_kwh[0, 0] == pytest.approx(1.5 * (5.0 + 1.0))
    assert grid.index(RegionName("b")) == 1
    assert grid.index(RegionName("zz")) == -1


def test_duplicate_region_names_are_rejected() -> None:
    with pytest.raises(ValueError, match="unique"):
        build_region_grid([region("a"), region("a")], Horizon(start=NOW), Policy(), NOW)


def test_cost_curve_integrates_fractional_windows_and_extends_with_the_mean() -> None:
    curve = CostCurve.from_rates(np.array([[1.0, 3.0]]))
    assert float(curve.between(0, 0.5, 1.5)) == pytest.approx(0.5 * 1 + 0.5 * 3)
    assert float(curve.between(0, 0.0, 2.0)) == pytest.approx(4.0)
    # Past the horizon the mean rate (2) applies.
    assert float(curve.between(0, 1.0, 4.0)) == pytest.approx(3.0 + 2 * 2.0)
    assert curve.slot_count == 2


def test_cost_curve_repeats_the_mean_day_past_the_horizon() -> None:
    # Six slots, period three: past the horizon the mean of the two days repeats, slot by
    # slot: (2+1)/2, (2+5)/2, (2+9)/2 = 1.5, 3.5, 5.5 (a day of 10.5).
    curve = CostCurve.from_rates(np.array([[2.0, 2.0, 2.0, 1.0, 5.0, 9.0]]), period_slots=3)
    assert float(curve.between(0, 6.0, 7.0)) == pytest.approx(1.5)
    assert float(curve.between(0, 6.0, 9.0)) == pytest.approx(10.5)
    assert float(curve.between(0, 7.5, 10.5)) == pytest.approx(0.5 * 3.5 + 5.5 + 1.5 + 0.5 * 3.5)
    assert float(curve.between(0, 5.0, 13.0)) == pytest.approx(9 + 2 * 10.5 + 1.5)
    # Inside the horizon nothing changes; past the tabulated week, the mean day's mean (3.5).
    assert float(curve.between(0, 0.0, 6.0)) == pytest.approx(21.0)
    assert curve.slot_count == 6
    assert float(curve.between(0, 27.0, 30.0)) == pytest.approx(10.5)


def test_one_unusual_last_day_is_not_extrapolated_alone() -> None:
    # A forecast ending on a cheap day (a weekend, a curtailment): the days past it are the
    # mean of the forecast's days, not that cheap day again (the last day alone made a whole
    # week look cheap, and long runs waited for savings that never came).
    weekday, weekend = [20.0] * 24, [5.0] * 24
    curve = CostCurve.from_rates(np.array([weekday + weekend]), period_slots=24)
    assert float(curve.between(0, 48.0, 72.0)) == pytest.approx(24 * 12.5)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 4),
    st.integers(1, 30),
    st.lists(st.floats(0.0, 60.0), min_size=1, max_size=6),
    st.lists(st.floats(0.0, 400.0), min_size=1, max_size=5),
    st.integers(0, 1_000),
)
def test_windows_are_the_integrals_between_each_start_and_end(
    regions: int, slots: int, starts: list[float], lengths: list[float], seed: int
) -> None:
    rates = np.random.default_rng(seed).uniform(-5.0, 50.0, size=(regions, slots))
    curve = CostCurve.from_rates(rates, period_slots=min(slots, 24))
    begin, length = np.array(starts), np.array(lengths)
    windows = curve.windows(begin, length)
    assert windows.shape == (len(lengths), regions, len(starts))
    expected = curve.between(
        np.arange(regions)[None, :, None],
        begin[None, None, :],
        begin[None, None, :] + length[:, None, None],
    )
    np.testing.assert_allclose(windows, expected, rtol=1e-12, atol=1e-9)


def test_cost_curve_falls_back_to_the_mean_without_a_whole_period() -> None:
    curve = CostCurve.from_rates(np.array([[1.0, 3.0]]), period_slots=24)
    assert float(curve.between(0, 2.0, 4.0)) == pytest.approx(4.0)


def workload(**changes: object) -> WorkloadSnapshot:
    values: dict[str, object] = {
        "workload_id": WorkloadId("w"),
        "gpus": 8,
        "remaining_runtime_s": 3600.0,
        "checkpoint_size_gb": 1000.0,
        "checkpoint_interval_s": 3600.0,
    }
    values.update(changes)
    return WorkloadSnapshot(**values)  # type: ignore[arg-type]


LINK = LinkSnapshot(
    from_region=RegionName("a"),
    to_region=RegionName("b"),
    latency_ms=5.0,
    bandwidth_gbps=100.0,
    energy_kwh_per_gb=0.002,
)


def test_transfer_is_size_over_bandwidth_plus_latency() -> None:
    assert LINK.transfer_s(1000.0) == pytest.approx(80.005)


def test_lost_work_defaults_to_half_an_interval_and_is_capped_by_it() -> None:
    assert lost_work_s(workload(), NOW) == 1800.0
    assert lost_work_s(workload(last_checkpoint_at=NOW - timedelta(minutes=10)), NOW) == 600.0
    assert lost_work_s(workload(last_checkpoint_at=NOW - timedelta(hours=5)), NOW) == 3600.0
    assert checkpoint_write_s(1000.0, Policy(checkpoint_write_gbps=40.0)) == 200.0


def test_move_cost_itemises_every_part() -> None:
    policy = Policy(restart_overhead_s=300.0, checkpoint_write_gbps=40.0, gpu_hour_value_jpy=100.0)
    cost = move_cost(
        workload=workload(),
        link=LINK,
        policy=policy,
        now=NOW,
        target_adjusted_jpy_per_kwh=10.0,
        target_pue=1.2,
    )
    assert cost.checkpoint_write_s == 200.0
    assert cost.transfer_s == pytest.approx(80.005)
    assert cost.restart_s == 300.0
    assert cost.lost_work_s == 1800.0
    downtime_h = cost.downtime_s / 3600
    assert cost.delay_s == pytest.approx(cost.downtime_s + 1800.0)
    # Idle GPUs (8 x 0.1 kW) through the downtime, 30 min of redone work (8 x 0.7 kW), x PUE,
    # plus 2 kWh of network energy.
    energy = (0.8 * downtime_h + 5.6 * 0.5) * 1.2 + 2.0
    assert cost.energy_kwh == pytest.approx(energy)
    assert cost.cost_jpy == pytest.approx(energy * 10.0 + 8 * (downtime_h + 0.5) * 100.0)


@pytest.mark.parametrize("grows", ["idle_it_kwh", "redo_it_kwh", "shift_it_kwh", "network_kwh"])
@pytest.mark.parametrize(("now", "end"), [(10.0, 5.0), (5.0, 10.0)])
def test_a_longer_move_never_costs_less(grows: str, now: float, end: float) -> None:
    parts = {"idle_it_kwh": 1.0, "redo_it_kwh": 2.0, "shift_it_kwh": 3.0, "network_kwh": 1.0}

    def price(values: dict[str, float]) -> float:
        return float(
            move_cost_jpy(
                **values,
                gpu_hours=1.0,
                unit_now_jpy_per_it_kwh=now,
                unit_end_jpy_per_it_kwh=end,
                adjusted_now_jpy_per_kwh=now,
                gpu_hour_value_jpy=0.0,
            )
        )

    assert price({**parts, grows: parts[grows] * 3}) >= price(parts)
