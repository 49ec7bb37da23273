"""Bad scenarios end `wattbit simulate` with one line naming the field and exit code 2.

Covers, through the CLI's entry function (`wattbit.cli.main`), one bad scenario per row: the
start time, seasons, areas, unknown keys at every level, wrong types, ranges, whole hours,
deadlines, unknown regions, duplicate ids, a job larger than every region, a job over every
power cap, a latency bound nothing meets, generator ranges, replay noise, policy fields, CSV
files, YAML syntax and a missing file. Each must print exactly one line on stderr (no
traceback) that contains the expected words, and nothing on stdout.
Skips: valid scenarios (test_sim_scenario.py) and running policies (test_sim_run.py).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from wattbit.cli import main

Doc = dict[str, Any]

VALID: Doc = {
    "name": "bad",
    "start": "2025-04-07T00:00:00+09:00",
    "regions": [
        {"name": "tokyo", "area": "JP-TK", "gpus": 64},
        {"name": "kyushu", "area": "JP-KY", "gpus": 32, "power_cap_kw": 30},
    ],
    "links": [{"from": "tokyo", "to": "kyushu", "latency_ms": 6.8, "bandwidth_gbps": 100}],
    "jobs": {
        "list": [
            {"id": "a", "arrival_hour": 0, "runtime_hours": 3, "gpus": 8, "home": "tokyo"},
        ]
    },
}


def with_(path: str, value: Any) -> Callable[[Doc], None]:
    """Set `path` (dots and [i]) in the document."""

    def change(document: Doc) -> None:
        keys: list[Any] = []
        for part in path.replace("]", "").split("."):
            name, *indexes = part.split("[")
            keys.append(name)
            keys.extend(int(i) for i in indexes)
        target: Any = document
        for key in keys[:-1]:
            target = target.setdefault(key, {}) if isinstance(key, str) else target[key]
        target[keys[-1]] = value

    return change


def job(**fields: Any) -> Callable[[Doc], None]:
    """Replace the listed job's fields."""
    return with_("jobs.list[0]", VALID["jobs"]["list"][0] | fields)


CASES: list[tuple[str, Callable[[Doc], object], list[str]]] = [
    ("start-not-iso", with_("start", "next monday 9am"), ["start", "ISO 8601", "next monday"]),
    ("start-no-offset", with_("start", "2025-04-07T00:00:00"), ["start", "UTC offset"]),
    ("start-a-number", with_("start", 20250407), ["start", "ISO 8601"]),
    (
        "job-larger-than-every-region",
        job(gpus=512),
        ["jobs.list[0].gpus", "job a", "512 GPUs", "largest: tokyo, 64 GPUs"],
    ),
    (
        "job-larger-than-its-allowed-regions",
        job(gpus=48, allowed=["kyushu"]),
        ["jobs.list[0].gpus", "48 GPUs", "largest: kyushu, 32 GPUs"],
    ),
    (
        "job-over-every-power-cap",
        lambda d: (with_("regions[0].power_cap_kw", 10)(d), job(gpus=40)(d)),
        ["jobs.list[0].power_kw_per_gpu", "power cap", "tokyo needs"],
    ),
    (
        "unknown-season",
        with_("signals", {"season": "monsoon"}),
        ["signals.season", "monsoon", "spring_weekday", "winter_weekday"],
    ),
    ("unknown-area", with_("regions[1].area", "JP-XX"), ["regions[1].area", "JP-XX", "JP-KY"]),
    ("area-missing", with_("regions", [{"name": "tokyo", "gpus": 8}]), ["regions[0].area"]),
    ("unknown-top-key", with_("colour", "blue"), ["scenario", "colour", "known:"]),
    ("unknown-region-key", with_("regions[0].gpu", 8), ["regions[0]", "gpu", "known:"]),
    ("unknown-job-key", job(runtime=3), ["jobs.list[0]", "runtime", "runtime_hours"]),
    ("unknown-policy-key", with_("policy", {"carbon_price": 1}), ["policy", "carbon_price"]),
    ("unknown-noise-key", with_("signals", {"noise": {"floor_draw": False}}), ["floor_draws"]),
    ("noise-out-of-range", with_("signals", {"noise": {"price_sd_percent": 50}}), ["noise"]),
    ("noise-not-a-bool", with_("signals", {"noise": {"floor_draws": "maybe"}}), ["floor_draws"]),
    ("regions-empty", with_("regions", []), ["regions", "at least 1"]),
    ("regions-duplicate", with_("regions[1].name", "tokyo"), ["regions", "unique", "tokyo"]),
    ("gpus-not-a-number", with_("regions[0].gpus", "many"), ["regions[0].gpus", "whole number"]),
    ("gpus-zero", with_("regions[0].gpus", 0), ["regions[0].gpus", "at least 1"]),
    ("pue-below-one", with_("regions[0].pue", 0.9), ["regions[0].pue", "at least 1"]),
    ("cap-negative", with_("regions[1].power_cap_kw", -5), ["regions[1].power_cap_kw"]),
    ("link-unknown-region", with_("links[0].to", "osaka"), ["links[0].to", "osaka"]),
    ("link-to-itself", with_("links[0].to", "tokyo"), ["links[0]", "itself"]),
    ("link-no-bandwidth", with_("links[0].bandwidth_gbps", 0), ["links[0].bandwidth_gbps"]),
    (
        "link-missing-latency",
        with_("links", [{"from": "tokyo", "to": "kyushu", "bandwidth_gbps": 1}]),
        ["latency_ms", "required"],
    ),
    ("runtime-fractional", job(runtime_hours=2.5), ["runtime_hours", "whole number", "2.5"]),
    ("arrival-negative", job(arrival_hour=-1), ["arrival_hour", "at least 0"]),
    ("deadline-too-early", job(deadline_hour=2), ["deadline_hour", "before", "0 + 3"]),
    ("home-unknown", job(home="osaka"), ["jobs.list[0].home", "osaka", "tokyo, kyushu"]),
    ("allowed-unknown", job(allowed=["mars"]), ["jobs.list[0].allowed", "mars"]),
    ("allowed-empty", job(allowed=[]), ["jobs.list[0].allowed", "at least 1"]),
    (
        "latency-unreachable",
        job(max_latency_ms=1, allowed=["kyushu"]),
        ["max_latency_ms", "1 ms of tokyo"],
    ),
    (
        "duplicate-ids",
        lambda d: d["jobs"]["list"].append(VALID["jobs"]["list"][0] | {"arrival_hour": 1}),
        ["jobs.list[1].id", "'a'", "unique"],
    ),
    ("no-jobs", with_("jobs", {}), ["jobs", "no jobs"]),
    ("jobs-missing", lambda d: d.pop("jobs"), ["jobs", "required"]),
    ("source-unknown", with_("signals", {"source": "magic"}), ["signals.source", "dataset"]),
    ("csv-source-without-file", with_("signals", {"source": "csv"}), ["signals.csv", "required"]),
    (
        "forecast-error-too-big",
        with_("signals", {"forecast_error_percent": 150}),
        ["signals.forecast_error_percent", "at most 100"],
    ),
    ("seed-negative", with_("seed", -1), ["seed", "at least 0"]),
    (
        "policy-fraction-over-one",
        with_("policy", {"min_saving_fraction": 2}),
        ["policy.min_saving_fraction", "at most 1"],
    ),
    ("policy-moves-fractional", with_("policy", {"max_moves": 1.5}), ["policy.max_moves"]),
    ("optimum-no-iterations", with_("optimum", {"max_iterations": 0}), ["optimum.max_iterations"]),
    (
        "horizon-zero",
        with_("baselines", {"forecast_horizon_hours": 0}),
        ["baselines.forecast_horizon_hours"],
    ),
    (
        "generate-min-above-max",
        with_(
            "jobs",
            {
                "generate": {
                    "groups": [
                        {
                            "count": 2,
                            "runtime_hours": {"min": 5, "max": 2},
                            "gpus": 8,
                            "home": "tokyo",
                        }
                    ]
                }
            },
        ),
        ["jobs.generate.groups[0].runtime_hours", "min (5) is above max (2)"],
    ),
    (
        "generate-fractional-gpus",
        with_(
            "jobs",
            {
                "generate": {
                    "groups": [{"count": 2, "runtime_hours": 2, "gpus": [8, 2.5], "home": "tokyo"}]
                }
            },
        ),
        ["jobs.generate.groups[0].gpus", "whole numbers"],
    ),
    (
        "generate-unknown-home",
        with_(
            "jobs",
            {
                "generate": {
                    "groups": [
                        {"count": 2, "runtime_hours": 2, "gpus": 8, "home": ["tokyo", "osaka"]}
                    ]
                }
            },
        ),
        ["jobs.generate.groups[0]", "home", "osaka"],
    ),
    ("document-a-list", lambda d: None, ["scenario", "mapping"]),
]


def _run(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["simulate", str(path), "--no-optimum", "--quiet"])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _check(code: int, out: str, err: str, words: list[str]) -> None:
    assert code == 2, err
    assert out == ""
    assert "Traceback" not in err
    assert err.count("\n") == 1, err  # one line
    for word in words:
        assert word in err, f"{word!r} not in {err!r}"


@pytest.mark.parametrize(("change", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_bad_scenario_gets_one_line_naming_the_field(
    change: Callable[[Doc], object],
    words: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    document = copy.deepcopy(VALID)
    change(document)
    text = yaml.safe_dump(document if words != ["scenario", "mapping"] else [document])
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    _check(*_run(path, capsys), words)


@pytest.mark.parametrize(
    ("name", "text", "words"),
    [
        ("not-yaml", "name: [unclosed\n", ["not valid YAML", "line"]),
        ("empty-file", "", ["scenario", "mapping"]),
        ("csv-job-not-a-number", "jobs.csv", ["jobs.csv:2", "gpus", "whole number", "lots"]),
        ("csv-jobs-missing", "missing.csv", ["jobs.csv", "cannot read"]),
        ("csv-signals-missing", "signals", ["signals.csv", "cannot read"]),
    ],
)
def test_bad_files_get_one_line(
    name: str, text: str, words: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.yaml"
    if text.endswith(".csv"):
        (tmp_path / "jobs.csv").write_text(
            "id,arrival_hour,runtime_hours,gpus,home\nx,0,2,lots,tokyo\n"
        )
        document = copy.deepcopy(VALID) | {"jobs": {"csv": text}}
        text = yaml.safe_dump(document)
    elif text == "signals":
        document = copy.deepcopy(VALID) | {"signals": {"source": "csv", "csv": "nowhere.csv"}}
        document["regions"] = [{"name": "tokyo", "gpus": 64}, {"name": "kyushu", "gpus": 32}]
        text = yaml.safe_dump(document)
    path.write_text(text, encoding="utf-8")
    _check(*_run(path, capsys), words)


def test_a_missing_file_gets_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _check(*_run(tmp_path / "nowhere.yaml", capsys), ["nowhere.yaml", "cannot read"])
