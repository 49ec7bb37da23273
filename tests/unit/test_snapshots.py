"""From index contents to the decision core's inputs (wattbit.k8s.snapshots, k8s.objects).

Matrix:
- parsers: `job_object` for a held, a released (``wattbit.io/released-at``, the template's
  ``wattbit.io/region``), a finished (Complete / Failed / a condition not True), an active and
  terminating, and an owned Job; `pod_object` for a gated, a foreign-gated, a bound and a
  terminating Pod;
- `classify`, every stage: Pending (held Job, gated Pod), Running (Job and Pod, with the
  current region), Paused (released then suspended, or suspended but never held), Moving (every
  non-final phase, even once the Job finished), Finished, Foreign (Kueue label, a controller
  owner that created the Job suspended; an owned Job the webhook held and a Pod with a
  controller are ours), Invalid (a bad hint, every bad hint in one message, a missing or
  invalid named policy); the policy
  chosen (named, namespace default, built-in); a record of an older Job with the same name is
  ignored; the snapshot's allowed regions, checkpoint, moves;
- `remaining_runtime_s`: pending, elapsed, less the last completed move's downtime, the floor
  (and a property over random elapsed times);
- `horizon_for` and `per_slot_forecast`: top of the hour, the covering point, the current value
  before the first point and for unforecast metrics, the end of the forecast;
- `region_snapshots` / `region_usage`: ready schedulable nodes (each counted once: a Region
  over an earlier Region's nodes has none), `capacity.gpus`, unmanaged GPU
  pods (bound, released, gated, on unknown nodes), running workloads until their expected end
  (also when it falls mid-slot), pods of managed workloads counted once, a running workload
  wattbit never placed, moves (target, source at slot 0 while pods remain), paused and finished
  Jobs, power headroom, availability and draining, stale and status-only signals;
- `core_policy` for every field it maps; grouping by policy in `plan_input`;
- `link_snapshots`: units, unknown regions and invalid specs dropped, the names map.
Skipped on purpose: the kopf indexes that fill a `ClusterView` (tests/integration) and the
hint parsers' own edge cases (test_hints.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Self

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wattbit.api.v1alpha1.placementpolicy import PlacementPolicySpec
from wattbit.api.v1alpha1.region import RegionSpec, RegionStatus
from wattbit.api.v1alpha1.workloadplacement import MigrationStatus, WorkloadPlacementStatus
from wattbit.core.migration import MovePhase
from wattbit.core.model import Policy, Reason, RegionName, RegionSnapshot, WorkloadState
from wattbit.core.overrun import MIN_RUNS
from wattbit.core.signals import ForecastPoint, SignalReading
from wattbit.k8s import names
from wattbit.k8s.capacity import NodeGpus, PodGpus, pod_gpus
from wattbit.k8s.objects import (
    ANNOTATION_RELEASED_AT,
    PodView,
    WorkloadKind,
    WorkloadObject,
    job_object,
    pod_object,
)
from wattbit.k8s.snapshots import (
    MIN_REMAINING_S,
    STALE_EPOCH,
    ClusterView,
    Managed,
    PlanInput,
    RecordEntry,
    RegionEntry,
    SnapshotSettings,
    Stage,
    core_policy,
    horizon_for,
    link_snapshots,
    per_slot_forecast,
    plan_input,
    pods_fit,
    remaining_runtime_s,
)

NOW = datetime(2026, 12, 2, 10, 30, tzinfo=UTC)
HOUR = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
"""The start of NOW's hour: slot 0 of every horizon below."""
NS = "ml-team"
SLOTS = 48


def stamp(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def uid_of(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, name))


# ---------------------------------------------------------------- builders


class JobBuilder:
    """`make_job("train").gpus(4, pods=2).released(at, "kyushu").obj()`: a held 8-GPU Job with
    an expected duration of 2 h unless told otherwise."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._uid = uid_of(f"job/{name}")
        self._gpus_per_pod = 4
        self._pods = 2
        self._suspend = True
        self._annotations: dict[str, str] = {
            names.ANNOTATION_HELD: "true",
            names.ANNOTATION_EXPECTED_DURATION: "2h",
        }
        self._labels: dict[str, str] = {names.LABEL_DEFERRABLE: "true"}
        self._template_annotations: dict[str, str] = {}
        self._status: dict[str, Any] = {}
        self._owners: list[dict[str, Any]] = []
        self._created = NOW - timedelta(hours=1)

    def uid(self, uid: str) -> Self:
        self._uid = uid
        return self

    def gpus(self, per_pod: int, *, pods: int = 1) -> Self:
        self._gpus_per_pod, self._pods = per_pod, pods
        return self

    def hours(self, hours: float) -> Self:
        self._annotations[names.ANNOTATION_EXPECTED_DURATION] = f"{hours * 3600:g}"
        return self

    def annotate(self, key: str, value: str) -> Self:
        self._annotations[key] = value
        return self

    def label(self, key: str, value: str) -> Self:
        self._labels[key] = value
        return self

    def not_held(self) -> Self:
        del self._annotations[names.ANNOTATION_HELD]
        return self

    def released(self, at: datetime, region: str) -> Self:
        self._suspend = False
        self._annotations[ANNOTATION_RELEASED_AT] = stamp(at)
        self._template_annotations[names.ANNOTATION_REGION] = region
        return self

    def suspended(self) -> Self:
        self._suspend = True
        return self

    def running_unsuspended(self) -> Self:
        self._suspend = False
        return self

    def finished(self, condition: str = "Complete", status: str = "True") -> Self:
        self._status["conditions"] = [{"type": condition, "status": status}]
        return self

    def ran(self, hours: float) -> Self:
        """Succeeded after `hours` of wall time."""
        self.finished()
        self._status["startTime"] = stamp(NOW - timedelta(hours=hours))
        self._status["completionTime"] = stamp(NOW)
        return self

    def pod_counts(self, *, active: int = 0, terminating: int = 0) -> Self:
        self._status.update(active=active, terminating=terminating)
        return self

    def owned_by(self, kind: str, *, controller: bool = True) -> Self:
        self._owners.append(
            {"apiVersion": "x/v1", "kind": kind, "name": "o", "uid": uid_of(kind)}
            | ({"controller": True} if controller else {})
        )
        return self

    def body(self) -> dict[str, Any]:
        container = {"name": "t", "resources": {"limits": {names.GPU_RESOURCE: self._gpus_per_pod}}}
        return {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {
                "namespace": NS,
                "name": self._name,
                "uid": self._uid,
                "creationTimestamp": stamp(self._created),
                "labels": dict(self._labels),
                "annotations": dict(self._annotations),
                "ownerReferences": list(self._owners),
                "resourceVersion": "7",
            },
            "spec": {
                "suspend": self._suspend,
                "parallelism": self._pods,
                "template": {
                    "metadata": {"annotations": dict(self._template_annotations)},
                    "spec": {"containers": [container]},
                },
            },
            "status": dict(self._status),
        }

    def obj(self) -> WorkloadObject:
        return job_object(self.body())


def make_job(name: str = "train") -> JobBuilder:
    return JobBuilder(name)


def pod_body(
    name: str = "solo",
    *,
    gates: tuple[str, ...] = (names.SCHEDULING_GATE,),
    node: str | None = None,
    region: str | None = None,
    phase: str = "Pending",
    terminating: bool = False,
    owner: str | None = None,
    gpus: int = 2,
) -> dict[str, Any]:
    annotations = {names.ANNOTATION_HELD: "true", names.ANNOTATION_EXPECTED_DURATION: "1h"}
    if region is not None:
        annotations[names.ANNOTATION_REGION] = region
    metadata: dict[str, Any] = {
        "namespace": NS,
        "name": name,
        "uid": uid_of(f"pod/{name}"),
        "creationTimestamp": stamp(NOW - timedelta(hours=1)),
        "labels": {names.LABEL_DEFERRABLE: "true"},
        "annotations": annotations,
    }
    if owner is not None:
        metadata["ownerReferences"] = [
            {"kind": owner, "name": "o", "uid": uid_of(owner), "controller": True}
        ]
    if terminating:
        metadata["deletionTimestamp"] = stamp(NOW)
    spec: dict[str, Any] = {
        "containers": [{"name": "t", "resources": {"limits": {names.GPU_RESOURCE: str(gpus)}}}],
        "schedulingGates": [{"name": gate} for gate in gates],
    }
    if node is not None:
        spec["nodeName"] = node
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": spec,
        "status": {"phase": phase},
    }


def reading(
    carbon: float | None = 300.0,
    price: float | None = 10.0,
    *,
    observed_at: datetime = NOW,
    forecast: tuple[ForecastPoint, ...] = (),
) -> SignalReading:
    return SignalReading(
        carbon_g_per_kwh=carbon,
        price_jpy_per_kwh=price,
        observed_at=observed_at,
        source="test",
        forecast=forecast,
    )


def migration(
    phase: MovePhase,
    *,
    source: str = "kyushu",
    target: str = "tokyo",
    started_at: datetime = NOW - timedelta(minutes=10),
    phase_since: datetime = NOW - timedelta(minutes=5),
) -> MigrationStatus:
    return MigrationStatus(
        phase=phase,
        from_region=source,
        to_region=target,
        reason="GreenerRegion",
        started_at=started_at,
        phase_since=phase_since,
    )


class ClusterBuilder:
    """`make_cluster().region("kyushu", nodes=2).workload(job).build()`: a `ClusterView`.

    Each region gets `nodes` ready nodes of `gpus_per_node` GPUs labelled with its name, and a
    fresh feed reading unless `reading=None`."""

    def __init__(self) -> None:
        self._regions: dict[str, RegionEntry] = {}
        self._readings: dict[str, SignalReading] = {}
        self._nodes: list[NodeGpus] = []
        self._gpu_pods: list[PodGpus] = []
        self._workloads: list[WorkloadObject] = []
        self._pods_by_owner: dict[str, list[PodView]] = {}
        self._records: dict[tuple[str, str], RecordEntry] = {}
        self._policies: dict[tuple[str, str], Mapping[str, Any]] = {}
        self._links: dict[str, Mapping[str, Any]] = {}

    def region(
        self,
        name: str,
        *,
        nodes: int = 1,
        gpus_per_node: int = 16,
        spec: Mapping[str, Any] | None = None,
        status: Mapping[str, Any] | None = None,
        reading: SignalReading | None = reading(),  # noqa: B008 - a frozen value
        created_at: datetime | None = None,
    ) -> Self:
        wire = {"gridArea": "JP-KY", "pue": "1.0", **(spec or {})}
        self._regions[name] = RegionEntry(
            name=name,
            spec=RegionSpec.model_validate(wire),
            status=RegionStatus.model_validate(status or {}),
            created_at=created_at,
        )
        for index in range(nodes):
            self.node(f"{name}-{index}", name, gpus_per_node)
        if reading is not None:
            self._readings[name] = reading
        return self

    def node(self, name: str, region: str, gpus: int, *, schedulable: bool = True) -> Self:
        self._nodes.append(
            NodeGpus(
                name=name,
                labels={names.REGION_LABEL: region},
                allocatable_gpus=gpus,
                schedulable=schedulable,
            )
        )
        return self

    def gpu_pod(
        self,
        gpus: int,
        *,
        node: str | None = None,
        region: str | None = None,
        gated: bool = False,
        owner_uid: str | None = None,
        uid: str | None = None,
    ) -> Self:
        self._gpu_pods.append(
            PodGpus(
                node_name=node,
                region_annotation=region,
                gpus=gpus,
                gated=gated,
                owner_uid=owner_uid,
                uid=uid or uid_of(f"gpu-pod/{len(self._gpu_pods)}"),
            )
        )
        return self

    def pod_body(self, body: Mapping[str, Any]) -> Self:
        """A pod as the `gpu_pods` index sees it (terminal or GPU-less pods drop out)."""
        usage = pod_gpus(body)
        if usage is not None:
            self._gpu_pods.append(usage)
        return self

    def workload(self, obj: WorkloadObject, *pods: PodView) -> Self:
        self._workloads.append(obj)
        if pods:
            self._pods_by_owner[obj.uid] = list(pods)
        return self

    def job_pods(self, obj: WorkloadObject, *, node: str, gpus_per_pod: int = 4) -> Self:
        """The Job's pods, bound to `node`, in the GPU pod index."""
        for index in range(obj.pods):
            self.gpu_pod(
                gpus_per_pod, node=node, owner_uid=obj.uid, uid=uid_of(f"{obj.uid}/{index}")
            )
        return self

    def record(
        self, obj: WorkloadObject, status: WorkloadPlacementStatus, *, uid: str | None = None
    ) -> Self:
        name = f"{obj.kind.lower()}-{obj.name}"
        self._records[(obj.namespace, name)] = RecordEntry.of(
            namespace=obj.namespace, name=name, workload_uid=uid or obj.uid, status=status
        )
        return self

    def policy(self, name: str, spec: Mapping[str, Any]) -> Self:
        self._policies[(NS, name)] = dict(spec)
        return self

    def link(self, name: str, spec: Mapping[str, Any]) -> Self:
        self._links[name] = {"spec": dict(spec), "status": {}}
        return self

    def build(self, now: datetime = NOW) -> ClusterView:
        return ClusterView(
            now=now,
            regions=dict(self._regions),
            readings=dict(self._readings),
            nodes=list(self._nodes),
            gpu_pods=list(self._gpu_pods),
            workloads=list(self._workloads),
            pods_by_owner=dict(self._pods_by_owner),
            records=dict(self._records),
            policies=dict(self._policies),
            links=dict(self._links),
        )


def make_cluster() -> ClusterBuilder:
    return ClusterBuilder()


def plan(view: ClusterView) -> PlanInput:
    return plan_input(view, SnapshotSettings())


def managed(view: ClusterView, obj: WorkloadObject) -> Managed:
    (item,) = (m for m in plan(view).managed if m.obj.key == obj.key)
    return item


def classified(obj: WorkloadObject, cluster: ClusterBuilder | None = None) -> Managed:
    builder = cluster or make_cluster().region("kyushu").region("tokyo")
    return managed(builder.workload(obj).build(), obj)


def region(view: ClusterView, name: str) -> RegionSnapshot:
    (snapshot,) = (r for r in plan(view).regions if r.name == name)
    return snapshot


def free(view: ClusterView, name: str) -> tuple[int, ...]:
    return region(view, name).free_gpus


def slots(*runs: tuple[int, int]) -> tuple[int, ...]:
    """`slots((8, 2), (16, 46))` = (8, 8, 16, ... 16): runs of (value, count)."""
    out = tuple(value for value, count in runs for _ in range(count))
    assert len(out) == SLOTS
    return out


# ---------------------------------------------------------------- parsers


def test_a_held_job_parses() -> None:
    obj = make_job().gpus(4, pods=2).obj()
    assert obj.kind is WorkloadKind.JOB
    assert (obj.namespace, obj.name, obj.uid) == (NS, "train", uid_of("job/train"))
    assert obj.suspended
    assert obj.held
    assert obj.released_at is None
    assert obj.placed_region is None
    assert obj.gpus() == 8
    assert obj.created_at == NOW - timedelta(hours=1)
    assert not obj.finished
    assert obj.controller_kind is None


def test_a_released_job_has_its_release_time_and_template_region() -> None:
    obj = make_job().released(NOW - timedelta(minutes=30), "kyushu").obj()
    assert not obj.suspended
    assert obj.held
    assert obj.released_at == NOW - timedelta(minutes=30)
    assert obj.placed_region == "kyushu"


def test_the_region_is_read_from_the_template_not_the_job() -> None:
    obj = make_job().annotate(names.ANNOTATION_REGION, "tokyo").obj()
    assert obj.placed_region is None


@pytest.mark.parametrize(
    ("condition", "status", "finished"),
    [
        ("Complete", "True", True),
        ("Failed", "True", True),
        ("Complete", "False", False),
        ("Suspended", "True", False),
    ],
)
def test_finished_jobs(condition: str, status: str, finished: bool) -> None:
    assert make_job().finished(condition, status).obj().finished is finished


def test_active_and_terminating_pods_are_read() -> None:
    obj = make_job().pod_counts(active=2, terminating=1).obj()
    assert (obj.active_pods, obj.terminating_pods) == (2, 1)


def test_only_a_controller_owner_counts() -> None:
    assert make_job().owned_by("JobSet").obj().controller_kind == "JobSet"
    assert make_job().owned_by("Thing", controller=False).obj().controller_kind is None


def test_a_gated_pod_parses_as_suspended_with_no_active_pod() -> None:
    obj = pod_object(pod_body(region="kyushu"))
    assert obj.kind is WorkloadKind.POD
    assert obj.suspended
    assert obj.held
    assert obj.active_pods == 0
    assert obj.placed_region == "kyushu"
    assert obj.gpus() == 2


def test_a_pod_gated_by_someone_else_is_not_suspended_by_us() -> None:
    assert not pod_object(pod_body(gates=("example.com/other",))).suspended


def test_a_bound_pod_is_active_and_a_deleted_one_terminating() -> None:
    bound = pod_object(pod_body(gates=(), node="kyushu-0", phase="Running"))
    assert (bound.active_pods, bound.terminating_pods, bound.node_name) == (1, 0, "kyushu-0")
    going = pod_object(pod_body(gates=(), node="kyushu-0", phase="Running", terminating=True))
    assert (going.active_pods, going.terminating_pods) == (0, 1)
    done = pod_object(pod_body(gates=(), node="kyushu-0", phase="Succeeded"))
    assert done.finished


# ---------------------------------------------------------------- classify


def test_a_held_job_never_released_is_pending() -> None:
    item = classified(make_job().obj())
    assert item.stage is Stage.PENDING
    assert item.record_name == "job-train"
    assert item.snapshot is not None
    assert item.snapshot.state is WorkloadState.PENDING
    assert item.snapshot.current_region is None
    assert item.snapshot.gpus == 8
    assert item.snapshot.remaining_runtime_s == 7200.0
    assert item.snapshot.workload_id == f"Job/{NS}/train"


def test_a_gated_pod_is_pending() -> None:
    item = classified(pod_object(pod_body()))
    assert item.stage is Stage.PENDING
    assert item.snapshot is not None
    assert item.snapshot.gpus == 2


def test_a_released_job_is_running_in_its_template_region() -> None:
    item = classified(make_job().released(NOW - timedelta(minutes=30), "kyushu").obj())
    assert item.stage is Stage.RUNNING
    assert item.snapshot is not None
    assert item.snapshot.state is WorkloadState.RUNNING
    assert item.snapshot.current_region == "kyushu"
    assert item.snapshot.remaining_runtime_s == 5400.0


def test_a_released_pod_is_running_in_its_annotated_region() -> None:
    obj = pod_object(pod_body(gates=(), node="kyushu-0", region="kyushu", phase="Running"))
    item = classified(obj)
    assert item.stage is Stage.RUNNING
    assert item.snapshot is not None
    assert item.snapshot.current_region == "kyushu"
    assert not item.movable


def test_a_pod_with_a_controller_is_managed_and_movable() -> None:
    item = classified(pod_object(pod_body(owner="ReplicaSet")))
    assert item.stage is Stage.PENDING
    assert item.movable


@pytest.mark.parametrize(
    "job",
    [
        make_job().released(NOW - timedelta(minutes=30), "kyushu").suspended(),
        make_job().not_held(),
    ],
    ids=["released-then-suspended", "suspended-but-never-held"],
)
def test_a_job_suspended_by_someone_else_is_paused(job: JobBuilder) -> None:
    item = classified(job.obj())
    assert item.stage is Stage.PAUSED
    assert item.snapshot is None


@pytest.mark.parametrize("phase", [p for p in MovePhase if not p.is_final])
def test_a_move_in_flight_is_moving(phase: MovePhase) -> None:
    obj = make_job().released(NOW - timedelta(hours=1), "kyushu").suspended().obj()
    status = WorkloadPlacementStatus(migration=migration(phase))
    item = classified(obj, make_cluster().region("kyushu").region("tokyo").record(obj, status))
    assert item.stage is Stage.MOVING
    assert item.move is not None
    assert (item.move.phase, item.move.from_region, item.move.to_region) == (
        phase,
        "kyushu",
        "tokyo",
    )
    assert item.snapshot is None


@pytest.mark.parametrize("phase", [p for p in MovePhase if p.is_final])
def test_a_finished_move_leaves_the_job_running(phase: MovePhase) -> None:
    obj = make_job().released(NOW - timedelta(hours=1), "tokyo").obj()
    status = WorkloadPlacementStatus(migration=migration(phase))
    item = classified(obj, make_cluster().region("kyushu").region("tokyo").record(obj, status))
    assert item.stage is Stage.RUNNING
    assert item.move is None


def test_a_completed_move_tells_the_planner_when_it_ended() -> None:
    # The cooldown counts from the move's observed end, not from an estimate of its downtime.
    obj = make_job().released(NOW - timedelta(hours=1), "tokyo").obj()
    done = WorkloadPlacementStatus(migration=migration(MovePhase.RUNNING))
    item = classified(obj, make_cluster().region("kyushu").region("tokyo").record(obj, done))
    assert item.snapshot is not None
    assert item.snapshot.last_move_ended_at == NOW - timedelta(minutes=5)
    abandoned = WorkloadPlacementStatus(migration=migration(MovePhase.ABANDONED))
    item = classified(obj, make_cluster().region("kyushu").region("tokyo").record(obj, abandoned))
    assert item.snapshot is not None
    assert item.snapshot.last_move_ended_at is None


def test_a_finished_job_is_finished_unless_a_move_is_in_flight() -> None:
    obj = make_job().released(NOW - timedelta(hours=1), "kyushu").finished().obj()
    assert classified(obj).stage is Stage.FINISHED
    status = WorkloadPlacementStatus(migration=migration(MovePhase.SUSPENDED))
    cluster = make_cluster().region("kyushu").region("tokyo").record(obj, status)
    # The migration steps close (abandon) the move; the planner does not see it.
    assert classified(obj, cluster).stage is Stage.MOVING


def test_a_kueue_job_is_foreign() -> None:
    item = classified(make_job().label(names.ANNOTATION_QUEUE_NAME, "team-a").obj())
    assert item.stage is Stage.FOREIGN
    assert item.reason is Reason.MANAGED_BY_KUEUE
    assert "team-a" in item.message
    assert item.snapshot is None


def test_a_job_its_owner_created_suspended_is_foreign() -> None:
    item = classified(make_job().owned_by("JobSet").not_held().obj())
    assert item.stage is Stage.FOREIGN
    assert item.reason is Reason.MANAGED_BY_OWNER
    assert "JobSet" in item.message


def test_an_owned_job_the_webhook_held_is_ours() -> None:
    # A CronJob creates its Jobs running; the webhook held this one, so wattbit releases it.
    item = classified(make_job().owned_by("CronJob").obj())
    assert item.stage is Stage.PENDING
    assert item.reason is None


def test_a_bad_hint_makes_the_workload_invalid_with_the_hints_reason_in_the_message() -> None:
    item = classified(make_job().annotate(names.ANNOTATION_DEADLINE, "yesterday").obj())
    assert item.stage is Stage.INVALID
    assert item.reason is Reason.INVALID_WORKLOAD
    assert item.message.startswith("InvalidDeadline: ")
    assert "yesterday" in item.message
    assert item.snapshot is None


def test_every_bad_hint_is_in_the_message() -> None:
    obj = (
        make_job()
        .annotate(names.ANNOTATION_EXPECTED_DURATION, "-5h")
        .annotate(names.ANNOTATION_GPU_POWER_WATTS, "1e9")
        .annotate(names.ANNOTATION_DEADLINE, "2020-01-01T00:00:00Z")
        .obj()
    )
    item = classified(obj)
    assert item.reason is Reason.INVALID_WORKLOAD
    assert item.message.startswith("InvalidExpectedDuration: ")
    assert "; InvalidGpuPower: " in item.message
    assert "; InvalidDeadline: " in item.message


def test_a_missing_named_policy_makes_the_workload_invalid() -> None:
    item = classified(make_job().annotate(names.ANNOTATION_POLICY, "gold").obj())
    assert item.stage is Stage.INVALID
    assert item.reason is Reason.POLICY_NOT_FOUND
    assert f"{NS}/gold" in item.message


def test_an_invalid_named_policy_makes_the_workload_invalid() -> None:
    cluster = make_cluster().region("kyushu").policy("gold", {"allowedRegions": []})
    item = classified(make_job().annotate(names.ANNOTATION_POLICY, "gold").obj(), cluster)
    assert item.stage is Stage.INVALID
    assert item.reason is Reason.POLICY_NOT_FOUND
    assert "invalid" in item.message


def test_the_policy_is_the_named_one_else_the_namespace_default_else_the_builtin() -> None:
    def cluster() -> ClusterBuilder:
        return (
            make_cluster()
            .region("kyushu")
            .policy("gold", {"carbonPriceJpyPerTonne": 30_000})
            .policy("default", {"carbonPriceJpyPerTonne": 20_000})
        )

    named = classified(make_job().annotate(names.ANNOTATION_POLICY, "gold").obj(), cluster())
    assert named.policy is not None
    assert (named.policy.name, named.policy.spec.carbon_price_jpy_per_tonne) == ("gold", 30_000)
    default = classified(make_job().obj(), cluster())
    assert default.policy is not None
    assert (default.policy.name, default.policy.spec.carbon_price_jpy_per_tonne) == (
        "default",
        20_000,
    )
    builtin = classified(make_job().obj())
    assert builtin.policy is not None
    assert builtin.policy.name is None
    assert builtin.policy.spec == PlacementPolicySpec()


def test_a_record_of_an_older_job_with_the_same_name_is_ignored() -> None:
    obj = make_job().released(NOW - timedelta(minutes=30), "kyushu").obj()
    status = WorkloadPlacementStatus(
        migration=migration(MovePhase.SUSPENDED), moves=2, last_move_at=NOW
    )
    cluster = make_cluster().region("kyushu").region("tokyo")
    item = classified(obj, cluster.record(obj, status, uid=uid_of("job/train-before")))
    assert item.stage is Stage.RUNNING
    assert item.record is None
    assert item.snapshot is not None
    assert item.snapshot.move_count == 0
    assert item.snapshot.last_moved_at is None


def test_a_running_snapshot_carries_the_records_moves_and_the_pods_checkpoint() -> None:
    obj = make_job().released(NOW - timedelta(hours=1), "tokyo").obj()
    status = WorkloadPlacementStatus(
        migration=migration(MovePhase.RUNNING),
        moves=2,
        last_move_at=NOW - timedelta(minutes=10),
    )
    acks = [NOW - timedelta(minutes=20), NOW - timedelta(minutes=3), None]
    pods = [
        PodView(
            namespace=NS,
            name=f"train-{i}",
            uid=uid_of(f"p{i}"),
            owner_uid=obj.uid,
            node_name="tokyo-0",
            phase="Running",
            terminating=False,
            gpus=4,
            checkpoint_acknowledged_at=ack,
        )
        for i, ack in enumerate(acks)
    ]
    cluster = make_cluster().region("kyushu").region("tokyo").record(obj, status)
    view = cluster.workload(obj, *pods).build()
    item = managed(view, obj)
    assert item.snapshot is not None
    assert item.snapshot.move_count == 2
    assert item.snapshot.last_moved_at == NOW - timedelta(minutes=10)
    assert item.snapshot.previous_region == "kyushu"
    assert item.snapshot.last_checkpoint_at == NOW - timedelta(minutes=3)
    assert item.snapshot.submitted_at == obj.created_at
    assert len(item.pods) == 3


def test_allowed_regions_come_from_the_policy() -> None:
    cluster = make_cluster().region("kyushu").region("tokyo").region("osaka")
    cluster.policy("default", {"allowedRegions": ["kyushu", "osaka"]})
    item = classified(make_job().obj(), cluster)
    assert item.snapshot is not None
    assert item.snapshot.allowed_regions == frozenset({"kyushu", "osaka"})
    unrestricted = classified(make_job().obj())
    assert unrestricted.snapshot is not None
    assert unrestricted.snapshot.allowed_regions is None


# ---------------------------------------------------------------- remaining run time


def running(released_ago: timedelta, *, hours: float = 2.0, **record: Any) -> Managed:
    obj = make_job().hours(hours).released(NOW - released_ago, "kyushu").obj()
    cluster = make_cluster().region("kyushu").region("tokyo")
    if record:
        cluster.record(obj, WorkloadPlacementStatus(**record))
    return classified(obj, cluster)


def test_remaining_runtime_of_a_pending_workload_is_its_expected_duration() -> None:
    assert remaining_runtime_s(classified(make_job().hours(3).obj()), NOW) == 3 * 3600.0


def test_remaining_runtime_is_expected_less_the_time_since_release() -> None:
    assert remaining_runtime_s(running(timedelta(minutes=30)), NOW) == 5400.0


def test_remaining_runtime_gives_back_the_downtime_of_the_last_completed_move() -> None:
    # Released an hour ago; the last move took from 09:40 to 10:00 (20 minutes suspended).
    move = migration(
        MovePhase.RUNNING,
        started_at=NOW - timedelta(minutes=50),
        phase_since=NOW - timedelta(minutes=30),
    )
    item = running(timedelta(hours=1), migration=move)
    assert remaining_runtime_s(item, NOW) == 7200.0 - 40 * 60.0


def test_remaining_runtime_never_falls_below_the_floor() -> None:
    assert remaining_runtime_s(running(timedelta(hours=5)), NOW) == MIN_REMAINING_S


@given(
    elapsed_s=st.integers(0, 10 * 3600),
    expected_h=st.sampled_from([0.1, 0.5, 1.0, 2.0, 7.5]),
)
def test_remaining_runtime_is_the_expected_less_the_elapsed_above_the_floor(
    elapsed_s: int, expected_h: float
) -> None:
    item = running(timedelta(seconds=elapsed_s), hours=expected_h)
    expected_s = expected_h * 3600.0
    assert remaining_runtime_s(item, NOW) == pytest.approx(
        max(expected_s - elapsed_s, MIN_REMAINING_S)
    )


# ---------------------------------------------------------------- horizon and forecast


def test_the_horizon_starts_at_the_top_of_the_hour() -> None:
    horizon = horizon_for(datetime(2026, 12, 2, 10, 59, 59, 999_999, tzinfo=UTC))
    assert horizon.start == HOUR
    assert (horizon.slot_s, horizon.slot_count) == (3600.0, SLOTS)


def point(at: datetime, carbon: float | None, price: float | None) -> ForecastPoint:
    return ForecastPoint(start=at, carbon_g_per_kwh=carbon, price_jpy_per_kwh=price)


def test_slots_take_the_point_covering_their_middle_and_stop_with_the_forecast() -> None:
    forecast = (
        point(HOUR + timedelta(hours=1), 100.0, 5.0),
        point(HOUR + timedelta(hours=2), 200.0, 6.0),
        point(HOUR + timedelta(hours=3), 300.0, 7.0),
    )
    carbon, price = per_slot_forecast(reading(500.0, 20.0, forecast=forecast), horizon_for(NOW))
    # Slot 0 (10:00-11:00) is before the first point: the current value.
    assert carbon == (500.0, 100.0, 200.0, 300.0)
    assert price == (20.0, 5.0, 6.0, 7.0)


def test_half_hour_points_are_sampled_at_the_slot_middle() -> None:
    forecast = tuple(
        point(HOUR + timedelta(minutes=30 * i), float(i), float(10 + i)) for i in range(6)
    )
    carbon, _ = per_slot_forecast(reading(500.0, 20.0, forecast=forecast), horizon_for(NOW))
    # Middles at 10:30, 11:30, 12:30: the points starting then (1, 3, 5).
    assert carbon[:3] == (1.0, 3.0, 5.0)


def test_an_unforecast_metric_takes_the_current_value() -> None:
    forecast = (point(HOUR, 100.0, None), point(HOUR + timedelta(hours=1), 150.0, None))
    carbon, price = per_slot_forecast(reading(500.0, 20.0, forecast=forecast), horizon_for(NOW))
    assert carbon == (100.0, 150.0)
    assert price == (20.0, 20.0)


def test_without_a_forecast_every_slot_takes_the_current_value() -> None:
    carbon, price = per_slot_forecast(reading(500.0, 20.0), horizon_for(NOW))
    assert carbon == (500.0,) * SLOTS
    assert price == (20.0,) * SLOTS


# ---------------------------------------------------------------- regions: GPUs


def test_free_gpus_are_the_allocatable_gpus_of_ready_schedulable_nodes() -> None:
    view = (
        make_cluster()
        .region("kyushu", nodes=2, gpus_per_node=8)
        .node("kyushu-cordoned", "kyushu", 8, schedulable=False)
        .node("elsewhere", "nowhere", 8)
        .build()
    )
    assert free(view, "kyushu") == (16,) * SLOTS


def test_a_region_over_an_earlier_regions_nodes_has_none_and_they_count_once() -> None:
    early, late = NOW - timedelta(days=2), NOW - timedelta(days=1)
    same_nodes = {"nodeSelector": {names.REGION_LABEL: "kyushu"}}
    view = (
        make_cluster()
        .region("kyushu-again", nodes=0, spec=same_nodes, created_at=late)
        .region("kyushu", nodes=2, gpus_per_node=8, created_at=early)
        .gpu_pod(4, node="kyushu-1")
        .build()
    )
    assert free(view, "kyushu") == (12,) * SLOTS
    assert free(view, "kyushu-again") == (0,) * SLOTS


@pytest.mark.parametrize(("cap", "expected"), [(12, 12), (64, 16), (0, 0)])
def test_region_capacity_caps_the_nodes(cap: int, expected: int) -> None:
    view = (
        make_cluster()
        .region("kyushu", nodes=2, gpus_per_node=8, spec={"capacity": {"gpus": cap}})
        .build()
    )
    assert free(view, "kyushu") == (expected,) * SLOTS


def test_unmanaged_gpu_pods_count_when_bound_or_released() -> None:
    view = (
        make_cluster()
        .region("kyushu", nodes=2, gpus_per_node=8)
        .gpu_pod(4, node="kyushu-1")  # bound
        .gpu_pod(2, region="kyushu")  # released, not yet bound
        .gpu_pod(8, region="kyushu", gated=True)  # still held: not counted
        .gpu_pod(8)  # neither bound nor steered
        .gpu_pod(8, node="elsewhere")  # on a node of no region
        .build()
    )
    assert free(view, "kyushu") == (10,) * SLOTS


def test_a_bound_pod_counts_where_its_node_is_whatever_its_annotation_says() -> None:
    view = (
        make_cluster()
        .region("kyushu")
        .region("tokyo")
        .gpu_pod(4, node="tokyo-0", region="kyushu")
        .build()
    )
    assert free(view, "kyushu") == (16,) * SLOTS
    assert free(view, "tokyo") == (12,) * SLOTS


def test_a_running_workload_counts_until_its_expected_end_and_its_pods_once() -> None:
    # Released at 10:00 for 2 h: it runs through slots 0 (10-11) and 1 (11-12).
    obj = make_job().gpus(4, pods=2).released(HOUR, "kyushu").obj()
    view = make_cluster().region("kyushu").workload(obj).job_pods(obj, node="kyushu-0").build()
    assert free(view, "kyushu") == slots((8, 2), (16, 46))


def test_a_running_workload_ending_mid_slot_still_counts_in_that_slot() -> None:
    # Released now (10:30) for 1 h: it ends at 11:30, so slot 1 (11-12) is still taken.
    obj = make_job().hours(1).released(NOW, "kyushu").obj()
    view = make_cluster().region("kyushu").workload(obj).job_pods(obj, node="kyushu-0").build()
    assert free(view, "kyushu") == slots((8, 2), (16, 46))


def test_a_running_workload_wattbit_never_placed_counts_through_its_pods() -> None:
    # A labelled Job admitted unheld (e.g. while the webhook was down) has no region of
    # wattbit's; its pods still hold GPUs.
    obj = make_job().not_held().running_unsuspended().obj()
    view = make_cluster().region("kyushu").workload(obj).job_pods(obj, node="kyushu-0").build()
    assert managed(view, obj).stage is Stage.UNGATED  # its pods are not running yet
    assert free(view, "kyushu") == (8,) * SLOTS
    running = pod_of(obj, node="kyushu-0", phase="Running")
    view = (
        make_cluster()
        .region("kyushu")
        .workload(obj, running)
        .job_pods(obj, node="kyushu-0")
        .build()
    )
    assert managed(view, obj).stage is Stage.RUNNING  # adopted where it runs
    assert free(view, "kyushu")[0] == 8


@pytest.mark.parametrize(
    ("terminating", "source_slot_0"), [(2, 8), (0, 16)], ids=["pods-remain", "pods-gone"]
)
def test_a_move_counts_in_its_target_and_in_its_source_while_pods_remain(
    terminating: int, source_slot_0: int
) -> None:
    # Released at 09:00 for 3 h: it ends at 12:00 (slots 0 and 1).
    obj = (
        make_job()
        .hours(3)
        .released(NOW - timedelta(minutes=90), "kyushu")
        .suspended()
        .pod_counts(terminating=terminating)
        .obj()
    )
    status = WorkloadPlacementStatus(migration=migration(MovePhase.SUSPENDED))
    view = (
        make_cluster()
        .region("kyushu")
        .region("tokyo")
        .workload(obj)
        .record(obj, status)
        .job_pods(obj, node="kyushu-0")
        .build()
    )
    assert managed(view, obj).stage is Stage.MOVING
    assert free(view, "tokyo") == slots((8, 2), (16, 46))
    assert free(view, "kyushu") == slots((source_slot_0, 1), (16, 47))


def test_a_paused_job_keeps_its_gpus_in_its_region() -> None:
    obj = make_job().released(NOW - timedelta(hours=1), "kyushu").suspended().obj()
    view = make_cluster().region("kyushu").workload(obj).build()
    assert free(view, "kyushu") == (8,) * SLOTS


def test_a_finished_job_and_its_pods_count_nothing() -> None:
    obj = make_job().released(NOW - timedelta(minutes=30), "kyushu").finished().obj()
    pods = [
        pod_body(f"train-{i}", gates=(), node="kyushu-0", phase="Succeeded", gpus=4)
        for i in range(2)
    ]
    cluster = make_cluster().region("kyushu").workload(obj)
    cluster.record(obj, WorkloadPlacementStatus(region="kyushu"))
    for body in pods:
        cluster.pod_body(body)
    view = cluster.build()
    assert managed(view, obj).stage is Stage.FINISHED
    assert free(view, "kyushu") == (16,) * SLOTS


def test_pending_and_foreign_workloads_take_no_gpus_but_foreign_pods_do() -> None:
    pending = make_job("waiting").obj()
    foreign = make_job("queued").label(names.ANNOTATION_QUEUE_NAME, "q").running_unsuspended()
    queued = foreign.obj()
    view = (
        make_cluster()
        .region("kyushu")
        .workload(pending)
        .workload(queued)
        .job_pods(queued, node="kyushu-0")
        .build()
    )
    assert free(view, "kyushu") == (8,) * SLOTS


# ---------------------------------------------------------------- regions: power, state, signals


def test_power_headroom_is_the_cap_less_the_facility_power_in_use() -> None:
    # 8 GPUs at 500 W and 2 unmanaged GPUs at the default 700 W, PUE 1.25.
    obj = (
        make_job()
        .annotate(names.ANNOTATION_GPU_POWER_WATTS, "500")
        .released(HOUR, "kyushu")  # 2 h: slots 0 and 1
        .obj()
    )
    spec = {"pue": "1.25", "capacity": {"powerCapKilowatts": 20}}
    view = (
        make_cluster().region("kyushu", spec=spec).workload(obj).gpu_pod(2, node="kyushu-0").build()
    )
    headroom = region(view, "kyushu").power_headroom_kw
    assert headroom[:3] == pytest.approx((20 - 5 - 1.75, 20 - 5 - 1.75, 20 - 1.75))
    assert len(headroom) == SLOTS
    assert region(view, "kyushu").pue == 1.25


def test_no_power_cap_means_no_headroom_limit() -> None:
    assert region(make_cluster().region("kyushu").build(), "kyushu").power_headroom_kw == ()


def test_unavailable_regions_are_unavailable_and_draining_ones_not_allowed() -> None:
    obj = make_job().obj()
    cluster = (
        make_cluster()
        .region("kyushu", spec={"availability": "Unavailable"})
        .region("tokyo", spec={"availability": "Draining"})
        .region("osaka")
        .workload(obj)
    )
    view = cluster.build()
    assert not region(view, "kyushu").available
    assert region(view, "tokyo").available
    assert region(view, "osaka").available
    snapshot = managed(view, obj).snapshot
    assert snapshot is not None
    assert snapshot.allowed_regions == frozenset({"kyushu", "osaka"})
    cluster.policy("default", {"allowedRegions": ["tokyo", "osaka"]})
    restricted = managed(cluster.build(), obj).snapshot
    assert restricted is not None
    assert restricted.allowed_regions == frozenset({"osaka"})


def test_a_region_with_no_reading_is_stale() -> None:
    view = make_cluster().region("kyushu", reading=None).build()
    snapshot = region(view, "kyushu")
    assert snapshot.signal_observed_at == STALE_EPOCH
    assert snapshot.is_stale(NOW)
    assert snapshot.carbon_forecast_g_per_kwh == ()


def test_a_reading_without_carbon_is_stale() -> None:
    view = make_cluster().region("kyushu", reading=reading(None, 10.0)).build()
    assert region(view, "kyushu").is_stale(NOW)


def test_a_fresh_reading_sets_the_signals_and_the_maximum_age() -> None:
    spec = {"signals": {"maxAgeSeconds": 600, "refreshIntervalSeconds": 60}}
    observed = NOW - timedelta(minutes=5)
    view = (
        make_cluster()
        .region("kyushu", spec=spec, reading=reading(120.0, 8.5, observed_at=observed))
        .build()
    )
    snapshot = region(view, "kyushu")
    assert (snapshot.carbon_g_per_kwh, snapshot.price_jpy_per_kwh) == (120.0, 8.5)
    assert snapshot.signal_observed_at == observed
    assert snapshot.signal_max_age_s == 600.0
    assert not snapshot.is_stale(NOW)


def test_without_a_feed_reading_the_status_signals_are_used() -> None:
    status = {
        "signals": {
            "carbonGramsPerKwh": 123.0,
            "priceJpyPerKwh": 4.5,
            "observedAt": stamp(NOW - timedelta(minutes=2)),
            "forecast": [
                {
                    "start": stamp(HOUR + timedelta(hours=1)),
                    "carbonGramsPerKwh": 50.0,
                    "priceJpyPerKwh": 3.0,
                },
            ],
        }
    }
    view = make_cluster().region("kyushu", status=status, reading=None).build()
    snapshot = region(view, "kyushu")
    assert (snapshot.carbon_g_per_kwh, snapshot.price_jpy_per_kwh) == (123.0, 4.5)
    assert snapshot.signal_observed_at == NOW - timedelta(minutes=2)
    assert snapshot.carbon_forecast_g_per_kwh == (123.0, 50.0)
    # The feed's own reading wins over the (rounded) status.
    fed = make_cluster().region("kyushu", status=status, reading=reading(99.0, 9.0)).build()
    assert region(fed, "kyushu").carbon_g_per_kwh == 99.0


# ---------------------------------------------------------------- policies


def test_core_policy_maps_every_field_with_its_unit() -> None:
    spec = PlacementPolicySpec.model_validate(
        {
            "carbonPriceJpyPerTonne": 20_000,
            "minimumSavingPercent": 15,
            "toleranceWindowMinutes": 120,
            "stabilityWindowMinutes": 30,
            "cooldownMinutes": 90,
            "maxMovesPerWorkload": 5,
            "safetyMarginMinutes": 45,
            "maxLinkLatencyMicroseconds": 2500,
        }
    )
    policy = core_policy(spec)
    assert policy.carbon_price_jpy_per_tonne == 20_000.0
    assert policy.min_saving_fraction == pytest.approx(0.15)
    assert policy.max_wait_s == 7200.0
    assert policy.allow_waiting
    assert policy.stability_window_s == 1800.0
    assert policy.cooldown_s == 5400.0
    assert policy.max_moves == 5
    assert policy.safety_margin_s == 2700.0
    assert policy.max_link_latency_ms == 2.5


def test_a_zero_tolerance_window_disables_waiting_and_no_latency_limit_is_none() -> None:
    policy = core_policy(PlacementPolicySpec(tolerance_window_minutes=0))
    assert not policy.allow_waiting
    assert policy.max_wait_s == 0.0
    assert policy.max_link_latency_ms is None


def test_the_builtin_policy_maps_to_the_specs_defaults() -> None:
    policy = core_policy(PlacementPolicySpec())
    assert policy == Policy(
        carbon_price_jpy_per_tonne=10_000.0,
        min_saving_fraction=0.01,
        stability_window_s=3600.0,
        cooldown_s=3600.0,
        max_moves=3,
        safety_margin_s=1800.0,
        max_wait_s=6 * 3600.0,
        allow_waiting=True,
        max_link_latency_ms=None,
    )


def test_workloads_are_grouped_by_the_policy_they_map_to() -> None:
    view = (
        make_cluster()
        .region("kyushu")
        .policy("same-as-builtin", {})
        .policy("dear-carbon", {"carbonPriceJpyPerTonne": 50_000})
        .workload(make_job("a").obj())
        .workload(make_job("b").annotate(names.ANNOTATION_POLICY, "same-as-builtin").obj())
        .workload(make_job("c").annotate(names.ANNOTATION_POLICY, "dear-carbon").obj())
        .workload(make_job("d").annotate(names.ANNOTATION_DEADLINE, "never").obj())
        .build()
    )
    groups = {
        policy.carbon_price_jpy_per_tonne: sorted(m.obj.name for m in items)
        for policy, items in plan(view).groups
    }
    assert groups == {10_000.0: ["a", "b"], 50_000.0: ["c"]}


# ---------------------------------------------------------------- links


def link_spec(source: str, target: str, **changes: Any) -> dict[str, Any]:
    return {
        "fromRegion": source,
        "toRegion": target,
        "latencyMicroseconds": 4500,
        "bandwidthGbps": 400,
        **changes,
    }


def test_an_apn_link_becomes_a_link_snapshot_in_core_units() -> None:
    raw = {"spec": link_spec("kyushu", "tokyo", energyJoulesPerGigabyte=7200, bidirectional=False)}
    (link,), link_names = link_snapshots({"kyushu-tokyo": raw}, ["kyushu", "tokyo"])
    assert (link.from_region, link.to_region) == ("kyushu", "tokyo")
    assert link.latency_ms == 4.5
    assert link.bandwidth_gbps == 400.0
    assert link.energy_kwh_per_gb == pytest.approx(0.002)
    assert not link.bidirectional
    assert link_names == {frozenset(("kyushu", "tokyo")): "kyushu-tokyo"}


def test_links_to_unknown_regions_and_invalid_links_are_dropped() -> None:
    links = {
        "a-ok": {"spec": link_spec("kyushu", "tokyo")},
        "b-unknown": {"spec": link_spec("kyushu", "osaka")},
        "c-loop": {"spec": link_spec("tokyo", "tokyo")},
        "d-empty": {},
    }
    out, link_names = link_snapshots(links, [RegionName("kyushu"), RegionName("tokyo")])
    assert [(link.from_region, link.to_region) for link in out] == [("kyushu", "tokyo")]
    assert link_names == {frozenset(("kyushu", "tokyo")): "a-ok"}


def test_plan_input_links_and_nodes_follow_the_regions() -> None:
    view = (
        make_cluster()
        .region("kyushu", nodes=2)
        .region("tokyo")
        .link("kyushu-tokyo", link_spec("kyushu", "tokyo"))
        .link("kyushu-osaka", link_spec("kyushu", "osaka"))
        .build()
    )
    result = plan(view)
    assert [(link.from_region, link.to_region) for link in result.links] == [("kyushu", "tokyo")]
    assert result.nodes_by_region == {
        "kyushu": frozenset({"kyushu-0", "kyushu-1"}),
        "tokyo": frozenset({"tokyo-0"}),
    }
    assert result.region_selectors["tokyo"] == {names.REGION_LABEL: "tokyo"}
    assert result.horizon.start == HOUR


# ---------------------------------------------------------------- pods fit on nodes


@pytest.mark.parametrize(
    ("pods", "per_pod", "free", "fits"),
    [
        (1, 2, [1, 1], False),  # two free GPUs, but on two nodes
        (1, 2, [2, 0], True),
        (2, 4, [8], True),
        (2, 4, [4, 3], False),
        (3, 1, [1, 1, 1], True),
        (1, 0, [], True),  # a pod without GPUs fits anywhere
    ],
)
def test_pods_fit_counts_whole_pods_per_node(
    pods: int, per_pod: int, free: list[int], fits: bool
) -> None:
    assert pods_fit(pods, per_pod, free) is fits


def test_a_region_whose_free_gpus_are_split_across_nodes_is_left_out_for_a_bigger_pod() -> None:
    cluster = (
        make_cluster()
        .region("kyushu", nodes=2, gpus_per_node=8)
        .region("tokyo", nodes=1, gpus_per_node=16)
        .gpu_pod(7, node="kyushu-0")
        .gpu_pod(7, node="kyushu-1")
    )
    job = make_job("big").gpus(2).obj()  # two GPUs free in kyushu: 1 + 1
    item = managed(cluster.workload(job).build(), job)
    assert item.unfit_regions == frozenset({"kyushu"})
    assert item.snapshot is not None
    assert item.snapshot.allowed_regions == frozenset({"tokyo"})
    small = make_job("small").gpus(1).obj()
    assert managed(cluster.workload(small).build(), small).unfit_regions == frozenset()


# ---------------------------------------------------------------- adoption (webhook down)


def ungated_job() -> JobBuilder:
    """A labelled Job created while the webhook was down: never held, not suspended."""
    return make_job("ungated").not_held().running_unsuspended()


def pod_of(obj: WorkloadObject, *, node: str | None, phase: str) -> PodView:
    return PodView(
        namespace=NS,
        name=f"{obj.name}-0",
        uid=uid_of(f"{obj.name}-pod"),
        owner_uid=obj.uid,
        node_name=node,
        phase=phase,
        terminating=False,
        gpus=4,
    )


def test_a_job_admitted_ungated_that_has_not_started_is_adopted_to_be_held() -> None:
    obj = ungated_job().obj()
    cluster = make_cluster().region("kyushu").region("tokyo")
    item = managed(cluster.workload(obj, pod_of(obj, node=None, phase="Pending")).build(), obj)
    assert item.stage is Stage.UNGATED
    assert item.admitted_ungated
    assert item.snapshot is None


def test_a_job_admitted_ungated_that_runs_is_adopted_where_it_runs() -> None:
    obj = ungated_job().obj()
    cluster = make_cluster().region("kyushu").region("tokyo")
    view = cluster.workload(obj, pod_of(obj, node="tokyo-0", phase="Running")).build()
    item = managed(view, obj)
    assert item.stage is Stage.RUNNING
    assert item.admitted_ungated
    assert item.obj.placed_region == "tokyo"
    assert item.snapshot is not None


def test_a_running_job_its_owner_resumed_is_never_adopted() -> None:
    item = classified(ungated_job().owned_by("JobSet").obj())
    assert item.stage is Stage.FOREIGN
    assert not item.admitted_ungated


def test_held_and_released_jobs_are_not_adoptions() -> None:
    assert not classified(make_job().obj()).admitted_ungated
    released = make_job().released(NOW - timedelta(minutes=5), "kyushu").obj()
    assert not classified(released).admitted_ungated


def test_workloads_in_excluded_namespaces_are_never_managed() -> None:
    obj = ungated_job().obj()
    view = make_cluster().region("kyushu").workload(obj).build()
    settings = SnapshotSettings(excluded_namespaces=frozenset({NS}))
    assert plan_input(view, settings).managed == ()


def test_finished_unmoved_runs_size_the_deadline_margin() -> None:
    cluster = make_cluster().region("kyushu").region("tokyo")
    waiting = make_job("waiting").obj()
    cluster.workload(waiting)

    def add_runs(prefix: str, count: int, *, ran_h: float, moves: int = 0) -> None:
        for index in range(count):
            job = make_job(f"{prefix}-{index}").hours(2.0).ran(ran_h).obj()
            cluster.workload(job).record(job, WorkloadPlacementStatus(moves=moves))

    def overrun() -> float | None:
        snapshot = managed(cluster.build(), waiting).snapshot
        assert snapshot is not None
        return snapshot.runtime_overrun_fraction

    add_runs("early", MIN_RUNS - 1, ran_h=1.5)
    assert overrun() is None  # too few runs: the policy's constant share applies
    add_runs("moved", 5, ran_h=9.0, moves=1)  # a move restarts the start time: not counted
    assert overrun() is None
    add_runs("on-time", 1, ran_h=2.0)
    assert overrun() == 0.0  # all ended early or on time
    add_runs("late", MIN_RUNS, ran_h=3.0)
    assert overrun() == pytest.approx(0.5)
