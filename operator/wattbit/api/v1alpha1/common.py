"""Value types shared by several ``wattbit.io/v1alpha1`` kinds.

Decimal strings (prices, PUE), names, grid-area codes, URLs, secret references and label
selectors, each with the schema limits and CEL messages the API server enforces. The model
base and CRD declarations live in ``wattbit.api.schema``; this module re-exports them so
that kind modules import from one place.

Data definitions only: no API calls.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, ClassVar, Final, Literal, Self
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, model_validator

from wattbit.api.schema import (
    AGE_COLUMN,
    CATEGORY,
    GROUP,
    CelRule,
    KindInfo,
    PrinterColumn,
    Timestamp,
    WattbitModel,
    WattbitResource,
    cel,
    ready_column,
    utcnow,
)

__all__ = [
    "AGE_COLUMN",
    "API_VERSION",
    "CATEGORY",
    "GROUP",
    "VERSION",
    "CelRule",
    "KindInfo",
    "PrinterColumn",
    "Resource",
    "Timestamp",
    "WattbitModel",
    "WattbitResource",
    "cel",
    "ready_column",
    "utcnow",
]

VERSION: Final = "v1alpha1"
"""The only served and stored version."""
API_VERSION: Final = "wattbit.io/v1alpha1"  # literal, so models can use it as a Literal
"""``apiVersion`` value of every wattbit object in this version."""


class Resource(WattbitResource):
    """Base of the five ``wattbit.io/v1alpha1`` kinds."""

    api_version: Literal["wattbit.io/v1alpha1"] = API_VERSION
    """Always ``wattbit.io/v1alpha1``."""


_DECIMAL_CEL = "^[0-9]{1,6}([.][0-9]{1,4})?$"
_DECIMAL_RE = re.compile(_DECIMAL_CEL)


def _check_decimal(value: str) -> str:
    if not _DECIMAL_RE.fullmatch(value):
        raise ValueError(f"{value!r} is not a non-negative decimal string such as '12.5' or '0.01'")
    return value


PriceString = Annotated[
    str,
    AfterValidator(_check_decimal),
    Field(
        max_length=11,
        json_schema_extra=cel(
            CelRule(
                rule=f"self.matches('{_DECIMAL_CEL}')",
                message=(
                    "must be a non-negative decimal string with at most 4 decimals, "
                    'e.g. "12.5" or "0.01" (JPY per kWh)'
                ),
            )
        ),
    ),
]
"""A non-negative price in JPY as a decimal string (``"0.01"`` is the JEPX floor)."""

_PUE_CEL = "^[0-9]([.][0-9]{1,3})?$"
_PUE_RE = re.compile(_PUE_CEL)
PUE_MIN = 1.0
PUE_MAX = 3.0


def _check_pue(value: str) -> str:
    if not _PUE_RE.fullmatch(value) or not PUE_MIN <= float(value) <= PUE_MAX:
        raise ValueError(f"pue {value!r} must be a decimal string from '1.0' to '3.0'")
    return value


PueString = Annotated[
    str,
    AfterValidator(_check_pue),
    Field(
        max_length=5,
        json_schema_extra=cel(
            CelRule(
                # && is commutative in CEL: a failed match short-circuits the double().
                rule=(
                    f"self.matches('{_PUE_CEL}') && double(self) >= {PUE_MIN} "
                    f"&& double(self) <= {PUE_MAX}"
                ),
                message='pue must be a decimal string from "1.0" to "3.0", e.g. "1.25"',
            )
        ),
    ),
]
"""Power usage effectiveness (facility power / IT power) as a decimal string."""


DNS_SUBDOMAIN_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
ObjectName = Annotated[str, Field(min_length=1, max_length=253, pattern=DNS_SUBDOMAIN_PATTERN)]
"""A Kubernetes object name (DNS-1123 subdomain)."""

RegionName = Annotated[
    str,
    Field(min_length=1, max_length=63, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"),
]
"""Name of a Region: a DNS-1123 label, so that it can also be a node label value."""

GRID_AREA_PATTERN = r"^[A-Z]{2}(-[A-Z0-9]{1,8}){0,3}$"
_GRID_AREA_RE = re.compile(GRID_AREA_PATTERN)


def _check_grid_area(value: str) -> str:
    if not _GRID_AREA_RE.fullmatch(value):
        raise ValueError(f"{value!r} is not a grid-area code such as 'JP-HKD'")
    return value


GridAreaCode = Annotated[
    str,
    AfterValidator(_check_grid_area),
    Field(
        min_length=2,
        max_length=32,
        json_schema_extra=cel(
            CelRule(
                rule=f"self.matches('{GRID_AREA_PATTERN}')",
                message="must be a grid-area code in capitals, e.g. JP-HKD (Hokkaido), "
                "JP-TK (Tokyo) or JP-KY (Kyushu)",
            )
        ),
    ),
]
"""A grid (bidding) area code, Electricity Maps zone style: ``JP-HKD``, ``DE``, ``US-CAL-CISO``."""

LABEL_VALUE_PATTERN = r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$"
LabelValue = Annotated[str, Field(max_length=63, pattern=LABEL_VALUE_PATTERN)]
"""A Kubernetes label value."""

LABEL_KEY_PATTERN = (
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
)
_LABEL_KEY_RE = re.compile(LABEL_KEY_PATTERN)
LabelKey = Annotated[str, Field(min_length=1, max_length=317, pattern=LABEL_KEY_PATTERN)]
"""A Kubernetes label key (optional DNS prefix, ``/``, name)."""


def _check_label_keys(value: dict[str, str]) -> dict[str, str]:
    bad = [k for k in value if len(k) > 317 or not _LABEL_KEY_RE.fullmatch(k)]
    if bad:
        raise ValueError(f"not label keys: {bad}")
    return value


LabelMap = Annotated[
    dict[str, LabelValue],
    AfterValidator(_check_label_keys),
    Field(
        max_length=16,
        # Structural schemas cannot constrain map keys (no propertyNames), so CEL does.
        json_schema_extra=cel(
            CelRule(
                # CEL strings reject the \. escape, hence [.] in this copy of the pattern.
                rule="self.all(k, size(k) <= 317 && k.matches('"
                + LABEL_KEY_PATTERN.replace("\\.", "[.]")
                + "'))",
                message="keys must be label keys such as topology.kubernetes.io/region or "
                "example.com/site",
            )
        ),
    ),
]
"""Labels (key -> value), at most 16, as in a node selector."""


def _check_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or " " in value:
        raise ValueError(f"{value!r} is not an absolute http or https URL")
    return value


HttpUrl = Annotated[
    str,
    AfterValidator(_check_url),
    Field(
        min_length=1,
        max_length=2048,
        json_schema_extra=cel(
            CelRule(
                rule="isURL(self) && url(self).getScheme() in ['http', 'https']",
                message='must be an absolute http or https URL, e.g. "https://example.com/api"',
            )
        ),
    ),
]
"""An absolute ``http(s)://`` URL."""


class SecretKeyRef(WattbitModel):
    """A key in a Secret in the operator's own namespace.

    Credentials only ever come from Secrets, never from the spec. There is no namespace
    field on purpose: the operator may read Secrets in its own namespace only (least
    privilege), so a Region author cannot make it read someone else's Secret.
    """

    name: ObjectName
    """Name of the Secret."""
    key: Annotated[str, Field(min_length=1, max_length=253, pattern=r"^[-._a-zA-Z0-9]+$")]
    """Key within the Secret's ``data``."""


class SelectorOperator(StrEnum):
    """Operator of a label selector requirement (as in ``metav1.LabelSelector``)."""

    IN = "In"
    NOT_IN = "NotIn"
    EXISTS = "Exists"
    DOES_NOT_EXIST = "DoesNotExist"


class LabelSelectorRequirement(WattbitModel):
    """One ``matchExpressions`` entry."""

    cel_rules: ClassVar[tuple[CelRule, ...]] = (
        CelRule(
            rule="self.operator in ['In', 'NotIn'] ? (has(self.values) && size(self.values) > 0) "
            ": (!has(self.values) || size(self.values) == 0)",
            message="values must be non-empty for In and NotIn, and empty for Exists and "
            "DoesNotExist",
            field_path=".values",
        ),
    )

    key: LabelKey
    """The label key the requirement applies to."""
    operator: SelectorOperator
    """How the key's value is compared with ``values``."""
    values: list[LabelValue] = Field(default_factory=list, max_length=64)
    """Label values; non-empty for ``In``/``NotIn``, empty for ``Exists``/``DoesNotExist``."""

    @model_validator(mode="after")
    def _checks(self) -> Self:
        # Mirrors the CEL rule above.
        needs_values = self.operator in (SelectorOperator.IN, SelectorOperator.NOT_IN)
        if needs_values != bool(self.values):
            raise ValueError("values must be non-empty for In/NotIn and empty otherwise")
        return self

    def matches(self, labels: dict[str, str]) -> bool:
        """Whether ``labels`` satisfy this requirement."""
        match self.operator:
            case SelectorOperator.IN:
                return labels.get(self.key) in self.values
            case SelectorOperator.NOT_IN:
                return labels.get(self.key) not in self.values
            case SelectorOperator.EXISTS:
                return self.key in labels
            case SelectorOperator.DOES_NOT_EXIST:
                return self.key not in labels


class LabelSelector(WattbitModel):
    """A label selector with the ``metav1.LabelSelector`` shape; empty selects everything."""

    match_labels: LabelMap | None = None
    """Labels that must all be present with these values."""
    match_expressions: list[LabelSelectorRequirement] | None = Field(default=None, max_length=16)
    """Requirements that must all hold."""

    def matches(self, labels: dict[str, str]) -> bool:
        """Whether an object with ``labels`` is selected."""
        for key, value in (self.match_labels or {}).items():
            if labels.get(key) != value:
                return False
        return all(req.matches(labels) for req in self.match_expressions or [])
