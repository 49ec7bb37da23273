"""``APNLink`` (cluster-scoped): an All-Photonics Network link between two Regions.

Latency bounds which moves a policy allows; bandwidth and energy per gigabyte give the
time and energy of moving a checkpoint, which a move must earn back. A reference to a
Region that does not exist cannot be checked by CEL; the operator reports it with the
``Ready=False, reason=RegionNotFound`` condition and a Warning Event.

Data definitions only.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Final, Literal, Self

from pydantic import Field, model_validator

from wattbit.api.conditions import ConditionList
from wattbit.api.v1alpha1.common import (
    AGE_COLUMN,
    CelRule,
    KindInfo,
    PrinterColumn,
    RegionName,
    Resource,
    Timestamp,
    WattbitModel,
    ready_column,
)

KIND: Final = "APNLink"
PLURAL: Final = "apnlinks"


MAX_RECENT_MOVES = 10


class APNLinkSpec(WattbitModel):
    """The link's end points and characteristics."""

    cel_rules: ClassVar[tuple[CelRule, ...]] = (
        CelRule(
            rule="self.fromRegion != self.toRegion",
            message="fromRegion and toRegion must differ: a link connects two regions",
            field_path=".toRegion",
        ),
        CelRule(
            rule="self.fromRegion == oldSelf.fromRegion && self.toRegion == oldSelf.toRegion",
            message="fromRegion and toRegion are immutable: create a new APNLink instead",
        ),
    )

    from_region: RegionName
    """Region at one end."""
    to_region: RegionName
    """Region at the other end."""
    latency_microseconds: Annotated[int, Field(ge=0, le=10_000_000)]
    """One-way latency in microseconds (about 5 per km of fibre)."""
    bandwidth_gbps: Annotated[int, Field(ge=1, le=1_000_000)]
    """Bandwidth available for checkpoint transfer, Gbit/s."""
    energy_joules_per_gigabyte: Annotated[int, Field(ge=0, le=100_000_000)] = 3600
    """Network energy to move one gigabyte, joules (3600 J = 1 Wh, a conservative
    default for optical transport plus end points; set it from your carrier's figure)."""
    bidirectional: bool = True
    """The link also carries traffic from ``toRegion`` to ``fromRegion``."""

    @model_validator(mode="after")
    def _checks(self) -> Self:
        # Mirrors the CEL rule above.
        if self.from_region == self.to_region:
            raise ValueError("fromRegion and toRegion must differ")
        return self

    def transfer_seconds(self, gigabytes: float) -> float:
        """Time to move ``gigabytes`` at the full bandwidth, latency included."""
        return gigabytes * 8 / self.bandwidth_gbps + self.latency_microseconds / 1e6

    def connects(self, a: str, b: str) -> bool:
        """Whether the link carries traffic from ``a`` to ``b``."""
        if (self.from_region, self.to_region) == (a, b):
            return True
        return self.bidirectional and (self.from_region, self.to_region) == (b, a)


class LinkMove(WattbitModel):
    """A move whose checkpoint crossed the link."""

    workload: Annotated[str, Field(max_length=512)]
    """``Kind/namespace/name`` of the workload."""
    from_region: RegionName
    """Region it left."""
    to_region: RegionName
    """Region it moved to."""
    completed_at: Timestamp
    """When it ran in the new region."""


class APNLinkStatus(WattbitModel):
    """Observed state of an APNLink."""

    observed_generation: Annotated[int, Field(ge=0)] | None = None
    """``metadata.generation`` last acted on."""
    conditions: ConditionList = Field(default_factory=list)
    """``Ready`` (``RegionNotFound`` when a Region it names does not exist)."""
    moves_completed: Annotated[int, Field(ge=0)] = 0
    """Moves whose checkpoint crossed this link."""
    recent_moves: Annotated[list[LinkMove], Field(max_length=MAX_RECENT_MOVES)] = Field(
        default_factory=list
    )
    """The latest moves over the link, newest last."""


class APNLink(Resource):
    """An APN link between two Regions (cluster-scoped)."""

    kind_info: ClassVar[KindInfo] = KindInfo(
        kind=KIND,
        plural=PLURAL,
        scope="Cluster",
        short_names=("apn",),
        printer_columns=(
            PrinterColumn(
                name="From",
                type="string",
                json_path=".spec.fromRegion",
                description="Region at one end.",
            ),
            PrinterColumn(
                name="To",
                type="string",
                json_path=".spec.toRegion",
                description="Region at the other end.",
            ),
            PrinterColumn(
                name="Latency(us)",
                type="integer",
                json_path=".spec.latencyMicroseconds",
                description="One-way latency, microseconds.",
            ),
            PrinterColumn(
                name="Gbps",
                type="integer",
                json_path=".spec.bandwidthGbps",
                description="Bandwidth, Gbit/s.",
            ),
            PrinterColumn(
                name="Bidirectional",
                type="boolean",
                json_path=".spec.bidirectional",
                description="Carries traffic both ways.",
                priority=1,
            ),
            PrinterColumn(
                name="Moves",
                type="integer",
                json_path=".status.movesCompleted",
                description="Moves whose checkpoint crossed the link.",
            ),
            ready_column(),
            AGE_COLUMN,
        ),
    )

    kind: Literal["APNLink"] = KIND
    """Always ``APNLink``."""
    spec: APNLinkSpec
    """Desired state."""
    status: APNLinkStatus | None = None
    """Observed state, written by the operator."""
