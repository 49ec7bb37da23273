"""Moves are timed by their downtime: a move in progress is not moved again, and a round trip
never plans its return before the move out has ended and the cooldown after it has passed.

Covers: the cooldown counts from the end of the last move's downtime (write, transfer over the
link it used, restart); round trips shorter than the move out plus the cooldown are not
valued. Skips: the rest of migration (test_core_planner.py, test_core_migration.py).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import numpy as np
import pytest

from tests.unit.test_core_planner import (
    NOW,
    POLICY,
    flat_regions,
    link,
    make_region,
    one,
    running,
)
from wattbit.core.model import DecisionKind, Policy, Reason, RegionName
from wattbit.core.move_cost import build_link_table, last_move_downtime_s, move_tensors

BIG_GB = 20_000.0
"""Written at 40 Gbit/s in 4,000 s, sent at 100 Gbit/s in 1,600 s, restarted in 300 s."""


def test_the_last_moves_downtime_follows_its_link() -> None:
    names = [RegionName("kansai"), RegionName("tokyo")]
    links = build_link_table([link("tokyo", "kansai", latency_ms=3.0)], names, POLICY)
    moved = running(
        checkpoint_size_gb=BIG_GB,
        last_moved_at=NOW,
        previous_region=RegionName("kansai"),
    )
    assert last_move_downtime_s(moved, links, names, POLICY) == pytest.approx(5_900.003)
    assert last_move_downtime_s(running(), links, names, POLICY) == 0.0


def test_a_move_still_in_progress_is_not_moved_again() -> None:
    # 70 minutes after a move whose checkpoint needs 98 minutes to land: an hour of cooldown
    # alone would allow the next move.
    moved = running(
        checkpoint_size_gb=BIG_GB,
        last_moved_at=NOW - timedelta(minutes=70),
        previous_region=RegionName("kyushu"),
        current_region=RegionName("tokyo"),
    )
    decision = one(flat_regions(), moved)
    assert (decision.kind, decision.reason) == (DecisionKind.STAY, Reason.COOLDOWN_ACTIVE)
    assert "98 min of downtime" in decision.message
    later = replace(moved, last_moved_at=NOW - timedelta(minutes=160))
    assert one(flat_regions(), later).reason is not Reason.COOLDOWN_ACTIVE


def test_an_observed_end_of_the_last_move_replaces_its_estimate() -> None:
    # The operator knows when the move was done (its record); the estimate (98 min for this
    # checkpoint) must not hold the workload once the observed move and the cooldown are over.
    moved = running(
        checkpoint_size_gb=BIG_GB,
        last_moved_at=NOW - timedelta(minutes=70),
        last_move_ended_at=NOW - timedelta(minutes=65),
        previous_region=RegionName("kyushu"),
        current_region=RegionName("tokyo"),
    )
    assert one(flat_regions(), moved).reason is not Reason.COOLDOWN_ACTIVE
    no_cooldown = replace(POLICY, cooldown_s=0.0)
    just_done = replace(
        moved,
        last_moved_at=NOW - timedelta(minutes=3),
        last_move_ended_at=NOW - timedelta(seconds=10),
    )
    assert one(flat_regions(), just_done, policy=no_cooldown).reason is not (Reason.COOLDOWN_ACTIVE)
    still_moving = replace(just_done, last_move_ended_at=None)
    decision = one(flat_regions(), still_moving, policy=no_cooldown)
    assert (decision.kind, decision.reason) == (DecisionKind.STAY, Reason.COOLDOWN_ACTIVE)


def test_a_round_trip_returns_only_after_the_move_and_the_cooldown() -> None:
    # Kansai is cheaper for two hours only: with a 98-minute move and an hour of cooldown the
    # return could come at hour 3 at the earliest, when kansai is dear: no round trip.
    dip = [50.0] * 2 + [700.0] * 22
    regions = [make_region("tokyo").carbon(470), make_region("kansai").carbon(*dip)]
    item = running(hours=20, checkpoint_size_gb=BIG_GB, checkpoint_interval_s=600.0)
    decision = one(regions, item, links=(link("tokyo", "kansai"),))
    assert decision.kind is DecisionKind.STAY
    # The same hop with a small checkpoint (a few minutes down) is worth it.
    small = replace(item, checkpoint_size_gb=10.0)
    decision = one(regions, small, links=(link("tokyo", "kansai"),))
    assert decision.kind is DecisionKind.MOVE
    assert decision.occupancy is not None
    assert decision.occupancy[1] >= 2


def test_move_tensors_downtime_has_no_lost_work() -> None:
    names = [RegionName("kansai"), RegionName("tokyo")]
    links = build_link_table([link("tokyo", "kansai", latency_ms=0.0)], names, Policy())
    tensors = move_tensors([running(checkpoint_size_gb=BIG_GB)], links, Policy(), NOW)
    assert tensors.downtime_s(0, 1, 0) == pytest.approx(5_900.0)
    everywhere = (np.zeros((1, 1, 1), dtype=np.intp), np.arange(2)[:, None], np.arange(2)[None])
    assert tensors.delay_s(*everywhere).shape == (1, 2, 2)
    assert np.all(tensors.delay_s(*everywhere) >= tensors.downtime_s(*everywhere))
    assert tensors.delay_s(0, 1, 0) == pytest.approx(5_900.0 + 1800.0)
