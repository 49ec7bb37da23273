"""`wattbit simulate --json` can be checked from outside (docs/simulation-json.md).

Covers: on a small dataset-backed scenario in which wattbit moves a job twice (the greener
regions are full when it arrives), every policy's carbon, bill and carbon-adjusted cost, and
every job's, are re-priced from the JSON alone (its hourly signals, PUEs, schedules and moves)
with plain arithmetic written here, and agree with the reported figures within 0.1 %;
schedules respect the jobs' arrival and runtime.
Skips: the engine's own bookkeeping (test_sim_engine.py, test_accounting.py).
"""

from __future__ import annotations

import contextlib
import io
import json
import math
from pathlib import Path
from typing import Any

import pytest
import yaml

from wattbit.cli import main

SCENARIO = {
    "name": "moves",
    "start": "2025-04-07T00:00:00+09:00",
    "seed": 3,
    "regions": [
        {"name": "tokyo", "area": "JP-TK", "gpus": 64},
        {"name": "kyushu", "area": "JP-KY", "gpus": 64, "pue": 1.3},
        {"name": "hokkaido", "area": "JP-HKD", "gpus": 64, "power_cap_kw": 60},
    ],
    "links": [
        {"from": "tokyo", "to": "kyushu", "latency_ms": 6.8, "bandwidth_gbps": 100},
        {"from": "tokyo", "to": "hokkaido", "latency_ms": 5.9, "bandwidth_gbps": 100},
        {"from": "kyushu", "to": "hokkaido", "latency_ms": 10.5, "bandwidth_gbps": 100},
    ],
    "baselines": {"forecast_horizon_hours": 24},
    "jobs": {
        "list": [
            {
                "id": "long",
                "arrival_hour": 2,
                "runtime_hours": 30,
                "gpus": 64,
                "home": "tokyo",
                "deadline_hour": 33,
                "checkpoint_gb": 20,
            },
            {
                "id": "mid",
                "arrival_hour": 5,
                "runtime_hours": 12,
                "gpus": 32,
                "home": "tokyo",
                "deadline_hour": 20,
                "checkpoint_gb": 5,
                "checkpoint_interval_hours": 0,
            },
            {"id": "short", "arrival_hour": 8, "runtime_hours": 2, "gpus": 8, "home": "kyushu"},
            # Kyushu and Hokkaido are full for six hours: "long" starts in Tokyo, then moves.
            *(
                {
                    "id": f"busy-{region}",
                    "arrival_hour": 0,
                    "runtime_hours": 6,
                    "gpus": 64,
                    "home": region,
                    "deadline_hour": 6,
                    "allowed": [region],
                }
                for region in ("kyushu", "hokkaido")
            ),
        ]
    },
}


def _energy_by_hour(start_h: float, duration_h: float) -> list[tuple[int, float]]:
    """(hour index, hours of the stretch inside it): a stretch is split at hour boundaries."""
    parts = []
    end_h = start_h + duration_h
    hour = math.floor(start_h)
    while hour < end_h - 1e-12:
        overlap = min(end_h, hour + 1) - max(start_h, hour)
        if overlap > 0:
            parts.append((hour, overlap))
        hour += 1
    return parts


def reprice(document: dict[str, Any], job: dict[str, Any]) -> tuple[float, float]:
    """(carbon g, bill JPY) of one job from the JSON's signals and the job's schedule."""
    signals = document["signals"]
    carbon_g = cost_jpy = 0.0

    def stretch(item: dict[str, Any]) -> None:
        nonlocal carbon_g, cost_jpy
        region = item["region"]
        kw = job["gpus"] * item["power_kw_per_gpu"] * signals["pue"][region]
        for hour, hours in _energy_by_hour(item["start_hour"], item["duration_hours"]):
            energy_kwh = kw * hours
            carbon_g += energy_kwh * signals["carbon_g_per_kwh"][region][hour]
            cost_jpy += energy_kwh * signals["price_jpy_per_kwh"][region][hour]

    for interval in job["intervals"]:
        stretch(interval)
    for move in job["moves"]:
        hour = math.floor(move["at_hour"])
        carbon_g += move["transfer_energy_kwh"] * signals["carbon_g_per_kwh"][move["to"]][hour]
        cost_jpy += move["transfer_energy_kwh"] * signals["price_jpy_per_kwh"][move["to"]][hour]
        for idle in move["idle"]:
            stretch(idle)
    return carbon_g, cost_jpy


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    path: Path = tmp_path_factory.mktemp("json") / "moves.yaml"
    path.write_text(yaml.safe_dump(SCENARIO), encoding="utf-8")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["simulate", str(path), "--json", "--quiet"]) == 0
    loaded: dict[str, Any] = json.loads(printed.getvalue())
    return loaded


def test_every_policy_re_prices_from_the_json_alone(document: dict[str, Any]) -> None:
    price_per_g = document["carbon_price_jpy_per_tonne"] / 1e6
    moves = 0
    for policy in document["policies"]:
        carbon_g = cost_jpy = 0.0
        for job in policy["jobs"]:
            job_carbon_g, job_cost_jpy = reprice(document, job)
            assert job_carbon_g / 1000 == pytest.approx(job["carbon_kg"], rel=1e-3, abs=1e-6)
            assert job_cost_jpy == pytest.approx(job["cost_jpy"], rel=1e-3, abs=1e-6)
            carbon_g += job_carbon_g
            cost_jpy += job_cost_jpy
            moves += len(job["moves"])
        assert carbon_g / 1000 == pytest.approx(policy["carbon_kg"], rel=1e-3)
        assert cost_jpy == pytest.approx(policy["cost_jpy"], rel=1e-3)
        assert cost_jpy + carbon_g * price_per_g == pytest.approx(
            policy["adjusted_cost_jpy"], rel=1e-3
        )
    assert moves >= 2  # the move arithmetic is exercised


def test_schedules_run_each_job_for_its_runtime_after_arrival(document: dict[str, Any]) -> None:
    for policy in document["policies"]:
        for job in policy["jobs"]:
            worked_h = sum(i["duration_hours"] for i in job["intervals"])
            redone_h = sum(m["work_redone_hours"] for m in job["moves"])
            assert worked_h == pytest.approx(job["runtime_hours"] + redone_h)
            first = min(i["start_hour"] for i in job["intervals"])
            assert first >= job["arrival_hour"]
            if job["moves"]:
                assert {m["to"] for m in job["moves"]} <= set(document["regions"])
