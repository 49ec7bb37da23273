"""A planned run slot by slot (wattbit.core.timeline), the timeline plan and replay share.

Covers: a move's delays over a link; a downtime longer than a slot idles the run for several
slots in the target; the redone and displaced work is appended in the last region; the price
of a layout. Skips: agreement with the engine on random plans (tests/property).
"""

from __future__ import annotations

import numpy as np
import pytest

from wattbit.core.model import Policy
from wattbit.core.timeline import PlannedMove, lay_out, move_delay, price_layout, split_slot


def test_a_moves_delays_come_from_the_checkpoint_and_the_link() -> None:
    delay = move_delay(
        checkpoint_gb=27_000.0,
        checkpoint_interval_s=3600.0,
        latency_ms=20.0,
        bandwidth_gbps=40.0,
        energy_kwh_per_gb=0.001,
        policy=Policy(checkpoint_write_gbps=40.0, restart_overhead_s=300.0),
    )
    # Write 27 TB at 40 Gbps: 5400 s; transfer 5400 s + 20 ms; restart 300 s.
    assert delay.transfer_s == pytest.approx(5400.02)
    assert delay.downtime_h == pytest.approx((5400 + 5400.02 + 300) / 3600)
    assert delay.lost_h == 0.5
    assert delay.network_kwh == pytest.approx(27.0)


def test_a_long_downtime_idles_several_slots_and_the_work_lands_after_the_run() -> None:
    move = PlannedMove(slot=11, target=1, downtime=2.5, lost=0.5, network_kwh=0.0)
    uses = lay_out(10, (0, 1, 1, 1), (move,))
    assert [(u.slot, u.region, u.idle, u.work) for u in uses] == [
        (10, 0, 0.0, 1.0),
        (11, 1, 1.0, 0.0),
        (12, 1, 1.0, 0.0),
        (13, 1, 0.5, 0.5),
        (14, 1, 0.0, 1.0),
        (15, 1, 0.0, 1.0),
        (16, 1, 0.0, 1.0),
    ]
    assert sum(u.work for u in uses) == pytest.approx(4.5)
    assert split_slot(0.25, 3.0) == (0.25, 0.75)


def test_a_layout_is_priced_at_each_slots_rate() -> None:
    move = PlannedMove(slot=1, target=1, downtime=0.5, lost=0.0, network_kwh=2.0)
    uses = lay_out(0, (0, 1), (move,))
    unit = np.array([[1.0, 1.0, 1.0], [10.0, 20.0, 40.0]])
    adjusted = unit / 2
    cost = price_layout(
        uses,
        (move,),
        busy_kw=1.0,
        idle_kw=0.1,
        slot_h=1.0,
        unit_jpy_per_it_kwh=unit,
        adjusted_jpy_per_kwh=adjusted,
    )
    # Slot 0 at home; slot 1 half idle, half busy in region 1; half a slot appended in 2.
    assert cost == pytest.approx(1.0 + 20 * (0.05 + 0.5) + 40 * 0.5 + 2.0 * 10.0)
