"""The move of a running workload, as a crash-safe sequence of phases.

This module's one job is `next_step`: from a move's record (its phase, target and deadlines),
what is observed of the workload now, and `now`, it returns the one next action and the phase
to record *before* that action is taken (intent before action). Every action is safe to repeat:
each step first compares the record with what is observed, so a re-run after a crash between
writing the phase and acting re-issues the same action, and a re-run after acting sees its
effect and moves on. Nothing is ever done twice because an action that shows in the observed
state (suspended, affinity re-pointed, resumed) is never issued again.

    Planned -> CheckpointRequested -> (CheckpointAcknowledged | NoticeElapsed) -> Suspended
            -> PodsGone -> Repointed -> Resumed -> Running            (Abandoned: stopped early)

WARNING: pure. No I/O, no clock (`now` is a parameter), no Kubernetes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from wattbit.core.model import Reason, RegionName


class MovePhase(StrEnum):
    """Where a move is. A phase is recorded before the action it names is taken."""

    PLANNED = "Planned"
    """The planner chose to move; nothing was done to the workload yet."""
    CHECKPOINT_REQUESTED = "CheckpointRequested"
    """The pods were told to checkpoint, with a deadline."""
    CHECKPOINT_ACKNOWLEDGED = "CheckpointAcknowledged"
    """The trainer said its checkpoint is durable (passed through on the way to Suspended)."""
    NOTICE_ELAPSED = "NoticeElapsed"
    """The notice ran out without an acknowledgement (passed through on the way to Suspended)."""
    SUSPENDED = "Suspended"
    """The workload is suspended (or being suspended); its pods terminate."""
    PODS_GONE = "PodsGone"
    """No pod is active or terminating (passed through on the way to Repointed)."""
    REPOINTED = "Repointed"
    """The pod template's node affinity names the target region."""
    RESUMED = "Resumed"
    """The workload is unsuspended; its new pods are being scheduled."""
    RUNNING = "Running"
    """Done: pods run in the target region."""
    ABANDONED = "Abandoned"
    """Done without reaching the target (the workload finished, or a guard stopped the move)."""

    @property
    def is_final(self) -> bool:
        return self in (MovePhase.RUNNING, MovePhase.ABANDONED)


class MoveAction(StrEnum):
    """What the operator does next for a move."""

    REQUEST_CHECKPOINT = "RequestCheckpoint"
    """Annotate the running pods with the checkpoint request and its deadline."""
    SUSPEND = "Suspend"
    REPOINT = "Repoint"
    """Re-point the pod template's node affinity to the target region."""
    RESUME = "Resume"
    WAIT = "Wait"
    """Nothing to do until the observed state changes or `Step.wake_at`."""
    FINISH = "Finish"
    """Close the move's record (phase `Running` or `Abandoned`)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MoveRecord:
    """A move as its WorkloadPlacement records it."""

    phase: MovePhase
    from_region: RegionName
    to_region: RegionName
    started_at: datetime
    phase_since: datetime
    """When `phase` was recorded."""
    checkpoint_deadline: datetime | None = None
    """Set with `CheckpointRequested`: the workload is suspended at the latest then."""
    suspended_at: datetime | None = None
    """Set with `Suspended`: the suspension guard is measured from here."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ObservedWorkload:
    """What the cluster shows of the moving workload now."""

    exists: bool = True
    finished: bool = False
    suspended: bool
    active_pods: int
    terminating_pods: int
    placed_region: RegionName | None
    """The region the pod template's node affinity names (None: none of wattbit's)."""
    checkpoint_requested: bool = False
    """Every active pod carries this move's checkpoint request."""
    checkpoint_acknowledged: bool = False
    """A pod acknowledged a checkpoint at or after this move's request."""
    pods_running_in_target: int = 0
    """Pods bound to a node of the target region, not terminating."""
    pods_running: int = 0
    """Pods bound to any node, not terminating."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MoveTiming:
    """The policy's and the workload's clocks for a move."""

    notice_s: float
    """How long the trainer has to checkpoint before the suspension."""
    max_suspended_s: float
    """Longest a move may keep the workload suspended before it is resumed where it points."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Step:
    """The next action, and what to record before taking it."""

    action: MoveAction
    phase: MovePhase
    """The phase to record (before the action); equal to the record's when nothing changes."""
    passed: tuple[MovePhase, ...] = ()
    """Phases passed through on the way to `phase`, for the record's history."""
    reason: Reason | None = None
    message: str = ""
    wake_at: datetime | None = None
    """WAIT: look again at this time at the latest (events may wake the loop earlier)."""
    checkpoint_deadline: datetime | None = None
    """REQUEST_CHECKPOINT: the deadline to announce (and record)."""


def next_step(  # noqa: PLR0911 - one return per phase reads as the sequence itself
    record: MoveRecord, observed: ObservedWorkload, timing: MoveTiming, now: datetime
) -> Step:
    """The next step of a move; see the module docstring."""
    phase = record.phase
    if phase.is_final:
        return Step(action=MoveAction.WAIT, phase=phase, message="the move is over")
    if not observed.exists or observed.finished:
        return _finished(record, observed)
    if phase in (MovePhase.PLANNED, MovePhase.CHECKPOINT_REQUESTED):
        return _before_suspension(record, observed, timing, now)
    if phase in (MovePhase.SUSPENDED, MovePhase.REPOINTED) and _suspended_too_long(
        record, timing, now
    ):
        return _resume_where_it_points(record, observed, timing)
    if phase is MovePhase.SUSPENDED:
        if not observed.suspended:
            return Step(action=MoveAction.SUSPEND, phase=phase, message="suspending (again)")
        if observed.active_pods or observed.terminating_pods:
            return Step(
                action=MoveAction.WAIT,
                phase=phase,
                message=f"waiting for pods to stop: {observed.active_pods} active, "
                f"{observed.terminating_pods} terminating",
                wake_at=_suspension_limit(record, timing),
            )
        return _repoint(record, observed, passed=(MovePhase.PODS_GONE,))
    if phase is MovePhase.REPOINTED:
        return _repoint(record, observed, passed=())
    # RESUMED
    if observed.suspended:
        return Step(action=MoveAction.RESUME, phase=phase, message="resuming (again)")
    if observed.pods_running_in_target > 0:
        return Step(
            action=MoveAction.FINISH,
            phase=MovePhase.RUNNING,
            reason=Reason.MOVED,
            message=f"moved from {record.from_region} to {record.to_region}: "
            f"{observed.pods_running_in_target} pod(s) running there",
        )
    if observed.pods_running > 0 and observed.placed_region != record.to_region:
        return Step(
            action=MoveAction.FINISH,
            phase=MovePhase.ABANDONED,
            reason=Reason.MOVE_ABANDONED,
            message=f"resumed in {observed.placed_region or 'its original placement'}, "
            f"not in {record.to_region}",
        )
    return Step(
        action=MoveAction.WAIT,
        phase=phase,
        message=f"resumed; waiting for pods to run in {record.to_region}",
    )


def _before_suspension(  # noqa: PLR0911 - one return per case of the notice
    record: MoveRecord, observed: ObservedWorkload, timing: MoveTiming, now: datetime
) -> Step:
    if observed.suspended and record.phase is MovePhase.PLANNED:
        # Suspended by someone else before we acted: nothing to checkpoint through us.
        return _suspend(record, passed=(), message="already suspended")
    if record.phase is MovePhase.PLANNED or record.checkpoint_deadline is None:
        if observed.active_pods == 0:
            return _suspend(record, passed=(), message="no pod runs: nothing to checkpoint")
        deadline = now + timedelta(seconds=timing.notice_s)
        return Step(
            action=MoveAction.REQUEST_CHECKPOINT,
            phase=MovePhase.CHECKPOINT_REQUESTED,
            checkpoint_deadline=deadline,
            message=f"checkpoint requested from {observed.active_pods} pod(s); "
            f"suspending at {_at(deadline)} at the latest",
        )
    deadline = record.checkpoint_deadline
    if observed.checkpoint_acknowledged:
        return _suspend(
            record,
            passed=(MovePhase.CHECKPOINT_ACKNOWLEDGED,),
            message="checkpoint acknowledged",
        )
    if now >= deadline:
        return _suspend(
            record,
            passed=(MovePhase.NOTICE_ELAPSED,),
            message=f"no acknowledgement by {_at(deadline)}",
        )
    if not observed.checkpoint_requested and observed.active_pods > 0:
        # The annotation did not land (crash after recording), or a pod was replaced.
        return Step(
            action=MoveAction.REQUEST_CHECKPOINT,
            phase=MovePhase.CHECKPOINT_REQUESTED,
            checkpoint_deadline=deadline,
            message="checkpoint requested (again)",
        )
    return Step(
        action=MoveAction.WAIT,
        phase=MovePhase.CHECKPOINT_REQUESTED,
        message=f"waiting for a checkpoint acknowledgement until {_at(deadline)}",
        wake_at=deadline,
    )


def _at(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _suspend(record: MoveRecord, *, passed: tuple[MovePhase, ...], message: str) -> Step:
    return Step(
        action=MoveAction.SUSPEND,
        phase=MovePhase.SUSPENDED,
        passed=passed,
        message=f"{message}; suspending to leave {record.from_region}",
    )


def _repoint(
    record: MoveRecord, observed: ObservedWorkload, *, passed: tuple[MovePhase, ...]
) -> Step:
    if observed.placed_region != record.to_region:
        return Step(
            action=MoveAction.REPOINT,
            phase=MovePhase.REPOINTED,
            passed=passed,
            message=f"pods gone; re-pointing node affinity to {record.to_region}",
        )
    return Step(
        action=MoveAction.RESUME,
        phase=MovePhase.RESUMED,
        passed=passed,
        message=f"resuming in {record.to_region}",
    )


def _suspension_limit(record: MoveRecord, timing: MoveTiming) -> datetime:
    since = record.suspended_at or record.phase_since
    return since + timedelta(seconds=timing.max_suspended_s)


def _suspended_too_long(record: MoveRecord, timing: MoveTiming, now: datetime) -> bool:
    return now >= _suspension_limit(record, timing)


def _resume_where_it_points(
    record: MoveRecord, observed: ObservedWorkload, timing: MoveTiming
) -> Step:
    if observed.active_pods or observed.terminating_pods:
        # Resuming now would race the old pods' termination; there is nothing else to do.
        return Step(
            action=MoveAction.WAIT,
            phase=record.phase,
            message="suspended too long, but pods are still terminating",
        )
    where = observed.placed_region or "its original placement"
    return Step(
        action=MoveAction.RESUME,
        phase=MovePhase.RESUMED,
        reason=Reason.SUSPENDED_TOO_LONG,
        message=f"suspended longer than {timing.max_suspended_s:.0f}s: resuming in {where}",
    )


def _finished(record: MoveRecord, observed: ObservedWorkload) -> Step:
    if record.phase is MovePhase.RESUMED and observed.exists:
        return Step(
            action=MoveAction.FINISH,
            phase=MovePhase.RUNNING,
            reason=Reason.MOVED,
            message=f"moved to {record.to_region} and finished there",
        )
    what = "was deleted" if not observed.exists else "finished"
    return Step(
        action=MoveAction.FINISH,
        phase=MovePhase.ABANDONED,
        reason=Reason.MOVE_ABANDONED,
        message=f"the workload {what} during the move ({record.phase})",
    )
