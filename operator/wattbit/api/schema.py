"""Version-independent machinery for wattbit's CRD models.

The model base class (camelCase wire names, strict parsing, attribute docstrings as schema
descriptions), the declarations that ``wattbit.api.crdgen`` turns into CRD features (CEL
rules, printer columns, kind metadata) and the RFC 3339 ``Timestamp`` type.

Data definitions only: nothing here talks to the API server or imports outside
``wattbit.api``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    PlainSerializer,
)
from pydantic.alias_generators import to_camel
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

GROUP = "wattbit.io"
"""API group of every wattbit kind."""
CATEGORY = "wattbit"
"""``kubectl get wattbit`` lists every kind."""


# --------------------------------------------------------------------------- CRD declarations


@dataclass(frozen=True, slots=True, kw_only=True)
class CelRule:
    """One ``x-kubernetes-validations`` entry, declared next to the model it checks.

    ``message`` is what a person sees from ``kubectl apply``: say what is wrong and how to
    fix it. ``field_path`` (e.g. ``.pue``) makes the API server report the error on that
    field instead of on the object that carries the rule.
    """

    rule: str
    message: str
    field_path: str | None = None
    reason: str | None = None

    def to_schema(self) -> dict[str, str]:
        """Render the entry as it appears in the CRD."""
        out = {"rule": self.rule, "message": self.message}
        if self.field_path is not None:
            out["fieldPath"] = self.field_path
        if self.reason is not None:
            out["reason"] = self.reason
        return out


def cel(*rules: CelRule) -> dict[str, Any]:
    """``json_schema_extra`` for a field or annotated type that carries CEL rules."""
    return {"x-kubernetes-validations": [r.to_schema() for r in rules]}


@dataclass(frozen=True, slots=True, kw_only=True)
class PrinterColumn:
    """One ``additionalPrinterColumns`` entry (``kubectl get`` column)."""

    name: str
    type: Literal["string", "integer", "number", "boolean", "date"]
    json_path: str
    description: str
    priority: int = 0
    format: str | None = None

    def to_schema(self) -> dict[str, Any]:
        """Render the entry as it appears in the CRD."""
        out: dict[str, Any] = {
            "name": self.name,
            "type": self.type,
            "jsonPath": self.json_path,
            "description": self.description,
        }
        if self.priority:
            out["priority"] = self.priority
        if self.format is not None:
            out["format"] = self.format
        return out


AGE_COLUMN = PrinterColumn(
    name="Age",
    type="date",
    json_path=".metadata.creationTimestamp",
    description="Time since the object was created.",
)
"""Always the last column, as in built-in kinds."""


def ready_column(condition_type: str = "Ready", *, priority: int = 0) -> PrinterColumn:
    """A column showing the status of one condition (``True``/``False``/``Unknown``)."""
    return PrinterColumn(
        name=condition_type,
        type="string",
        json_path=f'.status.conditions[?(@.type=="{condition_type}")].status',
        description=f"Status of the {condition_type} condition.",
        priority=priority,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class KindInfo:
    """CRD-level facts about one kind that are not part of its OpenAPI schema."""

    kind: str
    plural: str
    scope: Literal["Cluster", "Namespaced"]
    short_names: tuple[str, ...]
    printer_columns: tuple[PrinterColumn, ...]
    root_rules: tuple[CelRule, ...] = ()
    """Rules on the whole object; they may use ``self.metadata.name``."""
    categories: tuple[str, ...] = (CATEGORY,)

    @property
    def singular(self) -> str:
        """Lower-case kind, as Kubernetes expects."""
        return self.kind.lower()


# --------------------------------------------------------------------------- model base


class WattbitModel(BaseModel):
    """Base of every wattbit model: camelCase on the wire, snake_case in Python.

    ``extra="forbid"`` because the API server prunes unknown fields anyway (structural
    schema), so anything extra here is a bug in our own code or tests. Attribute docstrings
    become the field descriptions in the CRD, so every field is documented once.
    """

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        extra="forbid",
        use_attribute_docstrings=True,
        use_enum_values=False,
    )

    cel_rules: ClassVar[tuple[CelRule, ...]] = ()
    """CEL rules on this model's object schema (``x-kubernetes-validations``)."""
    crd_required: ClassVar[tuple[str, ...]] = ()
    """Wire names the CRD requires although Python gives them a default (e.g. a condition's
    ``lastTransitionTime``), so that objects written by other clients stay complete."""

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(core_schema)
        target = handler.resolve_ref_schema(json_schema)
        if cls.cel_rules:
            target["x-kubernetes-validations"] = [r.to_schema() for r in cls.cel_rules]
        if cls.crd_required:
            required = list(target.get("required", []))
            required += [name for name in cls.crd_required if name not in required]
            target["required"] = required
        return json_schema

    def to_wire(self) -> dict[str, Any]:
        """The camelCase JSON form the API server stores (``None`` fields left out)."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


class WattbitResource(WattbitModel):
    """Base of the five top-level kinds: ``apiVersion``, ``kind``, ``metadata``.

    ``metadata`` stays a plain dict: it is the API server's, and we only read name,
    namespace, generation, labels and annotations from it.
    """

    kind_info: ClassVar[KindInfo]
    """Kind, plural, scope, short names, printer columns (read by ``crdgen``)."""

    api_version: str
    """``<group>/<version>``; each version narrows it to a ``Literal``."""
    metadata: dict[str, Any] = Field(default_factory=dict)
    """Standard object metadata."""

    @property
    def name(self) -> str:
        """``metadata.name`` (empty before the object exists)."""
        return str(self.metadata.get("name", ""))

    @property
    def namespace(self) -> str | None:
        """``metadata.namespace`` (``None`` for cluster-scoped kinds)."""
        value = self.metadata.get("namespace")
        return None if value is None else str(value)

    @property
    def generation(self) -> int | None:
        """``metadata.generation``, the value that ``status.observedGeneration`` echoes."""
        value = self.metadata.get("generation")
        return None if value is None else int(value)


# --------------------------------------------------------------------------- value types


def _serialize_timestamp(value: datetime) -> str:
    # metav1.Time is RFC 3339 with second precision and a Z; match it so that values we
    # write compare equal to values read back.
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


Timestamp = Annotated[
    AwareDatetime,
    PlainSerializer(_serialize_timestamp, return_type=str, when_used="json"),
]
"""A timezone-aware instant; RFC 3339 (``2026-04-01T03:00:00Z``) on the wire."""


def _serialize_micro_timestamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


MicroTimestamp = Annotated[
    AwareDatetime,
    PlainSerializer(_serialize_micro_timestamp, return_type=str, when_used="json"),
]
"""An instant to the microsecond (``2026-04-01T03:00:00.250000Z``, as metav1.MicroTime):
receipts add up durations from it, so seconds would leave gaps."""


def utcnow() -> datetime:
    """Current time in UTC (the api layer may read the clock; the core may not)."""
    return datetime.now(UTC)
