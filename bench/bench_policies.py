"""Policy benchmark: every shipped scenario, every policy, against the offline optimum.

Runs `wattbit simulate`'s pass (same traces, same seeds) on each scenario and prints its table,
then one summary line per scenario against the targets of the decision-core issue:

- wattbit reaches at least 95 % of the optimum's saving (carbon-adjusted cost; the optimum's
  proven lower bound is the yardstick when its schedule is not proven optimal);
- zero deadline misses;
- wattbit beats every baseline on carbon-adjusted cost.

It reports what it measures; a target missed is printed as MISSED with the figure.

    .venv/bin/python bench/bench_policies.py [examples/scenarios/*.yaml] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

from wattbit.sim.report import PolicyRow, format_table
from wattbit.sim.run import run_scenario
from wattbit.sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
BASELINES = ("agnostic", "greenest-once", "threshold-wait", "lowest-window")
TARGET_FRACTION = 0.95


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenarios", nargs="*", type=Path)
    parser.add_argument("--json", type=Path, help="also write every report to this file")
    args = parser.parse_args()
    paths = args.scenarios or sorted((ROOT / "examples" / "scenarios").glob("*.yaml"))
    print(f"python {platform.python_version()}, {os.cpu_count()} CPUs")
    summaries: list[str] = []
    reports: list[dict[str, object]] = []
    for path in paths:
        scenario = load_scenario(path)
        started = time.perf_counter()
        outcome = run_scenario(
            scenario, progress=lambda message: print(f"  {message}", file=sys.stderr)
        )
        wall_s = time.perf_counter() - started
        print()
        print(format_table(outcome.report))
        rows = {row.name: row for row in outcome.report.rows}
        reports.append(outcome.report.to_json())
        summaries.extend(
            summarise(path.stem, rows[name], rows, wall_s)
            for name in ("wattbit", "wattbit-forecast-error")
        )
    print()
    print(
        f"{'scenario':<28} {'policy':<24} {'of optimum':>10} {'misses':>6} "
        f"{'beats baselines':>15}  verdict"
    )
    for line in summaries:
        print(line)
    if args.json:
        args.json.write_text(json.dumps(reports, indent=2), encoding="utf-8")
    return 0


def summarise(scenario: str, row: PolicyRow, rows: dict[str, PolicyRow], wall_s: float) -> str:
    fraction = row.fraction_of_optimum
    beats = all(row.adjusted_cost_jpy < rows[b].adjusted_cost_jpy for b in BASELINES)
    met = fraction is not None and fraction >= TARGET_FRACTION and row.deadline_misses == 0
    verdict = "met" if met and beats else "MISSED"
    shown = "-" if fraction is None else f"{100 * fraction:.1f}%"
    return (
        f"{scenario:<28} {row.name:<24} {shown:>10} {row.deadline_misses:>6} "
        f"{'yes' if beats else 'NO':>15}  {verdict} (pass took {wall_s:.0f} s)"
    )


if __name__ == "__main__":
    sys.exit(main())
