"""A standby replica (not the Lease's holder) writes no status: the status handlers return
before reading anything, so two replicas never race on the same object."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import kopf

from wattbit.handlers.context import leads
from wattbit.handlers.powersignals import report_power_signal


def test_leads_before_startup_and_when_holding_the_lease() -> None:
    assert leads({})
    assert leads({"wattbit": SimpleNamespace(leading=True)})
    assert not leads({"wattbit": SimpleNamespace(leading=False)})


def test_a_standby_does_not_report_on_power_signals() -> None:
    handler: Any = report_power_signal  # kopf's decorator types it for kopf's own calls
    patch = kopf.Patch()
    body = kopf.Body(cast(kopf.RawBody, {"metadata": {"name": "s", "namespace": "ns"}}))
    handler(
        namespace="ns",
        name="s",
        body=body,
        status=body.status,
        patch=patch,
        memo={"wattbit": SimpleNamespace(leading=False)},
        # No indexes: a standby must return before it reads them.
    )
    assert not patch
