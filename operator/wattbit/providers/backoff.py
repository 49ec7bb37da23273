"""When to ask a failing signal feed again: capped exponential backoff that honours Retry-After.

This module's one job is arithmetic on retry delays: `parse_retry_after` reads an HTTP
Retry-After header (delta-seconds or an HTTP-date), `backoff_delay_seconds` computes the next
delay, and `BackoffState` carries the count of consecutive failures and the earliest next
attempt for one region's feed.

WARNING: pure. No clock, no sleep, no randomness of its own: `now` and the jitter draw
(`random_fraction` in [0, 1)) are parameters, so a test with a fake clock sees exact numbers
(reliability.md §5.3 P1: a 429 with Retry-After 120 means no request for at least 120 s).
"""

from __future__ import annotations

import email.utils
import math
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Final

DEFAULT_BASE_SECONDS: Final = 5.0
"""First retry delay: short enough to ride out a blip, long enough not to hammer."""
DEFAULT_CAP_SECONDS: Final = 600.0
"""Longest computed delay (10 min): well inside the default maxAge of 15 min, so a region
recovers before it goes stale when the feed comes back."""
DEFAULT_JITTER_FRACTION: Final = 0.5
"""Delays are drawn from [delay * (1 - jitter), delay] so regions do not retry in lockstep."""
MAX_RETRY_AFTER_SECONDS: Final = 3600.0
"""A Retry-After longer than an hour is treated as an hour (a misconfigured server must not
silence a feed for days); the region goes stale meanwhile, which is the safe outcome."""


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After header value, or None if absent or unreadable.

    Accepts delta-seconds (`120`) or an HTTP-date (`Wed, 21 Oct 2015 07:28:00 GMT`);
    a date in the past gives 0.
    """
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return min(float(text), MAX_RETRY_AFTER_SECONDS)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; a zone-less one is malformed
        return None
    return min(max(0.0, (when - now).total_seconds()), MAX_RETRY_AFTER_SECONDS)


def backoff_delay_seconds(
    failures: int,
    *,
    random_fraction: float,
    retry_after_seconds: float | None = None,
    base_seconds: float = DEFAULT_BASE_SECONDS,
    cap_seconds: float = DEFAULT_CAP_SECONDS,
    jitter_fraction: float = DEFAULT_JITTER_FRACTION,
) -> float:
    """Delay before the next attempt after `failures` consecutive failures (>= 1).

    `min(cap, base * 2**(failures - 1))`, reduced by up to `jitter_fraction` of itself
    (`random_fraction` in [0, 1) picks where), and never shorter than Retry-After.
    """
    if failures < 1:
        return 0.0
    if not 0.0 <= random_fraction < 1.0:
        raise ValueError("random_fraction must be within [0, 1)")
    exponent = min(failures - 1, 62)
    delay_seconds = min(cap_seconds, base_seconds * math.pow(2.0, exponent))
    delay_seconds *= 1.0 - jitter_fraction * random_fraction
    if retry_after_seconds is not None:
        delay_seconds = max(delay_seconds, min(retry_after_seconds, MAX_RETRY_AFTER_SECONDS))
    return delay_seconds


@dataclass(frozen=True, slots=True, kw_only=True)
class BackoffState:
    """Consecutive failures of one feed and the earliest time it may be asked again."""

    failures: int = 0
    next_attempt_at: datetime | None = None

    def may_attempt(self, now: datetime) -> bool:
        """True when no backoff is pending at `now`."""
        return self.next_attempt_at is None or now >= self.next_attempt_at

    def after_failure(
        self,
        now: datetime,
        *,
        random_fraction: float,
        retry_after_seconds: float | None = None,
        base_seconds: float = DEFAULT_BASE_SECONDS,
        cap_seconds: float = DEFAULT_CAP_SECONDS,
    ) -> BackoffState:
        """The state after one more failure at `now`."""
        failures = self.failures + 1
        delay_seconds = backoff_delay_seconds(
            failures,
            random_fraction=random_fraction,
            retry_after_seconds=retry_after_seconds,
            base_seconds=base_seconds,
            cap_seconds=cap_seconds,
        )
        return replace(
            self, failures=failures, next_attempt_at=now + timedelta(seconds=delay_seconds)
        )

    def after_success(self) -> BackoffState:
        """The state after a successful fetch: no backoff."""
        return BackoffState()
