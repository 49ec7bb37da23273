"""APNLink and PlacementPolicy status: say whether the Regions they name exist.

CEL cannot look at other objects, so an APNLink to a Region that does not exist, or a
PlacementPolicy allowing only such Regions, is accepted by the API server; this module reports
it: ``Ready=False, reason=RegionNotFound`` naming the missing Regions, and one Warning Event
when that becomes so; ``Ready=True`` once they all exist. A timer looks again every few seconds,
so a Region created or deleted later is noticed without touching the link or policy. Only
``status.conditions`` and ``status.observedGeneration`` are written (the reconcile loop writes
an APNLink's move counts), only when they change, and only by the operator holding the Lease.
It decides nothing about placement: the planner already leaves out links whose ends are
missing and regions that do not exist.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import kopf

from wattbit.api.conditions import find_condition, set_status_condition
from wattbit.api.v1alpha1.apnlink import APNLinkSpec, APNLinkStatus
from wattbit.api.v1alpha1.placementpolicy import PlacementPolicySpec, PlacementPolicyStatus
from wattbit.core.model import Reason
from wattbit.handlers.context import leads

CHECK_INTERVAL_SECONDS = 10.0
"""How often each APNLink and PlacementPolicy is looked at: a Region that appears or goes is
reported within this long."""


def link_readiness(spec: APNLinkSpec, regions: Iterable[str]) -> tuple[bool, str, str]:
    """(ready, reason, message) of an APNLink, given the names of the Regions that exist."""
    known = set(regions)
    ends = (("fromRegion", spec.from_region), ("toRegion", spec.to_region))
    missing = [f"{field} {name}" for field, name in ends if name not in known]
    if missing:
        return (
            False,
            Reason.REGION_NOT_FOUND.value,
            f"{' and '.join(missing)}: no such Region; no move goes over this link until "
            f"{'it exists' if len(missing) == 1 else 'they exist'}",
        )
    direction = "<->" if spec.bidirectional else "->"
    return (
        True,
        Reason.READY.value,
        f"{spec.from_region} {direction} {spec.to_region}: "
        f"{spec.latency_microseconds / 1000:g} ms, {spec.bandwidth_gbps} Gbit/s",
    )


def policy_readiness(spec: PlacementPolicySpec, regions: Iterable[str]) -> tuple[bool, str, str]:
    """(ready, reason, message) of a PlacementPolicy, given the names of the Regions that
    exist."""
    allowed: Sequence[str] = spec.allowed_regions or ()
    if not allowed:
        return True, Reason.READY.value, "every Region is allowed"
    known = set(regions)
    missing = [name for name in allowed if name not in known]
    if not missing:
        return True, Reason.READY.value, f"allowed: {', '.join(allowed)}"
    present = [name for name in allowed if name in known]
    consequence = (
        f"its workloads are placed only in {', '.join(present)}"
        if present
        else "its workloads are held (NoEligibleRegion) until one exists"
    )
    return (
        False,
        Reason.REGION_NOT_FOUND.value,
        f"allowedRegions names no such Region: {', '.join(missing)}; {consequence}",
    )


@kopf.timer(
    "wattbit.io",
    "v1alpha1",
    "apnlinks",
    id="check-apn-link",
    interval=CHECK_INTERVAL_SECONDS,
    initial_delay=0.5,
)
def check_apn_link(
    *,
    body: kopf.Body,
    spec: kopf.Spec,
    status: kopf.Status,
    patch: kopf.Patch,
    memo: Any,
    **kwargs: Any,
) -> None:
    if not leads(memo):
        return
    regions: kopf.Index[str, Any] = kwargs["regions"]
    try:
        link_spec = APNLinkSpec.model_validate(dict(spec))
    except ValueError as error:  # the API server's schema should prevent this
        _report(body, status, patch, (False, Reason.INVALID_SPEC.value, str(error)[:1000]))
        return
    _report(body, status, patch, link_readiness(link_spec, regions.keys()))


@kopf.timer(
    "wattbit.io",
    "v1alpha1",
    "placementpolicies",
    id="check-placement-policy",
    interval=CHECK_INTERVAL_SECONDS,
    initial_delay=0.5,
)
def check_placement_policy(
    *,
    body: kopf.Body,
    spec: kopf.Spec,
    status: kopf.Status,
    patch: kopf.Patch,
    memo: Any,
    **kwargs: Any,
) -> None:
    if not leads(memo):
        return
    regions: kopf.Index[str, Any] = kwargs["regions"]
    try:
        policy_spec = PlacementPolicySpec.model_validate(dict(spec))
    except ValueError as error:  # the API server's schema should prevent this
        _report(body, status, patch, (False, Reason.INVALID_SPEC.value, str(error)[:1000]))
        return
    _report(body, status, patch, policy_readiness(policy_spec, regions.keys()))


def _report(
    body: kopf.Body, status: kopf.Status, patch: kopf.Patch, readiness: tuple[bool, str, str]
) -> None:
    """Set Ready when it changes, and warn once when it becomes False for a new reason."""
    ready, reason, message = readiness
    kind = str(body.get("kind"))
    model = APNLinkStatus if kind == "APNLink" else PlacementPolicyStatus
    try:
        previous = model.model_validate(dict(status))
    except ValueError:
        previous = model()
    new_status = previous.model_copy(deep=True)
    new_status.observed_generation = body.metadata.get("generation")
    set_status_condition(
        new_status, datetime.now(UTC), "Ready", ready, reason=reason, message=message
    )
    before = find_condition(previous.conditions, "Ready")
    if not ready and (before is None or before.reason != reason):
        kopf.warn(body, reason=reason, message=message)
    wire = new_status.model_dump(by_alias=True, mode="json", exclude_none=True)
    written = {key: wire.get(key) for key in ("observedGeneration", "conditions")}
    if written != {key: status.get(key) for key in written}:
        patch["status"] = written
