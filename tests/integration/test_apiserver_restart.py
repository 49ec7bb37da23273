"""kube-apiserver stopped and restarted under a running operator, with a move in flight.

The operator keeps running through the outage. When the API server is back, its watches
recover: the move in flight completes with every phase recorded once (one suspension, one
resumption: no duplicate action), and a Job created after the restart is held by the
webhook and placed, so nothing created meanwhile is missed.
"""

from __future__ import annotations

import os
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from tests.integration.conftest import Operator
from tests.integration.kube import Kube, wait_until
from tests.integration.test_reconcile import (
    FAST_MOVES,
    long_job,
    pods_regions,
    policy,
    publish_kyushu,
    replace_signal,
    signal,
    status,
)

pytestmark = pytest.mark.integration

DOWN_SECONDS = 8
RESTART = Path(__file__).resolve().parents[2] / "hack" / "restart-component.sh"


def restart_apiserver(kube: Kube) -> None:
    state = Path(kube.kubeconfig).parent
    subprocess.run(
        ["bash", str(RESTART), "kube-apiserver", str(DOWN_SECONDS)],
        env={**os.environ, "WATTBIT_STATE_DIR": str(state)},
        check=True,
        capture_output=True,
        timeout=120,
    )


@pytest.mark.usefixtures("kyushu_external")
def test_a_move_in_flight_survives_an_apiserver_restart(
    kube: Kube, operator: Operator, namespace: str
) -> None:
    ns = namespace
    slow = {**FAST_MOVES, "checkpointNoticeSeconds": 20}
    kube.create(policy(allowedRegions=["tokyo", "kyushu"], **slow), namespace=ns)
    publish_kyushu(kube, ns, signal("expensive", carbon=480, price="16.0"))
    kube.create(long_job("mover", annotations={"wattbit.io/expected-duration": "4h"}), namespace=ns)
    wait_until(lambda: pods_regions(kube, ns, "mover") == {"tokyo"}, timeout=60, message="run")
    replace_signal(kube, ns, signal("curtailment", carbon=20, price="0.01", curtailment=True))
    wait_until(
        lambda: (
            (status(kube, ns, "mover").get("migration") or {}).get("phase") == "CheckpointRequested"
        ),
        timeout=60,
        message="the move to ask for a checkpoint",
    )

    restart_apiserver(kube)
    assert operator.running, operator.log()[-3000:]

    done = wait_until(
        lambda: (
            (m := status(kube, ns, "mover").get("migration") or {}).get("phase") == "Running" and m
        ),
        timeout=120,
        message="the move to complete after the restart",
    )
    phases = Counter(entry["phase"] for entry in done["history"])
    assert phases["Suspended"] == 1
    assert phases["Resumed"] == 1
    assert all(count == 1 for count in phases.values()), phases
    wait_until(lambda: pods_regions(kube, ns, "mover") == {"kyushu"}, timeout=60, message="moved")

    # Watches are back: a Job created now is held and placed.
    created = kube.create(long_job("after"), namespace=ns)
    assert created["spec"]["suspend"] is True
    wait_until(lambda: status(kube, ns, "after").get("region"), timeout=60, message="placed")
