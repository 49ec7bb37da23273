"""``PowerSignal`` (namespaced): signal values or grid events written by anyone.

A utility feed, an aggregator, a demand-response system or a person with kubectl can
publish an observation, a forecast and events (curtailment, demand response) for one
Region or every Region in a grid area, valid for a bounded window. Regions with
``provider: external`` read only these; for other Regions, events still apply.

Data definitions only.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from typing import Annotated, ClassVar, Final, Literal, Self

from pydantic import Field, model_validator

from wattbit.api.conditions import ConditionList
from wattbit.api.v1alpha1.common import (
    AGE_COLUMN,
    CelRule,
    GridAreaCode,
    KindInfo,
    PriceString,
    PrinterColumn,
    RegionName,
    Resource,
    Timestamp,
    WattbitModel,
    ready_column,
)
from wattbit.api.v1alpha1.signals import CarbonGramsPerKwh, Percent

KIND: Final = "PowerSignal"
PLURAL: Final = "powersignals"
MAX_FORECAST_POINTS = 96
"""Two days of half-hour slots."""
MAX_EVENTS = 16
MAX_VALIDITY = timedelta(days=7)
"""Longest window one PowerSignal may cover, so stale objects cannot steer forever."""


class GridEventType(StrEnum):
    """Kinds of grid event."""

    CURTAILMENT = "Curtailment"
    """Renewables are (or will be) curtailed: extra load is welcome."""
    DEMAND_RESPONSE = "DemandResponse"
    """The grid asks for less load: shift work away."""


class SignalValues(WattbitModel):
    """Signal values at one time; unset values are unknown."""

    cel_rules: ClassVar[tuple[CelRule, ...]] = (
        CelRule(
            rule="has(self.carbonGramsPerKwh) || has(self.priceJpyPerKwh) || "
            "has(self.renewablePercent) || has(self.curtailment)",
            message="set at least one of carbonGramsPerKwh, priceJpyPerKwh, renewablePercent "
            "or curtailment",
        ),
    )

    carbon_grams_per_kwh: CarbonGramsPerKwh | None = None
    """Carbon intensity, gCO2/kWh."""
    price_jpy_per_kwh: PriceString | None = None
    """Price, JPY/kWh, as a decimal string (e.g. ``"0.01"``)."""
    renewable_percent: Percent | None = None
    """Renewable share, percent."""
    curtailment: bool | None = None
    """Renewables are being curtailed."""

    def price_value(self) -> float | None:
        """``price_jpy_per_kwh`` as a number, if set."""
        return None if self.price_jpy_per_kwh is None else float(self.price_jpy_per_kwh)


class SignalForecastPoint(SignalValues):
    """Forecast values for the interval starting at ``start`` (until the next point)."""

    start: Timestamp
    """Start of the interval."""


class GridEvent(WattbitModel):
    """A grid event over a time window."""

    cel_rules: ClassVar[tuple[CelRule, ...]] = (
        CelRule(
            rule="self.end > self.start",
            message="event end must be after its start",
            field_path=".end",
        ),
        CelRule(
            rule="!has(self.reductionKilowatts) || self.type == 'DemandResponse'",
            message="reductionKilowatts only applies to DemandResponse events",
            field_path=".reductionKilowatts",
        ),
    )

    type: GridEventType
    """``Curtailment`` or ``DemandResponse``."""
    start: Timestamp
    """Start of the event."""
    end: Timestamp
    """End of the event."""
    reduction_kilowatts: Annotated[int, Field(ge=1, le=10_000_000)] | None = None
    """For ``DemandResponse``: load reduction requested, kW; as much as possible when
    unset."""
    description: Annotated[str, Field(max_length=1024)] | None = None
    """Free text shown in Events."""

    @model_validator(mode="after")
    def _checks(self) -> Self:
        # Mirrors the CEL rules above.
        if self.end <= self.start:
            raise ValueError("event end must be after its start")
        return self


class PowerSignalSpec(WattbitModel):
    """What is signalled, for where, and for how long."""

    cel_rules: ClassVar[tuple[CelRule, ...]] = (
        CelRule(
            rule="has(self.region) != has(self.gridArea)",
            message="set exactly one of region or gridArea",
        ),
        CelRule(
            rule="self.validUntil > self.validFrom",
            message="validUntil must be after validFrom",
            field_path=".validUntil",
        ),
        CelRule(
            rule="self.validUntil - self.validFrom <= duration('168h')",
            message="a PowerSignal may cover at most 7 days (validFrom to validUntil)",
            field_path=".validUntil",
        ),
        CelRule(
            rule="has(self.observation) || (has(self.forecast) && size(self.forecast) > 0) || "
            "(has(self.events) && size(self.events) > 0)",
            message="a PowerSignal must carry an observation, a forecast or events",
        ),
        CelRule(
            rule="!has(self.forecast) || "
            "self.forecast.all(p, p.start >= self.validFrom && p.start < self.validUntil)",
            message="every forecast point must start within validFrom and validUntil",
            field_path=".forecast",
        ),
    )

    region: RegionName | None = None
    """Region the signal applies to."""
    grid_area: GridAreaCode | None = None
    """Grid area the signal applies to (every Region with that ``gridArea``)."""
    source: Annotated[str, Field(min_length=1, max_length=253)]
    """Who published it, e.g. ``kyuden-curtailment-feed`` or ``alice``."""
    valid_from: Timestamp
    """Start of validity; the observation holds from here."""
    valid_until: Timestamp
    """End of validity (at most 7 days after ``validFrom``); expired signals are ignored."""
    observation: SignalValues | None = None
    """Current values."""
    forecast: Annotated[
        list[SignalForecastPoint],
        Field(
            max_length=MAX_FORECAST_POINTS,
            json_schema_extra={
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["start"],
            },
        ),
    ] = Field(default_factory=list)
    """Forecast intervals, one per start time."""
    events: Annotated[list[GridEvent], Field(max_length=MAX_EVENTS)] = Field(default_factory=list)
    """Grid events."""

    @model_validator(mode="after")
    def _checks(self) -> Self:
        # Mirrors the CEL rules above.
        if (self.region is None) == (self.grid_area is None):
            raise ValueError("set exactly one of region or gridArea")
        if self.valid_until <= self.valid_from:
            raise ValueError("validUntil must be after validFrom")
        if self.valid_until - self.valid_from > MAX_VALIDITY:
            raise ValueError("a PowerSignal may cover at most 7 days")
        if self.observation is None and not self.forecast and not self.events:
            raise ValueError("a PowerSignal must carry an observation, a forecast or events")
        if any(not self.valid_from <= p.start < self.valid_until for p in self.forecast):
            raise ValueError("every forecast point must start within validFrom and validUntil")
        return self


class PowerSignalStatus(WattbitModel):
    """Observed state of a PowerSignal."""

    observed_generation: Annotated[int, Field(ge=0)] | None = None
    """``metadata.generation`` last acted on."""
    conditions: ConditionList = Field(default_factory=list)
    """``Accepted`` (used by at least one Region) and ``Expired``."""
    regions: Annotated[
        list[RegionName],
        Field(max_length=256, json_schema_extra={"x-kubernetes-list-type": "set"}),
    ] = Field(default_factory=list)
    """Regions this signal currently feeds."""


class PowerSignal(Resource):
    """Externally published power signals and grid events."""

    kind_info: ClassVar[KindInfo] = KindInfo(
        kind=KIND,
        plural=PLURAL,
        scope="Namespaced",
        short_names=("psig",),
        printer_columns=(
            PrinterColumn(
                name="Region",
                type="string",
                json_path=".spec.region",
                description="Region the signal applies to.",
            ),
            PrinterColumn(
                name="Grid Area",
                type="string",
                json_path=".spec.gridArea",
                description="Grid area the signal applies to.",
            ),
            PrinterColumn(
                name="gCO2/kWh",
                type="integer",
                json_path=".spec.observation.carbonGramsPerKwh",
                description="Observed carbon intensity.",
            ),
            PrinterColumn(
                name="JPY/kWh",
                type="string",
                json_path=".spec.observation.priceJpyPerKwh",
                description="Observed price.",
            ),
            PrinterColumn(
                name="Until",
                type="date",
                json_path=".spec.validUntil",
                description="End of validity.",
            ),
            ready_column("Accepted"),
            PrinterColumn(
                name="Source",
                type="string",
                json_path=".spec.source",
                description="Publisher.",
                priority=1,
            ),
            AGE_COLUMN,
        ),
    )

    kind: Literal["PowerSignal"] = KIND
    """Always ``PowerSignal``."""
    spec: PowerSignalSpec
    """Desired state."""
    status: PowerSignalStatus | None = None
    """Observed state, written by the operator."""
