"""The scenario generator (wattbit.sim.generator) and ``wattbit scenario generate``.

Covers: the same arguments give the same file byte for byte, another seed another scenario;
generated scenarios across every season and 2-9 sites parse as documented and are valid by
construction (every job's home site holds it; a schedule meeting every deadline exists: each
job at home, reserved first-come first-served, rebuilt here independently); the mix holds
fine-tunes to multi-day pre-trains, tight, loose and no deadlines, multi-TB checkpoints, a
power cap and curtailment events; no policy tuning is written; curtailment events reach the
trace; bad arguments exit 2 with one line.
Skips: running policies on them (bench/bench_policies.py reports the figures).
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
import yaml

from wattbit.cli import main
from wattbit.core.replay import JST, Season, season_for_date
from wattbit.sim.generator import generate_scenario, season_choices, seasons
from wattbit.sim.scenario import CALENDAR_SEASON, Scenario, load_scenario, parse_scenario
from wattbit.sim.traces import build_trace

CASES = [
    (season, regions, seed)
    for (season, regions), seed in zip(
        itertools.product(seasons(), (2, 3, 5, 6, 9)), itertools.count(1), strict=False
    )
]


def _generate(tmp_path: Path, name: str, *args: str) -> str:
    out = tmp_path / name
    assert main(["scenario", "generate", *args, "--out", str(out)]) == 0
    return out.read_text(encoding="utf-8")


def test_the_same_arguments_give_the_same_file(tmp_path: Path) -> None:
    args = ("--season", seasons()[0], "--regions", "5", "--jobs", "30", "--seed", "7")
    first = _generate(tmp_path, "a.yaml", *args)
    assert first == _generate(tmp_path, "b.yaml", *args)
    other = _generate(tmp_path, "c.yaml", *args[:-1], "8")
    assert other != first
    scenario = load_scenario(tmp_path / "a.yaml")
    assert len(scenario.jobs) == 30
    assert len(scenario.regions) == 5


def _feasible_at_home(scenario: Scenario) -> list[str]:
    """Jobs whose deadline a first-come first-served reservation at home misses."""
    regions = {region.name: region for region in scenario.regions}
    used: dict[str, defaultdict[int, int]] = defaultdict(lambda: defaultdict(int))
    late = []
    for job in sorted(scenario.jobs, key=lambda j: (j.arrival_h, j.job_id)):
        home = regions[job.home]
        assert job.gpus <= home.gpus
        assert home.power_cap_kw is None or (
            job.gpus * job.power_kw_per_gpu * home.pue <= home.power_cap_kw
        )
        start = job.arrival_h
        hours = range(job.runtime_h)
        while any(used[home.name][start + h] + job.gpus > home.gpus for h in hours):
            start += 1
        for h in hours:
            used[home.name][start + h] += job.gpus
        if job.deadline_h is not None and start + job.runtime_h > job.deadline_h:
            late.append(job.job_id)
    return late


@pytest.mark.parametrize(("season", "regions", "seed"), CASES)
def test_generated_scenarios_are_valid_by_construction(
    season: str, regions: int, seed: int
) -> None:
    document = generate_scenario(season=season, regions=regions, jobs=60, seed=seed)
    assert "policy" not in document  # users' defaults
    scenario = parse_scenario(yaml.safe_load(yaml.safe_dump(document)), base_dir=Path("."))
    assert scenario.signals.season == CALENDAR_SEASON
    start = scenario.start.astimezone(JST).date()
    assert season_for_date(start) is Season(f"{season}_weekday")  # a Monday in that season
    assert len(scenario.regions) == regions
    assert len({region.area for region in scenario.regions}) == regions
    assert len(scenario.links) == regions * (regions - 1) // 2
    assert _feasible_at_home(scenario) == []


def test_a_week_follows_the_calendar_or_one_fixed_profile() -> None:
    calendar = parse_scenario(
        generate_scenario(season="summer", regions=3, jobs=10, seed=2), base_dir=Path(".")
    )
    fixed = parse_scenario(
        generate_scenario(season="summer_weekday", regions=3, jobs=10, seed=2), base_dir=Path(".")
    )
    assert calendar.start == fixed.start  # the same Monday in July
    assert fixed.signals.season == "summer_weekday"
    assert set(season_choices()) == {*seasons(), *(season.value for season in Season)}
    # The calendar week's Saturday (hours 120-143) replays summer_weekend, which is cheaper.
    saturday = slice(5 * 24, 6 * 24)
    calendar_price = build_trace(calendar).price_jpy_per_kwh[:, saturday].mean()
    assert calendar_price < build_trace(fixed).price_jpy_per_kwh[:, saturday].mean()


def test_the_mix_spans_small_fine_tunes_to_multi_day_pre_trains() -> None:
    jobs: list[dict[str, Any]] = []
    caps = events = 0
    for seed in range(1, 6):
        document = generate_scenario(season=seasons()[0], regions=5, jobs=60, seed=seed)
        jobs.extend(document["jobs"]["list"])
        caps += sum("power_cap_kw" in region for region in document["regions"])
        events += len(document["signals"]["curtailment"])
        assert caps >= 1
    runtimes = [job["runtime_hours"] for job in jobs]
    assert min(runtimes) <= 2
    assert max(runtimes) >= 72
    slack = [
        job["deadline_hour"] - job["arrival_hour"] - job["runtime_hours"]
        for job in jobs
        if "deadline_hour" in job
    ]
    assert min(slack) <= 2
    assert max(slack) >= 48
    assert any("deadline_hour" not in job for job in jobs)
    assert max(job["checkpoint_gb"] for job in jobs) >= 6500
    assert min(job["gpus"] for job in jobs) == 8
    assert max(job["gpus"] for job in jobs) >= 128
    assert events >= 5


def test_curtailment_events_reach_the_trace() -> None:
    document = generate_scenario(season=seasons()[-1], regions=4, jobs=10, seed=3)
    event = document["signals"]["curtailment"][0]
    scenario = parse_scenario(document, base_dir=Path("."))
    without = parse_scenario(
        document | {"signals": {"season": document["signals"]["season"]}}, base_dir=Path(".")
    )
    row = scenario.region_names.index(event["region"])
    hour = event["from_hour"]
    trace, plain = build_trace(scenario), build_trace(without)
    assert trace.price_jpy_per_kwh[row, hour] == 0.01
    assert trace.curtailment[row, hour]
    assert trace.carbon_g_per_kwh[row, hour] == pytest.approx(
        plain.carbon_g_per_kwh[row, hour] * event["carbon_factor"]
    )


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--season", seasons()[0], "--regions", "12"], ["regions", "2..9"]),
        (["--season", seasons()[0], "--jobs", "0"], ["jobs"]),
        (["--season", seasons()[0], "--seed", "-1"], ["seed"]),
    ],
)
def test_bad_arguments_exit_2_with_one_line(
    args: list[str], words: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["scenario", "generate", *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    for word in words:
        assert word in err


def test_an_unknown_season_is_refused_with_the_valid_ones(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["scenario", "generate", "--season", "monsoon"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert all(season in err for season in seasons())
