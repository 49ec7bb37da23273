"""``PlacementPolicy`` (namespaced): how eagerly workloads in a namespace are shifted.

A workload uses the policy named by its ``wattbit.io/policy`` annotation, else the policy
named ``default`` in its namespace, else the built-in defaults, which are exactly
``PlacementPolicySpec()``. Every field therefore has a default that is valid on its own.

Data definitions only.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, ClassVar, Final, Literal, Self

from pydantic import Field, model_validator

from wattbit.api.conditions import ConditionList
from wattbit.api.v1alpha1.common import (
    AGE_COLUMN,
    CelRule,
    KindInfo,
    LabelSelector,
    PrinterColumn,
    RegionName,
    Resource,
    WattbitModel,
    ready_column,
)

KIND: Final = "PlacementPolicy"
PLURAL: Final = "placementpolicies"
POLICY_ANNOTATION = "wattbit.io/policy"
"""Workload annotation naming the PlacementPolicy (same namespace) to use."""
DEFAULT_POLICY_NAME = "default"
"""Policy used by workloads without the annotation, if it exists in their namespace."""

_WEEK_MINUTES = 7 * 24 * 60


class PolicyMode(StrEnum):
    """Whether decisions are carried out."""

    ENFORCE = "Enforce"
    """Gate, place and move workloads."""
    DRY_RUN = "DryRun"
    """Record decisions in WorkloadPlacement status and Events; never act."""


class PlacementPolicySpec(WattbitModel):
    """How placements and moves are decided. ``PlacementPolicySpec()`` is the built-in
    default."""

    cel_rules: ClassVar[tuple[CelRule, ...]] = (
        CelRule(
            rule="!has(self.allowedRegions) || size(self.allowedRegions) > 0",
            message="allowedRegions must list at least one region; omit it to allow every region",
            field_path=".allowedRegions",
        ),
    )

    mode: PolicyMode = PolicyMode.ENFORCE
    """``Enforce`` acts on decisions; ``DryRun`` only records them."""
    carbon_price_jpy_per_tonne: Annotated[int, Field(ge=0, le=1_000_000)] = 10_000
    """Internal carbon price folding emissions into cost: cost = energy x (price + carbon
    intensity x this). 10000 JPY/t (about the EU ETS level) by default; 0 ranks on price
    alone."""
    minimum_saving_percent: Annotated[int, Field(ge=0, le=100)] = 1
    """A move must cut the remaining run's cost by at least this share, after the cost of
    moving (hysteresis against thrashing)."""
    tolerance_window_minutes: Annotated[int, Field(ge=0, le=_WEEK_MINUTES)] = 360
    """Longest a workload without a deadline may be held waiting for a greener or cheaper
    window (temporal shifting); 0 starts it at once in the best region."""
    stability_window_minutes: Annotated[int, Field(ge=0, le=1440)] = 60
    """How long another region must stay better before a move (debounces noisy signals)."""
    cooldown_minutes: Annotated[int, Field(ge=0, le=_WEEK_MINUTES)] = 60
    """Minimum time between two moves of the same workload."""
    max_moves_per_workload: Annotated[int, Field(ge=0, le=100)] = 3
    """Moves allowed over a workload's life; 0 disables migration."""
    safety_margin_minutes: Annotated[int, Field(ge=0, le=_WEEK_MINUTES)] = 30
    """Slack kept before a deadline: no waiting or move that would finish later than
    deadline minus this, minus a share of the remaining runtime. The share is 5 % until ten
    Jobs that wattbit managed have finished unmoved with an expected duration; then it is how
    far nine in ten of them overran that duration (0 when they kept to it)."""
    checkpoint_notice_seconds: Annotated[int, Field(ge=0, le=86_400)] = 60
    """How long a moving workload's trainer has, from the checkpoint request to the suspension
    (longer when the workload declares a longer checkpoint time)."""
    max_suspended_minutes: Annotated[int, Field(ge=1, le=_WEEK_MINUTES)] = 30
    """Longest a move may keep a workload suspended; then it is resumed where it points."""
    max_placement_failures: Annotated[int, Field(ge=1, le=100)] = 3
    """Failed placements or moves after which a workload runs where it can, carbon-agnostic
    (``PlacementFailed``)."""
    max_moves_in_flight: Annotated[int, Field(ge=0, le=10_000)] = 10
    """A move of a workload under this policy starts only while fewer moves than this are in
    flight in the whole cluster; 0 allows none."""
    max_link_latency_microseconds: Annotated[int, Field(ge=0, le=10_000_000)] | None = None
    """Moves only go over APNLinks at most this slow; any link (or none) when unset."""
    allowed_regions: (
        Annotated[
            list[RegionName],
            Field(max_length=64, json_schema_extra={"x-kubernetes-list-type": "set"}),
        ]
        | None
    ) = None
    """Regions workloads may run in; every Region when unset. Must not be empty."""
    workload_selector: LabelSelector | None = None
    """Workloads (by label) this policy applies to; a workload that names the policy but
    does not match uses the built-in defaults. Every workload when unset."""

    @model_validator(mode="after")
    def _checks(self) -> Self:
        # Mirrors the CEL rule above.
        if self.allowed_regions is not None and not self.allowed_regions:
            raise ValueError("allowedRegions must list at least one region")
        return self


class PlacementPolicyStatus(WattbitModel):
    """Observed state of a PlacementPolicy."""

    observed_generation: Annotated[int, Field(ge=0)] | None = None
    """``metadata.generation`` last acted on."""
    conditions: ConditionList = Field(default_factory=list)
    """``Ready`` (``RegionNotFound`` when an allowed region does not exist)."""


class PlacementPolicy(Resource):
    """Placement and migration policy for a namespace's workloads."""

    kind_info: ClassVar[KindInfo] = KindInfo(
        kind=KIND,
        plural=PLURAL,
        scope="Namespaced",
        short_names=("ppol",),
        printer_columns=(
            PrinterColumn(
                name="Mode",
                type="string",
                json_path=".spec.mode",
                description="Enforce or DryRun.",
            ),
            PrinterColumn(
                name="JPY/tCO2",
                type="integer",
                json_path=".spec.carbonPriceJpyPerTonne",
                description="Internal carbon price.",
            ),
            PrinterColumn(
                name="Min Saving%",
                type="integer",
                json_path=".spec.minimumSavingPercent",
                description="Saving a move must reach.",
            ),
            PrinterColumn(
                name="Cooldown",
                type="integer",
                json_path=".spec.cooldownMinutes",
                description="Minutes between moves of one workload.",
                priority=1,
            ),
            PrinterColumn(
                name="Max Moves",
                type="integer",
                json_path=".spec.maxMovesPerWorkload",
                description="Moves allowed per workload.",
                priority=1,
            ),
            ready_column(),
            AGE_COLUMN,
        ),
    )

    kind: Literal["PlacementPolicy"] = KIND
    """Always ``PlacementPolicy``."""
    spec: PlacementPolicySpec = Field(
        default_factory=PlacementPolicySpec,
        # The full default, not {}: the API server checks defaults against the CEL rules.
        json_schema_extra={"default": PlacementPolicySpec().to_wire()},
    )
    """Desired state; every field has a default."""
    status: PlacementPolicyStatus | None = None
    """Observed state, written by the operator."""
