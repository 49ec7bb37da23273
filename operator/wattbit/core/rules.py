"""The ordered rule chains that explain every hold, stay and fallback (cert-manager style).

This module's one job is to say, for one workload, whether a rule stops the normal cost-based
choice, and why. A rule is `Callable[[Facts], Verdict | None]`: it returns a `Verdict` (what to
do, a CamelCase reason, a message) or None to let the next rule speak. Chains run in order and
the first verdict wins, so the reason a person sees is the first thing they need to fix.

Move targets are filtered the same way, vectorised: each `TargetCheck` names a boolean mask
(workloads x regions); a workload whose last candidate targets fail a check stays with that
check's reason.

WARNING: rules decide nothing about cost (that is `wattbit.core.cost` and the planner) and never
read the clock; every fact they need is computed by the planner and passed in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray

from wattbit.core.model import DecisionKind, Policy, Reason, RegionName, WorkloadSnapshot


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    """A rule's answer: what to do and why."""

    kind: DecisionKind
    reason: Reason
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PendingFacts:
    """What the pending-workload rules look at."""

    workload: WorkloadSnapshot
    now: datetime
    policy: Policy
    eligible_regions: tuple[RegionName, ...]
    """Allowed, available and within the latency limit."""
    fresh_regions: tuple[RegionName, ...]
    """Eligible regions whose signals are fresh."""
    meets_deadline_now: bool
    """Starting now would finish before the deadline minus the safety margin."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RunningFacts:
    """What the running-workload rules look at."""

    workload: WorkloadSnapshot
    now: datetime
    policy: Policy
    current_available: bool
    current_fresh: bool
    last_move_downtime_s: float = 0.0
    """How long the last move kept the workload from working: the cooldown counts from its end."""


FactsT = TypeVar("FactsT", PendingFacts, "RunningFacts")
Rule = Callable[[PendingFacts], Verdict | None]
RunningRule = Callable[[RunningFacts], Verdict | None]


def _held_s(workload: WorkloadSnapshot, now: datetime) -> float:
    if workload.submitted_at is None:
        return 0.0
    return (now - workload.submitted_at).total_seconds()


# ---------------------------------------------------------------- pending workloads


def no_eligible_region(facts: PendingFacts) -> Verdict | None:
    """Hold when allowed regions, availability and latency limits leave nothing."""
    if facts.eligible_regions:
        return None
    workload = facts.workload
    limits = []
    if workload.allowed_regions is not None:
        limits.append(f"allowed: {', '.join(sorted(workload.allowed_regions)) or 'none'}")
    if workload.max_latency_ms is not None:
        limits.append(f"within {workload.max_latency_ms:g} ms of {workload.data_region}")
    detail = f" ({'; '.join(limits)})" if limits else ""
    return Verdict(
        kind=DecisionKind.HOLD,
        reason=Reason.NO_ELIGIBLE_REGION,
        message=f"held: no available region may run this workload{detail}",
    )


def signals_stale(facts: PendingFacts) -> Verdict | None:
    """Hold on stale signals; after `max_stale_hold_s`, run carbon-agnostic instead."""
    if facts.fresh_regions:
        return None
    held_s = _held_s(facts.workload, facts.now)
    if held_s >= facts.policy.max_stale_hold_s:
        return Verdict(
            kind=DecisionKind.RUN_NOW,
            reason=Reason.SIGNALS_UNAVAILABLE,
            message=(
                f"signals of every eligible region are stale and the workload has been held "
                f"{held_s / 3600:.1f} h (limit {facts.policy.max_stale_hold_s / 3600:.1f} h): "
                "running carbon-agnostic"
            ),
        )
    return Verdict(
        kind=DecisionKind.HOLD,
        reason=Reason.SIGNAL_STALE,
        message=(
            "held: signals of every eligible region "
            f"({', '.join(facts.eligible_regions)}) are stale"
        ),
    )


def deadline_at_risk(facts: PendingFacts) -> Verdict | None:
    """Run now, without waiting, when even starting now leaves less than the safety margin
    (in the cheapest region free now: the region does not change when the run ends)."""
    if facts.meets_deadline_now:
        return None
    deadline = facts.workload.deadline
    return Verdict(
        kind=DecisionKind.RUN_NOW,
        reason=Reason.DEADLINE_AT_RISK,
        message=(
            f"deadline {deadline.isoformat() if deadline else '?'} leaves less than the safety "
            "margin even if started now: running at once, no waiting"
        ),
    )


PENDING_RULES: tuple[Rule, ...] = (no_eligible_region, signals_stale, deadline_at_risk)
"""Checked before any cost is compared; the first verdict wins."""


# ---------------------------------------------------------------- running workloads


def current_region_unavailable(facts: RunningFacts) -> Verdict | None:
    """Drain a region marked unavailable (the planner picks the target).

    First in the chain on purpose: a region going away is left even when the move budget,
    the cooldown or the deadline would otherwise keep the workload where it is.
    """
    if facts.current_available:
        return None
    return Verdict(
        kind=DecisionKind.MOVE,
        reason=Reason.REGION_DRAINING,
        message=f"{facts.workload.current_region} is unavailable: draining",
    )


def current_region_stale(facts: RunningFacts) -> Verdict | None:
    """A stale region never sources a move: running work stays put."""
    if facts.current_fresh:
        return None
    return Verdict(
        kind=DecisionKind.STAY,
        reason=Reason.SIGNAL_STALE,
        message=f"staying: the signals of {facts.workload.current_region} are stale",
    )


def migration_disabled(facts: RunningFacts) -> Verdict | None:
    """The policy allows no moves at all."""
    if facts.policy.max_moves > 0:
        return None
    return Verdict(
        kind=DecisionKind.STAY,
        reason=Reason.MIGRATION_DISABLED,
        message="staying: the policy allows no moves",
    )


def move_budget_exhausted(facts: RunningFacts) -> Verdict | None:
    """The workload has used every move the policy allows."""
    if facts.workload.move_count < facts.policy.max_moves:
        return None
    return Verdict(
        kind=DecisionKind.STAY,
        reason=Reason.MOVE_LIMIT_REACHED,
        message=(
            f"staying: moved {facts.workload.move_count} times, "
            f"the policy allows {facts.policy.max_moves}"
        ),
    )


def cooldown_active(facts: RunningFacts) -> Verdict | None:
    """No move within `cooldown_s` of the end of the last one (the region just left is
    penalised). Counted from the end of its downtime: a checkpoint still being written or sent
    is not moved again (a 23 TB checkpoint takes nearly two hours; the hour-long cooldown alone
    let a pre-train hop back and forth before it had worked at all). The end is the one
    observed when known, else the move's start plus its estimated downtime."""
    workload = facts.workload
    moved_at = workload.last_moved_at
    if moved_at is None:
        return None
    if workload.last_move_ended_at is not None:
        ended = workload.last_move_ended_at
        downtime_s = max(0.0, (ended - moved_at).total_seconds())
    else:
        downtime_s = facts.last_move_downtime_s
    since_s = (facts.now - moved_at).total_seconds()
    if since_s >= facts.policy.cooldown_s + downtime_s:
        return None
    return Verdict(
        kind=DecisionKind.STAY,
        reason=Reason.COOLDOWN_ACTIVE,
        message=(
            f"staying: moved {since_s / 60:.0f} min ago from "
            f"{workload.previous_region or 'another region'}; cooldown is "
            f"{facts.policy.cooldown_s / 60:.0f} min after the move's "
            f"{downtime_s / 60:.0f} min of downtime"
        ),
    )


RUNNING_RULES: tuple[RunningRule, ...] = (
    current_region_unavailable,
    current_region_stale,
    migration_disabled,
    move_budget_exhausted,
    cooldown_active,
)
"""Checked before move targets are compared; the first verdict wins."""


def first_verdict(
    rules: Sequence[Callable[[FactsT], Verdict | None]], facts: FactsT
) -> Verdict | None:
    """Run `rules` in order and return the first verdict, or None when all pass."""
    for rule in rules:
        verdict = rule(facts)
        if verdict is not None:
            return verdict
    return None


# ---------------------------------------------------------------- move targets


BoolArray = NDArray[np.bool_]


@dataclass(frozen=True, slots=True, kw_only=True)
class TargetCheck:
    """One filter on move targets; `explains` completes "staying: ..."."""

    reason: Reason
    mask: str
    """Name of the workloads x regions boolean array in the planner's target masks."""
    explains: str


MOVE_TARGET_CHECKS: tuple[TargetCheck, ...] = (
    TargetCheck(
        reason=Reason.NO_ELIGIBLE_REGION,
        mask="eligible",
        explains="no other available region is allowed for this workload",
    ),
    TargetCheck(
        reason=Reason.SIGNAL_STALE,
        mask="fresh",
        explains="every other eligible region has stale signals",
    ),
    TargetCheck(
        reason=Reason.ALREADY_BEST,
        mask="cheaper_now",
        explains="no eligible region is cheaper than the current one now",
    ),
    TargetCheck(
        reason=Reason.NO_LINK,
        mask="linked",
        explains="no APN link within the latency limit reaches a cheaper region",
    ),
    TargetCheck(
        reason=Reason.SIGNAL_DIP_TOO_SHORT,
        mask="stable",
        explains="cheaper regions stay cheaper for less than the stability window",
    ),
    TargetCheck(
        reason=Reason.DEADLINE_TOO_CLOSE,
        mask="deadline_ok",
        explains="the move's overhead would break the deadline and its safety margin",
    ),
    TargetCheck(
        reason=Reason.GAIN_BELOW_MOVE_COST,
        mask="gain_ok",
        explains="the saving over the remaining run does not beat the move's cost by the minimum",
    ),
)
"""Filters on move targets, in order; capacity is checked last, by the assignment."""


def apply_target_checks(
    checks: Sequence[TargetCheck],
    masks: dict[str, BoolArray],
    survivors: BoolArray,
    failed: NDArray[np.intp],
    first_check: int = 0,
) -> BoolArray:
    """Narrow `survivors` (workloads x regions) by `checks`; record the failing check.

    `failed[j]` is set to the index (into `checks`) of the check that removed workload j's last
    candidate, unless it was already set (>= 0).
    """
    current = survivors
    for offset, check in enumerate(checks):
        narrowed = current & masks[check.mask]
        emptied = current.any(axis=1) & ~narrowed.any(axis=1) & (failed < 0)
        failed[emptied] = first_check + offset
        current = narrowed
    return current
