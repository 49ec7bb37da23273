"""wattbit: place and migrate deferrable AI training across regions to the greenest, cheapest power.

The package is layered (enforced by import-linter in pyproject.toml):
``handlers`` (kopf wiring) -> ``k8s`` / ``providers`` / ``metrics`` (thin adapters)
-> ``api`` (CRD models) -> ``core`` (pure decisions, no I/O and no clock).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("wattbit")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
