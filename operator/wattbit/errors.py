"""Exceptions raised by wattbit, in one hierarchy.

    WattbitError
    ├── ConfigError          the operator's own configuration is invalid (startup fails)
    ├── InvalidWorkloadError a workload's wattbit annotations cannot be parsed
    └── ProviderError        a signal feed failed (see wattbit.providers.base)

Handlers turn these into conditions with a reason; none of them may carry a
secret value in its message.
"""

from __future__ import annotations


class WattbitError(Exception):
    """Base class of every error wattbit raises on purpose."""


class ConfigError(WattbitError):
    """The operator's configuration (environment or flags) is invalid."""


class InvalidWorkloadError(WattbitError):
    """A workload's wattbit annotations are malformed; it is held with this message."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
