"""A move survives the operator being killed at every phase (issue 9).

Matrix: the operator is killed (exit 137, as SIGKILL leaves it: no cleanup, the webhook
configuration left behind) right after it records each phase of a tokyo -> kyushu move and
before it acts on it: Planned, CheckpointRequested, Suspended, Repointed, Resumed, Running
(the test-only hook WATTBIT_TEST_CRASH_AFTER_PHASE, `_crash_point` in handlers/reconcile.py).
A fresh operator then carries the move on from the record alone. Each case asserts:
- the crash happened at that phase (exit code 137, the record's phase is that phase);
- the move ends Running in kyushu, with pods bound to kyushu nodes and `moves: 1`;
- the record's history lists every phase exactly once, in order;
- the Job controller's own Events show exactly one suspension and one resumption for the move
  (reasons `Suspended` / `Resumed`, from `job-controller`), and no pod failed.
Not here: the passed-through phases NoticeElapsed, CheckpointAcknowledged and PodsGone, which
are recorded together with the phase that follows them (no separate write to crash after);
the phase machine's own crash property (tests/property/).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

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

CRASH_ENV = "WATTBIT_TEST_CRASH_AFTER_PHASE"
PHASES = ["Planned", "CheckpointRequested", "Suspended", "Repointed", "Resumed", "Running"]
EVERY_PHASE = [
    "Planned",
    "CheckpointRequested",
    "NoticeElapsed",
    "Suspended",
    "PodsGone",
    "Repointed",
    "Resumed",
    "Running",
]


@pytest.fixture
def restartable(operator: Operator) -> Iterator[Operator]:
    """The session's operator, for a test to stop and start; whatever the test left running,
    the normal operator runs again afterwards (other modules share it)."""
    yield operator
    if operator.running and not operator.extra_env:
        return
    operator.stop()
    operator.start()


def job_controller_events(kube: Kube, namespace: str, job: str) -> Counter[str]:
    """Reasons of the Job controller's Events on the Job, counting repeats (the recorder
    folds an identical Event into one object with a count)."""
    counts: Counter[str] = Counter()
    for event in kube.core.list_namespaced_event(
        namespace, field_selector=f"involvedObject.kind=Job,involvedObject.name={job}"
    ).items:
        source = (event.source.component if event.source else None) or event.reporting_component
        if source == "job-controller" and event.reason:
            counts[event.reason] += event.count or 1
    return counts


def at_least(counts: Counter[str], *, suspended: int, resumed: int) -> Counter[str] | None:
    """The counts once they reach these numbers (Events are written asynchronously)."""
    return counts if counts["Suspended"] >= suspended and counts["Resumed"] >= resumed else None


def _record_phase(kube: Kube, namespace: str, job: str) -> Any:
    return (status(kube, namespace, job).get("migration") or {}).get("phase")


@pytest.mark.usefixtures("kyushu_external")
@pytest.mark.parametrize("phase", PHASES)
def test_a_move_survives_a_crash_after_each_phase(
    kube: Kube, namespace: str, restartable: Operator, phase: str
) -> None:
    ns = namespace
    kube.create(policy(allowedRegions=["tokyo", "kyushu"], **FAST_MOVES), namespace=ns)
    publish_kyushu(kube, ns, signal("expensive", carbon=480, price="16.0"))
    kube.create(long_job("mover", annotations={"wattbit.io/expected-duration": "4h"}), namespace=ns)
    wait_until(
        lambda: pods_regions(kube, ns, "mover") == {"tokyo"},
        timeout=60,
        message="the Job to run in tokyo",
    )
    # Held at creation, then released: one suspension and one resumption before any move.
    before = wait_until(
        lambda: at_least(job_controller_events(kube, ns, "mover"), suspended=1, resumed=1),
        timeout=30,
        message="the Job controller's Events for the hold and the release",
    )
    assert (before["Suspended"], before["Resumed"]) == (1, 1), before

    # The operator that will crash starts before the signal changes, so it is up (webhook
    # answering) before the move begins.
    restartable.stop()
    restartable.start({CRASH_ENV: phase})
    replace_signal(kube, ns, signal("curtailment", carbon=20, price="0.01", curtailment=True))
    process = restartable.process
    assert process is not None
    wait_until(
        lambda: process.poll() is not None,
        timeout=120,
        message=f"the operator to crash after recording {phase}",
    )
    assert process.returncode == 137, restartable.log()[-4000:]
    assert _record_phase(kube, ns, "mover") == phase

    restartable.stop()  # reaps the crashed process
    restartable.start()
    done = wait_until(
        lambda: (
            (m := status(kube, ns, "mover").get("migration") or {}).get("phase") == "Running" and m
        ),
        timeout=150,
        message="the move to complete after the restart",
    )
    assert (done["fromRegion"], done["toRegion"]) == ("tokyo", "kyushu")
    assert [entry["phase"] for entry in done["history"]] == EVERY_PHASE
    wait_until(
        lambda: pods_regions(kube, ns, "mover") == {"kyushu"},
        timeout=60,
        message="the pods to run in kyushu",
    )
    assert status(kube, ns, "mover")["moves"] == 1
    job = kube.get("job", "mover", ns)
    assert job["spec"].get("suspend") is False
    assert not (job.get("status") or {}).get("failed")
    after = wait_until(
        lambda: at_least(
            job_controller_events(kube, ns, "mover"),
            suspended=before["Suspended"] + 1,
            resumed=before["Resumed"] + 1,
        ),
        timeout=30,
        message="the Job controller's Event for the resumption",
    )
    assert (after["Suspended"] - before["Suspended"], after["Resumed"] - before["Resumed"]) == (
        1,
        1,
    ), after
