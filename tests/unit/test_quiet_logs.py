"""What the operator logs about routine work: kopf's success lines for the wake-ups and the
Region refresh are dropped, and a Region is logged when its values or readiness change."""

from __future__ import annotations

import logging

import pytest

from wattbit.handlers.loop import QuietWakeUps
from wattbit.handlers.regions import region_summary


def record(message: str) -> logging.LogRecord:
    return logging.LogRecord("kopf.objects", logging.INFO, __file__, 1, message, None, None)


@pytest.mark.parametrize(
    ("message", "kept"),
    [
        ("Handler 'wake-on-pod' succeeded.", False),
        ("Timer 'refresh-region' succeeded.", False),
        ("Timer 'check-apn-link' succeeded.", False),
        ("Timer 'check-placement-policy' succeeded.", False),
        ("Handler 'forget-region-metrics' succeeded.", False),
        ("Timer 'refresh-region' failed with an exception. Will retry.", True),
        ("Timer 'report-power-signal' succeeded.", False),
        ("Webhook 'gate-pod' succeeded.", False),
        ("Webhook 'hold-job' failed with an exception. Will retry.", True),
        ("Handler 'hold-job' succeeded.", True),
    ],
)
def test_routine_successes_are_dropped(message: str, kept: bool) -> None:
    assert QuietWakeUps().filter(record(message)) is kept


def status(observed: str, carbon: float = 120.0, ready: str = "True") -> dict[str, object]:
    return {
        "signals": {"carbonGramsPerKwh": carbon, "priceJpyPerKwh": 9.5, "observedAt": observed},
        "gpus": {"total": 16, "allocated": 8, "free": 8},
        "conditions": [
            {"type": "SignalsFresh", "status": "True", "reason": "SignalsFresh"},
            {"type": "Ready", "status": ready, "reason": "Ready" if ready == "True" else "NoNodes"},
        ],
    }


def test_a_region_line_changes_with_its_values_not_with_each_observation() -> None:
    first = region_summary(status("2026-12-02T10:00:00Z"))
    assert region_summary(status("2026-12-02T10:00:05Z")) == first
    assert region_summary(status("2026-12-02T10:00:05Z", carbon=90.0)) != first
    assert region_summary(status("2026-12-02T10:00:05Z", ready="False")) != first
    assert first == (
        "120 gCO2/kWh, 9.5 JPY/kWh, 8/16 GPUs free, SignalsFresh=True (SignalsFresh), "
        "Ready=True (Ready)"
    )


def test_a_region_line_is_the_same_for_the_status_written_and_the_one_read_back() -> None:
    # The refresh compares the status it writes (450.0) with the one the watch brought back,
    # where the API server prints the same number as 450: that logged a line every 5 s.
    written = status("2026-12-02T10:00:00Z", carbon=450.0)
    read_back = status("2026-12-02T10:00:05Z", carbon=450)
    assert region_summary(read_back) == region_summary(written)
