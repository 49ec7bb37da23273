"""A deleted Region's gauges are dropped (wattbit.handlers.regions.forget_region_metrics).

Covers: a DELETED event drops the region's staleness and signal gauges; any other event
leaves them. Skipped: kopf's watch itself (the integration tests run the operator).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from prometheus_client import REGISTRY

from wattbit import metrics
from wattbit.handlers import regions

# Called as kopf calls an event handler, with the arguments it reads.
handler: Callable[..., object] = regions.forget_region_metrics


@pytest.mark.parametrize(("event", "kept"), [("DELETED", False), ("MODIFIED", True), (None, True)])
def test_only_a_deletion_drops_the_regions_gauges(event: str | None, kept: bool) -> None:
    metrics.region_signals_stale.labels(region="forgotten").set(1)
    metrics.region_carbon_grams_per_kwh.labels(region="forgotten").set(120)
    handler(name="forgotten", type=event, body={}, memo={})
    for name in ("wattbit_region_signals_stale", "wattbit_region_carbon_grams_per_kwh"):
        found = REGISTRY.get_sample_value(name, {"region": "forgotten"})
        assert (found is not None) is kept
