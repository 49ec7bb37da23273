"""The functions of wattbit.metrics that the handlers count through, read back from the
default registry (the one the operator serves).

Covers: count_run adds each figure to its region's counter and leaves out zero, negative,
NaN and infinite figures one by one; set_savings sets both gauges of a state, keeps
negative values, leaves a gauge as it was on NaN, and rejects an unknown state;
count_finished_savings splits a saving into its avoided and excess counters; count_wait;
observe_admission; every move outcome, savings state and admission label pair is exported
at 0 from the start; forget_region drops a deleted Region's gauges, not its counters;
the README's Metrics section lists every metric.
Skipped: the HTTP endpoint (prometheus-client's own) and the handlers' calls (the webhook's
are in test_webhooks.py, the reconcile loop's in the integration tests).
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import pytest
from prometheus_client import REGISTRY, Counter, Gauge, Histogram

from wattbit import metrics


def value(name: str, **labels: str) -> float:
    sample = REGISTRY.get_sample_value(name, labels)
    return 0.0 if sample is None else sample


RUN_SERIES = {
    "energy_kwh": "wattbit_energy_kwh_total",
    "carbon_g": "wattbit_carbon_emitted_grams_total",
    "cost_jpy": "wattbit_cost_jpy_total",
    "gpu_hours": "wattbit_gpu_hours_total",
}


def test_count_run_adds_each_figure_to_its_region() -> None:
    before = {k: value(n, region="metrics-a") for k, n in RUN_SERIES.items()}
    other = value("wattbit_energy_kwh_total", region="metrics-b")
    metrics.count_run("metrics-a", energy_kwh=5.6, carbon_g=1200.0, cost_jpy=84.0, gpu_hours=8.0)
    metrics.count_run("metrics-a", energy_kwh=1.4, carbon_g=300.0, cost_jpy=21.0, gpu_hours=2.0)
    added = {k: value(n, region="metrics-a") - before[k] for k, n in RUN_SERIES.items()}
    assert added == pytest.approx(
        {"energy_kwh": 7.0, "carbon_g": 1500.0, "cost_jpy": 105.0, "gpu_hours": 10.0}
    )
    assert value("wattbit_energy_kwh_total", region="metrics-b") == other


@pytest.mark.parametrize("bad", [0.0, -1.0, math.nan, math.inf, -math.inf])
def test_count_run_leaves_out_figures_a_counter_cannot_take(bad: float) -> None:
    before = {k: value(n, region="metrics-c") for k, n in RUN_SERIES.items()}
    metrics.count_run("metrics-c", energy_kwh=bad, carbon_g=bad, cost_jpy=2.0, gpu_hours=bad)
    added = {k: value(n, region="metrics-c") - before[k] for k, n in RUN_SERIES.items()}
    assert added == {"energy_kwh": 0.0, "carbon_g": 0.0, "cost_jpy": 2.0, "gpu_hours": 0.0}


def test_set_savings_sets_the_state_it_names_and_may_go_negative() -> None:
    metrics.set_savings("running", carbon_avoided_g=1500.0, cost_saved_jpy=-12.5)
    metrics.set_savings("finished", carbon_avoided_g=-300.0, cost_saved_jpy=40.0)
    assert value("wattbit_workloads_carbon_avoided_grams", state="running") == 1500.0
    assert value("wattbit_workloads_cost_saved_jpy", state="running") == -12.5
    assert value("wattbit_workloads_carbon_avoided_grams", state="finished") == -300.0
    assert value("wattbit_workloads_cost_saved_jpy", state="finished") == 40.0
    metrics.set_savings("running", carbon_avoided_g=0.0, cost_saved_jpy=0.0)
    assert value("wattbit_workloads_carbon_avoided_grams", state="running") == 0.0
    assert value("wattbit_workloads_cost_saved_jpy", state="finished") == 40.0


def test_set_savings_keeps_a_gauge_on_a_non_finite_value() -> None:
    metrics.set_savings("finished", carbon_avoided_g=10.0, cost_saved_jpy=20.0)
    metrics.set_savings("finished", carbon_avoided_g=math.nan, cost_saved_jpy=30.0)
    assert value("wattbit_workloads_carbon_avoided_grams", state="finished") == 10.0
    assert value("wattbit_workloads_cost_saved_jpy", state="finished") == 30.0


def test_set_savings_rejects_an_unknown_state() -> None:
    with pytest.raises(ValueError, match="'moving'"):
        metrics.set_savings("moving", carbon_avoided_g=1.0, cost_saved_jpy=1.0)  # type: ignore[arg-type]
    assert (
        REGISTRY.get_sample_value("wattbit_workloads_cost_saved_jpy", {"state": "moving"}) is None
    )


FINISHED_SERIES = (
    "wattbit_carbon_avoided_grams_total",
    "wattbit_carbon_excess_grams_total",
    "wattbit_cost_saved_jpy_total",
    "wattbit_cost_excess_jpy_total",
)


@pytest.mark.parametrize(
    ("carbon_g", "cost_jpy", "expected"),
    [
        (500.0, 30.0, (500.0, 0.0, 30.0, 0.0)),
        (-200.0, 30.0, (0.0, 200.0, 30.0, 0.0)),
        (500.0, -7.5, (500.0, 0.0, 0.0, 7.5)),
        (0.0, math.nan, (0.0, 0.0, 0.0, 0.0)),
        (-math.inf, 4.0, (0.0, 0.0, 4.0, 0.0)),
    ],
)
def test_count_finished_savings_splits_a_saving_into_avoided_and_excess(
    carbon_g: float, cost_jpy: float, expected: tuple[float, ...]
) -> None:
    before = [value(name) for name in FINISHED_SERIES]
    metrics.count_finished_savings(carbon_avoided_g=carbon_g, cost_saved_jpy=cost_jpy)
    added = tuple(value(name) - b for name, b in zip(FINISHED_SERIES, before, strict=True))
    assert added == pytest.approx(expected)


def test_count_wait_counts_one() -> None:
    before = value("wattbit_waits_total")
    metrics.count_wait()
    assert value("wattbit_waits_total") == before + 1


def test_observe_admission_counts_and_times() -> None:
    before = value("wattbit_admissions_total", kind="Pod", outcome="passed")
    timed = value("wattbit_webhook_duration_seconds_count", kind="Pod")
    fast = value("wattbit_webhook_duration_seconds_bucket", kind="Pod", le="0.001")
    metrics.observe_admission("Pod", "passed", 0.0004)
    assert value("wattbit_admissions_total", kind="Pod", outcome="passed") == before + 1
    assert value("wattbit_webhook_duration_seconds_count", kind="Pod") == timed + 1
    assert value("wattbit_webhook_duration_seconds_bucket", kind="Pod", le="0.001") == fast + 1


def test_bounded_labels_are_exported_from_the_start() -> None:
    for outcome in ("started", "completed", "failed", "abandoned"):
        assert REGISTRY.get_sample_value("wattbit_moves_total", {"outcome": outcome}) is not None
    for state in ("running", "finished"):
        for name in ("wattbit_workloads_carbon_avoided_grams", "wattbit_workloads_cost_saved_jpy"):
            assert REGISTRY.get_sample_value(name, {"state": state}) is not None
    for kind, outcome in itertools.product(("Job", "Pod"), ("held", "passed", "skipped", "error")):
        labels = {"kind": kind, "outcome": outcome}
        assert REGISTRY.get_sample_value("wattbit_admissions_total", labels) is not None
    for name in ("wattbit_waits_total", *FINISHED_SERIES):
        assert REGISTRY.get_sample_value(name) is not None


def test_the_readme_lists_every_metric() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("\n## Metrics\n", 1)[1].split("\n## ", 1)[0]
    listed = set()
    for collector in vars(metrics).values():
        if isinstance(collector, Counter | Gauge | Histogram):
            for family in collector.describe():
                name = family.name + ("_total" if isinstance(collector, Counter) else "")
                assert f"| `{name}` |" in section, f"{name} is not in the README's Metrics table"
                listed.add(name)
    assert len(listed) >= 25


def test_forget_region_drops_its_gauges_and_keeps_its_counters() -> None:
    metrics.region_signals_stale.labels(region="metrics-gone").set(1)
    metrics.region_gpus_free.labels(region="metrics-gone").set(8)
    metrics.count_run("metrics-gone", energy_kwh=1.0, carbon_g=1.0, cost_jpy=1.0, gpu_hours=1.0)
    metrics.forget_region("metrics-gone")
    metrics.forget_region("metrics-never-seen")
    gone = {"region": "metrics-gone"}
    assert REGISTRY.get_sample_value("wattbit_region_signals_stale", gone) is None
    assert REGISTRY.get_sample_value("wattbit_region_gpus_free", gone) is None
    assert REGISTRY.get_sample_value("wattbit_energy_kwh_total", gone) == 1.0
