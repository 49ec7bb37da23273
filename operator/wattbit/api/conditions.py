"""Status conditions: the ``metav1.Condition`` model, condition types and shared reasons.

Reasons are the decision core's ``Reason`` (one vocabulary), shared by conditions, Events and
metric labels, so a ``kubectl describe`` line, an Event and a Prometheus series say the same
word.

``set_condition`` is the only way conditions should be updated: it keeps
``lastTransitionTime`` when the status did not change (as ``meta.SetStatusCondition`` does),
so the column "how long has this been False" means something.

Version-independent; no API calls here.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, ClassVar, Protocol

from pydantic import Field

from wattbit.api.schema import Timestamp, WattbitModel, utcnow
from wattbit.core.model import Reason as CoreReason

MAX_CONDITIONS = 16
"""``maxItems`` of every ``status.conditions`` list (keeps CEL cost and objects bounded)."""


class ConditionStatus(StrEnum):
    """Status of a condition, as in ``metav1.ConditionStatus``."""

    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class ConditionType(StrEnum):
    """Condition types used across kinds: CamelCase states, never a phase."""

    READY = "Ready"
    """The object is valid and in use (Region, APNLink, PlacementPolicy)."""
    SIGNALS_FRESH = "SignalsFresh"
    """A Region's signals are younger than ``signals.maxAgeSeconds``."""
    PLACED = "Placed"
    """A workload has been released into a region."""
    HELD = "Held"
    """A workload is deliberately held (gated or suspended); the reason says why."""
    MIGRATING = "Migrating"
    """A workload is being moved between regions."""
    ACCEPTED = "Accepted"
    """A PowerSignal passed validation and feeds its region(s)."""
    EXPIRED = "Expired"
    """A PowerSignal's ``validUntil`` has passed."""
    CHECKPOINT_FITS = "CheckpointFits"
    """A workload's termination grace period covers its declared checkpoint time."""
    GATED = "Gated"
    """A pod still carries the ``wattbit.io/placement`` scheduling gate."""


READY = ConditionType.READY
SIGNALS_FRESH = ConditionType.SIGNALS_FRESH
PLACED = ConditionType.PLACED
HELD = ConditionType.HELD
MIGRATING = ConditionType.MIGRATING
ACCEPTED = ConditionType.ACCEPTED
EXPIRED = ConditionType.EXPIRED
GATED = ConditionType.GATED


Reason = CoreReason
"""The one vocabulary of reasons (``wattbit.core.model.Reason``), re-exported for API users."""


ConditionTypeName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=316,
        pattern=r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
        r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$",
    ),
]
"""Same limits as ``metav1.Condition.type``."""

ReasonName = Annotated[
    str,
    Field(min_length=1, max_length=1024, pattern=r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"),
]
"""Same limits as ``metav1.Condition.reason``: a CamelCase word."""


class Condition(WattbitModel):
    """One status condition, with the ``metav1.Condition`` shape and limits."""

    # metav1.Condition requires these; Python defaults message and time for convenience.
    crd_required: ClassVar[tuple[str, ...]] = ("message", "lastTransitionTime")

    type: ConditionTypeName
    """Condition type, e.g. ``Ready`` (see ``ConditionType``)."""
    status: ConditionStatus
    """``True``, ``False`` or ``Unknown``."""
    reason: ReasonName
    """CamelCase reason for the last transition (see ``Reason``)."""
    message: Annotated[str, Field(max_length=32768)] = ""
    """Human-readable detail: what happened and what to do."""
    observed_generation: Annotated[int, Field(ge=0)] | None = None
    """``metadata.generation`` the condition was computed from."""
    last_transition_time: Timestamp = Field(default_factory=utcnow)
    """When ``status`` last changed (kept by ``set_condition`` while status is unchanged)."""


def find_condition(conditions: list[Condition], type_: str) -> Condition | None:
    """The condition of ``type_``, if present."""
    return next((c for c in conditions if c.type == type_), None)


def is_true(conditions: list[Condition], type_: str) -> bool:
    """Whether the condition of ``type_`` exists and is ``True``."""
    found = find_condition(conditions, type_)
    return found is not None and found.status == ConditionStatus.TRUE


def set_condition(conditions: list[Condition], new: Condition, now: datetime) -> list[Condition]:
    """Return ``conditions`` with ``new`` put in place of the condition of the same type.

    ``lastTransitionTime`` is kept from the existing condition when the status did not
    change, and set to ``now`` when it did or when the type is new. Order is preserved and
    new types are appended, so repeated calls produce no diff (no status patch churn).
    """
    old = find_condition(conditions, new.type)
    transition = old.last_transition_time if old and old.status == new.status else now
    updated = new.model_copy(update={"last_transition_time": transition})
    if old is None:
        return [*conditions, updated]
    return [updated if c.type == new.type else c for c in conditions]


def upsert_condition(
    conditions: list[Condition],
    *,
    type_: str,
    ok: bool,
    reason: str,
    message: str,
    observed_generation: int | None,
    now: datetime,
) -> list[Condition]:
    """``set_condition`` from plain values: True when ``ok``, message cut to 1000 characters."""
    return set_condition(
        conditions,
        Condition(
            type=type_,
            status=ConditionStatus.TRUE if ok else ConditionStatus.FALSE,
            reason=reason,
            message=message[:1000],
            observed_generation=observed_generation,
            last_transition_time=now,
        ),
        now,
    )


class HasConditions(Protocol):
    """A status model with conditions (Region, PowerSignal, WorkloadPlacement status)."""

    conditions: list[Condition]
    observed_generation: int | None


def set_status_condition(
    status: HasConditions, now: datetime, type_: str, ok: bool, *, reason: str, message: str
) -> None:
    """Upsert a condition on ``status`` in place, stamped with its observed generation."""
    status.conditions = upsert_condition(
        status.conditions,
        type_=type_,
        ok=ok,
        reason=reason,
        message=message,
        observed_generation=status.observed_generation,
        now=now,
    )


def remove_condition(conditions: list[Condition], type_: str) -> list[Condition]:
    """Return ``conditions`` without the condition of ``type_``."""
    return [c for c in conditions if c.type != type_]


ConditionList = Annotated[
    list[Condition],
    Field(
        max_length=MAX_CONDITIONS,
        json_schema_extra={
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["type"],
        },
    ),
]
"""``status.conditions``: at most one condition per type (``listType=map`` on ``type``)."""
