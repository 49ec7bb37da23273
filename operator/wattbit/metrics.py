"""Prometheus collectors for wattbit, in one module.

Label values are region names, provider kinds and CamelCase reasons: all bounded
sets, so cardinality stays small. Nothing here decides or reads the cluster.
"""

from __future__ import annotations

from typing import Final

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

decide_seconds = Histogram(
    "decide_duration_seconds",
    "Time the decision core takes for all workloads of one reconcile pass.",
    namespace=NAMESPACE,
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)

moves_total = Counter(
    "moves_total",
    "Moves of running workloads, by outcome (started, completed, abandoned).",
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

api_requests_total = Counter(
    "api_requests_total",
    "Requests the operator's own API client sent to the API server, by HTTP method (kopf's "
    "watches and its handler bookkeeping are not counted).",
    ["method"],
    namespace=NAMESPACE,
)
