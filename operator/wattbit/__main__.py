"""``python -m wattbit``: run the operator with wattbit's handlers.

Equivalent to ``kopf run -m wattbit.handlers --all-namespaces``; the operator's own
settings come from ``WATTBIT_*`` environment variables (see wattbit.config).
"""

from __future__ import annotations

import argparse

import kopf

import wattbit.handlers  # noqa: F401 - importing registers the handlers
from wattbit.handlers.discovery import INSIGHTS


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m wattbit", description=__doc__)
    parser.add_argument(
        "--standalone",
        action="store_true",
        help="run without kopf peering (one replica, as the chart deploys it)",
    )
    parser.add_argument(
        "--liveness", default=None, help="liveness endpoint, e.g. http://0.0.0.0:8081/healthz"
    )
    parser.add_argument("--verbose", action="store_true", help="debug logging")
    args = parser.parse_args(argv)
    kopf.configure(verbose=args.verbose)
    kopf.run(
        clusterwide=True,
        standalone=args.standalone,
        liveness_endpoint=args.liveness,
        insights=INSIGHTS,  # shared with handlers.discovery, which serves late-installed CRDs
    )


if __name__ == "__main__":
    main()
