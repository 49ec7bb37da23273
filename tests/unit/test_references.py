"""Whether an APNLink's or a PlacementPolicy's Regions exist (wattbit.handlers.references).

Covers: a link with both ends present is Ready with its figures; one or both ends missing is
RegionNotFound naming each missing end; a policy allowing every region, or only existing ones,
is Ready; one allowing a missing region says where its workloads still go, or that they are
held when none of its regions exists. Skipped on purpose: the timers' writes and Events
(tests/integration/test_bad_input.py).
"""

from __future__ import annotations

from wattbit.api.v1alpha1.apnlink import APNLinkSpec
from wattbit.api.v1alpha1.placementpolicy import PlacementPolicySpec
from wattbit.handlers.references import link_readiness, policy_readiness

REGIONS = ("tokyo", "kyushu")


def link(a: str, b: str) -> APNLinkSpec:
    return APNLinkSpec.model_validate(
        {"fromRegion": a, "toRegion": b, "latencyMicroseconds": 5500, "bandwidthGbps": 100}
    )


def test_a_link_between_existing_regions_is_ready() -> None:
    assert link_readiness(link("tokyo", "kyushu"), REGIONS) == (
        True,
        "Ready",
        "tokyo <-> kyushu: 5.5 ms, 100 Gbit/s",
    )


def test_a_link_to_a_missing_region_names_it() -> None:
    ready, reason, message = link_readiness(link("tokyo", "atlantis"), REGIONS)
    assert (ready, reason) == (False, "RegionNotFound")
    assert message.startswith("toRegion atlantis: no such Region; no move goes over this link")


def test_a_link_with_both_ends_missing_names_both() -> None:
    _, reason, message = link_readiness(link("atlantis", "lemuria"), REGIONS)
    assert reason == "RegionNotFound"
    assert message.startswith("fromRegion atlantis and toRegion lemuria: no such Region")
    assert message.endswith("until they exist")


def test_a_policy_allowing_every_region_or_existing_ones_is_ready() -> None:
    assert policy_readiness(PlacementPolicySpec(), REGIONS)[:2] == (True, "Ready")
    spec = PlacementPolicySpec.model_validate({"allowedRegions": ["kyushu"]})
    assert policy_readiness(spec, REGIONS) == (True, "Ready", "allowed: kyushu")


def test_a_policy_allowing_a_missing_region_says_where_its_workloads_go() -> None:
    spec = PlacementPolicySpec.model_validate({"allowedRegions": ["atlantis", "tokyo"]})
    ready, reason, message = policy_readiness(spec, REGIONS)
    assert (ready, reason) == (False, "RegionNotFound")
    assert message == (
        "allowedRegions names no such Region: atlantis; its workloads are placed only in tokyo"
    )


def test_a_policy_allowing_only_missing_regions_holds_its_workloads() -> None:
    spec = PlacementPolicySpec.model_validate({"allowedRegions": ["atlantis"]})
    _, reason, message = policy_readiness(spec, REGIONS)
    assert reason == "RegionNotFound"
    assert message.endswith("its workloads are held (NoEligibleRegion) until one exists")
