"""Faults the operator meets in a working cluster, each ending in a clear state with a record.

- A workload created in a namespace that is then deleted: nothing can be written there any
  more (403, "being terminated"); the operator says so once and leaves it, no traceback.
- A Job deleted in the middle of a move: the move ends, nothing is left suspended or gated.
- A WorkloadPlacement deleted under a running Job: the next pass writes a new one.
- A Region deleted while a workload runs there: the workload keeps running, its record says
  the region is gone.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator

import pytest

from tests.integration.conftest import Operator
from tests.integration.kube import Kube, region, wait_until
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


@pytest.fixture
def doomed_namespace(kube: Kube) -> Iterator[str]:
    """A namespace kept Terminating by a finalizer on one of its objects, until released."""
    name = f"doomed-{uuid.uuid4().hex[:8]}"
    kube.kubectl("create", "namespace", name)
    blocker = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "blocker", "finalizers": ["wattbit.io/test-blocker"]},
    }
    kube.create(blocker, namespace=name)
    yield name
    kube.kubectl(
        "patch",
        "configmap",
        "blocker",
        "-n",
        name,
        "--type=merge",
        "-p",
        json.dumps({"metadata": {"finalizers": None}}),
        check=False,
    )
    kube.kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.mark.usefixtures("regions")
def test_a_namespace_being_deleted_is_left_alone_without_a_traceback(
    kube: Kube, operator: Operator, doomed_namespace: str
) -> None:
    ns = doomed_namespace
    before = len(operator.log())
    # Created and deleted at once: the record cannot be created any more.
    kube.create(long_job("late"), namespace=ns)
    kube.kubectl("delete", "namespace", ns, "--wait=false")
    time.sleep(40)  # more than one periodic pass
    log = operator.log()[before:]
    assert "Traceback" not in log
    mentions = [line for line in log.splitlines() if ns in line and "wattbit." in line]
    assert len(mentions) <= 3, "\n".join(mentions)


@pytest.mark.usefixtures("kyushu_external")
def test_a_job_deleted_mid_move_ends_the_move(kube: Kube, namespace: str) -> None:
    ns = namespace
    slow = {**FAST_MOVES, "checkpointNoticeSeconds": 60}
    kube.create(policy(allowedRegions=["tokyo", "kyushu"], **slow), namespace=ns)
    publish_kyushu(kube, ns, signal("expensive", carbon=480, price="16.0"))
    kube.create(
        long_job("doomed", annotations={"wattbit.io/expected-duration": "4h"}), namespace=ns
    )
    wait_until(lambda: pods_regions(kube, ns, "doomed") == {"tokyo"}, timeout=60, message="run")
    replace_signal(kube, ns, signal("curtailment", carbon=20, price="0.01", curtailment=True))
    wait_until(
        lambda: (
            (status(kube, ns, "doomed").get("migration") or {}).get("phase")
            == "CheckpointRequested"
        ),
        timeout=60,
        message="the move to ask for a checkpoint",
    )
    kube.kubectl("delete", "job", "doomed", "-n", ns, "--cascade=foreground", "--wait=true")
    # The record is owned by the Job and goes with it; nothing of the move is left behind.
    wait_until(
        lambda: kube.find("workloadplacement", "job-doomed", ns) is None,
        timeout=60,
        message="the record to go with its Job",
    )
    pods = kube.core.list_namespaced_pod(ns, label_selector="job-name=doomed").items
    assert pods == []


@pytest.mark.usefixtures("regions")
def test_a_deleted_record_is_written_again(kube: Kube, namespace: str) -> None:
    ns = namespace
    kube.create(long_job("kept"), namespace=ns)
    first = wait_until(
        lambda: (
            (found := kube.find("workloadplacement", "job-kept", ns))
            and (found.get("status") or {}).get("region")
            and found
        ),
        timeout=60,
        message="the first record",
    )
    kube.kubectl("delete", "workloadplacement", "job-kept", "-n", ns)
    again = wait_until(
        lambda: (
            (found := kube.find("workloadplacement", "job-kept", ns))
            and found["metadata"]["uid"] != first["metadata"]["uid"]
            and (found.get("status") or {}).get("region")
            and found
        ),
        timeout=60,
        message="a new record",
    )
    assert again["status"]["region"] == first["status"]["region"]
    assert kube.get("job", "kept", ns)["spec"]["suspend"] is False


@pytest.mark.usefixtures("regions")
def test_a_region_deleted_under_a_running_job_is_said_on_its_record(
    kube: Kube, namespace: str
) -> None:
    ns = namespace
    kube.create(long_job("homeless"), namespace=ns)
    home = wait_until(
        lambda: status(kube, ns, "homeless").get("region"), timeout=60, message="placed"
    )
    saved = kube.get("region", home)
    try:
        kube.kubectl("delete", "region", home)
        record = wait_until(
            lambda: (
                (s := status(kube, ns, "homeless")) and s.get("reason") == "RegionNotFound" and s
            ),
            timeout=60,
            message="the record to say its region is gone",
        )
        assert home in record["message"]
        job = kube.get("job", "homeless", ns)
        assert job["spec"]["suspend"] is False  # it keeps running where it is
    finally:
        kube.apply(region(home, *_signals_of(saved)))


def _signals_of(saved: dict[str, object]) -> tuple[str, int, str]:
    spec = saved["spec"]
    assert isinstance(spec, dict)
    static = spec["signals"]["static"]
    return spec["gridArea"], int(static["carbonGramsPerKwh"]), str(static["priceJpyPerKwh"])
