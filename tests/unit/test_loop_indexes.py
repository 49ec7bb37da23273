"""The reconcile loop reads exactly the kopf indexes it is handed at startup."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, cast

import kopf

import wattbit.handlers.indexes  # noqa: F401 - registers the indexes with kopf
from wattbit.handlers.context import OperatorContext
from wattbit.handlers.loop import INDEXES, collect


def test_every_index_a_pass_reads_is_handed_to_the_loop() -> None:
    # collect() raises KeyError for an index missing from INDEXES (which the startup handler
    # picks out of kopf's keyword arguments): a new index must be listed there too.
    context = cast("OperatorContext", SimpleNamespace(readings={}))
    indexes: dict[str, Any] = {name: {} for name in INDEXES}
    view = collect(context, indexes, datetime.now(UTC))
    assert view.workloads == []


def test_every_listed_index_is_registered_with_kopf() -> None:
    registered = {
        handler.id for handler in kopf.get_default_registry()._indexing.get_all_handlers()
    }
    assert set(INDEXES) <= registered
