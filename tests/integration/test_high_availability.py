"""Two operator replicas: exactly one acts, the other takes over when it dies.

Both serve the webhook; the Lease `<namespace>/wattbit-operator` says which one reconciles.
- With A holding the Lease, a labelled Job is held by whichever webhook the API server calls
  and placed by A; B's log shows no pass acting on workloads.
- A is killed (SIGKILL, no release): B takes the Lease once it expires and places the next
  Job.
- B stops gracefully: it releases the Lease at once.
"""

from __future__ import annotations

import datetime as dt
import re
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from tests.integration.conftest import OPERATOR_NAMESPACE, Operator
from tests.integration.kube import Kube, wait_until
from tests.integration.test_reconcile import long_job, status

pytestmark = pytest.mark.integration

LEASE = "wattbit-operator"
LEASE_SECONDS = 6


def holder(kube: Kube) -> str | None:
    api = client.CoordinationV1Api(kube.api_client)
    try:
        lease = api.read_namespaced_lease(LEASE, OPERATOR_NAMESPACE)
    except client.exceptions.ApiException as error:
        if error.status == 404:
            return None
        raise
    return lease.spec.holder_identity if lease.spec else None


def replica(name: str) -> dict[str, str]:
    return {
        "WATTBIT_LEADER_ELECTION": "true",
        "WATTBIT_POD_NAME": name,
        "WATTBIT_LEASE_DURATION_SECONDS": str(LEASE_SECONDS),
    }


@pytest.fixture
def second(kube: Kube, operator: Operator, tmp_path: Path) -> Iterator[Operator]:
    """A second operator process beside the session's one; the session's operator runs
    alone and without leader election again afterwards."""
    other = Operator(log_path=tmp_path / "replica-b.log", kube=kube, env=operator.env)
    yield other
    if other.running:
        other.stop()
    operator.stop()
    operator.start()


def acted(log: str) -> list[str]:
    """The reconcile loop's lines that say it wrote or acted: `reconcile (full): ...` or
    `reconcile (arrivals): ...` (handlers/loop.py)."""
    return [
        line for line in log.splitlines() if re.search(r"reconcile \((full|arrivals)\): ", line)
    ]


@pytest.mark.usefixtures("regions")
def test_one_replica_acts_and_the_other_takes_over(
    kube: Kube, operator: Operator, second: Operator, namespace: str
) -> None:
    operator.stop()
    operator.start(replica("replica-a"))
    wait_until(lambda: holder(kube) == "replica-a", timeout=30, message="A to lead")
    second.start(replica("replica-b"))
    b_log_start = len(second.log())

    kube.create(long_job("first"), namespace=namespace)
    wait_until(lambda: status(kube, namespace, "first").get("region"), timeout=60, message="placed")
    assert holder(kube) == "replica-a"
    assert acted(second.log()[b_log_start:]) == []

    # A dies without a word: B takes over once the Lease expires.
    assert operator.process is not None
    operator.process.send_signal(signal.SIGKILL)
    operator.process.wait(timeout=10)
    killed_at = dt.datetime.now(dt.UTC)
    wait_until(
        lambda: holder(kube) == "replica-b",
        timeout=LEASE_SECONDS + 15,
        message="B to take the Lease",
    )
    took_s = (dt.datetime.now(dt.UTC) - killed_at).total_seconds()
    assert took_s < LEASE_SECONDS + 5
    kube.create(long_job("second"), namespace=namespace)
    record: dict[str, Any] = wait_until(
        lambda: (s := status(kube, namespace, "second")).get("region") and s,
        timeout=60,
        message="the next Job placed by B",
    )
    assert record["decision"] == "RunNow"
    assert acted(second.log()[b_log_start:])

    # A graceful stop releases the Lease at once.
    assert second.stop() == 0
    assert holder(kube) is None
