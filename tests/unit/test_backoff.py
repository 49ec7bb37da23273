"""Retry timing for failing feeds (`wattbit.providers.backoff`): pure, fake clock.

Matrix: Retry-After as delta-seconds, HTTP-date (future, past), garbage and absent, and its
one-hour cap; exponential growth, the cap, the jitter band; Retry-After overriding a shorter
backoff (reliability.md §5.3 P1: no request for at least 120 s after `Retry-After: 120`);
`BackoffState` through failures and a success.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from wattbit.providers.backoff import (
    MAX_RETRY_AFTER_SECONDS,
    BackoffState,
    backoff_delay_seconds,
    parse_retry_after,
)

NOW = datetime(2026, 4, 1, 3, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        (" 0 ", 0.0),
        ("Wed, 01 Apr 2026 03:01:30 GMT", 90.0),
        ("Wed, 01 Apr 2026 02:00:00 GMT", 0.0),
        ("999999", MAX_RETRY_AFTER_SECONDS),
        ("soon", None),
        ("-5", None),
        (None, None),
    ],
)
def test_parse_retry_after(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header, NOW) == seconds


def test_delay_doubles_up_to_the_cap() -> None:
    delays = [
        backoff_delay_seconds(n, random_fraction=0.0, base_seconds=5, cap_seconds=60)
        for n in range(1, 7)
    ]

    assert delays == [5, 10, 20, 40, 60, 60]
    assert backoff_delay_seconds(0, random_fraction=0.0) == 0


def test_jitter_shortens_by_at_most_its_fraction() -> None:
    shortest = backoff_delay_seconds(3, random_fraction=0.999999, base_seconds=10)

    assert 20.0 <= shortest <= 40.0


def test_retry_after_is_never_cut_short() -> None:
    assert backoff_delay_seconds(1, random_fraction=0.5, retry_after_seconds=120) == 120
    assert (
        backoff_delay_seconds(10, random_fraction=0.0, retry_after_seconds=1, cap_seconds=600)
        == 600
    )


def test_random_fraction_is_checked() -> None:
    with pytest.raises(ValueError, match="random_fraction"):
        backoff_delay_seconds(1, random_fraction=1.0)


def test_state_waits_for_retry_after_then_resets_on_success() -> None:
    state = BackoffState().after_failure(NOW, random_fraction=0.0, retry_after_seconds=120)

    assert state.failures == 1
    assert not state.may_attempt(NOW + timedelta(seconds=119))
    assert state.may_attempt(NOW + timedelta(seconds=120))

    again = state.after_failure(NOW + timedelta(seconds=120), random_fraction=0.0)
    assert again.failures == 2
    assert again.next_attempt_at == NOW + timedelta(seconds=130)
    assert again.after_success() == BackoffState()
    assert BackoffState().may_attempt(NOW)
