"""Reservations in the operator context (wattbit.handlers.context).

Covers: a reservation is recorded with its time; it lapses after the TTL so a
workload whose pods never appear cannot block GPUs for ever.
"""

from __future__ import annotations

from datetime import UTC, datetime

from kubernetes import client

from wattbit.config import OperatorConfig
from wattbit.handlers.context import RESERVATION_TTL, OperatorContext

NOW = datetime(2026, 4, 15, 3, 0, tzinfo=UTC)


def test_reservations_lapse_after_the_ttl() -> None:
    context = OperatorContext.build(config=OperatorConfig(), api=client.ApiClient())
    context.reserve("job-1", "kyushu", 8, NOW)
    context.reserve("job-2", "tokyo", 4, NOW + RESERVATION_TTL)
    context.prune_reservations(NOW + RESERVATION_TTL)
    assert context.reservations == {"job-1": ("kyushu", 8), "job-2": ("tokyo", 4)}
    context.prune_reservations(NOW + RESERVATION_TTL * 1.5)
    assert context.reservations == {"job-2": ("tokyo", 4)}
    assert set(context.reserved_at) == {"job-2"}
