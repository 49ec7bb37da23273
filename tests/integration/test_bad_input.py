"""Bad input, as a new user would type it: a catalogue of malformed objects (issue 12).

Every case is one object and what must become of it:
- ``Rejected``: the API server refuses it (CRD OpenAPI and CEL rules generated from the
  pydantic models, or Kubernetes' own validation of Jobs and Pods) with a message naming
  the field. Created with ``--dry-run=server``: full validation, webhook included, nothing
  stored.
- ``Reported``: the API server accepts it and the operator says what is wrong: a status
  condition with a reason (a Job's or Pod's on its WorkloadPlacement record, ``Held``) and
  an Event with a reason on the object itself. Its message names the field.

The catalogue covers the five kinds and the workload annotations and GPU requests on Jobs
and Pods. CRD mistakes already in ``test_crd_validation.py`` (48 of them: ranges, enums, CEL
rules, immutable fields) are not repeated; this catalogue adds the ones a user hits first.

For speed, every reported case is created at once (workloads in one namespace, cluster
objects under unique names), and one poll waits until each shows its outcome; each case's
test then reads what was observed. The last tests check that the operator is still alive
and deciding, logged no traceback for any of it (the GPU-pod index once did for "2k", even
for an unlabelled Pod, which is created too), and left no workload without a reason; that
the valid twins of the bad APNLink and PlacementPolicy are Ready; that a link turns Ready
when its Region appears and back when it goes; and that overlapping GPUs count once.
Skipped on purpose: the webhook's own error path (a request it fails on is denied; see
test_placement.py), and provider failures (tests/providers/).
"""

from __future__ import annotations

import contextlib
import copy
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.integration.conftest import Operator
from tests.integration.kube import Kube, wait_until

pytestmark = pytest.mark.integration

API_VERSION = "wattbit.io/v1alpha1"
DEFERRABLE = {"wattbit.io/deferrable": "true"}
SUFFIX = uuid.uuid4().hex[:6]
"""Cluster-scoped objects of this run carry it, so that a rerun never meets them."""
MISSING_REGION = f"atlantis-{SUFFIX}"
POLL_TIMEOUT_S = 90.0


# ------------------------------------------------------------------------------ builders


def container(gpus: str = "1", **extra: Any) -> dict[str, Any]:
    return {
        "name": "train",
        "image": "registry.example/train:1",
        "resources": {"limits": {"nvidia.com/gpu": gpus, "cpu": "1", "memory": "1Gi"}},
        **extra,
    }


def job(
    name: str, annotations: dict[str, str] | None = None, *, gpus: str = "1", **resources: Any
) -> dict[str, Any]:
    spec_container = container(gpus)
    if resources:
        spec_container["resources"] = resources
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "labels": DEFERRABLE, "annotations": annotations or {}},
        "spec": {
            "backoffLimit": 0,
            "template": {"spec": {"restartPolicy": "Never", "containers": [spec_container]}},
        },
    }


def pod(
    name: str,
    annotations: dict[str, str] | None = None,
    *,
    gpus: str = "1",
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "labels": DEFERRABLE if labels is None else labels,
            "annotations": annotations or {},
        },
        "spec": {"restartPolicy": "Never", "containers": [container(gpus)]},
    }


def wattbit(kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": API_VERSION, "kind": kind, "metadata": {"name": name}, "spec": spec}


def region(name: str, spec: dict[str, Any] | None = None) -> dict[str, Any]:
    static = {"provider": "static", "static": {"carbonGramsPerKwh": 300, "priceJpyPerKwh": "10"}}
    return wattbit("Region", name, {"gridArea": "JP-TK", "signals": static, **(spec or {})})


def link(name: str, a: str, b: str, **spec: Any) -> dict[str, Any]:
    base = {"fromRegion": a, "toRegion": b, "latencyMicroseconds": 5000, "bandwidthGbps": 100}
    return wattbit("APNLink", name, {**base, **spec})


def power_signal(name: str, **spec: Any) -> dict[str, Any]:
    now = time.time()
    base = {
        "region": "tokyo",
        "source": "bad-input-test",
        "validFrom": _rfc3339(now - 600),
        "validUntil": _rfc3339(now + 3600),
        "observation": {"carbonGramsPerKwh": 300, "priceJpyPerKwh": "10"},
    }
    return wattbit("PowerSignal", name, {**base, **spec})


def record(name: str, **spec: Any) -> dict[str, Any]:
    ref = {"apiVersion": "batch/v1", "kind": "Job", "name": name, "uid": str(uuid.uuid4())}
    return wattbit("WorkloadPlacement", name, {"workloadRef": ref, **spec})


def _rfc3339(epoch_s: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch_s))


# ------------------------------------------------------------------------------ the catalogue


@dataclass(frozen=True)
class Rejected:
    id: str
    manifest: dict[str, Any]
    names: str
    """A substring of the API server's message: the field it names."""
    says: str = ""
    """Another substring: what it says is wrong (empty: not checked)."""


@dataclass(frozen=True)
class Reported:
    id: str
    manifest: dict[str, Any]
    reason: str
    """The condition's reason, and the Event's."""
    names: str
    """A substring of the condition's message: the field or object it names."""
    condition: str = "Held"
    """The condition's type: on the WorkloadPlacement for a Job or Pod, else on the object."""
    status: str = "True"
    event: str = ""
    """The Event's reason when it differs from ``reason``."""

    @property
    def kind(self) -> str:
        return str(self.manifest["kind"])

    @property
    def name(self) -> str:
        return str(self.manifest["metadata"]["name"])

    @property
    def workload(self) -> bool:
        return self.kind in ("Job", "Pod")

    @property
    def event_reason(self) -> str:
        return self.event or self.reason


DURATION = "wattbit.io/expected-duration"
POWER = "wattbit.io/gpu-power-watts"
DEADLINE = "wattbit.io/deadline"
SIZE = "wattbit.io/checkpoint-size"
GPU = "nvidia.com/gpu"

REJECTED: list[Rejected] = [
    # ---------------------------------------------------------------- Jobs and Pods
    Rejected("job-gpus-fraction", job("gpus-fraction", gpus="1.5"), GPU, "must be an integer"),
    Rejected(
        "job-gpus-negative", job("gpus-negative", gpus="-1"), GPU, "greater than or equal to 0"
    ),
    # Refused by the API server's decoder, before validation: it names no field.
    Rejected("job-gpus-word", job("gpus-word", gpus="lots"), "quantities must match"),
    Rejected(
        "pod-gpus-request-not-limit",
        {
            **pod("gpus-overcommit"),
            "spec": {
                "containers": [
                    {
                        **container("1"),
                        "resources": {"requests": {GPU: "2"}, "limits": {GPU: "1"}},
                    }
                ]
            },
        },
        GPU,
    ),
    Rejected(
        "job-annotation-key-with-space",
        job("bad-annotation-key", {"wattbit.io/expected duration": "2h"}),
        "metadata.annotations",
    ),
    # ---------------------------------------------------------------- Region
    Rejected(
        "region-capacity-gpus-text",
        region(f"bad-capacity-{SUFFIX}", {"capacity": {"gpus": "lots"}}),
        "spec.capacity.gpus",
    ),
    Rejected(
        "region-unknown-provider",
        region(f"bad-provider-{SUFFIX}", {"signals": {"provider": "magic"}}),
        "spec.signals.provider",
        'Unsupported value: "magic"',
    ),
    Rejected(
        "region-pue-absurd", region(f"bad-pue-{SUFFIX}", {"pue": "30"}), "spec.pue", "pue must be"
    ),
    Rejected("region-name-uppercase", region("Tokyo-Again"), "metadata.name", "lowercase RFC 1123"),
    # ---------------------------------------------------------------- APNLink
    Rejected(
        "apnlink-latency-text",
        link(f"bad-latency-{SUFFIX}", "tokyo", "kyushu", latencyMicroseconds="fast"),
        "spec.latencyMicroseconds",
    ),
    Rejected(
        "apnlink-bandwidth-absurd",
        link(f"bad-bandwidth-{SUFFIX}", "tokyo", "kyushu", bandwidthGbps=10**9),
        "spec.bandwidthGbps",
        "less than or equal to",
    ),
    # ---------------------------------------------------------------- PowerSignal
    Rejected(
        "powersignal-negative-carbon",
        power_signal("negative-carbon", observation={"carbonGramsPerKwh": -5}),
        "spec.observation.carbonGramsPerKwh",
    ),
    Rejected(
        "powersignal-price-word",
        power_signal("price-word", observation={"priceJpyPerKwh": "cheap"}),
        "spec.observation.priceJpyPerKwh",
    ),
    # ---------------------------------------------------------------- PlacementPolicy
    Rejected(
        "policy-negative-carbon-price",
        wattbit("PlacementPolicy", "negative-price", {"carbonPriceJpyPerTonne": -1}),
        "spec.carbonPriceJpyPerTonne",
    ),
    Rejected(
        "policy-region-not-a-name",
        wattbit("PlacementPolicy", "bad-region", {"allowedRegions": ["Tokyo East"]}),
        "spec.allowedRegions[0]",
    ),
    Rejected(
        "policy-moves-text",
        wattbit("PlacementPolicy", "moves-text", {"maxMovesPerWorkload": "many"}),
        "spec.maxMovesPerWorkload",
    ),
    # ---------------------------------------------------------------- WorkloadPlacement
    Rejected("record-negative-gpus", record("negative-gpus", gpus=-1), "spec.gpus", "greater than"),
    Rejected(
        "record-kind-lowercase",
        {
            **record("kind-lowercase"),
            "spec": {
                "workloadRef": {
                    "apiVersion": "batch/v1",
                    "kind": "job",
                    "name": "x",
                    "uid": str(uuid.uuid4()),
                }
            },
        },
        "spec.workloadRef.kind",
        'Unsupported value: "job"',
    ),
]

REPORTED: list[Reported] = [
    # ---------------------------------------------------------------- Job annotations
    Reported("job-duration-word", job("duration-word", {DURATION: "abc"}), "InvalidWorkload",
             DURATION),
    Reported("job-duration-negative", job("duration-negative", {DURATION: "-5h"}),
             "InvalidWorkload", DURATION),
    Reported("job-duration-zero", job("duration-zero", {DURATION: "0"}), "InvalidWorkload",
             DURATION),
    Reported("job-duration-absurd", job("duration-absurd", {DURATION: "999999999999h"}),
             "InvalidWorkload", DURATION),
    Reported("job-power-zero", job("power-zero", {POWER: "0"}), "InvalidWorkload", POWER),
    Reported("job-power-negative", job("power-negative", {POWER: "-1"}), "InvalidWorkload",
             POWER),
    Reported("job-power-absurd", job("power-absurd", {POWER: "1e9"}), "InvalidWorkload", POWER),
    Reported("job-deadline-word", job("deadline-word", {DEADLINE: "yesterday"}),
             "InvalidWorkload", DEADLINE),
    Reported("job-deadline-past", job("deadline-past", {DEADLINE: "2020-01-01T00:00:00Z"}),
             "InvalidWorkload", DEADLINE),
    Reported("job-deadline-no-zone", job("deadline-no-zone", {DEADLINE: "2030-01-01T08:00:00"}),
             "InvalidWorkload", DEADLINE),
    Reported("job-checkpoint-size-word", job("size-word", {SIZE: "lots"}), "InvalidWorkload",
             SIZE),
    Reported("job-checkpoint-duration-word",
             job("checkpoint-duration-word", {"wattbit.io/checkpoint-duration": "soon"}),
             "InvalidWorkload", "wattbit.io/checkpoint-duration"),
    Reported("job-policy-missing", job("policy-missing", {"wattbit.io/policy": "no-such"}),
             "PolicyNotFound", "no-such"),
    Reported("job-policy-only-missing-region",
             job("policy-only-missing-region", {"wattbit.io/policy": "only-missing"}),
             "NoEligibleRegion", f"allowed: {MISSING_REGION}"),
    Reported("job-gpus-2k", job("gpus-2k", gpus="2k"), "InvalidWorkload", GPU),
    Reported("job-gpus-1e9", job("gpus-1e9", gpus="1e9"), "InvalidWorkload", GPU),
    Reported("job-two-bad-hints",
             job("two-bad-hints", {DURATION: "-1s", POWER: "lots"}), "InvalidWorkload",
             POWER),
    # ---------------------------------------------------------------- bare Pods
    Reported("pod-gpus-2k", pod("pod-gpus-2k", gpus="2k"), "InvalidWorkload", GPU),
    Reported("pod-duration-word", pod("pod-duration-word", {DURATION: "abc"}), "InvalidWorkload",
             DURATION),
    Reported("pod-deadline-past", pod("pod-deadline-past", {DEADLINE: "2020-01-01T00:00:00Z"}),
             "InvalidWorkload", DEADLINE),
    Reported("pod-power-zero", pod("pod-power-zero", {POWER: "0"}), "InvalidWorkload", POWER),
    # ---------------------------------------------------------------- cluster objects
    Reported("apnlink-missing-region", link(f"tokyo-atlantis-{SUFFIX}", "tokyo", MISSING_REGION),
             "RegionNotFound", MISSING_REGION, condition="Ready", status="False"),
    Reported("apnlink-both-missing",
             link(f"nowhere-{SUFFIX}", MISSING_REGION, f"lemuria-{SUFFIX}"),
             "RegionNotFound", f"lemuria-{SUFFIX}", condition="Ready", status="False"),
    Reported("policy-only-missing-region",
             wattbit("PlacementPolicy", "only-missing", {"allowedRegions": [MISSING_REGION]}),
             "RegionNotFound", MISSING_REGION, condition="Ready", status="False"),
    Reported("region-overlapping-nodes", region(f"tokyo-again-{SUFFIX}",
             {"nodeSelector": {"topology.kubernetes.io/region": "tokyo"}}),
             "OverlappingNodes", "tokyo", condition="Ready", status="False"),
    Reported("region-no-nodes", region(f"empty-{SUFFIX}",
             {"nodeSelector": {"example.com/site": "nowhere"}}),
             "NoNodes", "example.com/site", condition="Ready", status="False"),
    Reported("region-external-without-signal", region(f"unfed-{SUFFIX}",
             {"nodeSelector": {"example.com/site": "unfed"}, "signals": {"provider": "external"}}),
             "SignalStale", "no reading yet", condition="SignalsFresh", status="False"),
    Reported("powersignal-no-region", power_signal("for-atlantis", region=MISSING_REGION),
             "NoMatchingRegion", "no Region", condition="Accepted", status="True"),
    Reported("powersignal-expired", power_signal(
             "expired", validFrom="2026-01-01T00:00:00Z", validUntil="2026-01-01T01:00:00Z"),
             "Expired", "expired", condition="Expired", status="True"),
]  # fmt: skip

GOOD_LINK = link(f"tokyo-kyushu-{SUFFIX}", "tokyo", "kyushu")
GOOD_POLICY = wattbit("PlacementPolicy", "tokyo-only", {"allowedRegions": ["tokyo"]})
"""Their valid twins: Ready=True."""


# ------------------------------------------------------------------------------ observing


@dataclass
class Seen:
    """What one reported case showed: its condition and the reasons of its Events."""

    condition: dict[str, Any] | None = None
    events: set[str] = field(default_factory=set)


def _conditions(obj: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in ((obj or {}).get("status") or {}).get("conditions") or []}


def _plural(kind: str) -> str:
    return {"PlacementPolicy": "placementpolicies"}.get(kind, kind.lower() + "s")


def _events(kube: Kube) -> dict[tuple[str, str], set[str]]:
    """(kind, name) -> Event reasons, in every namespace (a cluster object's are in default)."""
    out: dict[tuple[str, str], set[str]] = {}
    for event in kube.core.list_event_for_all_namespaces().items:
        ref = event.involved_object
        if event.reason:
            out.setdefault((str(ref.kind), str(ref.name)), set()).add(event.reason)
    return out


def _observe(kube: Kube, namespace: str) -> dict[str, Seen]:
    records = json.loads(
        kube.kubectl("get", "workloadplacements", "-n", namespace, "-o", "json").stdout
    )["items"]
    by_name = {r["metadata"]["name"]: r for r in records}
    events = _events(kube)
    seen: dict[str, Seen] = {}
    for case in REPORTED:
        if case.workload:
            obj = by_name.get(f"{case.kind.lower()}-{case.name}")
        else:
            where = namespace if _namespaced(case.kind) else None
            obj = kube.find(_plural(case.kind), case.name, where)
        seen[case.id] = Seen(
            condition=_conditions(obj).get(case.condition),
            events=events.get((case.kind, case.name), set()),
        )
    return seen


def _namespaced(kind: str) -> bool:
    return kind not in ("Region", "APNLink")


def _shows(case: Reported, seen: Seen) -> bool:
    condition = seen.condition
    return (
        condition is not None
        and condition["status"] == case.status
        and condition["reason"] == case.reason
        and case.event_reason in seen.events
    )


@pytest.fixture(scope="module")
def bad_namespace(kube: Kube) -> Iterator[str]:
    name = f"bad-input-{SUFFIX}"
    kube.kubectl("create", "namespace", name)
    yield name
    kube.kubectl("delete", "namespace", name, "--wait=true", "--timeout=90s", check=False)


@pytest.fixture(scope="module")
def observed(kube: Kube, regions: list[str], bad_namespace: str) -> Iterator[dict[str, Seen]]:
    """Creates every reported case and its valid twins, polls until each shows its outcome
    (or the time is up), and returns what was seen; deletes the cluster objects after."""
    cluster = [c.manifest for c in REPORTED if not _namespaced(c.kind)] + [GOOD_LINK]
    namespaced = [c.manifest for c in REPORTED if _namespaced(c.kind)] + [GOOD_POLICY]
    kube.kubectl("create", "-f", "-", input_text=_yaml_list(cluster))
    kube.kubectl("create", "-n", bad_namespace, "-f", "-", input_text=_yaml_list(namespaced))
    # The unlabelled Pod with the same mistake: not a workload, but the GPU index reads it.
    kube.kubectl(
        "create",
        "-n",
        bad_namespace,
        "-f",
        "-",
        input_text=json.dumps(pod("unlabelled-gpus-2k", gpus="2k", labels={})),
    )
    last: dict[str, Seen] = {}

    def all_shown() -> bool:
        last.clear()
        last.update(_observe(kube, bad_namespace))
        return all(_shows(case, last[case.id]) for case in REPORTED)

    # Time up: each case's own test says which did not show.
    with contextlib.suppress(AssertionError):
        wait_until(all_shown, timeout=POLL_TIMEOUT_S, interval=2.0, message="every case")
    yield last
    for manifest in cluster:
        kind, name = manifest["kind"], manifest["metadata"]["name"]
        kube.kubectl("delete", _plural(kind), name, "--ignore-not-found", "--wait=false")


def _yaml_list(manifests: list[dict[str, Any]]) -> str:
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": manifests})


# ------------------------------------------------------------------------------ tests


def test_the_catalogue_is_large_enough() -> None:
    ids = [c.id for c in REJECTED] + [c.id for c in REPORTED]
    assert len(ids) == len(set(ids))
    assert len(ids) >= 30
    kinds = {c.manifest["kind"] for c in REJECTED} | {c.kind for c in REPORTED}
    assert kinds >= {
        "Region",
        "PowerSignal",
        "APNLink",
        "PlacementPolicy",
        "WorkloadPlacement",
        "Job",
        "Pod",
    }


@pytest.mark.parametrize("case", REJECTED, ids=lambda c: c.id)
def test_rejected_by_the_api_server_naming_the_field(
    kube: Kube, operator: Operator, bad_namespace: str, case: Rejected
) -> None:
    manifest = copy.deepcopy(case.manifest)
    args = ["create", "--dry-run=server", "-f", "-"]
    if _namespaced(manifest["kind"]):
        args += ["-n", bad_namespace]
    result = kube.kubectl(*args, input_text=json.dumps(manifest), check=False)
    assert result.returncode != 0, f"accepted: {result.stdout}"
    assert "denied the request" not in result.stderr, "the API server, not the webhook"
    assert case.names in result.stderr
    assert case.says in result.stderr


@pytest.mark.parametrize("case", REPORTED, ids=lambda c: c.id)
def test_accepted_and_reported_with_a_reason(observed: dict[str, Seen], case: Reported) -> None:
    seen = observed[case.id]
    assert seen.condition is not None, f"no {case.condition} condition on {case.kind} {case.name}"
    assert (seen.condition["status"], seen.condition["reason"]) == (case.status, case.reason), (
        seen.condition
    )
    assert case.names in seen.condition["message"]
    assert case.event_reason in seen.events


def test_valid_link_and_policy_are_ready(
    kube: Kube, observed: dict[str, Seen], bad_namespace: str
) -> None:
    def ready(obj: dict[str, Any] | None) -> bool:
        condition = _conditions(obj).get("Ready")
        return condition is not None and condition["status"] == "True"

    wait_until(
        lambda: ready(kube.find("apnlinks", GOOD_LINK["metadata"]["name"])),
        timeout=30,
        message="the valid APNLink to be Ready",
    )
    wait_until(
        lambda: ready(kube.find("placementpolicies", "tokyo-only", bad_namespace)),
        timeout=30,
        message="the valid PlacementPolicy to be Ready",
    )


def test_a_link_becomes_ready_when_its_region_appears(kube: Kube, regions: list[str]) -> None:
    name = f"late-{SUFFIX}"
    late = region(name, {"nodeSelector": {"example.com/site": name}})
    kube.apply(link(f"tokyo-{name}", "tokyo", name))
    try:
        wait_until(
            lambda: _reason(kube, "apnlinks", f"tokyo-{name}") == ("False", "RegionNotFound"),
            timeout=30,
            message="RegionNotFound",
        )
        kube.apply(late)
        wait_until(
            lambda: _reason(kube, "apnlinks", f"tokyo-{name}") == ("True", "Ready"),
            timeout=30,
            message="Ready once the Region exists",
        )
        kube.kubectl("delete", "region", name)
        wait_until(
            lambda: _reason(kube, "apnlinks", f"tokyo-{name}") == ("False", "RegionNotFound"),
            timeout=30,
            message="RegionNotFound once it is gone",
        )
    finally:
        kube.kubectl("delete", "apnlink", f"tokyo-{name}", "--ignore-not-found")
        kube.kubectl("delete", "region", name, "--ignore-not-found")


def _reason(kube: Kube, plural: str, name: str) -> tuple[str, str] | None:
    condition = _conditions(kube.find(plural, name)).get("Ready")
    return None if condition is None else (condition["status"], condition["reason"])


def test_overlapping_gpus_count_once(kube: Kube, observed: dict[str, Seen]) -> None:
    """The later Region over tokyo's nodes shows none of their GPUs; tokyo keeps its own."""
    later = kube.get("region", f"tokyo-again-{SUFFIX}")
    tokyo = kube.get("region", "tokyo")
    assert later["status"]["gpus"]["total"] == 0
    assert tokyo["status"]["gpus"]["total"] > 0


def test_the_operator_is_alive_and_logged_no_traceback(
    kube: Kube, operator: Operator, observed: dict[str, Seen], bad_namespace: str
) -> None:
    assert operator.running
    kube.create(job("still-works", {DURATION: "1h"}), namespace=bad_namespace)

    def decided() -> str | None:
        found = kube.find("workloadplacement", "job-still-works", bad_namespace)
        return ((found or {}).get("status") or {}).get("decision")

    assert wait_until(decided, timeout=60, message="a valid Job to be decided") in (
        "RunNow",
        "Wait",
    )
    assert "Traceback" not in operator.log()


def test_no_workload_is_held_without_a_reason(
    kube: Kube, observed: dict[str, Seen], bad_namespace: str
) -> None:
    """Every labelled Job and Pod of the catalogue has a record with a reason and a message."""
    workloads = [c for c in REPORTED if c.workload]
    for case in workloads:
        found = kube.find("workloadplacement", f"{case.kind.lower()}-{case.name}", bad_namespace)
        status = (found or {}).get("status") or {}
        assert status.get("reason"), f"{case.kind} {case.name}: no record or no reason"
        assert status.get("message"), f"{case.kind} {case.name}: no message"
