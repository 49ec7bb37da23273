"""One reconcile pass over every deferrable workload: snapshot, decide once, act, record.

The pass takes a `ClusterView` (copied out of kopf's indexes), builds the core's inputs
(`wattbit.k8s.snapshots`), calls the planner once per policy, and applies each workload's
decision through its adapter: release pending work now or keep it waiting with its planned
start, begin a move (recorded before anything is done), step moves in flight through their
phases (`wattbit.core.migration`), and record holds. Records and Events are written only when
what they say changed, so a pass over an unchanged cluster writes nothing.

What is in flight lives in the WorkloadPlacement records, not here: a restarted operator reads
them back and carries on. Runs in a worker thread (the kubernetes client is synchronous); the
loop in `wattbit.handlers.loop` schedules it.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from wattbit import metrics
from wattbit.api.conditions import Condition, ConditionStatus, set_condition
from wattbit.api.v1alpha1.apnlink import MAX_RECENT_MOVES, APNLinkStatus, LinkMove
from wattbit.api.v1alpha1.workloadplacement import (
    MAX_PHASE_HISTORY,
    CandidateStatus,
    MigrationStatus,
    PhaseEntry,
    WorkloadPlacementStatus,
)
from wattbit.core import explain
from wattbit.core.accounting import Signals, price_interval
from wattbit.core.cost import checkpoint_write_s
from wattbit.core.migration import (
    MoveAction,
    MovePhase,
    MoveTiming,
    ObservedWorkload,
    Step,
    next_step,
)
from wattbit.core.model import Decision, DecisionKind, Policy, Reason, RegionName, RegionSnapshot
from wattbit.core.planner import decide_by_policy
from wattbit.k8s import events, receipts, records
from wattbit.k8s.kueue import KueueApi
from wattbit.k8s.objects import WorkloadKind, WorkloadObject
from wattbit.k8s.snapshots import (
    ClusterView,
    Managed,
    PlanInput,
    Reservation,
    SnapshotSettings,
    Stage,
    core_policy,
    move_record,
    plan_input,
    record_name,
    region_reading,
    reserve,
)
from wattbit.k8s.workloads import (
    JobAdapter,
    JobSetAdapter,
    KueueAdapter,
    PodAdapter,
    SuspendingAdapter,
    TrainJobAdapter,
    WorkloadAdapter,
)

logger = logging.getLogger(__name__)

CRASH_AFTER_PHASE = os.environ.get("WATTBIT_TEST_CRASH_AFTER_PHASE", "")
"""Test-only: a move phase after whose recording the process exits (empty: never)."""
HTTP_FORBIDDEN = 403
HTTP_NOT_FOUND = 404
HTTP_CONFLICT = 409
HTTP_UNPROCESSABLE = 422
ACT_THREADS = 8
"""Threads acting on workloads that need nothing from each other (within the API client's
connection pool of 5 per CPU)."""
REWORDED_PER_PASS = 500
"""Records of running work whose decision stands (stay, same region) but whose reason or
conditions changed, rewritten per pass; the rest in the passes that follow at once. A signal
change rewords every stay: at 10,000 Jobs that was 10,243 writes in one pass of ~2.5 min at
the API server's pace, during which no move in flight was stepped (bench_operator.py)."""
ACTS_ALONE = frozenset({Stage.PENDING, Stage.FINISHED, Stage.FOREIGN, Stage.INVALID, Stage.UNGATED})
"""Stages whose actions touch only their own workload and record (no moves, no links)."""
REMEMBERED = frozenset({Stage.PENDING, Stage.FOREIGN, Stage.INVALID, Stage.UNGATED})
"""Stages whose record writes `Memory.recent` keeps until the indexes show them."""
TERMINATING = "because it is being terminated"
"""What the API server says when a namespace being deleted refuses new objects."""
MAX_MESSAGE = 4000
UNGATED_MESSAGE = (
    "admitted while wattbit's webhook was unavailable (failurePolicy Ignore), so it was never held"
)
TERMINATING_NAMESPACE_RECHECK = timedelta(minutes=1)
"""How long the workloads of a namespace found being deleted are left alone before a retry."""
RECENT_TTL = timedelta(minutes=1)
"""How long a decision this process wrote stands in for what the indexes show of it: the
watch events of a release patch and a record write arrive after the next pass may start (an
arrivals pass follows within a fraction of a second), and must not have it decided twice."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Recent:
    """A pending workload's decision written by this process, until the indexes show it."""

    status: WorkloadPlacementStatus | None
    """The record as written (None: none was, yet)."""
    at: datetime
    stage: Stage
    """The stage it was decided in: once the indexes show another, they have caught up."""
    reservation: Reservation | None = None
    """Released: the GPUs it holds from now in its region."""


@dataclass(kw_only=True)
class Memory:
    """What a pass leaves for the next one in this process (the records hold the rest)."""

    ledgers: receipts.LedgerCache = field(default_factory=receipts.LedgerCache)
    """Receipts read back into ledgers."""
    terminating: dict[str, datetime] = field(default_factory=dict)
    """Namespaces found being deleted -> when: nothing can be written there any more (403)."""
    recent: dict[str, Recent] = field(default_factory=dict)
    """Workload uid -> its latest decision made here, while the indexes may not show it."""
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    """Guards `recent` (written from the acting threads)."""

    def remember(self, uid: str, recent: Recent) -> None:
        with self.lock:
            self.recent[uid] = recent

    def leaves_alone(self, namespace: str, now: datetime) -> bool:
        since = self.terminating.get(namespace)
        if since is None:
            return False
        if now - since > TERMINATING_NAMESPACE_RECHECK:
            del self.terminating[namespace]
            return False
        return True


MEMORY = Memory()
"""The reconcile loop's memory (one loop per process)."""


@dataclass(kw_only=True)
class Apis:
    """What a pass writes through."""

    jobs: JobAdapter
    pods: PodAdapter
    custom: Any
    """kubernetes.client.CustomObjectsApi (records, JobSets, TrainJobs)."""
    core: Any
    """kubernetes.client.CoreV1Api (Events)."""
    jobsets: SuspendingAdapter | None = None
    trainjobs: SuspendingAdapter | None = None
    kueue: KueueAdapter | None = None

    def __post_init__(self) -> None:
        if self.jobsets is None:
            self.jobsets = JobSetAdapter(self.custom)
        if self.trainjobs is None:
            self.trainjobs = TrainJobAdapter(self.custom)
        if self.kueue is None:
            self.kueue = KueueAdapter(KueueApi(self.custom), self._own_kind)

    def _own_kind(self, obj: WorkloadObject) -> SuspendingAdapter:
        adapters: dict[WorkloadKind, SuspendingAdapter | None] = {
            WorkloadKind.JOB: self.jobs,
            WorkloadKind.JOBSET: self.jobsets,
            WorkloadKind.TRAINJOB: self.trainjobs,
        }
        adapter = adapters.get(obj.kind)
        if adapter is None:
            raise ValueError(f"{obj.kind} is not held through spec.suspend")
        return adapter

    def suspending(self, obj: WorkloadObject) -> SuspendingAdapter:
        """The adapter that holds, places and moves a workload other than a bare Pod: its
        Kueue AdmissionCheck when Kueue queues it, else its kind's `spec.suspend`."""
        if obj.kueue is not None:
            assert self.kueue is not None  # noqa: S101 - set in __post_init__
            return self.kueue
        return self._own_kind(obj)

    def releasing(self, obj: WorkloadObject) -> WorkloadAdapter:
        """The adapter that places and releases this workload."""
        return self.pods if obj.kind is WorkloadKind.POD else self.suspending(obj)


@dataclass(kw_only=True)
class PassResult:
    """What one pass did, for the loop, logs and benchmarks."""

    wake_at: datetime | None = None
    """The earliest time a waiting step wants to be looked at again."""
    writes: int = 0
    actions: dict[str, int] = field(default_factory=dict)
    """What was done; the loop looks again at once after any."""
    refused: int = 0
    """Evictions a PodDisruptionBudget refused: not actions, so they are retried on the next
    periodic pass rather than in a tight loop while the budget holds."""
    errors: int = 0
    full: bool = True
    """A full pass (every workload decided, moves considered); False: an arrivals pass."""
    decided: int = 0
    """Workloads the planner decided in this pass."""
    skipped: bool = False
    """An arrivals pass with nothing due (`arrivals_due`): it read no record."""
    deferred: int = 0
    """Rewordings left for the next pass (`REWORDED_PER_PASS`): the loop runs it at once."""
    reworded: int = 0
    """Rewordings written in this pass."""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    """Workloads are acted on from several threads (`ACT_THREADS`)."""

    def count(self, action: str) -> None:
        with self._lock:
            self.actions[action] = self.actions.get(action, 0) + 1

    def wake(self, moment: datetime | None) -> None:
        with self._lock:
            if moment is not None and (self.wake_at is None or moment < self.wake_at):
                self.wake_at = moment

    def add(self, *, writes: int = 0, errors: int = 0, refused: int = 0) -> None:
        with self._lock:
            self.writes += writes
            self.errors += errors
            self.refused += refused

    def may_reword(self) -> bool:
        """Take one of the pass's rewordings (`REWORDED_PER_PASS`); False (and counted as
        deferred) once they are spent."""
        with self._lock:
            if self.reworded < REWORDED_PER_PASS:
                self.reworded += 1
                return True
            self.deferred += 1
            return False


@dataclass(kw_only=True)
class _Pass:
    """What every step of one pass shares."""

    plan: PlanInput
    apis: Apis
    now: datetime
    result: PassResult
    in_flight: int = 0
    """Moves in flight in the cluster, counting those this pass started."""
    links_status: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    """APNLink name -> status, as read and as this pass updated it."""
    signals: Mapping[str, Signals | None] = field(default_factory=dict)
    """Region -> the signals in force there now, as receipts state them."""
    regions: Mapping[str, RegionSnapshot] = field(default_factory=dict)
    memory: Memory = field(default_factory=lambda: MEMORY)


def reconcile(
    view: ClusterView,
    *,
    apis: Apis,
    settings: SnapshotSettings,
    memory: Memory = MEMORY,
    full: bool = True,
) -> PassResult:
    """One pass; see the module docstring. Never raises for one workload's failure.

    `full=False`: an arrivals pass (`arrivals`): only workloads never decided are decided
    and acted on, against the standing plan, and moves in flight are stepped; running work
    is not re-planned and nothing else is rewritten. The loop runs a full pass on any change
    but arrivals, and on its period."""
    result = PassResult(full=full)
    if not full and not memory.recent and not arrivals_due(view):
        # (`memory.recent`: decisions made here and not yet shown; a pass catches them up.)
        result.skipped = True
        return result
    _activate_checks(view, apis)
    plan, in_flight = _catch_up(plan_input(view, settings), memory, view.now)
    acting: Sequence[Managed]
    if full:
        chosen = plan
        acting = plan.managed
    else:
        chosen, acting = arrivals(plan, view.now)
    decided = replace(
        chosen,
        regions=reserve(chosen.regions, in_flight.values(), plan.horizon, view.now),
    )
    result.decided = sum(len(items) for _, items in decided.groups)
    decisions = _decide(decided, view.now)
    run = _Pass(
        plan=plan,
        apis=apis,
        now=view.now,
        result=result,
        links_status={name: dict(raw.get("status") or {}) for name, raw in view.links.items()},
        signals={
            name: receipts.signals_of(region_reading(entry, view.readings))
            for name, entry in view.regions.items()
        },
        regions={region.name: region for region in plan.regions},
        memory=memory,
    )
    run.in_flight = sum(1 for m in plan.managed if m.stage is Stage.MOVING)
    for stage in Stage:
        metrics.workloads_managed.labels(stage=stage.value).set(
            sum(1 for m in plan.managed if m.stage is stage)
        )
    metrics.finished_runs_observed.set(plan.finished_runs)
    metrics.runtime_overrun_ratio.set(
        math.nan if plan.runtime_overrun is None else plan.runtime_overrun
    )
    shared: list[Managed] = []
    own: list[Managed] = []
    for managed in acting:
        if managed.obj.uid in in_flight:
            continue  # released by this process; the indexes have not caught up yet
        if not memory.leaves_alone(managed.obj.namespace, view.now):
            alone = acts_alone(managed, decisions.get(managed.workload_id))
            (own if alone else shared).append(managed)
    # Moves share the pass's move budget and link status: one at a time.
    for managed in shared:
        _act_safely(run, managed, decisions.get(managed.workload_id))
    # Releases, waits, holds and stays touch only their own workload and record: their API
    # writes overlap, so a burst of admissions is released (and a signal change's stays are
    # recorded) at the API server's pace, not at the pace of ~4 round trips in a row.
    if len(own) > 1:
        with ThreadPoolExecutor(max_workers=ACT_THREADS, thread_name_prefix="act") as pool:
            for managed in own:
                pool.submit(_act_safely, run, managed, decisions.get(managed.workload_id))
    else:
        for managed in own:
            _act_safely(run, managed, decisions.get(managed.workload_id))
    _count_savings(plan.managed)
    memory.ledgers.retain((m.obj.namespace, m.record_name) for m in plan.managed)
    return result


def acts_alone(managed: Managed, decision: Decision | None) -> bool:
    """Whether acting on the workload touches only it and its record: every stage in
    `ACTS_ALONE`, paused work, and running work not decided to move (a stay is a record
    write). Moves, in flight or to begin, share the move budget and link status."""
    if managed.stage in ACTS_ALONE or managed.stage is Stage.PAUSED:
        return True
    return managed.stage is Stage.RUNNING and (
        decision is None or decision.kind is not DecisionKind.MOVE
    )


def arrivals_due(view: ClusterView) -> bool:
    """Whether an arrivals pass may have anything to do: a workload without a settled record
    of its own (`RecordEntry.settled`: never decided, held only until adopted, or moving), or
    a Kueue AdmissionCheck of wattbit's to mark Active. Read from the records' summaries,
    classifying nothing: every pod, Job and record event asks for an arrivals pass (a dozen a
    second while kube-controller-manager works through 3,000 suspended Jobs), and an arrivals
    pass classifies every workload (0.2 s at 3,000)."""
    if view.kueue_inactive_checks:
        return True
    for obj in view.workloads:
        record = view.records.get((obj.namespace, record_name(obj)))
        if record is None or record.workload_uid != obj.uid or not record.settled:
            return True
    return False


def needs_decision(managed: Managed) -> bool:
    """Never decided: no record yet, or one without a decision, or held only until the loop
    adopted it (admitted while the webhook was down). What an arrivals pass acts on."""
    record = managed.record
    if managed.stage is Stage.UNGATED:
        return True
    if managed.stage in (Stage.FOREIGN, Stage.INVALID):
        return record is None or record.decided_at is None
    if managed.stage is not Stage.PENDING:
        return False
    return (
        record is None
        or record.decided_at is None
        or (record.decision is DecisionKind.HOLD and record.reason == Reason.ADMITTED_UNGATED.value)
    )


def standing_plan(plan: PlanInput) -> list[Reservation]:
    """What the standing plan holds besides running and moving work (which the snapshot
    counts already): each waiting workload's GPUs in its chosen region from its planned start
    for its expected duration."""
    out: list[Reservation] = []
    for managed in plan.managed:
        record, hints = managed.record, managed.hints
        if (
            managed.stage is not Stage.PENDING
            or needs_decision(managed)
            or record is None
            or hints is None
            or record.decision is not DecisionKind.WAIT
            or record.region is None
            or record.planned_start is None
        ):
            continue
        out.append(
            Reservation(
                region=record.region,
                gpus=float(hints.gpus),
                kw_per_gpu=hints.power_kw_per_gpu,
                start=record.planned_start,
                seconds=hints.expected_duration_s,
            )
        )
    return out


def arrivals(plan: PlanInput, now: datetime) -> tuple[PlanInput, list[Managed]]:
    """An arrivals pass's input: the workloads never decided, decided against the regions
    less the standing plan (running, moving and paused work as the snapshot counts it, and
    each waiting workload at its planned start); and what it acts on: those, and the moves
    in flight, which are stepped (no move is started, nothing running is re-planned)."""
    new = [m for m in plan.managed if needs_decision(m)]
    new_ids = {m.workload_id for m in new}
    groups = tuple(
        (policy, kept)
        for policy, items in plan.groups
        if (kept := tuple(m for m in items if m.workload_id in new_ids))
    )
    regions = reserve(plan.regions, standing_plan(plan), plan.horizon, now)
    acting = [*new, *(m for m in plan.managed if m.stage is Stage.MOVING)]
    return replace(plan, regions=regions, groups=groups), acting


def _catch_up(
    plan: PlanInput, memory: Memory, now: datetime
) -> tuple[PlanInput, dict[str, Reservation]]:
    """Reconcile the view with the decisions this process made that the indexes may not show
    yet (`Memory.recent`): a pending workload released here is left out of decisions and its
    GPUs reserved (returned by uid) while the workload index shows it held; a record written
    here reads as written until the record index shows it. An entry goes once the indexes
    show both, once the workload is gone, or after `RECENT_TTL`."""
    in_flight: dict[str, Reservation] = {}
    with memory.lock:
        recent = dict(memory.recent)
    if not recent:
        return plan, in_flight
    seen: set[str] = set()
    managed: list[Managed] = []
    substituted: dict[str, Managed] = {}
    for item in plan.managed:
        uid = item.obj.uid
        entry = recent.get(uid)
        if entry is None:
            managed.append(item)
            continue
        seen.add(uid)
        expired = now - entry.at > RECENT_TTL
        record, written = item.record, entry.status
        shown = (
            record is not None
            and record.decided_at is not None
            and written is not None
            and written.decided_at is not None
            # Read back at the wire's second precision.
            and record.decided_at >= written.decided_at.replace(microsecond=0)
        )
        if entry.reservation is not None and item.stage is entry.stage and not expired:
            # Released here, still shown held: not decided again, and its GPUs stay taken.
            in_flight[uid] = entry.reservation
            managed.append(item)
            continue
        if shown or expired:
            seen.discard(uid)
            managed.append(item)
            continue
        # The record index lags: the workload reads as recorded here (no second write, no
        # second Event), in whatever stage the workload index shows it now.
        replaced = replace(item, record=written)
        substituted[uid] = replaced
        managed.append(replaced)
    with memory.lock:
        for uid in list(memory.recent):
            if uid not in seen and memory.recent[uid] is recent.get(uid):
                del memory.recent[uid]
    if not in_flight and not substituted:
        return plan, in_flight
    groups = tuple(
        (
            policy,
            tuple(substituted.get(m.obj.uid, m) for m in items if m.obj.uid not in in_flight),
        )
        for policy, items in plan.groups
    )
    return replace(
        plan, managed=tuple(managed), groups=tuple((p, i) for p, i in groups if i)
    ), in_flight


def _activate_checks(view: ClusterView, apis: Apis) -> None:
    """Mark wattbit's Kueue AdmissionChecks Active (only the acting replica runs passes)."""
    assert apis.kueue is not None  # noqa: S101 - set in Apis.__post_init__
    for name in sorted(view.kueue_inactive_checks):
        try:
            apis.kueue.activate_check(name, now=view.now)
        except (ApiException, HTTPError, OSError) as error:
            logger.warning("AdmissionCheck %s: could not mark it Active: %s", name, error)


def _act_safely(run: _Pass, managed: Managed, decision: Decision | None) -> None:
    """Book and act on one workload; its failure is counted and logged, never raised."""
    try:
        _act(run, _book(run, managed), decision)
    except ApiException as error:
        _api_error(run, managed, error)
    except (HTTPError, OSError) as error:
        run.result.add(errors=1)
        logger.warning("%s: API unreachable: %s", managed.obj.key, error)
    except Exception:  # a bug must cost one workload, not the pass: say where
        run.result.add(errors=1)
        logger.exception("%s: acting on it failed", managed.obj.key)


def _api_error(run: _Pass, managed: Managed, error: ApiException) -> None:
    """One workload's write failed: say so, and let the next pass try again (never raise)."""
    key = managed.obj.key
    if error.status == HTTP_FORBIDDEN and TERMINATING in str(error.body or ""):
        # Nothing can be written in a namespace being deleted; its workloads go with it.
        namespace = managed.obj.namespace
        if namespace not in run.memory.terminating:
            logger.info("namespace %s is being deleted: its workloads are left alone", namespace)
        run.memory.terminating[namespace] = run.now
        return
    run.result.add(errors=1)
    if error.status in (HTTP_NOT_FOUND, HTTP_CONFLICT):
        # Changed or deleted meanwhile: the next pass sees the new version.
        logger.info("%s changed meanwhile (%s); next pass", key, error.status)
    elif error.status == HTTP_UNPROCESSABLE:
        # The API server refused what we wrote (a bug of ours or an admission policy).
        logger.warning("%s: the API server refused a write (422): %s", key, _body_message(error))
    else:
        logger.warning("%s: API error %s: %s", key, error.status, _short(error))


def _body_message(error: ApiException) -> str:
    try:
        return str(json.loads(error.body or "{}").get("message") or _short(error))
    except (ValueError, AttributeError):
        return _short(error)


def _short(error: ApiException) -> str:
    return str(error.reason or error.status)


def _decide(plan: PlanInput, now: datetime) -> dict[str, Decision]:
    groups = [
        (policy, tuple(m.snapshot for m in items if m.snapshot is not None))
        for policy, items in plan.groups
    ]
    if not groups:
        return {}
    with metrics.decide_seconds.time():
        decisions = decide_by_policy(
            regions=plan.regions, groups=groups, now=now, links=plan.links, horizon=plan.horizon
        )
    return {d.workload_id: d for d in decisions}


# ---------------------------------------------------------------- receipts


def _book(run: _Pass, managed: Managed) -> Managed:
    """Advance the workload's receipt to now (before acting: it books what the cluster
    showed); returns the workload with the record as written."""
    price = (
        core_policy(managed.policy.spec).carbon_price_jpy_per_tonne
        if managed.policy is not None
        else Policy().carbon_price_jpy_per_tonne
    )
    booking = receipts.book(
        managed,
        now=run.now,
        regions=run.regions,
        signals=run.signals,
        links=run.plan.links,
        carbon_price_jpy_per_tonne=price,
        cache=run.memory.ledgers,
    )
    if booking is None:
        return managed
    _write(run, managed, managed.record, booking.status)
    for interval in booking.closed:
        priced = price_interval(interval, carbon_price_jpy_per_tonne=price)
        metrics.count_run(
            interval.region,
            energy_kwh=priced.energy_kwh,
            carbon_g=priced.carbon_g,
            cost_jpy=priced.cost_jpy,
            gpu_hours=interval.gpus * interval.duration_s / 3600.0,
        )
    receipt = booking.status.receipt
    if booking.finished and receipt is not None:
        metrics.count_finished_savings(
            carbon_avoided_g=receipt.savings.carbon_grams_avoided,
            cost_saved_jpy=receipt.savings.cost_jpy_saved,
        )
    return replace(managed, record=booking.status)


def _count_savings(managed: tuple[Managed, ...]) -> None:
    """The savings gauges: receipts of the workloads on record, running and finished."""
    receipts_on_record = [m.record.receipt for m in managed if m.record and m.record.receipt]
    for finished in (False, True):
        chosen = [r for r in receipts_on_record if (r.finished_at is not None) is finished]
        metrics.set_savings(
            "finished" if finished else "running",
            carbon_avoided_g=math.fsum(r.savings.carbon_grams_avoided for r in chosen),
            cost_saved_jpy=math.fsum(r.savings.cost_jpy_saved for r in chosen),
        )


# ---------------------------------------------------------------- per workload


def _act(run: _Pass, managed: Managed, decision: Decision | None) -> None:
    """Act on one workload."""
    stage = managed.stage
    if stage is Stage.FOREIGN or stage is Stage.INVALID:
        _record_hold(run, managed, reason=managed.reason, message=managed.message)
    elif stage is Stage.UNGATED:
        _hold_ungated(run, managed)
    elif stage is Stage.MOVING:
        _step_move(run, managed)
    elif stage is Stage.FINISHED and managed.record is not None and managed.obj.finished:
        _record_completion(run, managed)
    elif stage is Stage.RUNNING and _region_gone(run, managed):
        _record(
            run,
            managed,
            kind=DecisionKind.STAY,
            reason=Reason.REGION_NOT_FOUND,
            region=managed.obj.placed_region,
            message=f"runs in {managed.obj.placed_region}, which is no longer a Region: left "
            "where it is and not moved from there (its signals are unknown) until the Region "
            "is back",
            placed=True,
            warning=True,
        )
    elif stage is Stage.PENDING and decision is not None:
        _pending(run, managed, decision)
    elif stage is Stage.RUNNING and decision is not None:
        run.in_flight += _running(run, managed, decision)


def _region_gone(run: _Pass, managed: Managed) -> bool:
    where = managed.obj.placed_region
    return where is not None and where not in run.regions


def _hold_ungated(run: _Pass, managed: Managed) -> None:
    """A Job created while the webhook was down that has not started: hold it now (recorded
    first), and place it from the next pass like any other."""
    _record(
        run,
        managed,
        kind=DecisionKind.HOLD,
        reason=Reason.ADMITTED_UNGATED,
        region=None,
        message=UNGATED_MESSAGE + "; it had not started: suspended now, to be placed",
        placed=False,
        warning=True,
    )
    run.apis.suspending(managed.obj).hold(managed.obj, now=run.now)
    run.result.count("hold-ungated")


def _policy(managed: Managed) -> Policy:
    assert managed.policy is not None  # noqa: S101 - pending/running/moving carry one
    return core_policy(managed.policy.spec)


def _pending(run: _Pass, managed: Managed, decision: Decision) -> None:
    plan, now, result = run.plan, run.now, run.result
    obj = managed.obj
    if (
        decision.kind is DecisionKind.HOLD
        and decision.reason is Reason.NO_ELIGIBLE_REGION
        and managed.unfit_regions
    ):
        # The regions were left out for want of room on their nodes, not by policy.
        per_pod = (managed.hints.gpus // obj.pods) if managed.hints and obj.pods else 0
        decision = replace(
            decision,
            reason=Reason.INSUFFICIENT_CAPACITY,
            message=f"held: no eligible region has nodes with room for {obj.pods} pod(s) "
            f"of {per_pod} GPUs ({', '.join(sorted(managed.unfit_regions))} have GPUs free "
            "but not on one node)",
        )
    adapter = run.apis.releasing(obj)

    message = _explained(managed, decision, plan, now)
    policy_spec = managed.policy.spec if managed.policy else None
    failures = managed.record.placement_failures if managed.record else 0
    if policy_spec is not None and failures >= policy_spec.max_placement_failures:
        adapter.release_unplaced(obj, now=now)
        result.count("release-unplaced")
        _record(
            run,
            managed,
            kind=DecisionKind.RUN_NOW,
            reason=Reason.PLACEMENT_FAILED,
            region=None,
            message=f"placement failed {failures} times: released carbon-agnostic, "
            "wherever kube-scheduler puts it",
            placed=True,
            warning=True,
        )
        return
    if managed.dry_run:
        # Record what would happen, and let the workload go as it was created: it is not
        # kept held for a placement that will not be made.
        adapter.release_unplaced(obj, now=now)
        result.count("release-dry-run")
        _record(
            run,
            managed,
            kind=decision.kind,
            reason=decision.reason,
            region=None,
            message=f"{_dry_run_prefix(managed)}: would {_verb(decision)}: {message}",
            placed=False,
            dry_run=True,
        )
        return
    if decision.kind is DecisionKind.RUN_NOW and decision.region is not None:
        selector = plan.region_selectors[decision.region]
        try:
            adapter.place_and_release(obj, region=decision.region, node_selector=selector, now=now)
        except ApiException as error:
            if error.status in (HTTP_NOT_FOUND, HTTP_CONFLICT):
                raise
            _count_failure(run, managed, f"placing in {decision.region}: {error}")
            raise
        result.count("release")
        metrics.workloads_released_total.labels(region=decision.region).inc()
        hints = managed.hints
        reservation = Reservation(
            region=decision.region,
            gpus=float(hints.gpus if hints else 0),
            kw_per_gpu=hints.power_kw_per_gpu if hints else 0.0,
            start=now,
            seconds=hints.expected_duration_s if hints else 0.0,
        )
        # Before the record: the next pass may start while this one still writes it.
        run.memory.remember(
            obj.uid,
            Recent(
                status=managed.record,
                at=now,
                stage=managed.stage,
                reservation=reservation,
            ),
        )
        _record(
            run,
            managed,
            kind=decision.kind,
            reason=decision.reason,
            region=decision.region,
            message=message,
            placed=True,
            reservation=reservation,
        )
        return
    planned = decision.start_at if decision.kind is DecisionKind.WAIT else None
    if planned is not None:
        result.wake(planned)
    _record(
        run,
        managed,
        kind=decision.kind,
        reason=decision.reason,
        region=decision.region,
        message=message,
        planned_start=planned,
        placed=False,
        warning=decision.kind is DecisionKind.HOLD,
    )
    if isinstance(adapter, KueueAdapter):
        # Kueue shows the check's message on the Workload and as an Event on the job.
        explain = f"kubectl wattbit explain {obj.kind.value.lower()}/{obj.name} -n {obj.namespace}"
        adapter.keep_pending(obj, message=f"wattbit: {_verb(decision)} ({explain})", now=now)


def _dry_run_prefix(managed: Managed) -> str:
    name = managed.policy.name if managed.policy and managed.policy.name else "built-in"
    return f"dry run ({name})"


def _verb(decision: Decision) -> str:
    """What a pending workload's decision would do, in words."""
    if decision.kind is DecisionKind.RUN_NOW:
        return f"place in {decision.region}"
    if decision.kind is DecisionKind.WAIT and decision.start_at is not None:
        return f"wait until {decision.start_at.isoformat()} for {decision.region}"
    return f"hold ({decision.reason})"


def _running(run: _Pass, managed: Managed, decision: Decision) -> int:
    plan, now, in_flight = run.plan, run.now, run.in_flight
    obj = managed.obj
    if decision.kind is not DecisionKind.MOVE or decision.region is None:
        _record(
            run,
            managed,
            kind=decision.kind,
            reason=decision.reason,
            region=obj.placed_region,
            message=decision.message,
            placed=True,
            quiet=True,
        )
        return 0
    target = decision.region
    message = _explained(managed, decision, plan, now)
    assert managed.policy is not None  # noqa: S101 - running workloads carry one
    spec = managed.policy.spec
    if managed.dry_run:
        _record(
            run,
            managed,
            kind=DecisionKind.MOVE,
            reason=decision.reason,
            region=obj.placed_region,
            message=f"{_dry_run_prefix(managed)}: would move to {target}: {message}",
            placed=True,
            dry_run=True,
        )
        return 0
    blocked: tuple[Reason, str] | None = None
    failures = managed.record.placement_failures if managed.record else 0
    if failures >= spec.max_placement_failures:
        blocked = (
            Reason.PLACEMENT_FAILED,
            f"{failures} placements or moves failed (the policy allows "
            f"{spec.max_placement_failures}): it runs where it is, carbon-agnostic, and is "
            f"not moved again; would move to {target}: {decision.message}",
        )
    elif not managed.movable:
        blocked = (
            Reason.NOT_MOVABLE,
            f"a standalone Pod is never evicted (it would be lost); it stays in "
            f"{obj.placed_region} although {target} would save: {decision.message}",
        )
    elif in_flight >= spec.max_moves_in_flight:
        blocked = (
            Reason.MOVES_IN_FLIGHT_LIMIT,
            f"{in_flight} moves in flight, the policy allows {spec.max_moves_in_flight}; "
            f"would move to {target}: {decision.message}",
        )
    if blocked is not None:
        _record(
            run,
            managed,
            kind=DecisionKind.STAY,
            reason=blocked[0],
            region=obj.placed_region,
            message=blocked[1],
            placed=True,
        )
        return 0
    if obj.kind is WorkloadKind.POD:
        return _evict(run, managed, decision, message)
    _step_move(run, _begin_move(run, managed, decision, message))
    return 1


def _evict(run: _Pass, managed: Managed, decision: Decision, message: str) -> int:
    apis, result = run.apis, run.result
    outcome = apis.pods.evict(managed.obj)
    if not outcome.evicted:
        result.add(refused=1)
        _record(
            run,
            managed,
            kind=DecisionKind.STAY,
            reason=Reason.EVICTION_BLOCKED,
            region=managed.obj.placed_region,
            message=f"eviction to move to {decision.region} refused: {outcome.message}; "
            "retried on the next pass",
            placed=True,
            warning=True,
        )
        return 0
    result.count("evict")
    metrics.moves_total.labels(outcome="started").inc()
    _record(
        run,
        managed,
        kind=DecisionKind.MOVE,
        reason=decision.reason,
        region=decision.region,
        message=f"evicted to move to {decision.region}; its controller's replacement is held "
        f"and placed: {message}",
        placed=True,
    )
    return 1


# ---------------------------------------------------------------- moves


def _notice_s(managed: Managed) -> tuple[float, float]:
    """(notice, declared checkpoint time) in seconds."""
    hints = managed.hints
    assert hints is not None  # noqa: S101 - an invariant, not input checking
    assert managed.policy is not None  # noqa: S101 - an invariant, not input checking
    declared = (
        hints.checkpoint_duration_s
        if hints.checkpoint_duration_s is not None
        else checkpoint_write_s(hints.checkpoint_size_gb, _policy(managed))
    )
    return max(float(managed.policy.spec.checkpoint_notice_seconds), declared), declared


def _begin_move(run: _Pass, managed: Managed, decision: Decision, message: str) -> Managed:
    """Record the move as Planned; returns the workload as moving, with that record."""
    plan, now = run.plan, run.now
    obj = managed.obj
    source = obj.placed_region or "unknown"
    assert decision.region is not None  # noqa: S101 - a Move names its target
    link = plan.link_names.get(frozenset((source, decision.region)))
    migration = MigrationStatus(
        phase=MovePhase.PLANNED,
        from_region=source,
        to_region=decision.region,
        reason=decision.reason,
        started_at=now,
        phase_since=now,
        link=link,
        history=[PhaseEntry(phase=MovePhase.PLANNED, at=now, message=message[:1000])],
    )
    metrics.moves_total.labels(outcome="started").inc()
    status = _record(
        run,
        managed,
        kind=DecisionKind.MOVE,
        reason=decision.reason,
        region=decision.region,
        message=message,
        placed=True,
        migration=migration,
        migrating=True,
    )
    _crash_point(MovePhase.PLANNED)
    return replace(managed, record=status, stage=Stage.MOVING, move=move_record(status))


def observe(managed: Managed, plan: PlanInput) -> ObservedWorkload:
    """What the cluster shows of a moving workload."""
    obj = managed.obj
    move = managed.move
    assert move is not None  # noqa: S101 - only moving workloads are observed
    target_nodes = plan.nodes_by_region.get(move.to_region, frozenset())
    active = [p for p in managed.pods if p.active]
    requested_since = move.phase_since if move.phase is MovePhase.CHECKPOINT_REQUESTED else None
    requested = (
        bool(active)
        and requested_since is not None
        and all(
            p.checkpoint_requested_at is not None and p.checkpoint_requested_at >= requested_since
            for p in active
        )
    )
    acknowledged = requested_since is not None and any(
        p.checkpoint_acknowledged_at is not None and p.checkpoint_acknowledged_at >= requested_since
        for p in managed.pods
    )
    return ObservedWorkload(
        exists=True,
        finished=obj.finished,
        suspended=obj.suspended,
        active_pods=obj.active_pods,
        terminating_pods=obj.terminating_pods,
        placed_region=RegionName(obj.placed_region) if obj.placed_region else None,
        checkpoint_requested=requested,
        checkpoint_acknowledged=acknowledged,
        pods_running_in_target=sum(
            1 for p in active if p.node_name in target_nodes and p.phase == "Running"
        ),
        pods_running=sum(1 for p in active if p.node_name and p.phase == "Running"),
    )


def _step_move(run: _Pass, managed: Managed) -> None:
    plan, apis, now, result = run.plan, run.apis, run.now, run.result
    move, status = managed.move, managed.record
    if move is None or status is None or status.migration is None or managed.policy is None:
        return
    notice_s, _ = _notice_s(managed)
    timing = MoveTiming(
        notice_s=notice_s, max_suspended_s=managed.policy.spec.max_suspended_minutes * 60.0
    )
    step = next_step(move, observe(managed, plan), timing, now)
    result.wake(step.wake_at)
    migration = status.migration
    changed = step.phase != migration.phase or bool(step.passed)
    if changed:
        _record_phase(run, managed, step)  # intent before action
    obj = managed.obj
    action = step.action
    if action is MoveAction.REQUEST_CHECKPOINT:
        requested_at = now if changed else migration.phase_since
        deadline = step.checkpoint_deadline or migration.checkpoint_deadline or now
        apis.jobs.request_checkpoint(managed.pods, requested_at=requested_at, deadline=deadline)
        result.wake(deadline)
    elif action is MoveAction.SUSPEND:
        apis.suspending(obj).suspend(obj)
    elif action is MoveAction.REPOINT:
        target = move.to_region
        apis.suspending(obj).repoint(
            obj, region=target, node_selector=plan.region_selectors[target]
        )
    elif action is MoveAction.RESUME:
        apis.suspending(obj).resume(obj)
    elif action is MoveAction.FINISH:
        moved = step.phase is MovePhase.RUNNING
        if moved and migration.link:
            _record_link_use(run, managed, migration.link)
        outcome = "completed" if moved else ("abandoned" if obj.finished else "failed")
        metrics.moves_total.labels(outcome=outcome).inc()
        _event(run, managed, step.reason or Reason.MOVED, step.message, warning=not moved)
    if action is not MoveAction.WAIT:
        result.count(f"move-{action}")


def _record_link_use(run: _Pass, managed: Managed, link: str) -> None:
    """Add the move to its APNLink's status (moves completed, the latest few)."""
    move = managed.move
    raw = run.links_status.get(link)
    if move is None or raw is None:
        return
    try:
        status = APNLinkStatus.model_validate(dict(raw))
    except ValueError:
        status = APNLinkStatus()
    status.moves_completed += 1
    status.recent_moves = [
        *status.recent_moves,
        LinkMove(
            workload=managed.obj.key,
            from_region=move.from_region,
            to_region=move.to_region,
            completed_at=run.now,
        ),
    ][-MAX_RECENT_MOVES:]
    wire = status.model_dump(by_alias=True, mode="json", exclude_none=True)
    run.apis.custom.patch_cluster_custom_object_status(
        records.GROUP,
        records.VERSION,
        "apnlinks",
        link,
        {"status": {k: wire[k] for k in ("movesCompleted", "recentMoves")}},
        _content_type=records.MERGE_PATCH,
        _request_timeout=records.REQUEST_TIMEOUT_SECONDS,
    )
    run.links_status[link] = wire  # a second move over it in this pass counts on this one
    run.result.add(writes=1)


def _record_phase(run: _Pass, managed: Managed, step: Step) -> None:
    now = run.now
    status = managed.record
    assert status is not None  # noqa: S101 - an invariant, not input checking
    assert status.migration is not None  # noqa: S101 - an invariant, not input checking
    migration = status.migration.model_copy(deep=True)
    history = list(migration.history)
    history.extend(
        PhaseEntry(phase=passed, at=now, message=step.message[:1000]) for passed in step.passed
    )
    if step.phase != migration.phase:
        history.append(PhaseEntry(phase=step.phase, at=now, message=step.message[:1000]))
        migration.phase_since = now
        migration.attempt = 1
    else:
        migration.attempt += 1
    migration.phase = step.phase
    migration.history = history[-MAX_PHASE_HISTORY:]
    if step.checkpoint_deadline is not None and migration.checkpoint_deadline is None:
        migration.checkpoint_deadline = step.checkpoint_deadline
    if step.phase is MovePhase.SUSPENDED and migration.suspended_at is None:
        migration.suspended_at = now
    new = status.model_copy(deep=True)
    new.migration = migration
    final = step.phase.is_final
    if step.phase is MovePhase.RUNNING:
        new.moves = status.moves + 1
        new.last_move_at = migration.started_at
        new.region = migration.to_region
    if final:
        new.reason = (step.reason or Reason.MOVED).value
        new.message = step.message[:MAX_MESSAGE]
        new.decision = DecisionKind.STAY if step.phase is MovePhase.RUNNING else new.decision
        if step.phase is MovePhase.ABANDONED and not managed.obj.finished:
            # The workload is still there but not where the move meant it to be.
            new.placement_failures = status.placement_failures + 1
    new.conditions = set_condition(
        new.conditions,
        Condition(
            type="Migrating",
            status=ConditionStatus.FALSE if final else ConditionStatus.TRUE,
            reason=(step.reason or Reason.MOVED).value if final else migration.reason,
            message=f"{step.phase}: {step.message}"[:1000],
            last_transition_time=now,
        ),
        now,
    )
    _write(run, managed, status, new)
    _crash_point(step.phase)


def _crash_point(phase: MovePhase) -> None:
    """Fault injection for the crash tests (tests/integration/test_move_crash.py): die right
    after `phase` is recorded, before its action, as a SIGKILL at the worst moment would."""
    if CRASH_AFTER_PHASE and phase.value == CRASH_AFTER_PHASE:
        logger.warning("WATTBIT_TEST_CRASH_AFTER_PHASE=%s: exiting now", CRASH_AFTER_PHASE)
        os._exit(137)


def _count_failure(run: _Pass, managed: Managed, what: str) -> None:
    status = managed.record or WorkloadPlacementStatus()
    new = status.model_copy(deep=True)
    new.placement_failures = status.placement_failures + 1
    new.message = f"failed {what}"[:MAX_MESSAGE]
    _write(run, managed, status, new)


# ---------------------------------------------------------------- records and Events


def _explained(managed: Managed, decision: Decision, plan: PlanInput, now: datetime) -> str:
    if managed.snapshot is None:
        return decision.message
    compared = explain.candidates(
        managed.snapshot, plan.regions, _policy(managed), now, managed.unfit_regions
    )
    return explain.summary(decision, compared)[:MAX_MESSAGE]


def _candidates(managed: Managed, plan: PlanInput, now: datetime) -> list[CandidateStatus]:
    if managed.snapshot is None or managed.policy is None:
        return []
    return [
        CandidateStatus(
            region=c.region,
            eligible=c.eligible,
            reason=None if c.reason is None else c.reason.value,
            gpus_free=c.free_gpus,
            carbon_grams_per_kwh=round(c.carbon_g_per_kwh, 1),
            price_jpy_per_kwh=round(c.price_jpy_per_kwh, 3),
            energy_kwh=round(c.energy_kwh, 2),
            carbon_kg=round(c.carbon_kg, 2),
            cost_jpy=round(c.cost_jpy, 1),
        )
        for c in explain.candidates(
            managed.snapshot, plan.regions, _policy(managed), now, managed.unfit_regions
        )
    ]


def _record_completion(run: _Pass, managed: Managed) -> None:
    status = managed.record
    assert status is not None  # noqa: S101 - an invariant, not input checking
    if status.reason == Reason.COMPLETED.value:
        return
    where = status.region or managed.obj.placed_region or "no region of wattbit's"
    _record(
        run,
        managed,
        kind=status.decision,
        reason=Reason.COMPLETED,
        region=status.region or managed.obj.placed_region,
        message=f"finished in {where} after {status.moves} move(s)",
        placed=True,
        quiet=True,
    )


def _record_hold(run: _Pass, managed: Managed, *, reason: Reason | None, message: str) -> None:
    foreign = managed.stage is Stage.FOREIGN
    _record(
        run,
        managed,
        kind=None if foreign else DecisionKind.HOLD,
        reason=reason or Reason.INVALID_WORKLOAD,
        region=managed.obj.placed_region if foreign else None,
        message=message,
        placed=False,
        warning=not foreign,
        held=not foreign,
    )


def _record(
    run: _Pass,
    managed: Managed,
    *,
    kind: DecisionKind | None,
    reason: Reason,
    region: str | None,
    message: str,
    placed: bool,
    planned_start: datetime | None = None,
    migration: MigrationStatus | None = None,
    migrating: bool = False,
    dry_run: bool = False,
    warning: bool = False,
    quiet: bool = False,
    held: bool | None = None,
    reservation: Reservation | None = None,
) -> WorkloadPlacementStatus:
    """Write the workload's decision to its record, and an Event, when what they say changed.

    `quiet`: a change is recorded but not announced (a running workload staying put).
    `reservation`: it was released now and holds these GPUs (see `Memory.recent`)."""
    plan, now = run.plan, run.now
    status = managed.record
    # Shallow: every field below is reassigned, never mutated in place, and a deep copy of
    # each record (candidates, phase history) was half of an idle pass (bench_operator.py).
    new = (status or WorkloadPlacementStatus()).model_copy()
    new.decision = kind
    new.reason = reason.value
    new.region = region
    new.planned_start = planned_start
    new.message = message[:MAX_MESSAGE]
    if migration is not None:
        new.migration = migration
    is_held = (not placed) if held is None else held
    for type_, value in (("Placed", placed and not dry_run), ("Held", is_held and not dry_run)):
        new.conditions = set_condition(
            new.conditions,
            Condition(
                type=type_,
                status=ConditionStatus.TRUE if value else ConditionStatus.FALSE,
                reason=Reason.DRY_RUN.value if dry_run else reason.value,
                message=message[:1000],
                last_transition_time=now,
            ),
            now,
        )
    if migrating:
        new.conditions = set_condition(
            new.conditions,
            Condition(
                type="Migrating",
                status=ConditionStatus.TRUE,
                reason=reason.value,
                message=message[:1000],
                last_transition_time=now,
            ),
            now,
        )
    fits = _checkpoint_fits(managed)
    if fits is not None:
        new.conditions = set_condition(new.conditions, _fits_condition(fits, now), now)
    adopted = managed.admitted_ungated and not _has_condition(status, "AdmittedUngated")
    if adopted:
        new.conditions = set_condition(
            new.conditions,
            Condition(
                type="AdmittedUngated",
                status=ConditionStatus.TRUE,
                reason=Reason.ADMITTED_UNGATED.value,
                message=f"{UNGATED_MESSAGE}; adopted by the reconcile loop",
                last_transition_time=now,
            ),
            now,
        )
    if status is not None and _says_the_same(status, new):
        return status
    if (
        quiet
        and managed.stage is Stage.RUNNING
        and status is not None
        and status.decision is kind
        and status.region == region
        and not adopted
        and not run.result.may_reword()
    ):
        return status  # the decision stands; its new wording is written in a pass soon
    new.decided_at = now
    new.candidates = _candidates(managed, plan, now)
    metrics.placement_decisions_total.labels(
        workload_kind=managed.obj.kind.value,
        decision=kind.value if kind else "None",
        reason=reason.value,
    ).inc()
    _write(run, managed, status, new)
    if managed.stage in REMEMBERED:
        run.memory.remember(
            managed.obj.uid,
            Recent(status=new, at=now, stage=managed.stage, reservation=reservation),
        )
    was_waiting = status is not None and status.decision is DecisionKind.WAIT
    if kind is DecisionKind.WAIT and not dry_run and not was_waiting:
        metrics.count_wait()
    if adopted and managed.stage is not Stage.UNGATED:
        where = f"running in {region}" if region else "running"
        _event(
            run,
            managed,
            Reason.ADMITTED_UNGATED,
            f"{UNGATED_MESSAGE}; adopted {where}: placed and moved like any other",
            warning=True,
        )
    if fits is not None and not fits[0] and not _was_false(status, "CheckpointFits"):
        _event(run, managed, Reason.GRACE_PERIOD_TOO_SHORT, fits[1], warning=True)
    if not quiet:
        _event(run, managed, Reason.DRY_RUN if dry_run else reason, message, warning=warning)
    return new


def _checkpoint_fits(managed: Managed) -> tuple[bool, str] | None:
    """Whether the pods' grace period covers the declared checkpoint time, and why; None
    for what never moves by suspension (bare Pods) or has no hints."""
    if managed.hints is None or managed.policy is None or not managed.obj.kind.suspends:
        return None
    _, declared = _notice_s(managed)
    grace = managed.hints.termination_grace_s
    if grace < declared:
        return False, (
            f"terminationGracePeriodSeconds is {grace:.0f}s but a checkpoint takes "
            f"{declared:.0f}s: a move may cut it short unless the trainer acknowledges the "
            "checkpoint notice first (docs/checkpoint-protocol.md); raise the grace period"
        )
    return True, f"terminationGracePeriodSeconds {grace:.0f}s covers a {declared:.0f}s checkpoint"


def _fits_condition(fits: tuple[bool, str], now: datetime) -> Condition:
    return Condition(
        type="CheckpointFits",
        status=ConditionStatus.TRUE if fits[0] else ConditionStatus.FALSE,
        reason=Reason.READY.value if fits[0] else Reason.GRACE_PERIOD_TOO_SHORT.value,
        message=fits[1],
        last_transition_time=now,
    )


def _has_condition(status: WorkloadPlacementStatus | None, type_: str) -> bool:
    return status is not None and any(c.type == type_ for c in status.conditions)


def _was_false(status: WorkloadPlacementStatus | None, type_: str) -> bool:
    return status is not None and any(
        c.type == type_ and c.status is ConditionStatus.FALSE for c in status.conditions
    )


def _says_the_same(old: WorkloadPlacementStatus, new: WorkloadPlacementStatus) -> bool:
    """Equal in everything but the wording's numbers, the timestamps and the candidates."""

    def gist(status: WorkloadPlacementStatus) -> dict[str, Any]:
        dumped = status.model_dump(
            mode="json", exclude={"message", "decided_at", "candidates", "observed_generation"}
        )
        dumped["conditions"] = sorted(
            (c["type"], c["status"], c["reason"]) for c in dumped.get("conditions") or []
        )
        return dumped

    return gist(old) == gist(new)


def _write(
    run: _Pass,
    managed: Managed,
    old: WorkloadPlacementStatus | None,
    new: WorkloadPlacementStatus,
) -> None:
    apis, result = run.apis, run.result
    obj = managed.obj
    if old is None:
        records.create_record(
            apis.custom,
            kind=obj.kind.value,
            api_version=obj.api_version,
            namespace=obj.namespace,
            name=obj.name,
            uid=obj.uid,
            policy_name=managed.policy.name if managed.policy else None,
        )
    before = _wire(old) if old is not None else {}
    patch = records.merge_patch(before, _wire(new))
    if not patch:
        return
    apis.custom.patch_namespaced_custom_object_status(
        records.GROUP,
        records.VERSION,
        obj.namespace,
        records.PLURAL,
        managed.record_name,
        {"status": patch},
        _content_type=records.MERGE_PATCH,
        _request_timeout=records.REQUEST_TIMEOUT_SECONDS,
    )
    result.add(writes=1)


def _wire(status: WorkloadPlacementStatus) -> dict[str, Any]:
    return status.model_dump(by_alias=True, mode="json", exclude_none=True)


def _event(
    run: _Pass,
    managed: Managed,
    reason: Reason,
    message: str,
    *,
    warning: bool = False,
) -> None:
    obj = managed.obj
    events.post(
        run.apis.core,
        api_version=obj.api_version,
        kind=obj.kind.value,
        namespace=obj.namespace,
        name=obj.name,
        uid=obj.uid,
        reason=reason.value,
        message=message,
        now=run.now,
        warning=warning,
    )


__all__ = ["Apis", "PassResult", "reconcile"]
