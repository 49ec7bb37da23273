"""The plugin's errors, each with the exit code kubectl's habits give it.

    PluginError        exit 1: the API server failed or refused (message names what)
    ├── NotFoundError  exit 1: the object asked for does not exist
    └── UsageError     exit 2: bad flags or arguments

`wattbit.kubectl.main` prints the message on one line (``error: ...``), never a traceback.
"""

from __future__ import annotations

from typing import ClassVar


class PluginError(Exception):
    """A failure to report in one line; exit code 1."""

    exit_code: ClassVar[int] = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFoundError(PluginError):
    """The object named does not exist; exit code 1."""


class UsageError(PluginError):
    """Bad flags or arguments; exit code 2."""

    exit_code: ClassVar[int] = 2
