"""The ``wattbit`` command line: tools around the operator (``simulate``, ``scenario generate``).

This module's one job is argument parsing and output. Each subcommand is a small function
registered in `_SUBCOMMANDS`; add one by writing ``_add_<name>(subparsers)`` and its handler.

    wattbit simulate examples/scenarios/spring-kyushu-curtailment.yaml [--json] [--csv F] [--plot F]
    wattbit scenario generate --season summer --regions 5 --jobs 60 --seed 1 [--out F]

WARNING: no decisions or simulation logic here; it calls `wattbit.sim` and prints.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import yaml

from wattbit.sim.generator import MAX_REGIONS, generate_scenario, season_choices
from wattbit.sim.report import format_table, to_csv, to_json_text
from wattbit.sim.run import POLICY_NAMES, run_scenario
from wattbit.sim.scenario import ScenarioError, load_scenario

Handler = Callable[[argparse.Namespace], int]


@contextlib.contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """Send file descriptor 1 to stderr: the HiGHS C++ library can print to stdout directly,
    which would corrupt `--json` output."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def _simulate(args: argparse.Namespace) -> int:
    try:
        scenario = load_scenario(Path(args.scenario))
    except ScenarioError as error:
        print(f"wattbit simulate: {error}", file=sys.stderr)
        return 2
    policies = POLICY_NAMES if not args.policies else tuple(args.policies.split(","))
    if args.no_optimum:
        policies = tuple(p for p in policies if p != "optimum")

    def progress(message: str) -> None:
        if not args.quiet:
            print(message, file=sys.stderr, flush=True)

    try:
        with _stdout_to_stderr():
            outcome = run_scenario(scenario, policies=policies, progress=progress)
    except (ValueError, ScenarioError) as error:
        print(f"wattbit simulate: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(to_json_text(outcome.report))
    else:
        print(format_table(outcome.report))
    if args.csv:
        Path(args.csv).write_text(to_csv(outcome.report), encoding="utf-8")
    if args.plot:
        try:
            from wattbit.sim.plot import plot_outcome  # noqa: PLC0415 - needs the plot extra

            plot_outcome(scenario, outcome, Path(args.plot))
        except ImportError:
            print(
                "wattbit simulate: --plot needs matplotlib (pip install 'wattbit[plot]')",
                file=sys.stderr,
            )
            return 1
    return 0


def _add_simulate(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> Handler:
    parser = subparsers.add_parser(
        "simulate",
        help="replay a scenario and compare placement policies",
        description=(
            "Run every policy (carbon-agnostic, greenest region once, threshold wait, "
            "lowest-carbon window, wattbit, wattbit with forecast error, offline optimum) "
            "on the same signal and job traces and print one comparison table. "
            "Scenario format: docs/scenario-format.md."
        ),
    )
    parser.add_argument("scenario", help="scenario YAML file")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead")
    parser.add_argument("--csv", metavar="FILE", help="also write the table as CSV")
    parser.add_argument("--plot", metavar="FILE", help="also draw signals and placements (PNG)")
    parser.add_argument(
        "--policies",
        metavar="LIST",
        help=f"comma-separated subset of: {','.join(POLICY_NAMES)} (agnostic always runs)",
    )
    parser.add_argument(
        "--no-optimum", action="store_true", help="skip the offline optimum (fast; no fraction)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    return _simulate


class _FlowDumper(yaml.SafeDumper):
    """Block style for sections, one line per region, link, event and job."""


def _scenario_generate(args: argparse.Namespace) -> int:
    try:
        document = generate_scenario(
            season=args.season, regions=args.regions, jobs=args.jobs, seed=args.seed
        )
    except ValueError as error:
        print(f"wattbit scenario generate: {error}", file=sys.stderr)
        return 2
    body = yaml.dump(
        document, Dumper=_FlowDumper, sort_keys=False, default_flow_style=None, width=100
    )
    text = (
        f"# {document['description']}\n"
        "# Format: docs/scenario-format.md. Run: wattbit simulate FILE\n" + body
    )
    if args.out:
        try:
            Path(args.out).write_text(text, encoding="utf-8")
        except OSError as error:
            print(f"wattbit scenario generate: --out: {error}", file=sys.stderr)
            return 2
    else:
        sys.stdout.write(text)
    return 0


def _add_scenario(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> Handler:
    parser = subparsers.add_parser("scenario", help="work with scenario files")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    generate = actions.add_parser(
        "generate",
        help="write a generated scenario (seeded, valid by construction)",
        description=(
            "Write a scenario in the documented format: sites in distinct grid areas linked "
            "by APN, power caps, curtailment events, and jobs from small fine-tunes to "
            "multi-day pre-trains with tight and loose deadlines. The same arguments give the "
            "same file. No policy tuning is written: users' defaults apply."
        ),
    )
    generate.add_argument("--season", required=True, choices=season_choices())
    generate.add_argument(
        "--regions", type=int, default=5, help=f"sites, 2..{MAX_REGIONS} (default 5)"
    )
    generate.add_argument("--jobs", type=int, default=60, help="jobs (default 60)")
    generate.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    generate.add_argument("--out", metavar="FILE", help="write here instead of stdout")
    return _scenario_generate


_SUBCOMMANDS = (_add_simulate, _add_scenario)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``wattbit`` console script."""
    parser = argparse.ArgumentParser(
        prog="wattbit", description="Tools for wattbit, the carbon- and price-aware placer."
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    handlers: dict[str, Handler] = {}
    for add in _SUBCOMMANDS:
        handler = add(subparsers)
        handlers[next(reversed(subparsers.choices))] = handler
    args = parser.parse_args(argv)
    return handlers[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
