"""What one `decide` call shares, and how its decisions are worded and figured.

This module's one job is the plumbing the start and move modules have in common: the planning
context (region grid, cost curves, links, policy, `now` on the horizon), vectorised window
figures, and constructors for holds and stays with their messages.

WARNING: no decisions are taken here, and nothing reads the clock.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import numpy as np
from numpy.typing import NDArray

from wattbit.core.cost import CostCurve, FigureCurves, FloatArray, PlanFigures, RegionGrid
from wattbit.core.model import (
    SECONDS_PER_HOUR,
    Decision,
    DecisionKind,
    Figures,
    Horizon,
    MoveCost,
    Policy,
    Reason,
    RegionName,
    WorkloadSnapshot,
)
from wattbit.core.move_cost import LinkTable

EPS = 1e-9


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanContext:
    """Everything shared by one `decide` call."""

    grid: RegionGrid
    curve: CostCurve
    curves: FigureCurves
    links: LinkTable
    policy: Policy
    now: datetime
    horizon: Horizon
    start: float
    """`now` in slots from the horizon's start (within slot 0)."""

    @property
    def slots(self) -> int:
        return self.horizon.slot_count

    @property
    def slot_h(self) -> float:
        return self.horizon.slot_s / SECONDS_PER_HOUR

    def runtime_slots(self, workload: WorkloadSnapshot) -> float:
        return workload.remaining_runtime_s / self.horizon.slot_s

    def margin_slots(self, workload: WorkloadSnapshot) -> float:
        """Slack kept before the deadline: the policy's fixed margin, plus a share of the
        remaining runtime sized from how far runs have overrun their estimates (the policy's
        constant share while that is unknown)."""
        policy = self.policy
        overrun = workload.runtime_overrun_fraction
        share = policy.safety_margin_fraction if overrun is None else max(overrun, 0.0)
        margin_s = policy.safety_margin_s + share * max(workload.remaining_runtime_s, 0.0)
        return margin_s / self.horizon.slot_s

    def latest_start(self, workload: WorkloadSnapshot) -> float:
        """Latest start (slots) that still finishes before the deadline minus the margin, or,
        without a deadline, the end of the longest allowed wait (never before now)."""
        if workload.deadline is not None:
            return (
                self.horizon.position(workload.deadline)
                - self.runtime_slots(workload)
                - self.margin_slots(workload)
            )
        since = workload.submitted_at or self.now
        waited_until = since + timedelta(seconds=self.policy.max_wait_s)
        return max(self.horizon.position(waited_until), self.start)

    def end_slot(self, position: float) -> int:
        """First slot after a run ending at `position`, capped at the horizon."""
        return min(self.slots, max(1, math.ceil(position - EPS)))

    def window(
        self, region: int, start: float, end: float, workload: WorkloadSnapshot
    ) -> PlanFigures:
        return self.curves.window(
            region=region, start=start, end=end, it_kwh_per_slot=workload.busy_kw * self.slot_h
        )


def windows(
    ctx: PlanContext,
    regions: NDArray[np.intp],
    starts: FloatArray,
    ends: FloatArray,
    it_kwh_per_slot: FloatArray,
) -> list[PlanFigures]:
    """`PlanFigures` of many windows at once (one numpy pass per figure)."""
    curves = ctx.curves
    columns = [
        curve.between(regions, starts, ends) * it_kwh_per_slot
        for curve in (curves.energy, curves.carbon, curves.bill, curves.adjusted)
    ]
    return [
        PlanFigures(energy_kwh=e, carbon_kg=c, cost_jpy=b, adjusted_cost_jpy=a)
        for e, c, b, a in zip(*(column.tolist() for column in columns), strict=True)
    ]


def hold(workload: WorkloadSnapshot, reason: Reason, message: str) -> Decision:
    return Decision(
        workload_id=workload.workload_id,
        kind=DecisionKind.HOLD,
        reason=reason,
        message=message,
    )


def stay(workload: WorkloadSnapshot, reason: Reason, message: str) -> Decision:
    """A stay; its figures (the run where it is) are filled in by `fill_stay_figures`."""
    return Decision(
        workload_id=workload.workload_id,
        kind=DecisionKind.STAY,
        reason=reason,
        message=message,
        region=workload.current_region,
    )


def fill_stay_figures(
    workloads: Sequence[WorkloadSnapshot], decisions: list[Decision | None], ctx: PlanContext
) -> None:
    """Figures of every stay at once: the rest of the run where the workload is."""
    rows = [
        i
        for i, d in enumerate(decisions)
        if d is not None and d.kind is DecisionKind.STAY and ctx.grid.index(d.region) >= 0
    ]
    if not rows:
        return
    items = [workloads[i] for i in rows]
    ends = ctx.start + np.array([ctx.runtime_slots(w) for w in items])
    plans = windows(
        ctx,
        np.array([ctx.grid.index(w.current_region) for w in items], dtype=np.intp),
        np.full(len(items), ctx.start),
        ends,
        np.array([w.busy_kw for w in items]) * ctx.slot_h,
    )
    for row, workload, plan, end in zip(rows, items, plans, ends.tolist(), strict=True):
        decision = decisions[row]
        assert decision is not None  # noqa: S101 - `rows` holds decided workloads only
        decisions[row] = replace(
            decision,
            figures=build_figures(workload, plan, plan, workload.current_region, ctx, end=end),
        )


def build_figures(
    workload: WorkloadSnapshot,
    plan: PlanFigures,
    baseline: PlanFigures | None,
    baseline_region: RegionName | None,
    ctx: PlanContext,
    *,
    end: float,
    move: MoveCost | None = None,
    saving_jpy: float | None = None,
    required_jpy: float = 0.0,
) -> Figures:
    completion = ctx.horizon.moment(end)
    slack_s = (
        (workload.deadline - completion).total_seconds() if workload.deadline is not None else None
    )
    if saving_jpy is None:
        saving_jpy = baseline.adjusted_cost_jpy - plan.adjusted_cost_jpy if baseline else 0.0
    return Figures(
        energy_kwh=plan.energy_kwh,
        carbon_kg=plan.carbon_kg,
        cost_jpy=plan.cost_jpy,
        adjusted_cost_jpy=plan.adjusted_cost_jpy,
        baseline_region=baseline_region,
        baseline_energy_kwh=baseline.energy_kwh if baseline else None,
        baseline_carbon_kg=baseline.carbon_kg if baseline else None,
        baseline_cost_jpy=baseline.cost_jpy if baseline else None,
        baseline_adjusted_cost_jpy=baseline.adjusted_cost_jpy if baseline else None,
        move=move,
        saving_jpy=saving_jpy,
        required_saving_jpy=required_jpy,
        expected_completion=completion,
        slack_s=slack_s,
    )


def change_minimum_jpy(cost_jpy: float, policy: Policy) -> float:
    """The saving any change of a pending workload's plan must show (waits, making room,
    giving way): the policy's minimum, with the forecast's uncertainty on top."""
    share = policy.min_saving_fraction + policy.forecast_uncertainty_fraction
    return max(policy.min_saving_jpy, share * abs(cost_jpy))


def money(value_jpy: float) -> str:
    return f"{value_jpy:,.0f} JPY"


def describe(plan: PlanFigures) -> str:
    return f"{plan.energy_kwh:,.0f} kWh, {plan.carbon_kg:,.1f} kgCO2, bill {money(plan.cost_jpy)}"
