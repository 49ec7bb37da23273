"""Printing: kubectl-style tables (upper-case headers, columns three spaces apart) and the
``-o json`` / ``-o yaml`` dumps.

WARNING: pure text. No I/O: functions return strings for `wattbit.kubectl.main` to print.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml
from pydantic import ValidationError

from wattbit.kubectl.args import Output


@dataclass(frozen=True, slots=True)
class Reply:
    """What a command prints: ``out`` on stdout, ``note`` on stderr (``No ... found.``)."""

    out: str = ""
    note: str = ""


def width(text: str) -> int:
    """Columns a string takes in a terminal (sparkline bars are one column each)."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns, three spaces apart, as ``kubectl get`` prints them."""
    widths = [width(h) for h in headers]
    for row in rows:
        for index, cell in enumerate(row):
            widths[index] = max(widths[index], width(cell))
    lines = []
    for row in (headers, *rows):
        cells = [
            cell + " " * (widths[i] - width(cell)) if i < len(row) - 1 else cell
            for i, cell in enumerate(row)
        ]
        lines.append("   ".join(cells).rstrip())
    return "\n".join(lines)


def dump(data: Any, output: Output) -> str:
    """``data`` (plain JSON values) as JSON or YAML."""
    if output is Output.YAML:
        return yaml.safe_dump(data, sort_keys=False, allow_unicode=True).rstrip("\n")
    return json.dumps(data, indent=2, ensure_ascii=False)


def section(title: str, fields: Sequence[tuple[str, str]], indent: int = 2) -> str:
    """A titled block of ``Label: value`` lines, labels aligned (``kubectl describe``); a
    value's further lines are indented to the values' column."""
    pad = max((len(label) for label, _ in fields), default=0) + 2
    lines = [title]
    for label, value in fields:
        first, *rest = value.split("\n") or [""]
        lines.append(" " * indent + f"{label}:".ljust(pad) + first)
        lines.extend(" " * (indent + pad) + line for line in rest)
    return "\n".join(lines)


def indented(text: str, indent: int = 2) -> str:
    return "\n".join((" " * indent + line) if line else line for line in text.splitlines())


def first_error(error: ValueError) -> str:
    """A model's first validation error as ``field.path: message``, on one line."""
    if isinstance(error, ValidationError) and error.errors():
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        return f"{where}: {first['msg']}" if where else str(first["msg"])
    return str(error).splitlines()[0] if str(error) else type(error).__name__
