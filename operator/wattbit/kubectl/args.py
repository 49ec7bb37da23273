"""Argument parsing: kubectl's global flags and one subparser per command.

The global flags (``-n``, ``-A``, ``--context``, ``--kubeconfig``, ``-o``) are accepted before
or after the command, as kubectl accepts them. Any mistake raises `UsageError` (exit 2) with
a one-line message instead of argparse's usage text and `SystemExit`.

WARNING: parsing only; nothing here reads the cluster or the clock.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import NoReturn

from wattbit.kubectl.errors import UsageError

PROG = "kubectl wattbit"
COMMANDS = ("regions", "explain", "plan", "list", "receipt")
_NAME = re.compile(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?")
_KINDS = {
    "job": "Job",
    "jobs": "Job",
    "job.batch": "Job",
    "jobs.batch": "Job",
    "pod": "Pod",
    "pods": "Pod",
    "po": "Pod",
    "jobset": "JobSet",
    "jobsets": "JobSet",
    "jobset.jobset.x-k8s.io": "JobSet",
    "jobsets.jobset.x-k8s.io": "JobSet",
    "trainjob": "TrainJob",
    "trainjobs": "TrainJob",
    "trainjob.trainer.kubeflow.org": "TrainJob",
    "trainjobs.trainer.kubeflow.org": "TrainJob",
}
_GLOBAL_DEFAULTS = {
    "namespace": None,
    "all_namespaces": False,
    "context": None,
    "kubeconfig": None,
    "output": None,
}


class Output(StrEnum):
    """``-o``: the default (None) is a table."""

    WIDE = "wide"
    JSON = "json"
    YAML = "yaml"


@dataclass(frozen=True, slots=True)
class WorkloadRef:
    """A workload as named on the command line: ``job/NAME``, ``pod/NAME`` or ``NAME``."""

    kind: str | None
    """``Job``, ``Pod``, ``JobSet`` or ``TrainJob``; None for a bare name (a Job first, then a
    Pod)."""
    name: str


def parse_workload_ref(text: str) -> WorkloadRef:
    """``job/NAME``, ``pod/NAME`` (kubectl's spellings: ``jobs``, ``job.batch``, ``po``, ...) or
    a bare ``NAME``; raises UsageError naming what is wrong."""
    kind_text, slash, name = text.partition("/")
    if not slash:
        kind_text, name = "", text
    kind = None
    if slash:
        kind = _KINDS.get(kind_text.lower())
        if kind is None:
            raise UsageError(
                f"workload {text!r}: kind {kind_text!r} is not a Job, Pod, JobSet or TrainJob "
                "(use job/NAME, pod/NAME, jobset/NAME, trainjob/NAME or NAME)"
            )
    if not name or len(name) > 253 or not _NAME.fullmatch(name):
        raise UsageError(f"workload {text!r}: {name!r} is not a valid object name")
    return WorkloadRef(kind=kind, name=name)


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser that raises UsageError instead of printing usage and exiting."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _add_globals(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    # In the subparsers the defaults are suppressed, so that a flag given before the command
    # is not overwritten by the subparser's default; `parse` fills in the defaults after.
    def default(name: str) -> object:
        return argparse.SUPPRESS if suppress else _GLOBAL_DEFAULTS[name]

    group = parser.add_argument_group("kubectl flags")
    group.add_argument(
        "-n", "--namespace", default=default("namespace"), help="namespace (default: context's)"
    )
    group.add_argument(
        "-A",
        "--all-namespaces",
        action="store_true",
        default=default("all_namespaces"),
        help="every namespace (list)",
    )
    group.add_argument("--context", default=default("context"), help="kubeconfig context")
    group.add_argument("--kubeconfig", default=default("kubeconfig"), help="kubeconfig file")
    group.add_argument(
        "-o",
        "--output",
        choices=[o.value for o in Output],
        default=default("output"),
        help="wide, json or yaml (default: a table)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="What wattbit decided, where and why: regions, workloads, plans, receipts.",
    )
    _add_globals(parser, suppress=False)
    commands = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True, parser_class=_Parser
    )

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        _add_globals(sub, suppress=True)
        return sub

    command("regions", "each Region's signals, freshness, free GPUs and 48 h forecast")
    explain = command("explain", "a workload's chain: workload, record, decision, region, Events")
    explain.add_argument(
        "workload",
        metavar="WORKLOAD",
        help="job/NAME, pod/NAME, jobset/NAME, trainjob/NAME or NAME",
    )
    plan = command("plan", "where and when a described job would run now, and why (no writes)")
    plan.add_argument("--gpus", type=_positive_int, required=True, metavar="N", help="GPUs")
    plan.add_argument(
        "--duration", required=True, metavar="D", help="expected run time: 90m, 2h30m, 3600"
    )
    plan.add_argument(
        "--deadline", metavar="T", help="finish by: RFC 3339 time, or a duration from now (36h)"
    )
    plan.add_argument(
        "--checkpoint-size", metavar="S", help="checkpoint size, a quantity: 40Gi, 2T"
    )
    plan.add_argument(
        "--policy", metavar="NAME", help="PlacementPolicy (default: the namespace's default)"
    )
    plan.add_argument(
        "--parallelism",
        type=_positive_int,
        default=1,
        metavar="P",
        help="pods the GPUs are split over (default 1)",
    )
    listing = command("list", "every managed workload: region, state, reason, kgCO2, saving")
    listing.add_argument("--for", dest="for_region", metavar="REGION", help="only this region")
    listing.add_argument("--policy", metavar="NAME", help="only workloads under this policy")
    receipt = command("receipt", "a workload's hour-by-hour ledger, totals and counterfactual")
    receipt.add_argument(
        "workload",
        metavar="WORKLOAD",
        help="job/NAME, pod/NAME, jobset/NAME, trainjob/NAME or NAME",
    )
    receipt.add_argument("--csv", action="store_true", help="the hourly ledger as CSV")
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def parse(argv: Sequence[str]) -> argparse.Namespace:
    """The parsed command line; raises UsageError (exit 2) for any mistake."""
    args = build_parser().parse_args(list(argv))
    for name, value in _GLOBAL_DEFAULTS.items():
        if not hasattr(args, name):
            setattr(args, name, value)
    if args.output is not None:
        args.output = Output(args.output)
    if args.all_namespaces and args.namespace:
        raise UsageError("-A/--all-namespaces and -n/--namespace cannot be used together")
    if args.all_namespaces and args.command != "list":
        raise UsageError(f"-A/--all-namespaces does not apply to {args.command}; use -n")
    if args.command in ("explain", "receipt"):
        args.workload = parse_workload_ref(args.workload)
    if args.command == "receipt" and args.csv and args.output is not None:
        raise UsageError("--csv and -o cannot be used together")
    return args
