"""Place held deferrable workloads: Jobs suspended and Pods gated by the webhook.

For each held workload, on a timer until it is released: build the region
offers from the indexes, ask the core for a decision, apply it through the
workload adapter, and record it in the workload's WorkloadPlacement (status and
conditions) and in an Event with the same reason and message. Level-based:
every run starts from the object's current state, so retries are harmless.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import kopf

from wattbit import metrics
from wattbit.api.conditions import Condition, ConditionStatus, set_condition
from wattbit.api.v1alpha1.placementpolicy import PlacementPolicySpec, PolicyMode
from wattbit.api.v1alpha1.region import RegionSpec, RegionStatus
from wattbit.api.v1alpha1.workloadplacement import (
    CandidateStatus,
    WorkloadPlacementStatus,
)
from wattbit.api.v1alpha1.workloadplacement import (
    DecisionKind as RecordedDecision,
)
from wattbit.core.placement import (
    CostPolicy,
    DecisionKind,
    PlacementDecision,
    Reason,
    RegionOffer,
    WorkloadDemand,
    choose_region,
)
from wattbit.core.signals import is_fresh
from wattbit.errors import InvalidWorkloadError
from wattbit.handlers import signals as signal_reading
from wattbit.handlers.context import OperatorContext
from wattbit.handlers.indexes import ALL
from wattbit.k8s import names, records
from wattbit.k8s.capacity import region_gpus
from wattbit.k8s.workloads import WorkloadAdapter, job_pod_count, workload_demand

RETRY_INTERVAL_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class Indexes:
    """The kopf indexes a placement reads (kopf passes them as keyword arguments)."""

    regions: kopf.Index[str, Any]
    nodes: kopf.Index[str, Any]
    gpu_pods: kopf.Index[str, Any]
    policies: kopf.Index[tuple[str, str], Any]

    @classmethod
    def from_kwargs(cls, kwargs: Mapping[str, Any]) -> Indexes:
        return cls(
            regions=kwargs["regions"],
            nodes=kwargs["nodes"],
            gpu_pods=kwargs["gpu_pods"],
            policies=kwargs["policies"],
        )


DEFERRABLE = {names.LABEL_DEFERRABLE: "true"}
HELD = {names.ANNOTATION_HELD: "true"}


def _job_waiting(*, spec: kopf.Spec, status: kopf.Status, **_: Any) -> bool:
    finished = any(
        c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
        for c in status.get("conditions") or []
    )
    return bool(spec.get("suspend")) and not finished


def _pod_waiting(*, spec: kopf.Spec, **_: Any) -> bool:
    return any(g.get("name") == names.SCHEDULING_GATE for g in spec.get("schedulingGates") or [])


@kopf.timer(
    "batch",
    "v1",
    "jobs",
    id="place-job",
    labels=DEFERRABLE,
    annotations=HELD,
    when=_job_waiting,
    interval=RETRY_INTERVAL_SECONDS,
    initial_delay=0.2,
)
def place_job(
    *,
    body: kopf.Body,
    memo: Any,
    logger: kopf.Logger,
    **kwargs: Any,
) -> None:
    context: OperatorContext = memo["wattbit"]
    spec = body.get("spec", {})
    template_spec = spec.get("template", {}).get("spec", {})
    _reconcile(
        context,
        body,
        context.jobs,
        logger=logger,
        indexes=Indexes.from_kwargs(kwargs),
        demand_of=lambda: workload_demand(
            pod_spec=template_spec,
            pods=job_pod_count(spec),
            annotations=dict(body.metadata.annotations),
            defaults=context.defaults,
        ),
    )


@kopf.timer(
    "",
    "v1",
    "pods",
    id="place-pod",
    labels=DEFERRABLE,
    annotations=HELD,
    when=_pod_waiting,
    interval=RETRY_INTERVAL_SECONDS,
    initial_delay=0.2,
)
def place_pod(
    *,
    body: kopf.Body,
    memo: Any,
    logger: kopf.Logger,
    **kwargs: Any,
) -> None:
    context: OperatorContext = memo["wattbit"]
    _reconcile(
        context,
        body,
        context.pods,
        logger=logger,
        indexes=Indexes.from_kwargs(kwargs),
        demand_of=lambda: workload_demand(
            pod_spec=body.get("spec", {}),
            pods=1,
            annotations=dict(body.metadata.annotations),
            defaults=context.defaults,
        ),
    )


def _reconcile(
    context: OperatorContext,
    body: kopf.Body,
    adapter: WorkloadAdapter,
    *,
    logger: kopf.Logger,
    indexes: Indexes,
    demand_of: Callable[[], WorkloadDemand],
) -> None:
    now = datetime.now(UTC)
    kind = str(body["kind"])
    namespace, name = str(body.metadata.namespace), str(body.metadata.name)
    uid = str(body.metadata.uid)
    annotations = dict(body.metadata.annotations)
    policy_name, policy = _policy_for(namespace, annotations, indexes.policies, context)
    record = records.ensure_record(context.custom, workload=body, policy_name=policy_name)

    try:
        demand: WorkloadDemand = demand_of()
    except InvalidWorkloadError as error:
        _record_invalid(context, body, kind=kind, record=record, error=error, now=now)
        return
    allowed = frozenset(policy.allowed_regions) if policy.allowed_regions else None
    demand = WorkloadDemand(
        gpus=demand.gpus,
        power_kw_per_gpu=demand.power_kw_per_gpu,
        expected_duration_hours=demand.expected_duration_hours,
        allowed_regions=allowed,
    )
    cost_policy = CostPolicy(carbon_price_jpy_per_tonne=float(policy.carbon_price_jpy_per_tonne))

    with context.decision_lock:
        context.prune_reservations(now)
        offers, selectors = _offers(indexes, context, now)
        decision = choose_region(demand, offers, cost_policy)
        if decision.kind == DecisionKind.RUN_NOW and decision.region is not None:
            context.reserve(uid, decision.region, demand.gpus, now)

    metrics.placement_decisions_total.labels(
        workload_kind=kind, decision=decision.kind.value, reason=decision.reason.value
    ).inc()
    if policy.mode == PolicyMode.DRY_RUN:
        # Record what would have happened, then let the workload go as it was created:
        # no affinity is written, and it is not kept held for a region it will not get.
        context.reservations.pop(uid, None)
        context.reserved_at.pop(uid, None)
        verb = f"would place in {decision.region}" if decision.region else "would hold"
        decision = replace(decision, message=f"dry run ({policy_name}): {verb}: {decision.message}")
        adapter.release(namespace=namespace, name=name, body=body)
        kopf.info(body, reason="DryRun", message=decision.message)
        _record_decision(
            context, namespace=namespace, record=record, decision=decision, now=now, dry_run=True
        )
        return
    if decision.kind == DecisionKind.RUN_NOW and decision.region is not None:
        adapter.place(
            namespace=namespace,
            name=name,
            body=body,
            region=decision.region,
            node_selector=selectors[decision.region],
        )
        adapter.release(namespace=namespace, name=name, body=body)
        context.last_hold_reason.pop(uid, None)
        logger.info(f"{decision.reason}: {decision.message}")
        kopf.info(body, reason=decision.reason.value, message=decision.message)
    else:
        _warn_once(context, body, uid, decision)
    _record_decision(context, namespace=namespace, record=record, decision=decision, now=now)


def _policy_for(
    namespace: str,
    annotations: Mapping[str, str],
    policies: kopf.Index[tuple[str, str], Any],
    context: OperatorContext,
) -> tuple[str | None, PlacementPolicySpec]:
    """The workload's policy: by annotation, else the namespace's ``default``, else built-in."""
    name = annotations.get(names.ANNOTATION_POLICY) or "default"
    for spec in policies.get((namespace, name), ()):
        return name, PlacementPolicySpec.model_validate(spec)
    builtin = PlacementPolicySpec(
        carbon_price_jpy_per_tonne=context.config.default_carbon_price_jpy_per_tonne
    )
    return None, builtin


def _offers(
    indexes: Indexes, context: OperatorContext, now: datetime
) -> tuple[list[RegionOffer], dict[str, dict[str, str]]]:
    """Region offers for the core, and each region's node selector."""
    parsed: dict[str, tuple[RegionSpec, RegionStatus]] = {}
    for region_name, store in indexes.regions.items():
        for entry in store:
            parsed[region_name] = (
                RegionSpec.model_validate(entry["spec"]),
                RegionStatus.model_validate(entry["status"]),
            )
    selectors = {n: spec.effective_node_selector(n) for n, (spec, _) in parsed.items()}
    counts = region_gpus(
        selectors,
        indexes.nodes.get(ALL, ()),
        indexes.gpu_pods.get(ALL, ()),
        context.reservations,
    )
    offers = []
    for region_name, (spec, status) in parsed.items():
        reading = signal_reading.last_reading(status)
        offers.append(
            RegionOffer(
                name=region_name,
                carbon_g_per_kwh=reading.carbon_g_per_kwh if reading else None,
                price_jpy_per_kwh=reading.price_jpy_per_kwh if reading else None,
                free_gpus=counts[region_name].free,
                pue=spec.pue_value(),
                available=spec.availability.value == "Available",
                # Re-check age here: the status may be old if the refresher fell behind.
                signals_fresh=reading is not None
                and is_fresh(reading, now, float(spec.signals.max_age_seconds)),
            )
        )
    return offers, selectors


def _warn_once(
    context: OperatorContext, body: kopf.Body, uid: str, decision: PlacementDecision
) -> None:
    """A Warning Event when a hold starts or its reason changes, not on every retry."""
    if context.last_hold_reason.get(uid) != decision.reason.value:
        context.last_hold_reason[uid] = decision.reason.value
        kopf.warn(body, reason=decision.reason.value, message=decision.message)


def _record_decision(
    context: OperatorContext,
    *,
    namespace: str,
    record: str,
    decision: PlacementDecision,
    now: datetime,
    dry_run: bool = False,
) -> None:
    current = WorkloadPlacementStatus.model_validate(
        records.read_record_status(context.custom, namespace=namespace, name=record)
    )
    placed = decision.kind == DecisionKind.RUN_NOW
    status = current.model_copy(deep=True)
    # In a dry run nothing is steered: the region stays unset, the decision says what
    # would have been done, and both conditions are False with reason DryRun.
    status.region = None if dry_run else decision.region
    status.decision = RecordedDecision.RUN_NOW if placed else RecordedDecision.HOLD
    status.reason = decision.reason.value
    status.message = decision.message[:4000]
    status.decided_at = now
    status.candidates = [
        CandidateStatus(
            region=c.region,
            eligible=c.eligible,
            reason=c.reason.value,
            gpus_free=c.free_gpus,
            carbon_grams_per_kwh=c.carbon_g_per_kwh,
            price_jpy_per_kwh=c.price_jpy_per_kwh,
            energy_kwh=c.energy_kwh,
            carbon_kg=c.carbon_kg,
            cost_jpy=c.cost_jpy,
        )
        for c in decision.candidates
    ]
    for type_, true in (("Placed", placed and not dry_run), ("Held", not placed and not dry_run)):
        status.conditions = set_condition(
            status.conditions,
            Condition(
                type=type_,
                status=ConditionStatus.TRUE if true else ConditionStatus.FALSE,
                reason="DryRun" if dry_run else decision.reason.value,
                message=decision.message[:1000],
                last_transition_time=now,
            ),
            now,
        )
    records.patch_record_status(
        context.custom,
        namespace=namespace,
        name=record,
        status=status.model_dump(by_alias=True, mode="json", exclude_none=True),
    )


def _record_invalid(
    context: OperatorContext,
    body: kopf.Body,
    *,
    kind: str,
    record: str,
    error: InvalidWorkloadError,
    now: datetime,
) -> None:
    decision = PlacementDecision(
        kind=DecisionKind.HOLD,
        region=None,
        reason=Reason.INVALID_WORKLOAD,
        message=f"held: {error.reason}: {error.message}",
    )
    metrics.placement_decisions_total.labels(
        workload_kind=kind, decision="Hold", reason=Reason.INVALID_WORKLOAD.value
    ).inc()
    _warn_once(context, body, str(body.metadata.uid), decision)
    _record_decision(
        context, namespace=str(body.metadata.namespace), record=record, decision=decision, now=now
    )
