"""When a Region's change wakes the reconcile loop (wattbit.handlers.loop.region_gist), and
the wake-ups' own log lines are dropped (QuietWakeUps).

Covers: a refresh that only moves observedAt or the GPU counts leaves the gist as it was (no
pass); a new price, forecast, availability or a flipped condition changes it (a pass).
Skipped: the kopf event handler itself (integration tests run it).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from wattbit.handlers.loop import region_gist

REGION: dict[str, Any] = {
    "spec": {"gridArea": "JP-KY", "availability": "Available"},
    "status": {
        "signals": {
            "carbonGramsPerKwh": 120.0,
            "priceJpyPerKwh": 0.01,
            "observedAt": "2026-12-02T12:00:00Z",
            "forecast": [{"start": "2026-12-02T13:00:00Z", "priceJpyPerKwh": 5.0}],
        },
        "gpus": {"total": 16, "allocated": 0, "free": 16},
        "conditions": [{"type": "SignalsFresh", "status": "True", "reason": "SignalsFresh"}],
    },
}


def changed(path: list[str], value: Any) -> dict[str, Any]:
    body = copy.deepcopy(REGION)
    target = body
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return body


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (["status", "signals", "observedAt"], "2026-12-02T12:00:05Z"),
        (["status", "gpus"], {"total": 16, "allocated": 8, "free": 8}),
    ],
)
def test_a_refresh_that_changes_nothing_decisions_read_keeps_the_gist(
    path: list[str], value: Any
) -> None:
    assert region_gist(changed(path, value)) == region_gist(REGION)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (["status", "signals", "priceJpyPerKwh"], 14.2),
        (["status", "signals", "forecast"], []),
        (["spec", "availability"], "Unavailable"),
        (
            ["status", "conditions"],
            [{"type": "SignalsFresh", "status": "False", "reason": "SignalStale"}],
        ),
    ],
)
def test_what_decisions_read_changes_the_gist(path: list[str], value: Any) -> None:
    assert region_gist(changed(path, value)) != region_gist(REGION)
