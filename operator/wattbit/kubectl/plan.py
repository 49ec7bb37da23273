"""``kubectl wattbit plan``: where and when a described job would run now, and why.

The job is described as the operator would read it: a held, labelled Job whose annotations
carry the flags (``--duration`` → ``wattbit.io/expected-duration``, and so on). It joins the
live cluster's workloads in the snapshot the reconcile loop builds
(`wattbit.k8s.snapshots.cluster_view` and `plan_input`), and the same core decides for all
(`wattbit.core.planner.decide_by_policy`); `wattbit.core.explain` gives the figures of every
region. Nothing is written.

Differences from the operator's own pass: Region signals are read from their status (values
rounded for people; the operator uses its feeds' unrounded readings), and the built-in policy
and hint defaults are the operator's defaults (`wattbit.config.OperatorConfig`), not whatever
a deployment overrides.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from wattbit.api.v1alpha1.placementpolicy import PlacementPolicySpec
from wattbit.config import OperatorConfig
from wattbit.core import explain
from wattbit.core.model import Decision, DecisionKind
from wattbit.core.planner import decide_by_policy
from wattbit.errors import InvalidWorkloadError
from wattbit.k8s import names
from wattbit.k8s.hints import parse_checkpoint_size_gb, parse_deadline, parse_duration_seconds
from wattbit.k8s.snapshots import (
    Managed,
    SnapshotSettings,
    cluster_view,
    core_policy,
    plan_input,
)
from wattbit.kubectl.args import Output
from wattbit.kubectl.cluster import Body, Reader
from wattbit.kubectl.errors import NotFoundError, UsageError
from wattbit.kubectl.formatting import NONE, age, number, timestamp
from wattbit.kubectl.output import Reply, dump, section, table

PLAN_NAME = "kubectl-wattbit-plan"
PLAN_UID = "00000000-0000-0000-0000-00000000a1a7"


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanRequest:
    """The described job, checked; times resolved against ``now``."""

    namespace: str
    gpus: int
    parallelism: int
    duration: str
    deadline: datetime | None
    checkpoint_size: str | None
    policy: str | None
    now: datetime


def request_from(args: argparse.Namespace, now: datetime) -> PlanRequest:
    """Check the flags with the operator's own hint parsers; UsageError names the bad one."""
    if args.gpus % args.parallelism:
        raise UsageError(
            f"--gpus {args.gpus} cannot be split evenly over --parallelism {args.parallelism}"
        )
    try:
        parse_duration_seconds(args.duration)
    except ValueError as error:
        raise UsageError(f"--duration: {error}") from error
    deadline = None
    try:
        if args.deadline is not None:
            deadline = parse_deadline(args.deadline, created_at=now)
        if args.checkpoint_size is not None:
            parse_checkpoint_size_gb(args.checkpoint_size)
    except InvalidWorkloadError as error:
        raise UsageError(_flag_message(error.message)) from error
    if deadline is not None and deadline <= now:
        raise UsageError(f"--deadline {args.deadline!r} is already past")
    return PlanRequest(
        namespace=args.namespace,
        gpus=args.gpus,
        parallelism=args.parallelism,
        duration=args.duration,
        deadline=deadline,
        checkpoint_size=args.checkpoint_size,
        policy=args.policy,
        now=now,
    )


def _flag_message(message: str) -> str:
    """The parser's message with the annotation named as the flag it came from."""
    for annotation, flag in (
        (names.ANNOTATION_DEADLINE, "--deadline"),
        (names.ANNOTATION_CHECKPOINT_SIZE, "--checkpoint-size"),
    ):
        message = message.replace(f"{annotation}=", f"{flag} ")
    return message


def described_job(request: PlanRequest) -> Body:
    """The job as the webhook would have left it: labelled, held, suspended."""
    annotations = {
        names.ANNOTATION_HELD: "true",
        names.ANNOTATION_EXPECTED_DURATION: request.duration,
    }
    if request.deadline is not None:
        annotations[names.ANNOTATION_DEADLINE] = request.deadline.isoformat()
    if request.checkpoint_size is not None:
        annotations[names.ANNOTATION_CHECKPOINT_SIZE] = request.checkpoint_size
    if request.policy is not None:
        annotations[names.ANNOTATION_POLICY] = request.policy
    per_pod = request.gpus // request.parallelism
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": PLAN_NAME,
            "namespace": request.namespace,
            "uid": PLAN_UID,
            "creationTimestamp": timestamp(request.now),
            "labels": {names.LABEL_DEFERRABLE: "true"},
            "annotations": annotations,
        },
        "spec": {
            "suspend": True,
            "parallelism": request.parallelism,
            "completions": request.parallelism,
            "template": {
                "spec": {
                    "containers": [
                        {"name": "plan", "resources": {"limits": {names.GPU_RESOURCE: per_pod}}}
                    ]
                }
            },
        },
    }


def settings() -> SnapshotSettings:
    """The operator's defaults (a deployment may override them in its environment)."""
    config = OperatorConfig()
    return SnapshotSettings(
        builtin_policy=PlacementPolicySpec(
            carbon_price_jpy_per_tonne=config.default_carbon_price_jpy_per_tonne
        ),
        default_gpu_power_watts=float(config.default_gpu_power_watts),
        default_expected_duration_s=float(config.default_expected_duration_seconds),
    )


def decide(request: PlanRequest, bodies: dict[str, list[Body]]) -> dict[str, Any]:
    """Decide for the described job among the cluster's workloads; the ``-o json`` document."""
    view = cluster_view(
        now=request.now,
        regions=bodies["regions"],
        nodes=bodies["nodes"],
        pods=bodies["pods"],
        jobs=[*bodies["jobs"], described_job(request)],
        records=bodies["records"],
        policies=bodies["policies"],
        links=bodies["links"],
    )
    plan = plan_input(view, settings())
    ours = next(m for m in plan.managed if m.obj.uid == PLAN_UID)
    if ours.snapshot is None or ours.policy is None:
        # Held before the planner (a policy that does not parse, a hint it refuses).
        return _document(request, ours, None, [], held=(str(ours.reason), ours.message))
    groups = [
        (policy, tuple(m.snapshot for m in items if m.snapshot is not None))
        for policy, items in plan.groups
    ]
    decisions = decide_by_policy(
        regions=plan.regions,
        groups=groups,
        now=request.now,
        links=plan.links,
        horizon=plan.horizon,
    )
    decision = next(d for d in decisions if d.workload_id == ours.workload_id)
    compared = explain.candidates(
        ours.snapshot,
        plan.regions,
        core_policy(ours.policy.spec),
        request.now,
        ours.unfit_regions,
    )
    return _document(request, ours, decision, compared, held=None)


def _document(
    request: PlanRequest,
    ours: Managed,
    decision: Decision | None,
    compared: list[explain.Candidate] | tuple[explain.Candidate, ...],
    *,
    held: tuple[str, str] | None,
) -> dict[str, Any]:
    policy = ours.policy.name if ours.policy and ours.policy.name else None
    figures = decision.figures if decision else None
    out: dict[str, Any] = {
        "kind": "PlacementPlan",
        "namespace": request.namespace,
        "request": {
            "gpus": request.gpus,
            "parallelism": request.parallelism,
            "expectedDuration": request.duration,
            "deadline": timestamp(request.deadline) if request.deadline else None,
            "checkpointSize": request.checkpoint_size,
            "policy": request.policy,
        },
        "policy": policy or "built-in",
        "decidedAt": timestamp(request.now),
        "decision": decision.kind.value if decision else DecisionKind.HOLD.value,
        "reason": decision.reason.value if decision else held[0] if held else None,
        "region": decision.region if decision else None,
        "start": timestamp(decision.start_at) if decision and decision.start_at else None,
        "message": explain.summary(decision, compared) if decision else held[1] if held else "",
        "figures": None,
        "candidates": [
            {
                "region": c.region,
                "eligible": c.eligible,
                "reason": None if c.reason is None else c.reason.value,
                "gpusFree": c.free_gpus,
                "carbonGramsPerKwh": round(c.carbon_g_per_kwh, 1),
                "priceJpyPerKwh": round(c.price_jpy_per_kwh, 3),
                "energyKwh": round(c.energy_kwh, 2),
                "carbonKg": round(c.carbon_kg, 2),
                "costJpy": round(c.cost_jpy, 1),
            }
            for c in compared
        ],
        "written": False,
    }
    if figures is not None:
        out["figures"] = {
            "energyKwh": round(figures.energy_kwh, 2),
            "carbonKg": round(figures.carbon_kg, 2),
            "costJpy": round(figures.cost_jpy, 1),
            "baselineRegion": figures.baseline_region,
            "baselineCarbonKg": _round(figures.baseline_carbon_kg, 2),
            "baselineCostJpy": _round(figures.baseline_cost_jpy, 1),
            "savingJpy": round(figures.saving_jpy, 1),
            "expectedCompletion": timestamp(figures.expected_completion)
            if figures.expected_completion
            else None,
            "slackSeconds": _round(figures.slack_s, 0),
        }
    return out


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def render(doc: dict[str, Any], output: Output | None, now: datetime) -> str:
    if output in (Output.JSON, Output.YAML):
        return dump(doc, output)
    start = doc["start"]
    when = NONE
    if doc["decision"] == DecisionKind.RUN_NOW.value:
        when = "now"
    elif start is not None:
        moment = datetime.fromisoformat(start.replace("Z", "+00:00"))
        when = f"{start} (in {age((moment - now).total_seconds())})"
    request = doc["request"]
    fields = [
        ("Decision", doc["decision"]),
        ("Region", doc["region"] or NONE),
        ("Start", when),
        ("Reason", doc["reason"] or NONE),
        ("Policy", doc["policy"]),
        ("Message", doc["message"] or NONE),
    ]
    figures = doc["figures"]
    if figures is not None:
        fields.append(
            (
                "Figures",
                f"{number(figures['energyKwh'], 1)} kWh, {number(figures['carbonKg'], 2)} kgCO2, "
                f"{number(figures['costJpy'], 0)} JPY; against {figures['baselineRegion'] or NONE} "
                f"now: {number(figures['baselineCarbonKg'], 2)} kgCO2, "
                f"{number(figures['baselineCostJpy'], 0)} JPY",
            )
        )
        if output is Output.WIDE:
            fields.append(("Expected end", figures["expectedCompletion"] or NONE))
            slack = figures["slackSeconds"]
            fields.append(("Slack", NONE if slack is None else age(slack)))
    title = (
        f"Plan for {request['gpus']} GPU(s) x {request['expectedDuration']} in "
        f"{doc['namespace']} (nothing written)"
    )
    text = section(title, fields)
    if doc["candidates"]:
        headers = ["REGION", "ELIGIBLE", "FREE GPUS", "gCO2/kWh", "JPY/kWh", "kWh", "kgCO2"]
        headers += ["JPY", "REASON"]
        rows = [
            [
                c["region"],
                "yes" if c["eligible"] else "no",
                str(c["gpusFree"]),
                number(c["carbonGramsPerKwh"], 0),
                number(c["priceJpyPerKwh"], 2),
                number(c["energyKwh"], 1),
                number(c["carbonKg"], 2),
                number(c["costJpy"], 0),
                c["reason"] or "",
            ]
            for c in doc["candidates"]
        ]
        text += "\n\nCandidates (at current signals):\n" + table(headers, rows)
    return text


def run(reader: Reader, request: PlanRequest, *, output: Output | None) -> Reply:
    if request.policy is not None and (
        reader.custom_get("placementpolicies", request.policy, request.namespace) is None
    ):
        raise NotFoundError(
            f'placementpolicy "{request.policy}" not found in namespace "{request.namespace}"'
        )
    bodies = {
        "regions": reader.custom_list("regions"),
        "nodes": reader.nodes(),
        "pods": reader.pods(),
        "jobs": reader.deferrable_jobs(),
        "records": reader.custom_list("workloadplacements"),
        "policies": reader.custom_list("placementpolicies"),
        "links": reader.custom_list("apnlinks"),
    }
    if not bodies["regions"]:
        raise NotFoundError("no Regions in the cluster: nothing to plan against")
    doc = decide(request, bodies)
    return Reply(out=render(doc, output, request.now))
