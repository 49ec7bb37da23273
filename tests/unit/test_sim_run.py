"""One pass over all policies (wattbit.sim.run), the report and the ``wattbit simulate`` CLI.

Covers, on a tiny dataset-backed scenario (three jobs, two regions, one day): every policy
runs on the same trace; agnostic is the baseline; the JSON object has the documented keys;
the optimum is never beaten on carbon-adjusted cost by more than rounding; the table, CSV and
PNG outputs; CLI errors for a bad file and an unknown policy.
Skips: the shipped scenarios' figures (bench/bench_policies.py prints them).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from wattbit.cli import main
from wattbit.sim.report import format_table, to_csv
from wattbit.sim.run import POLICY_NAMES, run_scenario
from wattbit.sim.scenario import parse_scenario

DOCUMENT = {
    "name": "tiny",
    "start": "2025-04-07T06:00:00+09:00",
    "seed": 5,
    "regions": [
        {"name": "tokyo", "area": "JP-TK", "gpus": 32},
        {"name": "kyushu", "area": "JP-KY", "gpus": 16},
    ],
    "links": [{"from": "tokyo", "to": "kyushu", "latency_ms": 6.8, "bandwidth_gbps": 100}],
    "baselines": {"forecast_horizon_hours": 24},
    "jobs": {
        "list": [
            {
                "id": "a",
                "arrival_hour": 0,
                "runtime_hours": 3,
                "gpus": 8,
                "home": "tokyo",
                "deadline_hour": 12,
            },
            {
                "id": "b",
                "arrival_hour": 1,
                "runtime_hours": 2,
                "gpus": 16,
                "home": "tokyo",
                "deadline_hour": 9,
            },
            {
                "id": "c",
                "arrival_hour": 2,
                "runtime_hours": 6,
                "gpus": 8,
                "home": "tokyo",
                "deadline_hour": 20,
                "checkpoint_gb": 50,
            },
        ]
    },
}


@pytest.fixture
def scenario_file(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(DOCUMENT), encoding="utf-8")
    return path


def test_every_policy_runs_on_the_same_trace() -> None:
    outcome = run_scenario(parse_scenario(DOCUMENT, base_dir=Path(".")))
    rows = {row.name: row for row in outcome.report.rows}
    assert list(rows) == list(POLICY_NAMES)
    assert rows["agnostic"].carbon_reduction_percent == 0.0
    assert rows["agnostic"].fraction_of_optimum == 0.0
    optimum = rows["optimum"]
    for row in rows.values():
        assert row.deadline_misses == 0
        assert row.unfinished == 0
        assert row.adjusted_cost_jpy >= optimum.adjusted_cost_jpy * (1 - 1e-6) - 1e-6
    assert rows["wattbit"].adjusted_cost_jpy < rows["agnostic"].adjusted_cost_jpy
    assert outcome.optimum is not None
    assert outcome.optimum.lower_bound_jpy <= optimum.adjusted_cost_jpy + 1e-6
    assert "optimum: lower bound" in format_table(outcome.report)
    assert to_csv(outcome.report).splitlines()[0].startswith("name,carbon_kg,cost_jpy")


def test_cli_json_has_the_documented_keys(
    scenario_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["simulate", str(scenario_file), "--json", "--quiet"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["scenario"] == "tiny"
    names = [policy["name"] for policy in report["policies"]]
    assert names == list(POLICY_NAMES)
    for policy in report["policies"]:
        for key in (
            "carbon_kg",
            "cost_jpy",
            "fraction_of_optimum",
            "deadline_misses",
            "migrations",
        ):
            assert key in policy
    assert report["optimum"]["converged"] is True


def test_cli_table_csv_and_plot(
    scenario_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv_path, png_path = tmp_path / "out.csv", tmp_path / "out.png"
    code = main(
        [
            "simulate",
            str(scenario_file),
            "--policies",
            "agnostic,wattbit",
            "--csv",
            str(csv_path),
            "--plot",
            str(png_path),
        ]
    )
    assert code == 0
    captured = capsys.readouterr()
    assert "wattbit" in captured.out
    assert "running wattbit" in captured.err
    assert len(csv_path.read_text(encoding="utf-8").splitlines()) == 3
    assert png_path.read_bytes()[:4] == b"\x89PNG"


def test_cli_reports_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", str(tmp_path / "missing.yaml")]) == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text("regions: 3\n", encoding="utf-8")
    assert main(["simulate", str(bad)]) == 2
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump(DOCUMENT), encoding="utf-8")
    assert main(["simulate", str(good), "--policies", "magic", "--quiet"]) == 2
    assert "unknown policy" in capsys.readouterr().err
