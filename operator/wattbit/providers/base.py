"""The port every signal provider implements, and the one error type it may raise.

This module's one job is to define `SignalProvider` (fetch a `SignalReading` for `now`),
`ProviderError` (a typed failure with a CamelCase reason and an optional Retry-After), and the
small helpers every provider shares: bounded reading validation and secret scrubbing.

WARNING: nothing here talks to Kubernetes or reads the clock. A `ProviderError` message is shown
in conditions, Events and logs, so it must never contain a secret value: providers build
messages from their own words and numbers, and pass anything from the wire through `redact`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Final, Protocol

from wattbit.core.signals import ProblemReason, SignalReading, validate_reading
from wattbit.errors import WattbitError

REDACTED: Final = "[redacted]"
DEFAULT_MAX_SKEW_SECONDS: Final = 300.0
"""A source timestamp more than 5 minutes ahead of our clock is treated as clock skew."""
EXCERPT_CHARS: Final = 120
"""Longest excerpt of a response body quoted in an error message."""

SecretResolver = Callable[[str, str], str]
"""`resolve(secret_name, key) -> value`, supplied by the caller (handlers read Secrets).

Raises `ProviderError(SECRET_MISSING)` or `KeyError` when the value cannot be found; providers
never talk to Kubernetes themselves."""


class ProviderError(WattbitError):
    """A signal feed failed. Its message is safe to show: it never holds a secret."""

    def __init__(
        self,
        reason: ProblemReason,
        message: str,
        *,
        retry_after_seconds: float | None = None,
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.retry_after_seconds = retry_after_seconds
        """Seconds the source asked us to wait (HTTP Retry-After), if it said."""

    def __repr__(self) -> str:
        return f"ProviderError(reason={self.reason!s}, message={self.message!r})"


class SignalProvider(Protocol):
    """A source of power signals for one region."""

    @property
    def name(self) -> str:
        """Short provider kind, e.g. `electricitymaps`; used as a metrics label."""
        ...

    def fetch(self, now: datetime) -> SignalReading:
        """The latest reading, validated against `now`; raises only `ProviderError`."""
        ...


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with every non-empty secret value replaced by a marker."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


def excerpt(text: str, secrets: Iterable[str] = ()) -> str:
    """A short, single-line, redacted excerpt of a response body for an error message."""
    flat = " ".join(text.split())
    short = flat if len(flat) <= EXCERPT_CHARS else flat[:EXCERPT_CHARS] + "..."
    return redact(short, secrets)


def checked(
    reading: SignalReading,
    now: datetime,
    *,
    max_skew_seconds: float = DEFAULT_MAX_SKEW_SECONDS,
) -> SignalReading:
    """Return `reading` if `validate_reading` finds nothing; else raise its first problem.

    The message lists every problem (field names and numbers only, never secrets).
    """
    problems = validate_reading(reading, now, max_skew_seconds)
    if not problems:
        return reading
    message = "; ".join(problem.message for problem in problems[:5])
    if len(problems) > 5:
        message += f"; and {len(problems) - 5} more"
    raise ProviderError(problems[0].reason, f"{reading.source}: {message}")
