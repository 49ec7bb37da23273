"""The move phase machine (wattbit.core.migration), with a simulated Job and no I/O.

Covers: the whole sequence with and without an acknowledgement; a re-run of the same record
after a crash (between recording a phase and acting, or after acting) never issues an action
whose effect is already visible, so a move suspends once and resumes once, whatever the crash
point (property, hypothesis); a workload deleted or finished mid-move ends the move; a move
suspended too long resumes where the template points. Skipped: the API calls themselves
(integration tests).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from wattbit.core.migration import (
    MoveAction,
    MovePhase,
    MoveRecord,
    MoveTiming,
    ObservedWorkload,
    next_step,
)
from wattbit.core.model import Reason, RegionName

T0 = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
TIMING = MoveTiming(notice_s=60.0, max_suspended_s=1800.0)
TOKYO, KYUSHU = RegionName("tokyo"), RegionName("kyushu")


@dataclass
class FakeJob:
    """A Job as the Job controller and scheduler would make it behave, one tick at a time."""

    suspended: bool = False
    active: int = 2
    terminating: int = 0
    region: RegionName | None = TOKYO
    requested: bool = False
    acknowledged: bool = False
    running_in: RegionName | None = TOKYO
    suspends: int = 0
    resumes: int = 0
    repoints: int = 0

    def observe(self) -> ObservedWorkload:
        running = self.active if self.running_in is not None and not self.suspended else 0
        return ObservedWorkload(
            suspended=self.suspended,
            active_pods=self.active,
            terminating_pods=self.terminating,
            placed_region=self.region,
            checkpoint_requested=self.requested,
            checkpoint_acknowledged=self.acknowledged,
            pods_running_in_target=running if self.running_in == KYUSHU else 0,
            pods_running=running,
        )

    def act(self, action: MoveAction) -> None:
        if action is MoveAction.REQUEST_CHECKPOINT:
            self.requested = True
        elif action is MoveAction.SUSPEND and not self.suspended:
            self.suspended, self.suspends = True, self.suspends + 1
            self.terminating, self.active = self.active, 0
        elif action is MoveAction.REPOINT:
            self.region, self.repoints = KYUSHU, self.repoints + 1
        elif action is MoveAction.RESUME and self.suspended:
            self.suspended, self.resumes = False, self.resumes + 1
            self.active, self.running_in = 2, None

    def tick(self) -> None:
        """The controllers catch up: terminating pods go, resumed pods get scheduled."""
        self.terminating = 0
        if not self.suspended and self.active and self.running_in is None:
            self.running_in = self.region


def start() -> MoveRecord:
    return MoveRecord(
        phase=MovePhase.PLANNED, from_region=TOKYO, to_region=KYUSHU, started_at=T0, phase_since=T0
    )


def record_step(
    record: MoveRecord, phase: MovePhase, deadline: datetime | None, now: datetime
) -> MoveRecord:
    if phase == record.phase:
        return record
    return replace(
        record,
        phase=phase,
        phase_since=now,
        checkpoint_deadline=record.checkpoint_deadline or deadline,
        suspended_at=record.suspended_at or (now if phase is MovePhase.SUSPENDED else None),
    )


def run(
    job: FakeJob, *, crashes: frozenset[int] = frozenset(), ack_at: int | None = None
) -> tuple[MoveRecord, list[MovePhase]]:
    """Drive a move to its end; at each step index in `crashes` the operator dies after
    recording the phase and before acting (the next pass starts from the record)."""
    record, now, seen = start(), T0, [MovePhase.PLANNED]
    for index in range(60):
        if ack_at is not None and index == ack_at:
            job.acknowledged = True
        step = next_step(record, job.observe(), TIMING, now)
        seen.extend(step.passed)
        new = record_step(record, step.phase, step.checkpoint_deadline, now)
        if new.phase != record.phase:
            seen.append(new.phase)
        record = new
        if step.action is MoveAction.FINISH:
            return record, seen
        if index not in crashes:
            job.act(step.action)
        job.tick()
        now += timedelta(seconds=20)
    raise AssertionError("the move did not end")


def test_without_acknowledgement_the_notice_elapses() -> None:
    job = FakeJob()
    record, seen = run(job)
    assert record.phase is MovePhase.RUNNING
    assert seen == [
        MovePhase.PLANNED,
        MovePhase.CHECKPOINT_REQUESTED,
        MovePhase.NOTICE_ELAPSED,
        MovePhase.SUSPENDED,
        MovePhase.PODS_GONE,
        MovePhase.REPOINTED,
        MovePhase.RESUMED,
        MovePhase.RUNNING,
    ]
    assert (job.suspends, job.resumes, job.repoints) == (1, 1, 1)
    assert job.region == KYUSHU


def test_an_acknowledgement_suspends_before_the_deadline() -> None:
    job = FakeJob()
    _, seen = run(job, ack_at=1)
    assert MovePhase.CHECKPOINT_ACKNOWLEDGED in seen
    assert MovePhase.NOTICE_ELAPSED not in seen


@settings(max_examples=200, deadline=None)
@given(
    st.frozensets(st.integers(min_value=0, max_value=30), max_size=10),
    st.none() | st.integers(0, 5),
)
def test_a_crash_anywhere_never_suspends_or_resumes_twice(
    crashes: frozenset[int], ack_at: int | None
) -> None:
    job = FakeJob()
    record, _ = run(job, crashes=crashes, ack_at=ack_at)
    assert record.phase is MovePhase.RUNNING
    assert (job.suspends, job.resumes) == (1, 1)
    assert job.repoints <= 1


def test_a_deleted_workload_ends_the_move() -> None:
    observed = replace(FakeJob().observe(), exists=False)
    step = next_step(start(), observed, TIMING, T0)
    assert (step.action, step.phase, step.reason) == (
        MoveAction.FINISH,
        MovePhase.ABANDONED,
        Reason.MOVE_ABANDONED,
    )


def test_suspended_too_long_resumes_where_it_points() -> None:
    record = replace(start(), phase=MovePhase.SUSPENDED, phase_since=T0, suspended_at=T0)
    job = FakeJob(suspended=True, active=0, terminating=0)
    step = next_step(record, job.observe(), TIMING, T0 + timedelta(hours=1))
    assert (step.action, step.phase, step.reason) == (
        MoveAction.RESUME,
        MovePhase.RESUMED,
        Reason.SUSPENDED_TOO_LONG,
    )
