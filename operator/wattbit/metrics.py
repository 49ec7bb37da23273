"""Prometheus collectors for wattbit, in one module.

Label values are region names, provider kinds, workload kinds, CamelCase reasons and the
short outcome and state words listed with each collector: all bounded sets, so
cardinality stays small; never a workload's name. Nothing here decides or reads the
cluster: the handlers count, this module only holds the collectors and the few functions
that keep their labels and values honest (README "Metrics" lists them all).
"""

from __future__ import annotations

import math
from typing import Final, Literal, get_args

from prometheus_client import Counter, Gauge, Histogram, start_http_server

NAMESPACE: Final = "wattbit"

placement_decisions_total = Counter(
    "placement_decisions_total",
    "Placement decisions taken, by kind of workload, decision and reason.",
    ["workload_kind", "decision", "reason"],
    namespace=NAMESPACE,
)

region_gpus_free = Gauge(
    "region_gpus_free",
    "Free GPUs per region as the operator counts them (allocatable minus placed work).",
    ["region"],
    namespace=NAMESPACE,
)

region_carbon_grams_per_kwh = Gauge(
    "region_carbon_grams_per_kwh",
    "Current carbon intensity of each region's power (gCO2eq/kWh).",
    ["region"],
    namespace=NAMESPACE,
)

region_price_jpy_per_kwh = Gauge(
    "region_price_jpy_per_kwh",
    "Current electricity price in each region (JPY/kWh).",
    ["region"],
    namespace=NAMESPACE,
)

region_signal_age_seconds = Gauge(
    "region_signal_age_seconds",
    "Age of each region's latest signal reading at the last refresh (seconds).",
    ["region"],
    namespace=NAMESPACE,
)

provider_errors_total = Counter(
    "provider_errors_total",
    "Signal provider failures, by region, provider kind and CamelCase reason.",
    ["region", "provider", "reason"],
    namespace=NAMESPACE,
)


def serve(address: str, port: int) -> None:
    """Expose /metrics on ``address:port`` in a background thread."""
    start_http_server(port, addr=address)


reconcile_seconds = Histogram(
    "reconcile_duration_seconds",
    "Time of one reconcile pass: snapshot, decide, act, record.",
    namespace=NAMESPACE,
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)

loop_wakeups = Counter(
    "loop_wakeups_total",
    "Requests for a reconcile pass, by the event that asked (several within the debounce make "
    "one pass) and the kind of pass asked for (full, arrivals).",
    ["source", "kind"],
    namespace=NAMESPACE,
)

passes_skipped = Counter(
    "reconcile_passes_skipped_total",
    "Arrivals passes that found nothing due (every workload settled) and read no record.",
    namespace=NAMESPACE,
)

decide_seconds = Histogram(
    "decide_duration_seconds",
    "Time the decision core takes for all workloads of one reconcile pass.",
    namespace=NAMESPACE,
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)

MoveOutcome = Literal["started", "completed", "failed", "abandoned"]
"""How a move of a running workload is counted in ``moves_total``:

- ``started``: a move was recorded as Planned (a Job) or a Pod was evicted to move;
- ``completed``: the workload runs in the target region (phase Running);
- ``failed``: the move ended without landing while the workload still runs (suspended
  longer than the policy allows and resumed where it was, or resumed elsewhere): the
  record counts it as a placement failure;
- ``abandoned``: the workload finished or was deleted while it was moving.
"""

moves_total = Counter(
    "moves_total",
    "Moves of running workloads, by outcome: started, completed (runs in the target region), "
    "failed (ended without landing, the workload still runs) or abandoned (the workload "
    "finished or was deleted during the move).",
    ["outcome"],
    namespace=NAMESPACE,
)

workloads_released_total = Counter(
    "workloads_released_total",
    "Held workloads released into a region.",
    ["region"],
    namespace=NAMESPACE,
)

workloads_managed = Gauge(
    "workloads_managed",
    "Deferrable workloads by stage (Pending, Running, Moving, ...) at the last pass.",
    ["stage"],
    namespace=NAMESPACE,
)

finished_runs_observed = Gauge(
    "finished_runs_observed",
    "Jobs wattbit managed that finished unmoved with an expected duration, at the last pass: "
    "the runs the deadline margin learns from.",
    namespace=NAMESPACE,
)

runtime_overrun_ratio = Gauge(
    "runtime_overrun_ratio",
    "How far nine in ten of those runs overran their expected duration, as a share of it (0 "
    "when they kept to it); it sizes the deadline margin. NaN until 10 runs have finished.",
    namespace=NAMESPACE,
)

api_requests_total = Counter(
    "api_requests_total",
    "Requests the operator's own API client sent to the API server, by HTTP method (kopf's "
    "watches and its handler bookkeeping are not counted).",
    ["method"],
    namespace=NAMESPACE,
)

for _outcome in get_args(MoveOutcome):
    moves_total.labels(outcome=_outcome)  # every outcome exported from the start, at 0


# ---------------------------------------------------------------- receipts, by region

energy_kwh_total = Counter(
    "energy_kwh_total",
    "Energy booked on workloads' receipts, by region (kWh, PUE included).",
    ["region"],
    namespace=NAMESPACE,
)

carbon_emitted_grams_total = Counter(
    "carbon_emitted_grams_total",
    "Carbon emitted by workloads as their receipts book it, by region (gCO2eq).",
    ["region"],
    namespace=NAMESPACE,
)

cost_jpy_total = Counter(
    "cost_jpy_total",
    "Electricity cost booked on workloads' receipts, by region (JPY).",
    ["region"],
    namespace=NAMESPACE,
)

gpu_hours_total = Counter(
    "gpu_hours_total",
    "GPU-hours booked on workloads' receipts, by region.",
    ["region"],
    namespace=NAMESPACE,
)


def _countable(value: float) -> bool:
    return math.isfinite(value) and value > 0


def count_run(
    region: str, *, energy_kwh: float, carbon_g: float, cost_jpy: float, gpu_hours: float
) -> None:
    """Add what a receipt newly booked in ``region`` to the per-region counters.

    Pass increments (an interval just closed or extended), never a receipt's running
    totals: a Counter only adds. Count each booking once per process, when it is booked;
    after a restart the counters start again from 0, which ``rate``/``increase`` handle,
    so replaying records that were already counted would count them twice. Zero, negative,
    NaN and infinite values are left out (a Counter cannot go down, and one bad figure
    must not stop the others); each figure is judged on its own.
    """
    for counter, value in (
        (energy_kwh_total, energy_kwh),
        (carbon_emitted_grams_total, carbon_g),
        (cost_jpy_total, cost_jpy),
        (gpu_hours_total, gpu_hours),
    ):
        if _countable(value):
            counter.labels(region=region).inc(value)


# ---------------------------------------------------------------- savings

SavingsState = Literal["running", "finished"]
"""Which workloads a savings gauge sums: those running (or moving, or waiting) and those
finished whose records the operator still keeps."""

workloads_carbon_avoided_grams = Gauge(
    "workloads_carbon_avoided_grams",
    "Carbon avoided against the counterfactual, summed over the workloads the operator keeps "
    "records for, by state (running, finished); negative when they did worse (gCO2eq).",
    ["state"],
    namespace=NAMESPACE,
)

workloads_cost_saved_jpy = Gauge(
    "workloads_cost_saved_jpy",
    "Cost saved against the counterfactual, summed over the workloads the operator keeps "
    "records for, by state (running, finished); negative when they did worse (JPY).",
    ["state"],
    namespace=NAMESPACE,
)


def set_savings(state: SavingsState, *, carbon_avoided_g: float, cost_saved_jpy: float) -> None:
    """Set the savings summed over the workloads on record in ``state``, at this pass.

    Call it for both states on every pass, with 0 when none are left, so a gauge never
    keeps a figure of workloads that are gone. Values may be negative (a run that did
    worse than its counterfactual). A NaN or infinite value leaves that gauge as it was.
    An unknown state raises ``ValueError``: labels stay a bounded set.
    """
    if state not in get_args(SavingsState):
        raise ValueError(f"savings state must be one of {get_args(SavingsState)}, not {state!r}")
    for gauge, value in (
        (workloads_carbon_avoided_grams, carbon_avoided_g),
        (workloads_cost_saved_jpy, cost_saved_jpy),
    ):
        if math.isfinite(value):
            gauge.labels(state=state).set(value)


for _state in get_args(SavingsState):
    set_savings(_state, carbon_avoided_g=0.0, cost_saved_jpy=0.0)

# A Counter never goes down, so a finished workload that did worse than its counterfactual
# adds to the *_excess_* counter instead: net saving = avoided_total - excess_total.
carbon_avoided_grams_total = Counter(
    "carbon_avoided_grams_total",
    "Carbon avoided against the counterfactual by finished workloads that did better than it, "
    "counted once when each finishes (gCO2eq).",
    namespace=NAMESPACE,
)

carbon_excess_grams_total = Counter(
    "carbon_excess_grams_total",
    "Carbon emitted beyond the counterfactual by finished workloads that did worse than it, "
    "counted once when each finishes (gCO2eq).",
    namespace=NAMESPACE,
)

cost_saved_jpy_total = Counter(
    "cost_saved_jpy_total",
    "Cost saved against the counterfactual by finished workloads that did better than it, "
    "counted once when each finishes (JPY).",
    namespace=NAMESPACE,
)

cost_excess_jpy_total = Counter(
    "cost_excess_jpy_total",
    "Cost beyond the counterfactual of finished workloads that did worse than it, counted "
    "once when each finishes (JPY).",
    namespace=NAMESPACE,
)


def count_finished_savings(*, carbon_avoided_g: float, cost_saved_jpy: float) -> None:
    """Count a finished workload's final saving against its counterfactual, once.

    A positive saving adds to ``*_avoided_*``/``*_saved_*``, a negative one adds its size
    to ``*_excess_*``; the net saving is the difference of the two. Each figure is judged
    on its own; zero, NaN and infinite values count nothing. Call it once per workload,
    when its receipt is closed (not on every pass, and not again after a restart).
    """
    for saved, excess, value in (
        (carbon_avoided_grams_total, carbon_excess_grams_total, carbon_avoided_g),
        (cost_saved_jpy_total, cost_excess_jpy_total, cost_saved_jpy),
    ):
        if not math.isfinite(value) or value == 0:
            continue
        if value > 0:
            saved.inc(value)
        else:
            excess.inc(-value)


# ---------------------------------------------------------------- waits and regions

waits_total = Counter(
    "waits_total",
    "Workloads given a planned start in a cheaper or greener hour (Wait), counted once per wait.",
    namespace=NAMESPACE,
)


def count_wait() -> None:
    """Count one workload given a planned start: when its record first gets one (or a
    new one after it ran), not on every pass that keeps it waiting."""
    waits_total.inc()


region_signals_stale = Gauge(
    "region_signals_stale",
    "1 when a region's signals are not fresh (SignalsFresh is not True: it is never "
    "chosen), else 0; set at every refresh of the Region.",
    ["region"],
    namespace=NAMESPACE,
)


def forget_region(region: str) -> None:
    """Drop a deleted Region's gauges (signals, free GPUs, staleness), so that it does not
    show as stale or fresh forever; its counters stay, as counters should."""
    for gauge in (
        region_gpus_free,
        region_carbon_grams_per_kwh,
        region_price_jpy_per_kwh,
        region_signal_age_seconds,
        region_signals_stale,
    ):
        try:
            gauge.remove(region)
        except KeyError:
            continue  # never set for this region


# ---------------------------------------------------------------- admission webhook

AdmissionKind = Literal["Job", "JobSet", "TrainJob", "Pod"]
AdmissionOutcome = Literal["held", "passed", "skipped", "error"]
"""What the webhook did with a new workload:

- ``held``: changed it (a Job created suspended, a bare Pod given the placement gate);
- ``passed``: a labelled workload in scope admitted unchanged (a Job its owner created
  suspended, a Pod owned by a Job, a Pod already bound or already gated);
- ``skipped``: not labelled deferrable, or in an excluded namespace (the webhook's
  selectors normally keep these away);
- ``error``: the handler raised; kopf then denies the request.
"""

webhook_duration_seconds = Histogram(
    "webhook_duration_seconds",
    "Time the mutating webhook's handler takes to decide on a new workload, by kind (Job, "
    "Pod); the HTTP and TLS round trip is not included.",
    ["kind"],
    namespace=NAMESPACE,
    buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
)

admissions_total = Counter(
    "admissions_total",
    "New workloads the mutating webhook saw, by kind (Job, Pod) and outcome (held, passed, "
    "skipped, error).",
    ["kind", "outcome"],
    namespace=NAMESPACE,
)


def observe_admission(kind: AdmissionKind, outcome: AdmissionOutcome, duration_s: float) -> None:
    """Count one admission and the time its handler took."""
    admissions_total.labels(kind=kind, outcome=outcome).inc()
    webhook_duration_seconds.labels(kind=kind).observe(duration_s)


for _kind in get_args(AdmissionKind):
    for _admission in get_args(AdmissionOutcome):
        admissions_total.labels(kind=_kind, outcome=_admission)
