"""``wattbit.api.conditions``: the metav1.Condition model and ``set_condition``.

Matrix: new type appended; same status keeps lastTransitionTime but takes the new reason,
message and generation; changed status moves lastTransitionTime to ``now``; other types and
order untouched; wire form matches metav1 (RFC 3339 seconds, Z); shape limits.
Skipped: nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from wattbit.api.conditions import (
    READY,
    SIGNALS_FRESH,
    Condition,
    ConditionStatus,
    ConditionType,
    Reason,
    find_condition,
    is_true,
    remove_condition,
    set_condition,
)

T0 = datetime(2026, 4, 1, 3, 0, tzinfo=UTC)
T1 = T0 + timedelta(minutes=5)


def ready(status: ConditionStatus, reason: str = "Reconciled", message: str = "") -> Condition:
    return Condition(type=READY, status=status, reason=reason, message=message)


def test_new_type_is_appended_with_now() -> None:
    fresh = Condition(type=SIGNALS_FRESH, status=ConditionStatus.TRUE, reason="SignalsReceived")
    out = set_condition([], ready(ConditionStatus.TRUE), T0)
    out = set_condition(out, fresh, T1)
    assert [c.type for c in out] == ["Ready", "SignalsFresh"]
    assert out[0].last_transition_time == T0
    assert out[1].last_transition_time == T1


def test_same_status_keeps_transition_time_but_updates_detail() -> None:
    first = set_condition([], ready(ConditionStatus.FALSE, "SignalStale", "old"), T0)
    second = set_condition(first, ready(ConditionStatus.FALSE, "ProviderError", "new"), T1)
    assert second[0].last_transition_time == T0
    assert (second[0].reason, second[0].message) == ("ProviderError", "new")
    assert set_condition(second, second[0], T1) == second  # idempotent: no patch churn


def test_status_change_moves_transition_time() -> None:
    first = set_condition([], ready(ConditionStatus.FALSE), T0)
    second = set_condition(first, ready(ConditionStatus.TRUE), T1)
    assert second[0].last_transition_time == T1
    assert first[0].last_transition_time == T0  # input not mutated


def test_other_conditions_and_order_untouched() -> None:
    fresh = Condition(type=SIGNALS_FRESH, status=ConditionStatus.TRUE, reason="SignalsReceived")
    conditions = set_condition(set_condition([], ready(ConditionStatus.TRUE), T0), fresh, T0)
    updated = set_condition(conditions, ready(ConditionStatus.FALSE), T1)
    assert [c.type for c in updated] == ["Ready", "SignalsFresh"]
    assert updated[1] == conditions[1]
    assert is_true(updated, SIGNALS_FRESH)
    assert not is_true(updated, READY)
    assert find_condition(updated, "Placed") is None
    assert [c.type for c in remove_condition(updated, READY)] == ["SignalsFresh"]


def test_wire_form_is_metav1() -> None:
    condition = set_condition(
        [], Condition(type=READY, status=ConditionStatus.TRUE, reason=Reason.READY), T0
    )[0]
    condition.observed_generation = 3
    assert condition.to_wire() == {
        "type": "Ready",
        "status": "True",
        "reason": "Ready",
        "message": "",
        "observedGeneration": 3,
        "lastTransitionTime": "2026-04-01T03:00:00Z",
    }
    assert Condition.model_validate(condition.to_wire()) == condition


def test_constants_are_camel_case_words() -> None:
    for value in [*ConditionType, *Reason]:
        assert value[0].isupper()
        assert value.isalnum()


@pytest.mark.parametrize(
    "bad",
    [
        {"type": "Ready", "status": "Yes", "reason": "X"},
        {"type": "Ready", "status": "True", "reason": "has spaces"},
        {"type": "", "status": "True", "reason": "X"},
        {"type": "Ready", "status": "True", "reason": "X", "lastTransitionTime": "2026-04-01"},
    ],
)
def test_shape_limits(bad: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        Condition.model_validate(bad)
