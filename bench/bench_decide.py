"""Decide time: one `core.planner.decide` call for 10,000 workloads x 30 regions x 48 slots.

The figure issue 11 asks for (target: under 1 s on the project machine). Thirty sites: three
in each of the ten areas of the embedded Japan-grid replay model (spring), each replaying its
area with its own seed and PUE, all linked by APN. Workloads are a seeded mix of pending (70 %)
and running (30 %) jobs of 1-16 GPUs, 1-72 h, with deadlines, as in `bench_core.py`; the sites
hold about twice the GPUs asked for (`ample`) or about 40 % of them (`tight`: the assignment
spills and holds). Prints every call's wall time, the median and the decisions' kinds.

    .venv/bin/python bench/bench_decide.py [--workloads 10000] [--sites-per-area 3] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import time
from datetime import datetime, timedelta, timezone

from wattbit.core.model import (
    Decision,
    Horizon,
    LinkSnapshot,
    Policy,
    RegionName,
    RegionSnapshot,
    WorkloadId,
    WorkloadSnapshot,
    WorkloadState,
)
from wattbit.core.planner import decide
from wattbit.core.replay import ReplaySettings, Season, forecast_points, replay_reading
from wattbit.sim.dataset import load_profiles

JST = timezone(timedelta(hours=9))
NOW = datetime(2025, 4, 8, 9, 0, tzinfo=JST)
SLOTS = 48
TARGET_S = 1.0


def regions(sites_per_area: int, gpus_per_site: int) -> list[RegionSnapshot]:
    """`sites_per_area` sites in each dataset area, each replaying it with its own seed."""
    out = []
    for area, profile in load_profiles().items():
        for site in range(sites_per_area):
            settings = ReplaySettings(
                seed=site + 1, season=Season.SPRING_WEEKDAY, forecast_horizon_hours=SLOTS
            )
            reading = replay_reading(profile, settings, NOW)
            points = forecast_points(profile, settings, NOW)
            out.append(
                RegionSnapshot(
                    name=RegionName(f"{area.lower()}-{site}"),
                    carbon_g_per_kwh=float(reading.carbon_g_per_kwh or 0.0),
                    price_jpy_per_kwh=float(reading.price_jpy_per_kwh or 0.0),
                    signal_observed_at=NOW,
                    carbon_forecast_g_per_kwh=tuple(
                        float(p.carbon_g_per_kwh or 0.0) for p in points
                    ),
                    price_forecast_jpy_per_kwh=tuple(
                        float(p.price_jpy_per_kwh or 0.0) for p in points
                    ),
                    free_gpus=(gpus_per_site,) * SLOTS,
                    pue=1.1 + 0.1 * site,
                )
            )
    return out


def links(names: list[RegionName]) -> list[LinkSnapshot]:
    """Every two sites linked (435 links for 30 sites)."""
    return [
        LinkSnapshot(from_region=a, to_region=b, latency_ms=5.0, bandwidth_gbps=100.0)
        for i, a in enumerate(names)
        for b in names[i + 1 :]
    ]


def workloads(count: int, names: list[RegionName], seed: int) -> list[WorkloadSnapshot]:
    # A seeded, reproducible workload mix, not security.
    rng = random.Random(seed)
    out = []
    for index in range(count):
        hours = rng.choice([1, 2, 4, 8, 24, 72])
        running = rng.random() < 0.3
        out.append(
            WorkloadSnapshot(
                workload_id=WorkloadId(f"w{index}"),
                gpus=rng.choice([1, 2, 4, 8, 16]),
                remaining_runtime_s=hours * 3600.0 * rng.uniform(0.2, 1.0),
                deadline=NOW + timedelta(hours=hours * rng.uniform(1.2, 3.0) + 1),
                state=WorkloadState.RUNNING if running else WorkloadState.PENDING,
                current_region=rng.choice(names) if running else None,
                home_region=rng.choice(names),
                checkpoint_size_gb=rng.choice([10.0, 100.0, 1000.0]),
                submitted_at=NOW,
            )
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", type=int, default=10_000)
    parser.add_argument("--sites-per-area", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--capacity", choices=["ample", "tight", "both"], default="both")
    args = parser.parse_args()
    count = args.workloads
    sites = args.sites_per_area * len(load_profiles())
    print(
        f"python {platform.python_version()}, {os.cpu_count()} CPUs; {count} workloads x "
        f"{sites} regions x {SLOTS} slots, default policy; target < {TARGET_S:g} s"
    )
    capacities = ["ample", "tight"] if args.capacity == "both" else [args.capacity]
    for capacity in capacities:
        asked = count * 6  # mean GPUs per workload is 6.2
        per_site = 2 * asked // sites if capacity == "ample" else max(64, 4 * asked // (10 * sites))
        region_list = regions(args.sites_per_area, per_site)
        names = [r.name for r in region_list]
        items = workloads(count, names, seed=count)
        link_list = links(names)
        horizon = Horizon(start=NOW, slot_s=3600.0, slot_count=SLOTS)
        timings: list[float] = []
        decisions: tuple[Decision, ...] = ()
        for _ in range(args.repeats):
            started = time.perf_counter()
            decisions = decide(
                regions=region_list,
                workloads=items,
                policy=Policy(),
                now=NOW,
                links=link_list,
                horizon=horizon,
            )
            timings.append(time.perf_counter() - started)
        kinds = [d.kind.value for d in decisions]
        median = statistics.median(timings)
        verdict = "met" if median < TARGET_S else "MISSED"
        print(
            f"{capacity:>6}: {per_site} GPUs per site; calls "
            f"{', '.join(f'{t:.2f}' for t in timings)} s; median {median:.2f} s ({verdict}); "
            f"{kinds.count('RunNow')} run now, {kinds.count('Wait')} wait, "
            f"{kinds.count('Move')} move, {kinds.count('Stay')} stay, {kinds.count('Hold')} hold"
        )


if __name__ == "__main__":
    main()
