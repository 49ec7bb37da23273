"""Generate scenarios: seeded weeks of sites, APN links, curtailment and a mix of AI jobs.

This module's one job is `generate_scenario`: from a season, a number of regions and of jobs
and a seed, a scenario document in the documented format (``docs/scenario-format.md``) that
`wattbit simulate` runs as it is. The same arguments give the same document, byte for byte.

What a generated week holds:

- a week from a Monday in the chosen season. For a season name (`spring`, `summer`, `autumn`,
  `winter`) the signals follow the calendar (`signals.season: calendar`): weekdays replay the
  season's weekday profile and the weekend its weekend/holiday profile. For a dataset profile
  (`summer_weekday`, ...) every day replays that one profile;

- sites in distinct grid areas of the embedded dataset (Tokyo always, as most work is submitted
  there), sized so the week's work uses about a third of all GPUs, with PUEs of 1.1-1.4; one
  green site (two from six sites on) under a facility power cap;
- an APN link between every two sites: one-way latency = great-circle distance x 1.5 route
  factor x 5 us/km (japan-grid.md §6), 100 or 400 Gbit/s;
- curtailment events on greener sites (the market at the 0.01 JPY/kWh floor, carbon down),
  on top of the dataset's own (Kyushu and Shikoku at spring noon);
- jobs from four families: fine-tunes (1-6 h, 8-32 GPUs, tight or loose deadlines), evaluations
  (1-4 h, mostly without deadline), day-long runs (12-30 h, 300-1,000 GB checkpoints) and
  multi-day pre-trains (48-120 h, 64-256 GPUs, 2.3-27 TB checkpoints), arriving on weekday
  working hours or at any hour.

Valid by construction: every job's home site holds it (GPUs and power), and its deadline is at
least when it would finish if run at its home site, queued first-come first-served behind the
jobs before it (a schedule that meets every deadline exists: that one). No policy tuning is
written: a generated scenario runs with the defaults users get.

WARNING: no simulation here and no I/O; the CLI writes the document.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from wattbit.core.replay import Season
from wattbit.sim.scenario import CALENDAR_SEASON

SEASON_STARTS: Final = {
    "spring": "2025-04-07T00:00:00+09:00",
    "summer": "2025-07-07T00:00:00+09:00",
    "autumn": "2025-10-06T00:00:00+09:00",
    "winter": "2025-01-13T00:00:00+09:00",
}
"""A Monday at JST midnight in each season (the week starts on a working day)."""

MAX_REGIONS: Final = 9
"""The mainland areas (Okinawa has no APN link to the mainland and no market price)."""


@dataclass(frozen=True, slots=True)
class _Area:
    area: str
    site: str
    latitude: float
    longitude: float
    green: bool
    """Surplus renewables (curtailment happens here)."""


_AREAS: Final = (
    _Area("JP-TK", "tokyo-inzai", 35.83, 140.15, green=False),
    _Area("JP-KN", "kansai-osaka", 34.69, 135.50, green=False),
    _Area("JP-KY", "kyushu-itoshima", 33.56, 130.20, green=True),
    _Area("JP-HKD", "hokkaido-tomakomai", 42.63, 141.60, green=True),
    _Area("JP-TH", "tohoku-sendai", 38.27, 140.87, green=True),
    _Area("JP-SK", "shikoku-takamatsu", 34.34, 134.05, green=True),
    _Area("JP-CB", "chubu-nagoya", 35.18, 136.91, green=False),
    _Area("JP-HR", "hokuriku-kanazawa", 36.56, 136.66, green=True),
    _Area("JP-CG", "chugoku-hiroshima", 34.39, 132.46, green=False),
)
"""Candidate sites: Tokyo first (always chosen), then by how often they host AI sites."""

_ROUTE_FACTOR: Final = 1.5
_FIBRE_MS_PER_KM: Final = 0.005
_EARTH_RADIUS_KM: Final = 6371.0
_TARGET_UTILISATION: Final = 0.33
"""Share of all GPU-hours of the arrival window the jobs use: room to shift, and to queue."""
_ARRIVALS_UNTIL_H: Final = 120
"""Jobs arrive over five days; the simulated week runs until the last deadline."""


@dataclass(frozen=True, slots=True)
class _Family:
    name: str
    share: float
    runtime_h: tuple[int, int]
    gpus: tuple[int, ...]
    checkpoint_gb: tuple[float, float]
    tight_slack_h: tuple[int, int]
    loose_slack_h: tuple[int, int]
    tight_share: float
    no_deadline_share: float
    workday: bool


_FAMILIES: Final = (
    _Family("finetune", 0.45, (1, 6), (8, 16, 32), (20, 200), (0, 4), (12, 48), 0.5, 0.1, True),
    _Family("eval", 0.2, (1, 4), (8, 16), (5, 50), (2, 6), (24, 72), 0.2, 0.5, True),
    _Family("day", 0.25, (12, 30), (32, 64), (300, 1000), (2, 8), (24, 60), 0.4, 0.0, False),
    _Family("pretrain", 0.1, (48, 120), (64, 128, 256), (2300, 27000), (6, 18), (36, 96), 0.5,
            0.0, False),
)  # fmt: skip


def seasons() -> tuple[str, ...]:
    """The seasons of the year: a generated week in one follows the calendar."""
    return tuple(SEASON_STARTS)


def season_choices() -> tuple[str, ...]:
    """What `--season` accepts: a season of the year, or one dataset profile for every day
    (`wattbit.core.replay.Season`)."""
    return (*seasons(), *(season.value for season in Season))


def _start_of(season: str) -> str:
    for prefix, start in SEASON_STARTS.items():
        if season.startswith(prefix):
            return start
    return SEASON_STARTS["spring"]


def _latency_ms(a: _Area, b: _Area) -> float:
    lat1, lat2 = math.radians(a.latitude), math.radians(b.latitude)
    dlat, dlon = lat2 - lat1, math.radians(b.longitude - a.longitude)
    haversine = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
    km = 2 * _EARTH_RADIUS_KM * math.asin(math.sqrt(haversine))
    return round(km * _ROUTE_FACTOR * _FIBRE_MS_PER_KM, 1)


def _arrival(rng: random.Random, workday: bool) -> int:
    if not workday:
        return rng.randint(0, _ARRIVALS_UNTIL_H)
    # Weekdays 09:00-17:59 JST: the week starts on a Monday at JST midnight.
    return rng.randrange(_ARRIVALS_UNTIL_H // 24) * 24 + rng.randint(9, 17)


def _jobs(rng: random.Random, count: int) -> list[dict[str, Any]]:
    """Draw the jobs (without homes and deadlines' final form)."""
    jobs: list[dict[str, Any]] = []
    counts = [max(1, round(family.share * count)) for family in _FAMILIES]
    while sum(counts) > count and max(counts) > 1:
        counts[counts.index(max(counts))] -= 1
    while sum(counts) < count:
        counts[0] += 1
    for family, number in zip(_FAMILIES, counts, strict=True):
        for index in range(number):
            runtime = rng.randint(*family.runtime_h)
            low, high = family.checkpoint_gb
            job: dict[str, Any] = {
                "id": f"{family.name}-{index:03d}",
                "arrival_hour": _arrival(rng, family.workday),
                "runtime_hours": runtime,
                "gpus": rng.choice(family.gpus),
                "checkpoint_gb": round(rng.uniform(low, high), 1),
            }
            if rng.random() >= family.no_deadline_share:
                tight = rng.random() < family.tight_share
                job["slack"] = rng.randint(
                    *(family.tight_slack_h if tight else family.loose_slack_h)
                )
            jobs.append(job)
    jobs.sort(key=lambda job: (job["arrival_hour"], job["id"]))
    return jobs


def _regions(
    rng: random.Random, count: int, jobs: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    areas = [_AREAS[0], *rng.sample(_AREAS[1:], count - 1)]
    gpu_hours = sum(job["gpus"] * job["runtime_hours"] for job in jobs)
    total = gpu_hours / (_ARRIVALS_UNTIL_H * _TARGET_UTILISATION)
    largest_job = max(job["gpus"] for job in jobs)
    weights = [2.0 if area.area == "JP-TK" else rng.uniform(0.4, 1.2) for area in areas]
    regions: list[dict[str, Any]] = []
    for area, weight in zip(areas, weights, strict=True):
        share = total * weight / sum(weights)
        gpus = max(64, 64 * math.ceil(share / 64))
        if area.area == "JP-TK":
            gpus = max(gpus, 64 * math.ceil(largest_job * 2 / 64))
        regions.append(
            {
                "name": area.site,
                "area": area.area,
                "gpus": int(gpus),
                "pue": round(rng.uniform(1.1, 1.4), 2),
            }
        )
    green = [index for index, area in enumerate(areas) if area.green]
    for index in rng.sample(green, min(len(green), 1 if count < 6 else 2)):
        region = regions[index]
        full_kw = region["gpus"] * 0.7 * region["pue"]
        region["power_cap_kw"] = round(full_kw * rng.uniform(0.5, 0.8))
    return regions


def _links(rng: random.Random, regions: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    by_area = {area.area: area for area in _AREAS}
    return [
        {
            "from": a["name"],
            "to": b["name"],
            "latency_ms": _latency_ms(by_area[a["area"]], by_area[b["area"]]),
            "bandwidth_gbps": rng.choice((100, 100, 400)),
        }
        for first, a in enumerate(regions)
        for b in regions[first + 1 :]
    ]


def _curtailment(
    rng: random.Random, regions: Sequence[dict[str, Any]], hours: int
) -> list[dict[str, Any]]:
    by_area = {area.area: area for area in _AREAS}
    green = [region["name"] for region in regions if by_area[region["area"]].green]
    events = []
    for _ in range(rng.randint(1, 3) if green else 0):
        day = rng.randrange(max(1, hours // 24))
        # Solar surplus around noon, or wind at night.
        first = day * 24 + (rng.randint(10, 13) if rng.random() < 0.7 else rng.randint(0, 3))
        events.append(
            {
                "region": rng.choice(green),
                "from_hour": first,
                "hours": rng.randint(2, 6),
                "carbon_factor": round(rng.uniform(0.5, 0.8), 2),
            }
        )
    events.sort(key=lambda event: (event["from_hour"], event["region"]))
    return events


def _home_and_deadline(
    rng: random.Random, jobs: list[dict[str, Any]], regions: Sequence[dict[str, Any]]
) -> None:
    """Give each job a home that holds it and a deadline it meets there, queued first-come
    first-served behind the jobs before it (the witness that every deadline can be met)."""
    homes = [r for r in regions if "power_cap_kw" not in r]
    weights = [4.0 if r["area"] == "JP-TK" else 1.0 for r in homes]
    used: dict[str, defaultdict[int, int]] = {r["name"]: defaultdict(int) for r in homes}
    for job in jobs:
        fits = [(r, w) for r, w in zip(homes, weights, strict=True) if r["gpus"] >= job["gpus"]]
        home = rng.choices([r for r, _ in fits], weights=[w for _, w in fits])[0]
        job["home"] = home["name"]
        timeline = used[home["name"]]
        start = job["arrival_hour"]
        while any(
            timeline[hour] + job["gpus"] > home["gpus"]
            for hour in range(start, start + job["runtime_hours"])
        ):
            start += 1
        for hour in range(start, start + job["runtime_hours"]):
            timeline[hour] += job["gpus"]
        finish = start + job["runtime_hours"]
        slack = job.pop("slack", None)
        if slack is not None:
            job["deadline_hour"] = max(job["arrival_hour"] + job["runtime_hours"] + slack, finish)


def generate_scenario(*, season: str, regions: int, jobs: int, seed: int) -> dict[str, Any]:
    """A scenario document (see the module docstring); raise ValueError on bad arguments."""
    if season not in season_choices():
        raise ValueError(f"season: unknown {season!r}; valid: {', '.join(season_choices())}")
    if not 2 <= regions <= MAX_REGIONS:
        raise ValueError(f"regions: must be within 2..{MAX_REGIONS}, got {regions}")
    if not 1 <= jobs <= 5000:
        raise ValueError(f"jobs: must be within 1..5000, got {jobs}")
    if seed < 0:
        raise ValueError(f"seed: must be at least 0, got {seed}")
    # A seeded, reproducible scenario, not security: random.Random is the right tool.
    rng = random.Random(f"{season}/{regions}/{jobs}/{seed}")  # noqa: S311
    job_list = _jobs(rng, jobs)
    region_list = _regions(rng, regions, job_list)
    links = _links(rng, region_list)
    _home_and_deadline(rng, job_list, region_list)
    events = _curtailment(rng, region_list, _ARRIVALS_UNTIL_H + 48)
    start = datetime.fromisoformat(_start_of(season))
    name = f"generated-{season}-r{regions}-j{jobs}-s{seed}"
    return {
        "name": name,
        "description": (
            f"Generated by `wattbit scenario generate --season {season} --regions {regions} "
            f"--jobs {jobs} --seed {seed}`: {len(job_list)} jobs (fine-tunes, evaluations, "
            f"day-long runs, pre-trains) over {regions} sites from "
            f"{start:%Y-%m-%d} ({start:%A}), {len(events)} curtailment event(s); "
            "policy defaults."
        ),
        "start": start.isoformat(),
        "seed": seed,
        "signals": {
            "source": "dataset",
            "season": CALENDAR_SEASON if season in seasons() else season,
            "curtailment": events,
        },
        "regions": region_list,
        "links": links,
        "jobs": {"list": job_list},
    }
