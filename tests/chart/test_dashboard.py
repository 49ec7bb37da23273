"""Every query of the chart's Grafana dashboard names only metrics the operator exports.

Covers: each panel target's PromQL `expr` and each templating variable's `label_values`
query; names are read out of the PromQL (strings, label matchers, ranges, grouping labels,
functions, keywords and numbers left out) and compared with the series the default
registry exports once wattbit.metrics is imported: a Counter as name_total and
name_created, a Histogram as name_bucket/_sum/_count/_created, a Gauge by its name (so a
Counter's bare family name, which Prometheus never stores, is a mistake). Every target
names at least one metric, and panel ids are unique.
The other direction (every wattbit metric is charted) is tests/chart/test_chart.py's.
Skipped: rendering through helm (test_chart.py checks the ConfigMap equals the file) and
whether Grafana accepts the JSON (no Grafana here).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY

from wattbit import metrics

DASHBOARD = Path(__file__).resolve().parents[2] / "charts" / "wattbit" / "files" / "dashboard.json"

# The series each kind of metric family is exposed as (prometheus-client, text format).
SERIES_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("", "_sum", "_count", "_created"),
    "gauge": ("",),
    "info": ("_info",),
    "stateset": ("",),
    "unknown": ("",),
}

# PromQL words that look like identifiers but name no metric.
KEYWORDS = frozenset(
    {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset"}
    | {"and", "or", "unless", "atan2", "inf", "nan", "start", "end"}
)
_STRING = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^}]*\}")
_RANGES = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENTIFIER = re.compile(r"(?<![\w$.:])([A-Za-z_:][\w:]*)(\s*\()?")


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects."""
    text = _STRING.sub('""', expr)
    for pattern in (_MATCHERS, _RANGES, _GROUPING):
        text = pattern.sub(" ", text)
    return {
        match.group(1)
        for match in _IDENTIFIER.finditer(text)
        if match.group(2) is None and match.group(1).lower() not in KEYWORDS
    }


def exported() -> set[str]:
    assert metrics.NAMESPACE == "wattbit"  # the import registers the operator's collectors
    return {
        family.name + suffix
        for family in REGISTRY.collect()
        for suffix in SERIES_SUFFIXES[family.type]
    }


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def queries() -> Iterator[tuple[str, str]]:
    """(where, PromQL) for every query the dashboard runs."""
    board = dashboard()
    for panel in board["panels"]:
        for target in panel.get("targets", []):
            yield f"panel {panel['title']!r} {target['refId']}", target["expr"]
    for variable in board["templating"]["list"]:
        if variable["type"] == "query":
            match = re.fullmatch(r"label_values\((.+),\s*\w+\)", variable["definition"])
            assert match, f"variable {variable['name']}: not a label_values query"
            yield f"variable {variable['name']}", match.group(1)


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ('wattbit_region_gpus_free{region=~"$region"}', {"wattbit_region_gpus_free"}),
        (
            "histogram_quantile(0.99, sum by (le, kind) "
            "(rate(wattbit_webhook_duration_seconds_bucket[$__rate_interval])))",
            {"wattbit_webhook_duration_seconds_bucket"},
        ),
        (
            'sum(increase(a_total{outcome="completed"}[6h] offset 1d)) / on(region) '
            "group_left(stage) sum without (le) (b) > bool 1e3",
            {"a_total", "b"},
        ),
        ("sum(rate(x_total[5m])) by (region) * 3600 / 1000", {"x_total"}),
        ('count(up{job="a{b}"} == 0) or vector(0)', {"up"}),
    ],
)
def test_metric_names_are_read_out_of_promql(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names


def test_exported_names_follow_the_exposition_format() -> None:
    names = exported()
    assert {"wattbit_moves_total", "wattbit_region_gpus_free"} <= names
    assert {
        "wattbit_webhook_duration_seconds_bucket",
        "wattbit_reconcile_duration_seconds_count",
    } <= names
    assert "wattbit_moves" not in names  # a Counter is stored as name_total only
    assert "wattbit_reconcile_duration_seconds" not in names


def test_every_dashboard_query_names_only_exported_metrics() -> None:
    names = exported()
    unknown = {}
    for where, expr in queries():
        selected = metric_names(expr)
        assert selected, f"{where}: names no metric: {expr}"
        if selected - names:
            unknown[where] = sorted(selected - names)
    assert not unknown, f"queries name metrics the operator does not export: {unknown}"


def test_panel_ids_are_unique() -> None:
    ids = [panel["id"] for panel in dashboard()["panels"]]
    assert len(ids) == len(set(ids))
