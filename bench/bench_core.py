"""Decision-core throughput: one `decide` call for N workloads x 10 regions x 48 slots.

Prints the median wall time of a few calls per size and the time per workload, so the scaling
in workloads can be read off (target: 10,000 workloads under 1 s on the project machine,
near-linear growth). Signals are the embedded Japan-grid replay model's (spring, all ten
areas); workloads are a seeded mix of pending (70 %) and running (30 %) jobs, 1-16 GPUs each.

Two capacity settings: `ample` (every region could take a quarter of all the GPUs asked for:
most workloads get their first choice) and `tight` (the regions hold about 40 % of the GPUs
asked for: the assignment has to spill and hold, the slow path).

    .venv/bin/python bench/bench_core.py [--sizes 1000,2000,5000,10000,20000] [--repeats 5]
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


def regions(gpus_per_region: int) -> list[RegionSnapshot]:
    settings = ReplaySettings(seed=1, season=Season.SPRING_WEEKDAY, forecast_horizon_hours=SLOTS)
    out = []
    for area, profile in load_profiles().items():
        reading = replay_reading(profile, settings, NOW)
        points = forecast_points(profile, settings, NOW)
        out.append(
            RegionSnapshot(
                name=RegionName(area.lower()),
                carbon_g_per_kwh=float(reading.carbon_g_per_kwh or 0.0),
                price_jpy_per_kwh=float(reading.price_jpy_per_kwh or 0.0),
                signal_observed_at=NOW,
                carbon_forecast_g_per_kwh=tuple(float(p.carbon_g_per_kwh or 0.0) for p in points),
                price_forecast_jpy_per_kwh=tuple(float(p.price_jpy_per_kwh or 0.0) for p in points),
                free_gpus=(gpus_per_region,) * SLOTS,
                pue=1.2,
            )
        )
    return out


def links(names: list[RegionName]) -> list[LinkSnapshot]:
    return [
        LinkSnapshot(from_region=a, to_region=b, latency_ms=5.0, bandwidth_gbps=100.0)
        for i, a in enumerate(names)
        for b in names[i + 1 :]
    ]


def workloads(count: int, names: list[RegionName], seed: int) -> list[WorkloadSnapshot]:
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
    parser.add_argument("--sizes", default="1000,2000,5000,10000,20000")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--capacity", choices=["ample", "tight", "both"], default="both")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(
        f"python {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"{len(load_profiles())} regions x {SLOTS} slots"
    )
    print(
        f"{'capacity':>8} {'workloads':>10} {'median s':>9} {'min s':>7} {'us/workload':>12} "
        f"{'moves':>6} {'waits':>6} {'holds':>6}"
    )
    capacities = ["ample", "tight"] if args.capacity == "both" else [args.capacity]
    for capacity, size in [(c, n) for c in capacities for n in sizes]:
        per_region = size * 16 // 10 if capacity == "ample" else max(64, size // 4)
        region_list = regions(gpus_per_region=per_region)
        names = [r.name for r in region_list]
        items = workloads(size, names, seed=size)
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
                links=links(names),
                horizon=horizon,
            )
            timings.append(time.perf_counter() - started)
        kinds = [d.kind.value for d in decisions]
        median = statistics.median(timings)
        print(
            f"{capacity:>8} {size:>10} {median:>9.3f} {min(timings):>7.3f} "
            f"{1e6 * median / size:>12.1f} {kinds.count('Move'):>6} {kinds.count('Wait'):>6} "
            f"{kinds.count('Hold'):>6}"
        )


if __name__ == "__main__":
    main()
