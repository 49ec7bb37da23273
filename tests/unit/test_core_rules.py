"""The rule chains (wattbit.core.rules): each rule's verdict and the chains' order.

Covers: every pending rule (NoEligibleRegion with its limits named, SignalStale hold and
SignalsUnavailable release, DeadlineAtRisk); every running rule (RegionDraining first,
SignalStale, MigrationDisabled, MoveLimitReached, CooldownActive); first-verdict order; the
vectorised target checks record the check that removed the last target.
Skips: how the planner computes the facts (test_core_planner.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np

from wattbit.core.model import (
    DecisionKind,
    Policy,
    Reason,
    RegionName,
    WorkloadId,
    WorkloadSnapshot,
    WorkloadState,
)
from wattbit.core.rules import (
    MOVE_TARGET_CHECKS,
    PENDING_RULES,
    RUNNING_RULES,
    PendingFacts,
    RunningFacts,
    apply_target_checks,
    first_verdict,
)

JST = timezone(timedelta(hours=9))
NOW = datetime(2025, 4, 7, 9, 0, tzinfo=JST)
TOKYO = RegionName("tokyo")


def item(**changes: object) -> WorkloadSnapshot:
    values: dict[str, object] = {
        "workload_id": WorkloadId("w"),
        "gpus": 8,
        "remaining_runtime_s": 3600.0,
        "submitted_at": NOW,
    }
    values.update(changes)
    return WorkloadSnapshot(**values)  # type: ignore[arg-type]


def pending(
    workload: WorkloadSnapshot | None = None,
    *,
    eligible: tuple[RegionName, ...] = (TOKYO,),
    fresh: tuple[RegionName, ...] = (TOKYO,),
    meets_deadline_now: bool = True,
) -> PendingFacts:
    return PendingFacts(
        workload=workload or item(),
        now=NOW,
        policy=Policy(max_stale_hold_s=3600.0),
        eligible_regions=eligible,
        fresh_regions=fresh,
        meets_deadline_now=meets_deadline_now,
    )


def test_pending_rules_pass_when_nothing_blocks() -> None:
    assert first_verdict(PENDING_RULES, pending()) is None


def test_no_eligible_region_names_the_limits() -> None:
    facts = pending(
        item(allowed_regions=frozenset({TOKYO}), data_region=TOKYO, max_latency_ms=2.0),
        eligible=(),
        fresh=(),
    )
    verdict = first_verdict(PENDING_RULES, facts)
    assert verdict is not None
    assert (verdict.kind, verdict.reason) == (DecisionKind.HOLD, Reason.NO_ELIGIBLE_REGION)
    assert "allowed: tokyo" in verdict.message
    assert "2 ms of tokyo" in verdict.message


def test_stale_signals_hold_then_release_after_the_maximum_hold() -> None:
    held = first_verdict(PENDING_RULES, pending(fresh=()))
    assert held is not None
    assert (held.kind, held.reason) == (DecisionKind.HOLD, Reason.SIGNAL_STALE)
    late = pending(item(submitted_at=NOW - timedelta(hours=2)), fresh=())
    released = first_verdict(PENDING_RULES, late)
    assert released is not None
    assert (released.kind, released.reason) == (DecisionKind.RUN_NOW, Reason.SIGNALS_UNAVAILABLE)


def test_deadline_at_risk_runs_now() -> None:
    verdict = first_verdict(PENDING_RULES, pending(item(deadline=NOW), meets_deadline_now=False))
    assert verdict is not None
    assert (verdict.kind, verdict.reason) == (DecisionKind.RUN_NOW, Reason.DEADLINE_AT_RISK)


def test_the_first_failing_rule_explains() -> None:
    # No eligible region beats stale signals and a missed deadline.
    verdict = first_verdict(PENDING_RULES, pending(eligible=(), fresh=(), meets_deadline_now=False))
    assert verdict is not None
    assert verdict.reason is Reason.NO_ELIGIBLE_REGION


def running(
    *, available: bool = True, fresh: bool = True, policy: Policy | None = None, **changes: object
) -> RunningFacts:
    return RunningFacts(
        workload=item(state=WorkloadState.RUNNING, current_region=TOKYO, **changes),
        now=NOW,
        policy=policy or Policy(max_moves=2, cooldown_s=3600.0),
        current_available=available,
        current_fresh=fresh,
    )


def test_running_rules_in_order() -> None:
    assert first_verdict(RUNNING_RULES, running()) is None
    cases = [
        (
            running(available=False, fresh=False, move_count=9),
            DecisionKind.MOVE,
            Reason.REGION_DRAINING,
        ),
        (running(fresh=False, move_count=9), DecisionKind.STAY, Reason.SIGNAL_STALE),
        (running(policy=Policy(max_moves=0)), DecisionKind.STAY, Reason.MIGRATION_DISABLED),
        (running(move_count=2), DecisionKind.STAY, Reason.MOVE_LIMIT_REACHED),
        (
            running(last_moved_at=NOW - timedelta(minutes=5), previous_region=RegionName("kansai")),
            DecisionKind.STAY,
            Reason.COOLDOWN_ACTIVE,
        ),
    ]
    for facts, kind, reason in cases:
        verdict = first_verdict(RUNNING_RULES, facts)
        assert verdict is not None
        assert (verdict.kind, verdict.reason) == (kind, reason)
    cooled = first_verdict(RUNNING_RULES, running(last_moved_at=NOW - timedelta(hours=2)))
    assert cooled is None


def test_target_checks_record_the_check_that_removed_the_last_target() -> None:
    names = [check.mask for check in MOVE_TARGET_CHECKS]
    masks = {name: np.ones((3, 2), dtype=bool) for name in names}
    masks["fresh"][0] = False  # workload 0: every target is stale
    masks["stable"][1, 0] = False  # workload 1: one target survives
    masks["gain_ok"][2] = False  # workload 2: nothing pays
    failed = np.full(3, -1, dtype=np.intp)
    survivors = apply_target_checks(MOVE_TARGET_CHECKS, masks, np.ones((3, 2), dtype=bool), failed)
    assert MOVE_TARGET_CHECKS[failed[0]].reason is Reason.SIGNAL_STALE
    assert failed[1] == -1
    assert survivors[1].tolist() == [False, True]
    assert MOVE_TARGET_CHECKS[failed[2]].reason is Reason.GAIN_BELOW_MOVE_COST
