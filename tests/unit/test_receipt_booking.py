"""Booking a workload's receipt from what a pass sees (k8s/receipts.book): no I/O."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from wattbit.api.v1alpha1.workloadplacement import (
    CandidateStatus,
    MigrationStatus,
    PhaseEntry,
    WorkloadPlacementStatus,
)
from wattbit.core.accounting import Signals
from wattbit.core.migration import MovePhase
from wattbit.core.model import LinkSnapshot, RegionName, RegionSnapshot
from wattbit.k8s.hints import WorkloadHints
from wattbit.k8s.objects import WorkloadKind, WorkloadObject
from wattbit.k8s.receipts import Booking, LedgerCache, book
from wattbit.k8s.snapshots import Managed, Stage

T0 = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
HINTS = WorkloadHints(
    gpus=8,
    power_kw_per_gpu=0.5,
    expected_duration_s=7200,
    deadline=None,
    checkpoint_size_gb=100.0,
    checkpoint_duration_s=None,
    policy_name=None,
    termination_grace_s=30.0,
)
REGIONS = {
    name: RegionSnapshot(
        name=RegionName(name),
        carbon_g_per_kwh=0.0,
        price_jpy_per_kwh=0.0,
        signal_observed_at=T0,
        pue=pue,
    )
    for name, pue in (("hokkaido", 1.5), ("kyushu", 1.1), ("tokyo", 1.3))
}
LINKS = (
    LinkSnapshot(
        from_region=RegionName("tokyo"),
        to_region=RegionName("kyushu"),
        latency_ms=8.0,
        bandwidth_gbps=400.0,
        energy_kwh_per_gb=0.001,
    ),
)


def signals(carbon: float, price: float, at: datetime = T0) -> Signals:
    return Signals(carbon_g_per_kwh=carbon, price_jpy_per_kwh=price, source="t", observed_at=at)


SIGNALS: dict[str, Signals | None] = {
    "hokkaido": signals(500.0, 9.5),
    "tokyo": signals(450.0, 14.0),
    "kyushu": signals(100.0, 2.0),
}


def job(**fields: object) -> WorkloadObject:
    base = WorkloadObject(
        kind=WorkloadKind.JOB,
        api_version="batch/v1",
        namespace="ml",
        name="train",
        uid="u1",
        created_at=T0,
    )
    return replace(base, **fields)  # type: ignore[arg-type]


def managed(obj: WorkloadObject, record: WorkloadPlacementStatus, stage: Stage) -> Managed:
    return Managed(obj=obj, record_name="job-train", record=record, stage=stage, hints=HINTS)


def candidates(*eligible: str) -> list[CandidateStatus]:
    return [
        CandidateStatus(region=name, eligible=name in eligible) for name in ("tokyo", "hokkaido")
    ]


def booked(
    item: Managed,
    now: datetime,
    cache: LedgerCache | None = None,
    regions_signals: dict[str, Signals | None] | None = None,
) -> Booking | None:
    return book(
        item,
        now=now,
        regions=REGIONS,
        signals=regions_signals or SIGNALS,
        links=LINKS,
        carbon_price_jpy_per_tonne=10_000.0,
        cache=cache,
    )


def test_a_waiting_workload_gets_a_counterfactual_in_the_first_eligible_region_by_name() -> None:
    record = WorkloadPlacementStatus(candidates=candidates("tokyo", "hokkaido"))
    booking = booked(managed(job(), record, Stage.PENDING), T0 + timedelta(minutes=1))
    assert booking is not None
    receipt = booking.status.receipt
    assert receipt is not None
    assert receipt.counterfactual_setup is not None
    assert receipt.counterfactual_setup.region == "hokkaido"
    assert receipt.counterfactual_setup.pue == 1.5
    assert receipt.open is None
    assert booking.status.baseline is not None
    assert booking.status.baseline.region == "hokkaido"


def opened_in_kyushu() -> tuple[WorkloadObject, Booking]:
    """A Job released in kyushu at T0 + 5 min, booked a minute later (its first stint)."""
    record = WorkloadPlacementStatus(candidates=candidates("tokyo"))
    running = job(released_at=T0 + timedelta(minutes=5), placed_region="kyushu", active_pods=1)
    first = booked(managed(running, record, Stage.RUNNING), T0 + timedelta(minutes=6))
    assert first is not None
    return running, first


def test_a_running_job_opens_a_stint_from_its_release_and_nothing_changes_after() -> None:
    running, first = opened_in_kyushu()
    receipt = first.status.receipt
    assert receipt is not None
    assert receipt.open is not None
    assert receipt.open.start == T0 + timedelta(minutes=5)
    assert receipt.open.setup.region == "kyushu"
    cache = LedgerCache()
    later = managed(running, first.status, Stage.RUNNING)
    assert booked(later, T0 + timedelta(minutes=7), cache) is None
    assert booked(later, T0 + timedelta(minutes=8), cache) is None  # from the cache


def test_an_hour_later_the_hour_is_closed_and_priced() -> None:
    record = WorkloadPlacementStatus(candidates=candidates("tokyo"))
    running = job(released_at=T0, placed_region="kyushu", active_pods=1)
    first = booked(managed(running, record, Stage.RUNNING), T0 + timedelta(seconds=1))
    assert first is not None
    second = booked(managed(running, first.status, Stage.RUNNING), T0 + timedelta(minutes=61))
    assert second is not None
    assert [i.duration_s for i in second.closed] == [3600.0]
    kwh = 8 * 0.5 * 1.0 * 1.1
    totals = second.status.totals
    assert totals is not None
    assert totals.energy_kwh == pytest.approx(kwh)
    assert totals.carbon_kg == pytest.approx(kwh * 100.0 / 1000)
    assert second.status.savings is not None
    assert second.status.savings.carbon_kg == pytest.approx(
        (8 * 0.5 * 1.3 * 450 - kwh * 100) / 1000
    )
    (stretch,) = second.status.history
    assert stretch.region == "kyushu"
    assert stretch.energy_kwh == pytest.approx(kwh)


def test_a_completed_move_is_booked_with_its_transfer_and_the_work_redone() -> None:
    requested, suspended = T0 + timedelta(minutes=10), T0 + timedelta(minutes=11)
    migration = MigrationStatus(
        phase=MovePhase.RUNNING,
        from_region="tokyo",
        to_region="kyushu",
        reason="GreenerRegion",
        started_at=T0 + timedelta(minutes=9),
        phase_since=T0 + timedelta(minutes=14),
        suspended_at=suspended,
        history=[
            PhaseEntry(phase=MovePhase.CHECKPOINT_REQUESTED, at=requested),
            PhaseEntry(phase=MovePhase.NOTICE_ELAPSED, at=suspended),
            PhaseEntry(phase=MovePhase.RESUMED, at=T0 + timedelta(minutes=13)),
        ],
    )
    record = WorkloadPlacementStatus(candidates=candidates("tokyo"), migration=migration)
    moved = job(released_at=T0, placed_region="kyushu", active_pods=1)
    booking = booked(managed(moved, record, Stage.RUNNING), T0 + timedelta(minutes=14))
    assert booking is not None
    receipt = booking.status.receipt
    assert receipt is not None
    (move,) = receipt.moves
    assert move.transfer_seconds == pytest.approx(100 * 8 / 400 + 0.008)
    assert move.transfer_energy_kwh == pytest.approx(0.1)
    assert move.work_redone_seconds == pytest.approx(60.0)  # notice elapsed: all of it
    assert receipt.open is not None
    assert receipt.open.start == T0 + timedelta(minutes=13)  # resumed, not released


def test_unknown_signals_leave_the_receipt_as_it_is() -> None:
    record = WorkloadPlacementStatus(candidates=candidates("tokyo"))
    running = job(released_at=T0, placed_region="kyushu", active_pods=1)
    no_kyushu: dict[str, Signals | None] = {**SIGNALS, "kyushu": None}
    assert booked(managed(running, record, Stage.RUNNING), T0, regions_signals=no_kyushu) is None


def test_a_finished_receipt_is_never_booked_again() -> None:
    record = WorkloadPlacementStatus(candidates=candidates("tokyo"))
    running = job(released_at=T0, placed_region="kyushu", active_pods=1)
    first = booked(managed(running, record, Stage.RUNNING), T0 + timedelta(minutes=1))
    assert first is not None
    done = job(released_at=T0, placed_region="kyushu", finished=True)
    last = booked(managed(done, first.status, Stage.FINISHED), T0 + timedelta(minutes=30))
    assert last is not None
    assert last.finished
    assert [i.duration_s for i in last.closed] == [1800.0]
    assert booked(managed(done, last.status, Stage.FINISHED), T0 + timedelta(hours=3)) is None


def test_the_ledger_cache_keeps_one_copy_of_a_receipt() -> None:
    _, first = opened_in_kyushu()
    written = first.status.receipt
    assert written is not None
    cache = LedgerCache()
    ledger = cache.ledger(("ns", "job-train"), written)
    # The watch brings back an equal copy; the cache must hold that one, not the written one.
    read_back = written.model_copy(deep=True)
    assert cache.ledger(("ns", "job-train"), read_back) is ledger
    ((held, _),) = cache._by_record.values()
    assert held is read_back
