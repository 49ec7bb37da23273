"""``Region`` (cluster-scoped): one regional data-center site that can run workloads.

A Region says which nodes belong to it, which grid area powers it, its capacity and PUE,
whether it takes work, and where its live signals come from. Its status carries the latest
signals (carbon, price, renewables, curtailment, forecast) and GPU occupancy, which the
decision core reads through the handlers' index.

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
    GridAreaCode,
    KindInfo,
    LabelMap,
    PrinterColumn,
    PueString,
    Resource,
    Timestamp,
    WattbitModel,
    ready_column,
)
from wattbit.api.v1alpha1.signals import (
    JAPAN_GRID_AREAS,
    JapanGridArea,
    ProviderKind,
    ReplaySignals,
    SignalSource,
)

KIND: Final = "Region"
PLURAL: Final = "regions"
REGION_LABEL = "topology.kubernetes.io/region"
"""Node label used when ``spec.nodeSelector`` is unset."""
MAX_FORECAST_POINTS = 96
"""Two days of JEPX half-hour slots."""


class Availability(StrEnum):
    """Whether a Region takes work."""

    AVAILABLE = "Available"
    """Takes new placements and moves in."""
    DRAINING = "Draining"
    """Takes nothing new; running work moves out when a move pays off (maintenance)."""
    UNAVAILABLE = "Unavailable"
    """Takes nothing; running work is moved out now (disaster, outage)."""


class RegionCapacity(WattbitModel):
    """Limits of a site beyond what its nodes report."""

    gpus: Annotated[int, Field(ge=0, le=1_000_000)] | None = None
    """GPUs wattbit may fill here; the nodes' allocatable GPUs when unset."""
    power_cap_kilowatts: Annotated[int, Field(ge=1, le=10_000_000)] | None = None
    """Facility power (IT x PUE) wattbit's workloads may draw here, in kW; no cap when
    unset."""


class RegionSpec(WattbitModel):
    """Desired state of a Region."""

    cel_rules: ClassVar[tuple[CelRule, ...]] = (
        CelRule(
            rule="!has(self.nodeSelector) || size(self.nodeSelector) > 0",
            message="nodeSelector must not be empty: omit it to select nodes labelled "
            "topology.kubernetes.io/region=<region name>",
            field_path=".nodeSelector",
        ),
        CelRule(
            rule="!has(self.signals) || self.signals.provider != 'replay' || "
            "(has(self.signals.replay) && has(self.signals.replay.area)) || "
            f"self.gridArea in {list(JAPAN_GRID_AREAS)}",
            message="the replay provider only has Japanese data: use a gridArea from "
            f"{', '.join(JAPAN_GRID_AREAS)}, or set signals.replay.area",
            field_path=".gridArea",
        ),
    )

    grid_area: GridAreaCode
    """Grid (bidding) area powering the site, e.g. ``JP-HKD`` (Hokkaido)."""
    node_selector: LabelMap | None = None
    """Labels selecting this Region's nodes; ``topology.kubernetes.io/region: <name>``
    when unset. Must not be empty when set."""
    capacity: RegionCapacity | None = None
    """Capacity limits; only what the nodes report when unset."""
    pue: PueString = "1.2"
    """Power usage effectiveness (facility / IT power), ``"1.0"``-``"3.0"``."""
    availability: Availability = Availability.AVAILABLE
    """Whether the Region takes work."""
    signals: SignalSource = Field(
        default_factory=SignalSource,
        # The full default, not {}: the API server checks defaults against the CEL rules
        # before nested defaults apply.
        json_schema_extra={"default": SignalSource().to_wire()},
    )
    """Where the live signals come from; the embedded replay of ``gridArea`` by default."""

    @model_validator(mode="after")
    def _checks(self) -> Self:
        # Mirrors the CEL rules above.
        if self.node_selector is not None and not self.node_selector:
            raise ValueError("nodeSelector must not be empty")
        if (
            self.signals.provider == ProviderKind.REPLAY
            and (self.signals.replay is None or self.signals.replay.area is None)
            and self.grid_area not in JAPAN_GRID_AREAS
        ):
            raise ValueError(f"the replay provider has no data for gridArea {self.grid_area}")
        return self

    def effective_node_selector(self, name: str) -> dict[str, str]:
        """Node labels selecting this Region's nodes (the default uses the Region name)."""
        if self.node_selector:
            return dict(self.node_selector)
        return {REGION_LABEL: name}

    def pue_value(self) -> float:
        """``pue`` as a number."""
        return float(self.pue)

    def replay_settings(self) -> ReplaySignals:
        """Replay settings with ``area`` resolved to ``gridArea`` when unset."""
        replay = self.signals.replay or ReplaySignals()
        if replay.area is None:
            return replay.model_copy(update={"area": JapanGridArea(self.grid_area)})
        return replay


class ForecastPoint(WattbitModel):
    """One forecast interval, starting at ``start``."""

    start: Timestamp
    """Start of the interval (intervals run until the next point)."""
    carbon_grams_per_kwh: float | None = None
    """Forecast carbon intensity, gCO2/kWh."""
    price_jpy_per_kwh: float | None = None
    """Forecast price, JPY/kWh."""
    renewable_percent: float | None = None
    """Forecast renewable share, percent."""


class RegionSignalsStatus(WattbitModel):
    """The latest signals for a Region, as observed by the operator."""

    carbon_grams_per_kwh: float | None = None
    """Carbon intensity, gCO2/kWh."""
    price_jpy_per_kwh: float | None = None
    """Price, JPY/kWh."""
    renewable_percent: float | None = None
    """Renewable share of generation, percent."""
    curtailment: bool | None = None
    """Renewables are being curtailed now."""
    observed_at: Timestamp | None = None
    """When the source says the values were valid (freshness is measured from here)."""
    source: Annotated[str, Field(max_length=253)] | None = None
    """Provider and detail, e.g. ``replay:JP-KY/spring`` or ``powersignal:ns/name``."""
    forecast: Annotated[list[ForecastPoint], Field(max_length=MAX_FORECAST_POINTS)] = Field(
        default_factory=list
    )
    """Forecast, oldest first, at most two days of half-hour slots."""


class GpuStatus(WattbitModel):
    """GPU occupancy of a Region."""

    total: Annotated[int, Field(ge=0)]
    """GPUs available to wattbit (capacity or node allocatable)."""
    allocated: Annotated[int, Field(ge=0)]
    """GPUs requested by pods bound or placed here."""
    free: Annotated[int, Field(ge=0)]
    """``total - allocated``, never below zero."""


class RegionStatus(WattbitModel):
    """Observed state of a Region."""

    observed_generation: Annotated[int, Field(ge=0)] | None = None
    """``metadata.generation`` last acted on."""
    conditions: ConditionList = Field(default_factory=list)
    """``Ready`` and ``SignalsFresh``."""
    signals: RegionSignalsStatus | None = None
    """Latest signals; absent until the first successful read."""
    gpus: GpuStatus | None = None
    """GPU occupancy."""
    nodes: Annotated[int, Field(ge=0)] | None = None
    """Ready nodes matched by the node selector."""


class Region(Resource):
    """A regional data-center site (cluster-scoped)."""

    kind_info: ClassVar[KindInfo] = KindInfo(
        kind=KIND,
        plural=PLURAL,
        scope="Cluster",
        short_names=("rgn",),
        printer_columns=(
            PrinterColumn(
                name="Grid Area",
                type="string",
                json_path=".spec.gridArea",
                description="Grid area powering the site.",
            ),
            PrinterColumn(
                name="Availability",
                type="string",
                json_path=".spec.availability",
                description="Whether the Region takes work.",
            ),
            ready_column(),
            ready_column("SignalsFresh", priority=1),
            PrinterColumn(
                name="gCO2/kWh",
                type="number",
                json_path=".status.signals.carbonGramsPerKwh",
                description="Current carbon intensity.",
            ),
            PrinterColumn(
                name="JPY/kWh",
                type="number",
                json_path=".status.signals.priceJpyPerKwh",
                description="Current electricity price.",
            ),
            PrinterColumn(
                name="Free GPUs",
                type="integer",
                json_path=".status.gpus.free",
                description="GPUs not allocated.",
            ),
            PrinterColumn(
                name="Provider",
                type="string",
                json_path=".spec.signals.provider",
                description="Signal provider.",
                priority=1,
            ),
            PrinterColumn(
                name="Renewable%",
                type="number",
                json_path=".status.signals.renewablePercent",
                description="Renewable share of generation.",
                priority=1,
            ),
            AGE_COLUMN,
        ),
        root_rules=(
            CelRule(
                rule="size(self.metadata.name) <= 63",
                message="a Region name must be at most 63 characters, because it is used as "
                "the topology.kubernetes.io/region node label value",
            ),
        ),
    )

    kind: Literal["Region"] = KIND
    """Always ``Region``."""
    spec: RegionSpec
    """Desired state."""
    status: RegionStatus | None = None
    """Observed state, written by the operator."""
