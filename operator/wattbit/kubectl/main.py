"""Entry point of ``kubectl-wattbit``: parse, connect, run one command, print, exit.

Exit codes follow kubectl: 0 on success, 1 when the object named does not exist or the API
server fails, 2 on bad usage. Every failure is one line on stderr (``error: ...``), never a
traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime

from wattbit.kubectl.args import parse
from wattbit.kubectl.cluster import Cluster, Reader, Target, context_namespace
from wattbit.kubectl.errors import PluginError
from wattbit.kubectl.output import Reply


def dispatch(args: argparse.Namespace, reader: Reader, now: datetime) -> Reply:
    """Run the parsed command against a reader (a live cluster, or a fake in tests).

    Each command's module is imported only when it runs: the planner and its numerical
    libraries take most of a second to import, which `regions` or `list` need not pay.
    """
    # ruff: noqa: PLC0415 - deferred imports, see above
    output = args.output
    if args.command == "regions":
        from wattbit.kubectl import regions

        return regions.run(reader, output=output, now=now)
    if args.command == "explain":
        from wattbit.kubectl import explain

        return explain.run(reader, args.workload, namespace=args.namespace, output=output, now=now)
    if args.command == "plan":
        from wattbit.kubectl import plan

        return plan.run(reader, plan.request_from(args, now), output=output)
    if args.command == "list":
        from wattbit.kubectl import listing

        return listing.run(
            reader,
            namespace=None if args.all_namespaces else args.namespace,
            for_region=args.for_region,
            policy=args.policy,
            output=output,
            now=now,
        )
    from wattbit.kubectl import receipt

    return receipt.run(
        reader, args.workload, namespace=args.namespace, output=output, csv=args.csv, now=now
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``kubectl wattbit ARGS``; returns the exit code."""
    try:
        args = parse(sys.argv[1:] if argv is None else argv)
        target = Target(kubeconfig=args.kubeconfig, context=args.context)
        if args.namespace is None and not args.all_namespaces:
            args.namespace = context_namespace(target)
        cluster = Cluster(target)
        try:
            reply = dispatch(args, cluster, datetime.now(UTC))
        finally:
            cluster.close()
    except PluginError as error:
        print(f"error: {error.message}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        return 130
    if reply.out:
        print(reply.out)
    if reply.note:
        print(reply.note, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
