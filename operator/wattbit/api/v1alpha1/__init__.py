"""``wattbit.io/v1alpha1``: the five kinds and their parts, re-exported from one place.

``KINDS`` lists the top-level models in the order ``crdgen`` writes them.
"""

from wattbit.api.v1alpha1.apnlink import APNLink, APNLinkSpec, APNLinkStatus
from wattbit.api.v1alpha1.common import API_VERSION, GROUP, VERSION, Resource, SecretKeyRef
from wattbit.api.v1alpha1.placementpolicy import (
    PlacementPolicy,
    PlacementPolicySpec,
    PlacementPolicyStatus,
    PolicyMode,
)
from wattbit.api.v1alpha1.powersignal import (
    GridEvent,
    GridEventType,
    PowerSignal,
    PowerSignalSpec,
    PowerSignalStatus,
    SignalForecastPoint,
    SignalValues,
)
from wattbit.api.v1alpha1.region import (
    Availability,
    ForecastPoint,
    GpuStatus,
    Region,
    RegionCapacity,
    RegionSignalsStatus,
    RegionSpec,
    RegionStatus,
)
from wattbit.api.v1alpha1.signals import (
    CarbonAwareSdkSignals,
    ElectricityMapsSignals,
    ExternalSignals,
    HttpFeed,
    HttpSignals,
    JapanGridArea,
    PrometheusSignals,
    ProviderKind,
    ReplaySignals,
    SignalSource,
    StaticSignals,
    WattTimeSignals,
)
from wattbit.api.v1alpha1.workloadplacement import (
    CandidateStatus,
    PlacementRecord,
    WorkloadKind,
    WorkloadPlacement,
    WorkloadPlacementSpec,
    WorkloadPlacementStatus,
    WorkloadRef,
)
from wattbit.core.model import DecisionKind

KINDS: tuple[type[Resource], ...] = (
    APNLink,
    PlacementPolicy,
    PowerSignal,
    Region,
    WorkloadPlacement,
)
"""Every top-level kind of this version."""

__all__ = [
    "API_VERSION",
    "GROUP",
    "KINDS",
    "VERSION",
    "APNLink",
    "APNLinkSpec",
    "APNLinkStatus",
    "Availability",
    "CandidateStatus",
    "CarbonAwareSdkSignals",
    "DecisionKind",
    "ElectricityMapsSignals",
    "ExternalSignals",
    "ForecastPoint",
    "GpuStatus",
    "GridEvent",
    "GridEventType",
    "HttpFeed",
    "HttpSignals",
    "JapanGridArea",
    "PlacementPolicy",
    "PlacementPolicySpec",
    "PlacementPolicyStatus",
    "PlacementRecord",
    "PolicyMode",
    "PowerSignal",
    "PowerSignalSpec",
    "PowerSignalStatus",
    "PrometheusSignals",
    "ProviderKind",
    "Region",
    "RegionCapacity",
    "RegionSignalsStatus",
    "RegionSpec",
    "RegionStatus",
    "ReplaySignals",
    "SecretKeyRef",
    "SignalForecastPoint",
    "SignalSource",
    "SignalValues",
    "StaticSignals",
    "WattTimeSignals",
    "WorkloadKind",
    "WorkloadPlacement",
    "WorkloadPlacementSpec",
    "WorkloadPlacementStatus",
    "WorkloadRef",
]
