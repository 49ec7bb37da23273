"""``WorkloadPlacement`` (namespaced, owned by its workload): the decision record.

One per managed Job or Pod. The spec names the workload and the hints read from its
``wattbit.io/`` annotations; the status keeps the latest decision with the figures behind
it, the candidates that were compared, and where the workload ran, hour by hour, with
energy, carbon and cost next to the no-shifting baseline: a verifiable green-compute receipt.

Data definitions only.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, ClassVar, Final, Literal, Self

from pydantic import Field, model_validator

from wattbit.api.conditions import ConditionList, ReasonName
from wattbit.api.v1alpha1.common import (
    AGE_COLUMN,
    CelRule,
    KindInfo,
    ObjectName,
    PrinterColumn,
    RegionName,
    Resource,
    Timestamp,
    WattbitModel,
)
from wattbit.api.v1alpha1.receipt import ReceiptStatus
from wattbit.core.migration import MovePhase
from wattbit.core.model import DecisionKind

KIND: Final = "WorkloadPlacement"
PLURAL: Final = "workloadplacements"
MAX_CANDIDATES = 64
MAX_HISTORY = 200
MAX_PHASE_HISTORY = 32
"""Newest records are kept; older ones are folded into ``totals`` only."""


class WorkloadKind(StrEnum):
    """Workload kinds wattbit can steer."""

    JOB = "Job"
    POD = "Pod"
    JOBSET = "JobSet"
    TRAINJOB = "TrainJob"


API_VERSIONS: Final = {
    WorkloadKind.JOB: "batch/v1",
    WorkloadKind.POD: "v1",
    WorkloadKind.JOBSET: "jobset.x-k8s.io/v1alpha2",
    WorkloadKind.TRAINJOB: "trainer.kubeflow.org/v1alpha1",
}
"""The one apiVersion wattbit steers each kind through."""
_API_VERSIONS_CEL = "{" + ", ".join(f"'{k}': '{v}'" for k, v in API_VERSIONS.items()) + "}"


class WorkloadRef(WattbitModel):
    """The Job or Pod this record belongs to (also its owner reference)."""

    cel_rules: ClassVar[tuple[CelRule, ...]] = (
        CelRule(
            rule=f"self.apiVersion == {_API_VERSIONS_CEL}[self.kind]",
            message="apiVersion must be batch/v1 for a Job, v1 for a Pod, "
            "jobset.x-k8s.io/v1alpha2 for a JobSet and trainer.kubeflow.org/v1alpha1 for a "
            "TrainJob",
            field_path=".apiVersion",
        ),
        CelRule(
            rule="self == oldSelf",
            message="workloadRef is immutable: a WorkloadPlacement belongs to one workload "
            "for its whole life",
        ),
    )

    api_version: Annotated[str, Field(min_length=1, max_length=64)]
    """``batch/v1`` for a Job, ``v1`` for a Pod, ``jobset.x-k8s.io/v1alpha2`` for a JobSet,
    ``trainer.kubeflow.org/v1alpha1`` for a TrainJob."""
    kind: WorkloadKind
    """``Job``, ``Pod``, ``JobSet`` or ``TrainJob``."""
    name: ObjectName
    """Name of the workload (same namespace)."""
    uid: Annotated[
        str,
        Field(
            min_length=36,
            max_length=36,
            pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
        ),
    ]
    """UID of the workload, so that a new workload with the same name is not confused
    with it."""

    @model_validator(mode="after")
    def _checks(self) -> Self:
        # Mirrors the CEL rule above (immutability is the API server's job alone).
        if self.api_version != API_VERSIONS[self.kind]:
            raise ValueError(
                f"apiVersion must be {API_VERSIONS[self.kind]} for a {self.kind.value}"
            )
        return self


class WorkloadPlacementSpec(WattbitModel):
    """Which workload, and the hints that bound its placement."""

    cel_rules: ClassVar[tuple[CelRule, ...]] = (
        CelRule(
            rule="!has(self.deadline) || !has(self.notBefore) || self.deadline > self.notBefore",
            message="deadline must be after notBefore",
            field_path=".deadline",
        ),
        CelRule(
            rule="!has(self.deadline) || !has(self.notBefore) || "
            "!has(self.expectedDurationMinutes) || "
            "(self.deadline - self.notBefore).getSeconds() >= self.expectedDurationMinutes * 60",
            message="the window from notBefore to deadline is shorter than "
            "expectedDurationMinutes: the workload cannot finish in time",
            field_path=".expectedDurationMinutes",
        ),
    )

    workload_ref: WorkloadRef
    """The workload; immutable."""
    policy_name: ObjectName | None = None
    """PlacementPolicy used (same namespace); the namespace's ``default`` policy or the
    built-in defaults when unset."""
    deadline: Timestamp | None = None
    """The workload must finish by then (``wattbit.io/deadline``); no deadline when unset."""
    not_before: Timestamp | None = None
    """The workload must not start earlier (``wattbit.io/not-before``)."""
    expected_duration_minutes: Annotated[int, Field(ge=1, le=525_600)] | None = None
    """Expected run time (``wattbit.io/expected-duration``), used for energy and deadline
    checks; the operator's default when unset."""
    checkpoint_gigabytes: Annotated[int, Field(ge=0, le=1_000_000)] | None = None
    """Checkpoint size moved over the APN link on migration (``wattbit.io/checkpoint-size``)."""
    gpus: Annotated[int, Field(ge=0, le=100_000)] | None = None
    """GPUs the workload requests, summed over its pods."""

    @model_validator(mode="after")
    def _checks(self) -> Self:
        # Mirrors the CEL rules above.
        if self.deadline and self.not_before:
            if self.deadline <= self.not_before:
                raise ValueError("deadline must be after notBefore")
            if self.expected_duration_minutes is not None and (
                (self.deadline - self.not_before).total_seconds()
                < self.expected_duration_minutes * 60
            ):
                raise ValueError("the window from notBefore to deadline is too short")
        return self


class PhaseEntry(WattbitModel):
    """One phase a move went through."""

    phase: MovePhase
    """The phase recorded (before its action was taken)."""
    at: Timestamp
    """When it was recorded."""
    message: Annotated[str, Field(max_length=1024)] | None = None
    """What was done or observed."""


class MigrationStatus(WattbitModel):
    """The move in flight (or the last one), recorded before each of its actions so that a
    restarted operator continues it without doing anything twice."""

    phase: MovePhase
    """Where the move is; ``Running`` and ``Abandoned`` end it."""
    from_region: RegionName
    """Region the workload leaves."""
    to_region: RegionName
    """Region the workload moves to."""
    reason: ReasonName
    """Why it moves (``GreenerRegion``, ``RegionDraining``, ``MakingRoom``)."""
    started_at: Timestamp
    """When the move was decided."""
    phase_since: Timestamp
    """When ``phase`` was recorded."""
    attempt: Annotated[int, Field(ge=1, le=1000)] = 1
    """How many times the current phase's action was issued (1 unless retried)."""
    checkpoint_deadline: Timestamp | None = None
    """Suspension at the latest at this time (set with ``CheckpointRequested``)."""
    suspended_at: Timestamp | None = None
    """When the suspension was recorded."""
    link: Annotated[str, Field(max_length=253)] | None = None
    """APNLink the checkpoint crosses (None: no link was priced)."""
    history: Annotated[list[PhaseEntry], Field(max_length=MAX_PHASE_HISTORY)] = Field(
        default_factory=list
    )
    """Every phase, oldest first."""


class CandidateStatus(WattbitModel):
    """One region as compared in the last decision: the numbers behind it."""

    region: RegionName
    """Region name."""
    eligible: bool
    """Whether the region could take the workload at all."""
    reason: ReasonName | None = None
    """Why it was not eligible (e.g. ``SignalStale``), or why it lost."""
    gpus_free: int | None = None
    """Free GPUs at decision time."""
    carbon_grams_per_kwh: float | None = None
    """Carbon intensity used, gCO2/kWh."""
    price_jpy_per_kwh: float | None = None
    """Price used, JPY/kWh."""
    energy_kwh: float | None = None
    """Facility energy (IT x PUE) for the remaining run, kWh."""
    carbon_kg: float | None = None
    """Emissions for the remaining run, kg CO2."""
    cost_jpy: float | None = None
    """Cost for the remaining run, carbon price included, JPY."""
    move_cost_jpy: float | None = None
    """Cost of moving there (transfer and restart), JPY; 0 for the current region."""


class PlacementRecord(WattbitModel):
    """A stretch of running in one region, from the receipt (hour by hour: `receipt`)."""

    region: RegionName
    """Region it ran in."""
    started_at: Timestamp
    """Start of the stretch."""
    ended_at: Timestamp | None = None
    """End of the stretch; still running when unset."""
    energy_kwh: float = 0.0
    """Facility energy used, kWh."""
    carbon_kg: float = 0.0
    """Emissions, kg CO2."""
    cost_jpy: float = 0.0
    """Electricity cost, JPY (no carbon price)."""


class AccountingTotals(WattbitModel):
    """Energy, carbon and cost summed over a workload's life."""

    energy_kwh: float = 0.0
    """Facility energy, kWh."""
    carbon_kg: float = 0.0
    """Emissions, kg CO2."""
    cost_jpy: float = 0.0
    """Electricity cost, JPY."""


class SavingTotals(WattbitModel):
    """The counterfactual's figures minus the run's: positive when wattbit did better."""

    carbon_kg: float = 0.0
    """Emissions avoided, kg CO2."""
    cost_jpy: float = 0.0
    """Electricity cost saved, JPY."""


class BaselineTotals(AccountingTotals):
    """What the run would have cost without shifting: started at once, never moved."""

    region: RegionName | None = None
    """Region the workload would have run in (the first eligible one at submission)."""


class WorkloadPlacementStatus(WattbitModel):
    """Observed state: the last decision and the accounting."""

    observed_generation: Annotated[int, Field(ge=0)] | None = None
    """``metadata.generation`` last acted on."""
    conditions: ConditionList = Field(default_factory=list)
    """``Placed``, ``Held``, ``Migrating``."""
    region: RegionName | None = None
    """Region chosen (where it runs or will run)."""
    decision: DecisionKind | None = None
    """The last decision."""
    reason: ReasonName | None = None
    """CamelCase reason for the last decision, as in its Event."""
    message: Annotated[str, Field(max_length=4096)] | None = None
    """Human explanation of the last decision, with its numbers."""
    decided_at: Timestamp | None = None
    """When the last decision was made."""
    planned_start: Timestamp | None = None
    """``Wait``: when the workload is planned to start in ``region``."""
    migration: MigrationStatus | None = None
    """The move in flight, or the last one."""
    placement_failures: Annotated[int, Field(ge=0)] = 0
    """Placements and moves that failed; at the policy's limit the workload runs where it
    can, carbon-agnostic (``PlacementFailed``)."""
    candidates: Annotated[
        list[CandidateStatus],
        Field(
            max_length=MAX_CANDIDATES,
            json_schema_extra={
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["region"],
            },
        ),
    ] = Field(default_factory=list)
    """Regions compared in the last decision, best first."""
    history: Annotated[list[PlacementRecord], Field(max_length=MAX_HISTORY)] = Field(
        default_factory=list
    )
    """Where the workload ran, oldest first."""
    moves: Annotated[int, Field(ge=0)] = 0
    """Moves so far."""
    last_move_at: Timestamp | None = None
    """When the last move started (cooldown is measured from here)."""
    totals: AccountingTotals | None = None
    """Accounting over the whole run so far."""
    baseline: BaselineTotals | None = None
    """The counterfactual's totals: the same work from arrival, no wait, no move."""
    savings: SavingTotals | None = None
    """Baseline minus totals."""
    receipt: ReceiptStatus | None = None
    """Hour by hour: where it ran, the signals used, the moves, and the counterfactual."""
    """The same run without shifting, for comparison."""


class WorkloadPlacement(Resource):
    """Placement decision and accounting record of one workload."""

    kind_info: ClassVar[KindInfo] = KindInfo(
        kind=KIND,
        plural=PLURAL,
        scope="Namespaced",
        short_names=("wpl",),
        printer_columns=(
            PrinterColumn(
                name="Workload",
                type="string",
                json_path=".spec.workloadRef.name",
                description="Name of the Job or Pod.",
            ),
            PrinterColumn(
                name="Kind",
                type="string",
                json_path=".spec.workloadRef.kind",
                description="Job or Pod.",
                priority=1,
            ),
            PrinterColumn(
                name="Region",
                type="string",
                json_path=".status.region",
                description="Region chosen.",
            ),
            PrinterColumn(
                name="Decision",
                type="string",
                json_path=".status.decision",
                description="Last decision.",
            ),
            PrinterColumn(
                name="Reason",
                type="string",
                json_path=".status.reason",
                description="Reason for the last decision.",
            ),
            PrinterColumn(
                name="Start",
                type="string",  # a future instant: a "date" column would print <invalid>
                json_path=".status.plannedStart",
                description="Planned start of a waiting workload.",
            ),
            PrinterColumn(
                name="Phase",
                type="string",
                json_path=".status.migration.phase",
                description="Phase of the move in flight or the last move.",
            ),
            PrinterColumn(
                name="Moves",
                type="integer",
                json_path=".status.moves",
                description="Moves so far.",
            ),
            PrinterColumn(
                name="kgCO2",
                type="number",
                json_path=".status.totals.carbonKg",
                description="Emissions so far (closed intervals).",
            ),
            PrinterColumn(
                name="Saved kgCO2",
                type="number",
                json_path=".status.savings.carbonKg",
                description="Emissions avoided against the counterfactual so far.",
            ),
            PrinterColumn(
                name="Saved JPY",
                type="number",
                json_path=".status.savings.costJpy",
                description="Electricity cost saved against the counterfactual so far.",
                priority=1,
            ),
            PrinterColumn(
                name="Baseline kgCO2",
                type="number",
                json_path=".status.baseline.carbonKg",
                description="Emissions without shifting.",
                priority=1,
            ),
            PrinterColumn(
                name="Deadline",
                type="date",
                json_path=".spec.deadline",
                description="Deadline of the workload.",
                priority=1,
            ),
            AGE_COLUMN,
        ),
    )

    kind: Literal["WorkloadPlacement"] = KIND
    """Always ``WorkloadPlacement``."""
    spec: WorkloadPlacementSpec
    """Desired state."""
    status: WorkloadPlacementStatus | None = None
    """Observed state, written by the operator."""
