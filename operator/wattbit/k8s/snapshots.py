"""From what the indexes hold to what the decision core is told: one snapshot per reconcile.

This module's one job is translation. It classifies each deferrable workload (pending,
running, moving, finished, someone else's, invalid) from the workload object and its
WorkloadPlacement record, reads its hints and policy, and builds the core's
`RegionSnapshot`s (the feeds' own signal values on an hourly grid, and free GPUs and power per
slot, counting every running or moving workload and every other GPU pod), `LinkSnapshot`s and
`WorkloadSnapshot`s. It decides nothing and calls nothing: the handlers hand it plain values.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import ValidationError

from wattbit.api.v1alpha1.apnlink import APNLinkSpec
from wattbit.api.v1alpha1.placementpolicy import (
    DEFAULT_POLICY_NAME,
    PlacementPolicySpec,
    PolicyMode,
)
from wattbit.api.v1alpha1.region import Availability, RegionSpec, RegionStatus
from wattbit.api.v1alpha1.workloadplacement import WorkloadPlacementStatus
from wattbit.core.migration import MovePhase, MoveRecord
from wattbit.core.model import (
    SECONDS_PER_HOUR,
    DecisionKind,
    Horizon,
    LinkSnapshot,
    Policy,
    Reason,
    RegionName,
    RegionSnapshot,
    WorkloadId,
    WorkloadSnapshot,
    WorkloadState,
)
from wattbit.core.overrun import FinishedRun, overrun_fraction
from wattbit.core.signals import ForecastPoint, SignalReading
from wattbit.errors import InvalidWorkloadError
from wattbit.k8s import names, records
from wattbit.k8s.capacity import (
    NodeGpus,
    PodGpus,
    by_precedence,
    node_gpus,
    node_owners,
    pod_gpus,
    selects,
)
from wattbit.k8s.hints import WorkloadHints, read_hints_all
from wattbit.k8s.jobsets import TrainingRuntime, jobset_object, trainjob_object
from wattbit.k8s.kueue import CheckState, KueueAdmission, KueueWorkload
from wattbit.k8s.objects import (
    PodView,
    WorkloadKind,
    WorkloadObject,
    is_job_pod,
    job_object,
    parse_time,
    pod_group_keys,
    pod_object,
    pod_view,
)

HORIZON_SLOTS = 48
"""Two days of hourly slots: the planner looks this far ahead."""
MIN_REMAINING_S = 300.0
"""A running workload past its expected duration is assumed to need at least this long."""
JOULES_PER_KWH = 3_600_000.0
STALE_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Stage(StrEnum):
    """Where a deferrable workload is, as the reconcile loop acts on it."""

    PENDING = "Pending"
    """Held by the webhook and never released: the planner places it now or later."""
    RUNNING = "Running"
    """Released and running (or scheduling) in a region: the planner may move it."""
    MOVING = "Moving"
    """A move is in flight: the migration steps drive it, the planner does not."""
    FINISHED = "Finished"
    FOREIGN = "Foreign"
    """Kueue's or its owner's to suspend and resume; wattbit only records that."""
    INVALID = "Invalid"
    """Its hints or GPU request cannot be read, or its policy is missing: held with a reason."""
    PAUSED = "Paused"
    """Released before, now suspended by someone else: left alone."""
    UNGATED = "Ungated"
    """Admitted while the webhook was unavailable and not started yet: held now, then placed."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RegionEntry:
    name: str
    spec: RegionSpec
    status: RegionStatus
    created_at: datetime | None = None
    """When two Regions select the same nodes, the earlier one has them."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordEntry:
    """A WorkloadPlacement as the index holds it."""

    namespace: str
    name: str
    workload_uid: str
    status: WorkloadPlacementStatus
    settled: bool = False
    """Decided, not held only until adoption, and no move in flight (`record_settled`): an
    arrivals pass has nothing to do for its workload."""

    @classmethod
    def of(
        cls, *, namespace: str, name: str, workload_uid: str, status: WorkloadPlacementStatus
    ) -> RecordEntry:
        wire = status.model_dump(by_alias=True, mode="json", exclude_none=True)
        return cls(
            namespace=namespace,
            name=name,
            workload_uid=workload_uid,
            status=status,
            settled=record_settled(wire),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ClusterView:
    """Everything one reconcile reads, copied out of the indexes at one moment."""

    now: datetime
    regions: Mapping[str, RegionEntry]
    readings: Mapping[str, SignalReading]
    """The feeds' own latest readings (unrounded); a region missing here falls back to its
    status."""
    nodes: Sequence[NodeGpus]
    gpu_pods: Sequence[PodGpus]
    workloads: Sequence[WorkloadObject]
    pods_by_owner: Mapping[str, Sequence[PodView]]
    """Pods by their controlling owner's uid (a Job's pods)."""
    records: Mapping[tuple[str, str], RecordEntry]
    """(namespace, record name) -> record."""
    policies: Mapping[tuple[str, str], Mapping[str, Any]]
    """(namespace, name) -> PlacementPolicy spec."""
    links: Mapping[str, Mapping[str, Any]]
    """APNLink name -> {"spec": ..., "status": ...}."""
    kueue_workloads: Mapping[str, KueueWorkload] = field(default_factory=dict)
    """Kueue Workloads by their job's uid."""
    kueue_checks: frozenset[str] = frozenset()
    """Names of the Kueue AdmissionChecks that wattbit serves."""
    kueue_inactive_checks: frozenset[str] = frozenset()
    """Those of them not yet marked Active (the pass marks them)."""


# ---------------------------------------------------------------- from object bodies
# One conversion per kind, shared by kopf's indexes (wattbit.handlers.indexes) and by
# `cluster_view`, which builds the same view from listed bodies (kubectl wattbit plan).


def region_entry(name: str, body: Mapping[str, Any]) -> RegionEntry:
    """A Region's spec and status; raises ValueError (pydantic's) when they do not parse."""
    return RegionEntry(
        name=name,
        spec=RegionSpec.model_validate(dict(body.get("spec") or {})),
        status=RegionStatus.model_validate(dict(body.get("status") or {})),
        created_at=parse_time((body.get("metadata") or {}).get("creationTimestamp")),
    )


def record_entry(body: Mapping[str, Any]) -> RecordEntry:
    """A WorkloadPlacement body as the loop reads it; a status that does not parse reads as
    empty (the next decision rewrites it whole)."""
    metadata = body.get("metadata") or {}
    raw = dict(body.get("status") or {})
    try:
        status = WorkloadPlacementStatus.model_validate(raw)
    except ValidationError:
        status, raw = WorkloadPlacementStatus(), {}
    ref = (body.get("spec") or {}).get("workloadRef") or {}
    return RecordEntry(
        namespace=str(metadata.get("namespace")),
        name=str(metadata.get("name")),
        workload_uid=str(ref.get("uid") or ""),
        status=status,
        settled=record_settled(raw),
    )


FINAL_PHASES = frozenset(phase.value for phase in MovePhase if phase.is_final)


def record_settled(status: Mapping[str, Any]) -> bool:
    """Whether a record's status (as on the wire) says its workload was decided, is not held
    only until the loop adopts it, and has no move in flight; a status that does not read as
    such is not settled."""
    migration = status.get("migration") or {}
    if not isinstance(migration, Mapping):
        return False
    phase = migration.get("phase")
    return (
        bool(status.get("decidedAt"))
        and not (
            status.get("decision") == DecisionKind.HOLD.value
            and status.get("reason") == Reason.ADMITTED_UNGATED.value
        )
        and (phase is None or phase in FINAL_PHASES)
    )


def owned_pod_view(body: Mapping[str, Any]) -> PodView | None:
    """A pod a move may have to look at (it has a controlling owner and GPUs or wattbit's
    annotations), else None."""
    view = pod_view(body)
    annotations = (body.get("metadata") or {}).get("annotations") or {}
    ours = any(key.startswith(names.DOMAIN + "/") for key in annotations)
    if view.owner_uid is None or not (view.gpus or ours):
        return None
    return view


def deferrable_pod_object(body: Mapping[str, Any]) -> WorkloadObject | None:
    """A labelled bare Pod as a workload; None for a Job's pod (the Job is the unit)."""
    return None if is_job_pod(body) else pod_object(body)


def _deferrable(body: Mapping[str, Any]) -> bool:
    labels = (body.get("metadata") or {}).get("labels") or {}
    return labels.get(names.LABEL_DEFERRABLE) == "true"


def cluster_view(
    *,
    now: datetime,
    regions: Iterable[Mapping[str, Any]],
    nodes: Iterable[Mapping[str, Any]],
    pods: Iterable[Mapping[str, Any]],
    jobs: Iterable[Mapping[str, Any]],
    records: Iterable[Mapping[str, Any]],
    policies: Iterable[Mapping[str, Any]],
    links: Iterable[Mapping[str, Any]],
    readings: Mapping[str, SignalReading] | None = None,
    jobsets: Iterable[Mapping[str, Any]] = (),
    trainjobs: Iterable[Mapping[str, Any]] = (),
    runtimes: Iterable[TrainingRuntime] = (),
) -> ClusterView:
    """The view the reconcile loop reads, from listed object bodies (as the API server
    returns them); a Region that does not parse is left out, as the loop leaves it out."""
    region_entries: dict[str, RegionEntry] = {}
    for body in regions:
        name = str((body.get("metadata") or {}).get("name"))
        try:
            region_entries[name] = region_entry(name, body)
        except ValueError:
            continue
    pod_list = list(pods)
    owned: dict[str, list[PodView]] = defaultdict(list)
    for body in pod_list:
        view = owned_pod_view(body)
        if view is not None:
            for group_key in pod_group_keys(body, view.owner_uid):
                owned[group_key].append(view)
    workloads = [job_object(body) for body in jobs if _deferrable(body)]
    workloads.extend(jobset_object(body) for body in jobsets if _deferrable(body))
    runtime_index = {runtime.key: runtime for runtime in runtimes}
    workloads.extend(
        trainjob_object(body, runtime_index) for body in trainjobs if _deferrable(body)
    )
    workloads.extend(
        workload
        for body in pod_list
        if _deferrable(body) and (workload := deferrable_pod_object(body)) is not None
    )
    record_entries = {(entry.namespace, entry.name): entry for entry in map(record_entry, records)}

    def key(body: Mapping[str, Any]) -> tuple[str, str]:
        metadata = body.get("metadata") or {}
        return str(metadata.get("namespace")), str(metadata.get("name"))

    return ClusterView(
        now=now,
        regions=region_entries,
        readings=dict(readings or {}),
        nodes=[node_gpus(body) for body in nodes],
        gpu_pods=[usage for body in pod_list if (usage := pod_gpus(body)) is not None],
        workloads=workloads,
        pods_by_owner=dict(owned),
        records=record_entries,
        policies={key(body): dict(body.get("spec") or {}) for body in policies},
        links={
            key(body)[1]: {
                "spec": dict(body.get("spec") or {}),
                "status": dict(body.get("status") or {}),
            }
            for body in links
        },
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class PolicyChoice:
    name: str | None
    """The PlacementPolicy's name; None: the built-in defaults."""
    spec: PlacementPolicySpec


@dataclass(frozen=True, slots=True, kw_only=True)
class Managed:
    """One deferrable workload with everything the loop needs to act on it."""

    obj: WorkloadObject
    record_name: str
    record: WorkloadPlacementStatus | None
    stage: Stage
    reason: Reason | None = None
    """FOREIGN / INVALID: why."""
    message: str = ""
    hints: WorkloadHints | None = None
    policy: PolicyChoice | None = None
    snapshot: WorkloadSnapshot | None = None
    """PENDING / RUNNING: what the planner is told."""
    unfit_regions: frozenset[str] = frozenset()
    """Regions with enough free GPUs in sum but no nodes that can hold its pods (left out of
    its allowed regions, and reported as InsufficientCapacity)."""
    move: MoveRecord | None = None
    """MOVING: the move in flight."""
    pods: tuple[PodView, ...] = ()
    admitted_ungated: bool = False
    """Created while the webhook was unavailable, never held: adopted by the loop."""

    @property
    def workload_id(self) -> WorkloadId:
        return WorkloadId(self.obj.key)

    @property
    def dry_run(self) -> bool:
        return self.policy is not None and self.policy.spec.mode is PolicyMode.DRY_RUN

    @property
    def movable(self) -> bool:
        """Jobs, JobSets and TrainJobs move by suspension; Pods only when a controller will
        replace them."""
        return self.obj.kind.suspends or self.obj.controller_kind is not None


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanInput:
    """The decision core's inputs, grouped by policy (one `decide` call per group)."""

    horizon: Horizon
    regions: tuple[RegionSnapshot, ...]
    links: tuple[LinkSnapshot, ...]
    link_names: Mapping[frozenset[str], str]
    """Regions at both ends -> APNLink name, for the records."""
    groups: tuple[tuple[Policy, tuple[Managed, ...]], ...]
    managed: tuple[Managed, ...]
    """Every deferrable workload, in a stable order."""
    region_selectors: Mapping[str, Mapping[str, str]]
    nodes_by_region: Mapping[str, frozenset[str]]
    """Region -> names of its nodes (where a moved workload's pods must land)."""
    finished_runs: int = 0
    """Finished runs the deadline margin learns from (`finished_runs`)."""
    runtime_overrun: float | None = None
    """How far they overran (`core.overrun`); None while too few."""


# ---------------------------------------------------------------- policies


def core_policy(spec: PlacementPolicySpec) -> Policy:
    """The core's Policy for a PlacementPolicy spec."""
    latency_ms = (
        None
        if spec.max_link_latency_microseconds is None
        else spec.max_link_latency_microseconds / 1000.0
    )
    return Policy(
        carbon_price_jpy_per_tonne=float(spec.carbon_price_jpy_per_tonne),
        min_saving_fraction=spec.minimum_saving_percent / 100.0,
        stability_window_s=spec.stability_window_minutes * 60.0,
        cooldown_s=spec.cooldown_minutes * 60.0,
        max_moves=spec.max_moves_per_workload,
        safety_margin_s=spec.safety_margin_minutes * 60.0,
        max_wait_s=spec.tolerance_window_minutes * 60.0,
        allow_waiting=spec.tolerance_window_minutes > 0,
        max_link_latency_ms=latency_ms,
    )


def choose_policy(
    obj: WorkloadObject,
    policies: Mapping[tuple[str, str], Mapping[str, Any]],
    builtin: PlacementPolicySpec,
) -> PolicyChoice:
    """The workload's policy: the one it names (which must exist), else its namespace's
    `default`, else the built-in. Raises InvalidWorkloadError for a missing or invalid one."""
    named = obj.annotations.get("wattbit.io/policy")
    name = named or DEFAULT_POLICY_NAME
    raw = policies.get((obj.namespace, name))
    if raw is None:
        if named:
            raise InvalidWorkloadError(
                Reason.POLICY_NOT_FOUND,
                f"wattbit.io/policy names PlacementPolicy {obj.namespace}/{named}, "
                "which does not exist; held until it does",
            )
        return PolicyChoice(name=None, spec=builtin)
    try:
        return PolicyChoice(name=name, spec=PlacementPolicySpec.model_validate(dict(raw)))
    except ValidationError as error:
        raise InvalidWorkloadError(
            Reason.POLICY_NOT_FOUND, f"PlacementPolicy {obj.namespace}/{name} is invalid: {error}"
        ) from error


# ---------------------------------------------------------------- workloads


def record_name(obj: WorkloadObject) -> str:
    return records.record_name(obj.kind.value, obj.name)


def move_record(status: WorkloadPlacementStatus | None) -> MoveRecord | None:
    migration = status.migration if status else None
    if migration is None:
        return None
    return MoveRecord(
        phase=migration.phase,
        from_region=RegionName(migration.from_region),
        to_region=RegionName(migration.to_region),
        started_at=migration.started_at,
        phase_since=migration.phase_since,
        checkpoint_deadline=migration.checkpoint_deadline,
        suspended_at=migration.suspended_at,
    )


def classify(  # noqa: PLR0911 - one return per stage, in the order they are tested
    obj: WorkloadObject,
    *,
    record: RecordEntry | None,
    view: ClusterView,
    builtin: PlacementPolicySpec,
    default_gpu_power_watts: float,
    default_expected_duration_s: float,
    hints_cache: HintsCache | None = None,
) -> Managed:
    """Place one workload in its stage, with its hints, policy and (for the planner) snapshot."""
    status = record.status if record and record.workload_uid == obj.uid else None
    base = Managed(
        obj=obj,
        record_name=record_name(obj),
        record=status,
        stage=Stage.FINISHED,
        pods=tuple(view.pods_by_owner.get(obj.pods_key, ())),
    )
    base = _with_pod_counts(base)
    obj = base.obj
    move = move_record(status)
    in_flight = move is not None and not move.phase.is_final
    if obj.finished and not in_flight:
        return base
    if obj.queue_name is not None:
        base = _queued_in_kueue(base, view)
        if base.obj.kueue is None:
            return base
        obj = base.obj
    ungated = obj.kueue is None and admitted_ungated(obj)
    if (
        obj.kueue is None
        and obj.kind in (WorkloadKind.JOB, WorkloadKind.JOBSET)
        and obj.controller_kind is not None
        and not ungated
        and not obj.held
    ):
        # Its owner created it suspended (a JobSet's Job, a TrainJob's JobSet): the owner
        # resumes it. A Job its owner created running (a CronJob's) was held by the webhook
        # and is ours.
        return replace(
            base,
            stage=Stage.FOREIGN,
            reason=Reason.MANAGED_BY_OWNER,
            message=f"owned by a {obj.controller_kind}, which suspends and resumes it; "
            "wattbit never does",
        )
    try:
        policy = choose_policy(obj, view.policies, builtin)
    except InvalidWorkloadError as error:
        return replace(
            base,
            stage=Stage.INVALID,
            reason=_reason(error.reason),
            message=f"{error.reason}: {error.message}",
        )
    hints, errors = _hints(obj, default_gpu_power_watts, default_expected_duration_s, hints_cache)
    if hints is None:
        # Every bad hint at once: fixing them one by one, a pass each, is no way to learn.
        return replace(
            base,
            stage=Stage.INVALID,
            reason=_reason(errors[0].reason),
            message="; ".join(f"{error.reason}: {error.message}" for error in errors),
        )
    base = replace(base, hints=hints, policy=policy)
    if in_flight:
        return replace(base, stage=Stage.MOVING, move=move)
    if obj.kueue is not None:
        return _kueue_stage(base, obj.kueue, view)
    return _own_stage(base, view, ungated=ungated)


HintsRead = tuple[WorkloadHints | None, tuple[InvalidWorkloadError, ...]]
HintsCache = dict[tuple[str, str, int, float, float], HintsRead]
"""Hints read per (uid, resourceVersion, pods, defaults): kept by the reconcile loop, whose
objects come from the API server, where a resourceVersion names one content."""
HINTS_CACHE_MAX = 50_000


def _hints(
    obj: WorkloadObject,
    default_gpu_power_watts: float,
    default_expected_duration_s: float,
    cache: HintsCache | None,
) -> HintsRead:
    """`read_hints_all` of the object; with a cache, once per object version (a pass
    classifies every workload, and reading the same quantities and durations again was half
    of an arrivals pass). A TrainJob's pod sets come from its runtime, another object: it is
    read each time."""

    def read() -> HintsRead:
        return read_hints_all(
            pod_spec=obj.pod_spec,
            pods=obj.pods,
            annotations=obj.annotations,
            created_at=obj.created_at,
            default_gpu_power_watts=default_gpu_power_watts,
            default_expected_duration_s=default_expected_duration_s,
            pod_sets=[(group.pod_spec, group.count) for group in obj.pod_sets],
        )

    if (
        cache is None
        or obj.kind is WorkloadKind.TRAINJOB
        or not obj.resource_version
        or not obj.uid
    ):
        return read()
    key = (
        obj.uid,
        obj.resource_version,
        obj.pods,
        default_gpu_power_watts,
        default_expected_duration_s,
    )
    found = cache.get(key)
    if found is None:
        if len(cache) >= HINTS_CACHE_MAX:
            cache.clear()
        found = cache[key] = read()
    return found


def _own_stage(base: Managed, view: ClusterView, *, ungated: bool) -> Managed:
    """Where a workload that wattbit holds through its own kind's fields is, not in a move."""
    obj = base.obj
    if ungated:
        base = replace(base, admitted_ungated=True)
        if obj.kind.suspends:
            running_in = pods_region(base.pods, view)
            if running_in is None:
                return replace(base, stage=Stage.UNGATED)
            base = replace(base, obj=replace(obj, placed_region=running_in))
    if obj.suspended:
        if obj.held and obj.released_at is None:
            return replace(base, stage=Stage.PENDING, snapshot=_snapshot(base, view, pending=True))
        return replace(base, stage=Stage.PAUSED)
    return replace(base, stage=Stage.RUNNING, snapshot=_snapshot(base, view, pending=False))


def _with_pod_counts(base: Managed) -> Managed:
    """A JobSet's status counts Jobs, not pods: a move waits on the pods themselves."""
    if not base.obj.kind.pods_through_jobset:
        return base
    obj = replace(
        base.obj,
        active_pods=sum(1 for pod in base.pods if pod.active),
        terminating_pods=sum(1 for pod in base.pods if pod.terminating),
    )
    return replace(base, obj=obj)


def _queued_in_kueue(base: Managed, view: ClusterView) -> Managed:
    """A queued job with wattbit's check on its Kueue Workload (`obj.kueue` set), or Kueue's
    alone (FOREIGN)."""
    admission = kueue_admission(base.obj, view)
    if admission is None:
        return replace(
            base,
            stage=Stage.FOREIGN,
            reason=Reason.MANAGED_BY_KUEUE,
            message=f"queued in Kueue ({base.obj.queue_name}) with no wattbit AdmissionCheck "
            "on its Workload: Kueue alone suspends and resumes it",
        )
    return replace(base, obj=replace(base.obj, kueue=admission))


def kueue_admission(obj: WorkloadObject, view: ClusterView) -> KueueAdmission | None:
    """The Kueue Workload of a queued job and wattbit's check on it, if both exist."""
    workload = view.kueue_workloads.get(obj.uid)
    check = None if workload is None else workload.check(view.kueue_checks)
    if workload is None or check is None:
        return None
    return KueueAdmission(workload=workload, check=check)


def _kueue_stage(base: Managed, admission: KueueAdmission, view: ClusterView) -> Managed:
    """Where a workload behind wattbit's AdmissionCheck is: the planner places it once Kueue
    has reserved quota (check Pending), and may move it once admitted (check Ready)."""
    workload, check, obj = admission.workload, admission.check, base.obj
    queued = f"queued in Kueue ({obj.queue_name})"
    if check.state == CheckState.PENDING:
        if workload.quota_reserved and workload.active:
            return replace(base, stage=Stage.PENDING, snapshot=_snapshot(base, view, pending=True))
        return replace(
            base,
            stage=Stage.FOREIGN,
            reason=Reason.MANAGED_BY_KUEUE,
            message=f"{queued}, waiting for quota: wattbit places it once Kueue reserves it",
        )
    if check.state == CheckState.READY:
        if obj.suspended or not workload.active:
            return replace(base, stage=Stage.PAUSED)
        return replace(base, stage=Stage.RUNNING, snapshot=_snapshot(base, view, pending=False))
    return replace(
        base,
        stage=Stage.FOREIGN,
        reason=Reason.MANAGED_BY_KUEUE,
        message=f"{queued}: wattbit's check is {check.state} ({check.message})",
    )


def admitted_ungated(obj: WorkloadObject) -> bool:
    """Labelled but never held nor released: created while the webhook was unavailable (it
    fails open) or before wattbit ran. A Job its owner created suspended is the owner's; one
    a CronJob created running would have been held, so it is adopted too."""
    if obj.held or obj.released_at is not None:
        return False
    if obj.kind is WorkloadKind.POD:
        return True
    return not obj.suspended and obj.controller_kind in (None, "CronJob")


def pods_region(pods: Sequence[PodView], view: ClusterView) -> str | None:
    """The region whose nodes run the workload's running pods (the first found), else None."""
    nodes = {node.name: node for node in view.nodes}
    for pod in pods:
        node = nodes.get(pod.node_name or "")
        if node is None or not pod.active or pod.phase != "Running":
            continue
        for name, entry in sorted(view.regions.items()):
            if selects(entry.spec.effective_node_selector(name), node.labels):
                return name
    return None


def _reason(text: str) -> Reason:
    """A hint's own reason (InvalidDeadline, ...) is in the message; the record's reason is
    one of the shared vocabulary."""
    try:
        return Reason(text)
    except ValueError:
        return Reason.INVALID_WORKLOAD


def remaining_runtime_s(managed: Managed, now: datetime) -> float:
    """Expected run time still needed: the expected duration less the time run so far (since
    the first release, less the downtime of the last move)."""
    assert managed.hints is not None  # noqa: S101 - classify sets hints before calling
    expected = managed.hints.expected_duration_s
    if managed.obj.estimated_remaining_s is not None and managed.obj.released_at is not None:
        # The trainer's own estimate (a TrainJob's trainerStatus) beats the declared duration.
        return max(managed.obj.estimated_remaining_s, MIN_REMAINING_S)
    started = managed.obj.released_at
    if started is None:
        return expected
    elapsed = (now - started).total_seconds()
    status = managed.record
    migration = status.migration if status else None
    if migration is not None and migration.phase.is_final:
        elapsed -= max(0.0, (migration.phase_since - migration.started_at).total_seconds())
    return max(expected - max(elapsed, 0.0), MIN_REMAINING_S)


def _snapshot(managed: Managed, view: ClusterView, *, pending: bool) -> WorkloadSnapshot:
    hints, policy, obj = managed.hints, managed.policy, managed.obj
    assert hints is not None  # noqa: S101 - an invariant, not input checking
    assert policy is not None  # noqa: S101 - an invariant, not input checking
    status = managed.record
    allowed: set[str] | None = (
        set(policy.spec.allowed_regions) if policy.spec.allowed_regions else None
    )
    draining = {
        name
        for name, entry in view.regions.items()
        if entry.spec.availability is Availability.DRAINING
    }
    if draining:
        allowed = (set(view.regions) if allowed is None else allowed) - draining
    acks = [p.checkpoint_acknowledged_at for p in managed.pods if p.checkpoint_acknowledged_at]
    migration = status.migration if status else None
    return WorkloadSnapshot(
        workload_id=managed.workload_id,
        gpus=hints.gpus,
        power_kw_per_gpu=hints.power_kw_per_gpu,
        remaining_runtime_s=(
            hints.expected_duration_s if pending else remaining_runtime_s(managed, view.now)
        ),
        deadline=hints.deadline,
        state=WorkloadState.PENDING if pending else WorkloadState.RUNNING,
        current_region=None if pending else _region_name(obj.placed_region),
        allowed_regions=None if allowed is None else frozenset(RegionName(r) for r in allowed),
        checkpoint_size_gb=hints.checkpoint_size_gb,
        last_checkpoint_at=max(acks) if acks else None,
        submitted_at=obj.created_at,
        last_moved_at=status.last_move_at if status else None,
        last_move_ended_at=(
            migration.phase_since
            if migration is not None and migration.phase is MovePhase.RUNNING
            else None
        ),
        previous_region=(
            RegionName(migration.from_region)
            if migration is not None and migration.phase is MovePhase.RUNNING
            else None
        ),
        move_count=status.moves if status else 0,
    )


def _region_name(name: str | None) -> RegionName | None:
    return None if name is None else RegionName(name)


# ---------------------------------------------------------------- nodes


def pods_fit(pods: int, gpus_per_pod: int, free_per_node: Sequence[int]) -> bool:
    """Whether `pods` pods of `gpus_per_pod` GPUs each fit on nodes with these free GPUs (a
    pod's GPUs are on one node: a region's free GPUs split 1 + 1 hold no 2-GPU pod)."""
    if pods <= 0 or gpus_per_pod <= 0:
        return True
    return sum(free // gpus_per_pod for free in free_per_node) >= pods


def free_gpus_per_node(
    view: ClusterView, selectors: Mapping[str, Mapping[str, str]]
) -> dict[str, list[int]]:
    """Region -> free GPUs of each of its ready, schedulable nodes (pods bound there count)."""
    used: dict[str, int] = defaultdict(int)
    for pod in view.gpu_pods:
        if pod.node_name:
            used[pod.node_name] += pod.gpus
    out: dict[str, list[int]] = {name: [] for name in selectors}
    for node in view.nodes:
        if not node.schedulable:
            continue
        for name, selector in selectors.items():
            if selects(selector, node.labels):
                out[name].append(max(0, node.allocatable_gpus - used[node.name]))
                break
    return out


def fit_to_nodes(
    item: Managed,
    view: ClusterView,
    selectors: Mapping[str, Mapping[str, str]],
    free: Mapping[str, Sequence[int]] | None = None,
) -> Managed:
    """Leave out of the workload's allowed regions those whose nodes cannot hold its pods
    now (its current region always stays: it runs there). `free`: `free_gpus_per_node` of
    this view, computed once per pass (it was once per workload: quadratic in a burst)."""
    snapshot, hints = item.snapshot, item.hints
    if snapshot is None or hints is None or item.obj.pods <= 0:
        return item
    per_pod = hints.gpus // item.obj.pods
    if free is None:
        free = free_gpus_per_node(view, selectors)
    candidates = set(selectors) if snapshot.allowed_regions is None else snapshot.allowed_regions
    unfit = frozenset(
        name
        for name in candidates
        if name != snapshot.current_region
        and name in free
        # Only fragmentation: where the GPUs do not add up, the planner says so itself.
        and sum(free[name]) >= hints.gpus
        and not pods_fit(item.obj.pods, per_pod, free[name])
    )
    if not unfit:
        return item
    allowed = frozenset(RegionName(name) for name in candidates if name not in unfit)
    return replace(
        item,
        snapshot=replace(snapshot, allowed_regions=allowed),
        unfit_regions=unfit,
    )


# ---------------------------------------------------------------- regions


def horizon_for(now: datetime) -> Horizon:
    """Hourly slots from the start of the current hour: slot boundaries, and so planned
    starts, stay put from one pass to the next (a grid starting at `now` would shift them
    every pass, and rewrite every waiting record)."""
    hour = now.replace(minute=0, second=0, microsecond=0)
    return Horizon(start=hour, slot_s=SECONDS_PER_HOUR, slot_count=HORIZON_SLOTS)


def per_slot_forecast(
    reading: SignalReading, horizon: Horizon
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Carbon and price per horizon slot, from the forecast point covering each slot's middle;
    a slot before the first point takes the current value, and the tuples stop where the
    forecast stops (the core repeats the last day's shape beyond)."""
    points = reading.forecast
    carbon: list[float] = []
    price: list[float] = []
    index = -1
    for slot in range(horizon.slot_count):
        middle = horizon.slot_start(slot) + timedelta(seconds=horizon.slot_s / 2)
        while index + 1 < len(points) and points[index + 1].start <= middle:
            index += 1
        if index + 1 >= len(points) and points and middle - points[-1].start > timedelta(hours=1):
            break  # past the forecast's end
        point = points[index] if index >= 0 else None
        carbon.append(_value(point.carbon_g_per_kwh if point else None, reading.carbon_g_per_kwh))
        price.append(_value(point.price_jpy_per_kwh if point else None, reading.price_jpy_per_kwh))
    return tuple(carbon), tuple(price)


def _value(value: float | None, fallback: float | None) -> float:
    if value is not None:
        return value
    return fallback if fallback is not None else 0.0


def status_reading(status: RegionStatus) -> SignalReading | None:
    """The reading a Region's status records (rounded for people), or None without a full one
    (no observation time, carbon or price)."""
    signals = status.signals
    if (
        signals is None
        or signals.observed_at is None
        or signals.carbon_grams_per_kwh is None
        or signals.price_jpy_per_kwh is None
    ):
        return None
    return SignalReading(
        carbon_g_per_kwh=signals.carbon_grams_per_kwh,
        price_jpy_per_kwh=signals.price_jpy_per_kwh,
        observed_at=signals.observed_at,
        source=signals.source or "unknown",
        renewable_percent=signals.renewable_percent,
        curtailment=signals.curtailment,
        forecast=tuple(
            ForecastPoint(
                start=p.start,
                carbon_g_per_kwh=p.carbon_grams_per_kwh,
                price_jpy_per_kwh=p.price_jpy_per_kwh,
            )
            for p in signals.forecast
        ),
    )


def region_reading(
    entry: RegionEntry, readings: Mapping[str, SignalReading]
) -> SignalReading | None:
    """The feed's own reading, else the one recorded in the status (rounded)."""
    return readings.get(entry.name) or status_reading(entry.status)


@dataclass(slots=True)
class _Usage:
    gpus: list[float]
    kw: list[float]


def _slots_for(seconds: float, horizon: Horizon) -> int:
    return min(horizon.slot_count, max(1, math.ceil(seconds / horizon.slot_s - 1e-9)))


def region_usage(  # noqa: PLR0912 - one branch per kind of GPU user
    view: ClusterView,
    managed: Sequence[Managed],
    horizon: Horizon,
    selectors: Mapping[str, Mapping[str, str]],
    default_kw_per_gpu: float,
) -> dict[str, _Usage]:
    """GPUs and facility kW in use per region and slot: every GPU pod that is not a managed
    workload's, plus running workloads until their expected end and moves in flight (in the
    target, and in the source while their pods are still there)."""
    slots = horizon.slot_count
    usage = {name: _Usage(gpus=[0.0] * slots, kw=[0.0] * slots) for name in selectors}
    pue = {name: view.regions[name].spec.pue_value() for name in selectors}
    region_of_node: dict[str, str] = {}
    for node in view.nodes:
        for name, selector in selectors.items():
            if selects(selector, node.labels):
                region_of_node[node.name] = name
                break
    counted_by_workload: set[str] = set()
    for item in managed:
        if item.stage in (Stage.RUNNING, Stage.PAUSED) and item.obj.placed_region not in usage:
            continue  # never placed by wattbit (admitted unheld): its pods count where they run
        if item.stage in (Stage.RUNNING, Stage.MOVING, Stage.PAUSED, Stage.PENDING):
            counted_by_workload.add(item.obj.uid)

    def add(region: str | None, gpus: float, kw_per_gpu: float, first: int, end: int) -> None:
        if region not in usage or gpus <= 0:
            return
        for slot in range(first, min(end, slots)):
            usage[region].gpus[slot] += gpus
            usage[region].kw[slot] += gpus * kw_per_gpu * pue[region]

    for pod in view.gpu_pods:
        if pod.owner_uid in counted_by_workload or pod.uid in counted_by_workload:
            continue
        region = (
            region_of_node.get(pod.node_name)
            if pod.node_name
            else (None if pod.gated else pod.region_annotation)
        )
        add(region, pod.gpus, default_kw_per_gpu, 0, slots)
    # Slot 0 began before now: a run ending mid-slot still holds that slot (as the core's
    # own reservations do).
    since_start_s = (view.now - horizon.start).total_seconds()
    for item in managed:
        if item.hints is None:
            continue
        gpus, kw = float(item.hints.gpus), item.hints.power_kw_per_gpu
        if item.stage is Stage.RUNNING and item.snapshot is not None:
            end = _slots_for(since_start_s + item.snapshot.remaining_runtime_s, horizon)
            add(item.obj.placed_region, gpus, kw, 0, end)
        elif item.stage is Stage.MOVING and item.move is not None:
            end = _slots_for(since_start_s + remaining_runtime_s(item, view.now), horizon)
            add(item.move.to_region, gpus, kw, 0, end)
            if item.obj.active_pods or item.obj.terminating_pods:
                add(item.move.from_region, gpus, kw, 0, 1)
        elif item.stage is Stage.PAUSED:
            add(item.obj.placed_region, gpus, kw, 0, slots)
    return usage


@dataclass(frozen=True, slots=True, kw_only=True)
class Reservation:
    """GPUs a decision already holds in a region from `start` for `seconds`: a planned start
    of the standing plan, or a release this process made that the indexes do not show yet."""

    region: str
    gpus: float
    kw_per_gpu: float
    start: datetime
    seconds: float


def reserve(
    regions: Sequence[RegionSnapshot],
    reservations: Iterable[Reservation],
    horizon: Horizon,
    now: datetime,
) -> tuple[RegionSnapshot, ...]:
    """The regions with each reservation's GPUs (and facility kW, where a power cap is set)
    taken out of the slots it covers, as `region_usage` counts running work: from the slot
    that holds its start to the one that holds its end."""
    by_region: dict[str, list[Reservation]] = defaultdict(list)
    for item in reservations:
        if item.gpus > 0:
            by_region[item.region].append(item)
    if not by_region:
        return tuple(regions)
    out: list[RegionSnapshot] = []
    for region in regions:
        items = by_region.get(region.name)
        if not items:
            out.append(region)
            continue
        slots = len(region.free_gpus)
        used = [0.0] * slots
        kw = [0.0] * slots
        for item in items:
            first = max(0, math.floor(horizon.position(max(item.start, now)) + 1e-9))
            since_start_s = (max(item.start, now) - horizon.start).total_seconds()
            end = _slots_for(since_start_s + item.seconds, horizon)
            for slot in range(first, min(end, slots)):
                used[slot] += item.gpus
                kw[slot] += item.gpus * item.kw_per_gpu * region.pue
        free = tuple(
            max(0, math.floor(free - gpus + 1e-9))
            for free, gpus in zip(region.free_gpus, used, strict=True)
        )
        headroom = tuple(
            max(0.0, room - (kw[slot] if slot < slots else 0.0))
            for slot, room in enumerate(region.power_headroom_kw)
        )
        out.append(replace(region, free_gpus=free, power_headroom_kw=headroom))
    return tuple(out)


def region_snapshots(
    view: ClusterView,
    managed: Sequence[Managed],
    horizon: Horizon,
    default_kw_per_gpu: float,
) -> tuple[tuple[RegionSnapshot, ...], dict[str, dict[str, str]]]:
    # Oldest first: where two Regions select a node, it is the earlier one's (the loops
    # below give a node to the first selector that matches), and the later one has none.
    selectors = {
        name: view.regions[name].spec.effective_node_selector(name)
        for name in by_precedence({name: e.created_at for name, e in view.regions.items()})
    }
    owners, overlaps = node_owners(selectors, view.nodes)
    usage = region_usage(view, managed, horizon, selectors, default_kw_per_gpu)
    snapshots: list[RegionSnapshot] = []
    for name, entry in sorted(view.regions.items()):
        spec = entry.spec
        total = sum(
            node.allocatable_gpus
            for node in view.nodes
            if node.schedulable and owners.get(node.name) == name and name not in overlaps
        )
        if spec.capacity is not None and spec.capacity.gpus is not None:
            total = min(total, spec.capacity.gpus)
        free = tuple(max(0, math.floor(total - used + 1e-9)) for used in usage[name].gpus)
        headroom: tuple[float, ...] = ()
        if spec.capacity is not None and spec.capacity.power_cap_kilowatts is not None:
            cap = float(spec.capacity.power_cap_kilowatts)
            headroom = tuple(max(0.0, cap - used) for used in usage[name].kw)
        reading = region_reading(entry, view.readings)
        carbon_now = reading.carbon_g_per_kwh if reading else None
        price_now = reading.price_jpy_per_kwh if reading else None
        known = reading is not None and carbon_now is not None and price_now is not None
        carbon, price = per_slot_forecast(reading, horizon) if reading else ((), ())
        snapshots.append(
            RegionSnapshot(
                name=RegionName(name),
                carbon_g_per_kwh=_value(carbon_now, None),
                price_jpy_per_kwh=_value(price_now, None),
                signal_observed_at=reading.observed_at if known and reading else STALE_EPOCH,
                signal_max_age_s=float(spec.signals.max_age_seconds),
                carbon_forecast_g_per_kwh=carbon,
                price_forecast_jpy_per_kwh=price,
                free_gpus=free,
                power_headroom_kw=headroom,
                pue=spec.pue_value(),
                available=spec.availability is not Availability.UNAVAILABLE,
            )
        )
    return tuple(snapshots), selectors


def link_snapshots(
    links: Mapping[str, Mapping[str, Any]], regions: Iterable[str]
) -> tuple[tuple[LinkSnapshot, ...], dict[frozenset[str], str]]:
    known = set(regions)
    out: list[LinkSnapshot] = []
    names: dict[frozenset[str], str] = {}
    for name, raw in sorted(links.items()):
        try:
            spec = APNLinkSpec.model_validate(dict(raw.get("spec") or {}))
        except ValidationError:
            continue
        if spec.from_region not in known or spec.to_region not in known:
            continue
        out.append(
            LinkSnapshot(
                from_region=RegionName(spec.from_region),
                to_region=RegionName(spec.to_region),
                latency_ms=spec.latency_microseconds / 1000.0,
                bandwidth_gbps=float(spec.bandwidth_gbps),
                energy_kwh_per_gb=spec.energy_joules_per_gigabyte / JOULES_PER_KWH,
                bidirectional=spec.bidirectional,
            )
        )
        names[frozenset((spec.from_region, spec.to_region))] = name
    return tuple(out), names


# ---------------------------------------------------------------- the whole input


@dataclass(kw_only=True)
class SnapshotSettings:
    builtin_policy: PlacementPolicySpec = field(default_factory=PlacementPolicySpec)
    default_gpu_power_watts: float = 700.0
    default_expected_duration_s: float = SECONDS_PER_HOUR
    excluded_namespaces: frozenset[str] = frozenset({"kube-system"})
    """Namespaces whose workloads wattbit never touches, as the webhook never does."""
    hints_cache: HintsCache | None = None
    """The reconcile loop's (`HintsCache`); None: hints are read afresh."""


def finished_runs(managed: Iterable[Managed], settings: SnapshotSettings) -> list[FinishedRun]:
    """The Jobs wattbit managed that succeeded without a move, with an expected duration of
    their own (a default says nothing about how good estimates are): their run time against
    it. A moved Job's start time restarts with the move, so its wall time says nothing."""
    runs = []
    for item in managed:
        obj, record = item.obj, item.record
        if item.stage is not Stage.FINISHED or obj.ran_s is None or record is None:
            continue
        if record.moves or names.ANNOTATION_EXPECTED_DURATION not in obj.annotations:
            continue
        hints, errors = _hints(
            obj,
            settings.default_gpu_power_watts,
            settings.default_expected_duration_s,
            settings.hints_cache,
        )
        if hints is not None and not errors:
            runs.append(FinishedRun(expected_s=hints.expected_duration_s, actual_s=obj.ran_s))
    return runs


def with_overrun(managed: tuple[Managed, ...], overrun: float | None) -> tuple[Managed, ...]:
    """Every snapshot carries how far finished runs overran (`core.overrun`), which sizes
    the deadline margin; unchanged while there are too few."""
    if overrun is None:
        return managed
    return tuple(
        item
        if item.snapshot is None
        else replace(item, snapshot=replace(item.snapshot, runtime_overrun_fraction=overrun))
        for item in managed
    )


def plan_input(view: ClusterView, settings: SnapshotSettings) -> PlanInput:
    """Classify every workload and build the core's inputs, grouped by policy."""
    records_by_key = {(r.namespace, r.name): r for r in view.records.values()}
    managed = tuple(
        classify(
            obj,
            record=records_by_key.get((obj.namespace, record_name(obj))),
            view=view,
            builtin=settings.builtin_policy,
            default_gpu_power_watts=settings.default_gpu_power_watts,
            default_expected_duration_s=settings.default_expected_duration_s,
            hints_cache=settings.hints_cache,
        )
        for obj in sorted(view.workloads, key=lambda o: (o.created_at, o.key))
        if obj.namespace not in settings.excluded_namespaces
    )
    horizon = horizon_for(view.now)
    regions, selectors = region_snapshots(
        view, managed, horizon, settings.default_gpu_power_watts / 1000.0
    )
    free_per_node = free_gpus_per_node(view, selectors)
    managed = tuple(fit_to_nodes(item, view, selectors, free_per_node) for item in managed)
    runs = finished_runs(managed, settings)
    overrun = overrun_fraction(runs)
    managed = with_overrun(managed, overrun)
    links, link_names = link_snapshots(view.links, view.regions)
    groups: dict[Policy, list[Managed]] = defaultdict(list)
    for item in managed:
        if item.snapshot is not None and item.policy is not None:
            groups[core_policy(item.policy.spec)].append(item)
    return PlanInput(
        horizon=horizon,
        regions=regions,
        links=links,
        link_names=link_names,
        groups=tuple((policy, tuple(items)) for policy, items in groups.items()),
        managed=managed,
        region_selectors=selectors,
        nodes_by_region={
            name: frozenset(n.name for n in view.nodes if selects(selector, n.labels))
            for name, selector in selectors.items()
        },
        finished_runs=len(runs),
        runtime_overrun=overrun,
    )
