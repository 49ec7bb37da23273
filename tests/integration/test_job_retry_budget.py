"""A move must not use up a Job's retry budget: what the Job controller counts.

Measured on the real kube-controller-manager (Job controller) and kube-apiserver of
hack/cluster-up.sh, Kubernetes v1.36.3, with kwok playing the kubelet. No operator: the
test toggles ``spec.suspend`` itself, as the operator's move does.

Covers:
- suspend -> pods gone -> resume, three times, for ``backoffLimit: 0`` and for
  ``backoffLimit: 2`` without a podFailurePolicy: ``status.failed`` stays 0,
  ``status.uncountedTerminatedPods`` stays empty, no ``Failed`` condition, and every
  resume starts fresh pods. While the suspended pods are terminating (held by a test
  finalizer that stands in for the kubelet's grace period) the Job reports
  ``status.terminating``, the pods have already lost the ``batch.kubernetes.io/job-tracking``
  finalizer, and they carry no ``DisruptionTarget`` condition;
- the terminated pods' final status, as a real kubelet writes it (Failed with exit code 143,
  or Succeeded with exit code 0), is not counted either; nor is kwok's instant removal;
- the contrast: a pod evicted through the Eviction API while its Job runs *is* counted
  (``status.failed`` 1, ``DisruptionTarget`` True), so a move must suspend, never evict;
  and under ``podReplacementPolicy: Failed`` a deleted pod that exits 0 is counted as a
  completion (``status.succeeded`` 1), which is why the trainer exits 143 on SIGTERM;
- resuming before the old pods are gone starts replacements next to them under the
  default ``podReplacementPolicy`` (TerminatingOrFailed) and waits under ``Failed``,
  which is why the operator resumes only at ``active == 0 and terminating == 0``.

kwok has no kubelet termination: its pod-delete stage removes a deleted pod at once
(DELETE with grace 0), with no SIGTERM, grace period or final phase. The tests stand in for
the kubelet: a test finalizer keeps the deleted pods for a "grace period", and a status
patch writes the final phase and exit code a kubelet would.
docs/design/2026-12-02-move-retry-budget.md records the findings.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.kube import Kube, wait_until

pytestmark = pytest.mark.integration

REGION_LABEL = "topology.kubernetes.io/region"
REGION = "hokkaido"
JOB_TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking"
HOLD_FINALIZER = "test.wattbit.io/hold"
"""Keeps a deleted pod terminating, as a real kubelet does for the grace period."""


@pytest.fixture(autouse=True)
def _release_every_held_pod(kube: Kube, namespace: str) -> Iterator[None]:
    """Whatever a test did, no pod of its namespace keeps the test finalizer: a held pod
    would block the namespace's deletion and keep its GPUs from every later test."""
    yield
    listed = json.loads(kube.kubectl("get", "pods", "-n", namespace, "-o", "json").stdout)
    for pod in listed["items"]:
        finalizers = pod["metadata"].get("finalizers") or []
        if HOLD_FINALIZER in finalizers:
            kept = [f for f in finalizers if f != HOLD_FINALIZER]
            patch = json.dumps({"metadata": {"finalizers": kept or None}})
            name = pod["metadata"]["name"]
            kube.kubectl("patch", "pod", name, "-n", namespace, "--type=merge", "-p", patch)


def training_job(
    name: str, *, backoff_limit: int, pod_replacement_policy: str | None = None
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "parallelism": 2,
        "completions": 2,
        "backoffLimit": backoff_limit,
        "template": {
            # Runs far longer than the test; without it kwok would also keep it running.
            "metadata": {"annotations": {"wattbit.io/simulated-duration": "1h"}},
            "spec": {
                "restartPolicy": "Never",
                "terminationGracePeriodSeconds": 120,
                "nodeSelector": {REGION_LABEL: REGION},
                "containers": [
                    {
                        "name": "train",
                        "image": "registry.example/train:1",
                        "resources": {"limits": {"nvidia.com/gpu": "1"}},
                    }
                ],
            },
        },
    }
    if pod_replacement_policy is not None:
        spec["podReplacementPolicy"] = pod_replacement_policy
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name}, "spec": spec}


def pods(kube: Kube, namespace: str, job: str) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = json.loads(
        kube.kubectl("get", "pods", "-n", namespace, "-l", f"job-name={job}", "-o", "json").stdout
    )["items"]
    return listed


def running(kube: Kube, namespace: str, job: str) -> list[dict[str, Any]]:
    return [
        pod
        for pod in pods(kube, namespace, job)
        if pod["status"].get("phase") == "Running"
        and pod["spec"].get("nodeName")
        and not pod["metadata"].get("deletionTimestamp")
    ]


def job_status(kube: Kube, namespace: str, job: str) -> dict[str, Any]:
    status: dict[str, Any] = kube.get("job", job, namespace).get("status") or {}
    return status


def condition(status: dict[str, Any], type_: str) -> dict[str, Any] | None:
    return next((c for c in status.get("conditions") or [] if c["type"] == type_), None)


def set_suspend(kube: Kube, namespace: str, job: str, *, suspend: bool) -> None:
    patch = json.dumps({"spec": {"suspend": suspend}})
    kube.kubectl("patch", "job", job, "-n", namespace, "--type=merge", "-p", patch)


def hold(kube: Kube, namespace: str, pod: str) -> None:
    patch = [{"op": "add", "path": "/metadata/finalizers/-", "value": HOLD_FINALIZER}]
    kube.kubectl("patch", "pod", pod, "-n", namespace, "--type=json", "-p", json.dumps(patch))


def release(kube: Kube, namespace: str, job: str) -> None:
    """Drop the test finalizer from every pod of the job that still has it."""
    for pod in pods(kube, namespace, job):
        finalizers = pod["metadata"].get("finalizers") or []
        if HOLD_FINALIZER in finalizers:
            kept = [f for f in finalizers if f != HOLD_FINALIZER]
            patch = {"metadata": {"finalizers": kept or None}}
            kube.kubectl(
                "patch",
                "pod",
                pod["metadata"]["name"],
                "-n",
                namespace,
                "--type=merge",
                "-p",
                json.dumps(patch),
                check=False,  # gone meanwhile is fine
            )


def wait_running(kube: Kube, namespace: str, job: str, count: int) -> list[dict[str, Any]]:
    def ready() -> list[dict[str, Any]] | None:
        found = running(kube, namespace, job)
        status = job_status(kube, namespace, job)
        return found if len(found) == count and status.get("active") == count else None

    return wait_until(ready, timeout=60, message=f"{count} running pods of {job}")


def assert_nothing_counted(status: dict[str, Any]) -> None:
    assert status.get("failed", 0) == 0, status
    assert status.get("succeeded", 0) == 0, status
    uncounted = status.get("uncountedTerminatedPods") or {}
    assert not uncounted.get("failed"), status
    assert not uncounted.get("succeeded"), status
    assert condition(status, "Failed") is None, status
    assert condition(status, "FailureTarget") is None, status


def terminate_like_a_kubelet(kube: Kube, namespace: str, pod: str, *, exit_code: int) -> None:
    """Write the final status a real kubelet writes once the container has exited.

    kwok skips this (its pod-delete stage removes a deleted pod at once), so the test writes
    it: phase Failed with the exit code (143 after SIGTERM, 137 after SIGKILL), or
    Succeeded when the process exited 0.
    """
    terminated = {
        "exitCode": exit_code,
        "reason": "Completed" if exit_code == 0 else "Error",
        "startedAt": "2026-12-02T00:00:00Z",
        "finishedAt": "2026-12-02T00:00:01Z",
    }
    status = {
        "phase": "Succeeded" if exit_code == 0 else "Failed",
        "containerStatuses": [
            {
                "name": "train",
                "image": "registry.example/train:1",
                "imageID": "",
                "ready": False,
                "restartCount": 0,
                "state": {"terminated": terminated},
            }
        ],
    }
    kube.kubectl(
        "patch",
        "pod",
        pod,
        "-n",
        namespace,
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps({"status": status}),
    )


def observe_grace_period(
    kube: Kube, namespace: str, job: str, uids: set[str], *, exit_code: int
) -> None:
    """The suspended, held pods: terminating, uncounted, then ended as a kubelet ends them."""

    def held_terminating() -> dict[str, Any] | None:
        status = job_status(kube, namespace, job)
        done = status.get("active", 0) == 0 and status.get("terminating") == 2
        return status if done else None

    assert_nothing_counted(wait_until(held_terminating, timeout=60, message="2 terminating pods"))
    terminating = pods(kube, namespace, job)
    assert {p["metadata"]["uid"] for p in terminating} == uids
    for pod in terminating:
        assert pod["metadata"].get("deletionTimestamp"), pod["metadata"]
        # Dropped by the Job controller *before* its DELETE: this pod is never counted.
        assert pod["metadata"]["finalizers"] == [HOLD_FINALIZER], pod["metadata"]
        types = {c["type"] for c in pod["status"].get("conditions") or []}
        assert "DisruptionTarget" not in types, pod["status"]
        terminate_like_a_kubelet(kube, namespace, pod["metadata"]["name"], exit_code=exit_code)

    phase = "Succeeded" if exit_code == 0 else "Failed"

    def ended() -> dict[str, Any] | None:
        # A terminal pod is no longer "terminating", though it still exists here.
        status = job_status(kube, namespace, job)
        phases = {p["status"].get("phase") for p in pods(kube, namespace, job)}
        return status if phases == {phase} and status.get("terminating") == 0 else None

    assert_nothing_counted(wait_until(ended, timeout=60, message=f"2 {phase} pods"))


# How the suspended pods end, one per cycle: exit 143 after a SIGTERM checkpoint, as kwok
# does it (removed at once, no final status), and exit 0 (a trainer that exits cleanly on
# SIGTERM). None of them may count.
ENDINGS: list[int | None] = [143, None, 0]


@pytest.mark.parametrize("backoff_limit", [0, 2])
def test_suspend_and_resume_do_not_count_as_failures(
    kube: Kube, namespace: str, backoff_limit: int
) -> None:
    name = f"mover-{backoff_limit}"
    kube.create(training_job(name, backoff_limit=backoff_limit), namespace=namespace)
    seen_uids: set[str] = set()
    try:
        for cycle, exit_code in enumerate(ENDINGS):
            current = wait_running(kube, namespace, name, 2)
            uids = {p["metadata"]["uid"] for p in current}
            assert not uids & seen_uids, f"cycle {cycle}: resumed Job reused old pods"
            seen_uids |= uids
            if exit_code is not None:
                for pod in current:
                    hold(kube, namespace, pod["metadata"]["name"])

            set_suspend(kube, namespace, name, suspend=True)

            if exit_code is not None:
                observe_grace_period(kube, namespace, name, uids, exit_code=exit_code)
                release(kube, namespace, name)

            def gone() -> dict[str, Any] | None:
                status = job_status(kube, namespace, name)
                empty = not pods(kube, namespace, name)
                settled = status.get("active", 0) == 0 and status.get("terminating") == 0
                return status if empty and settled else None

            status = wait_until(gone, timeout=60, message="the pods to be gone")
            assert_nothing_counted(status)
            suspended = condition(status, "Suspended")
            assert suspended is not None
            assert (suspended["status"], suspended["reason"]) == ("True", "JobSuspended")
            if kube.minor >= 36:
                # Cleared on suspension (MutableSchedulingDirectivesForSuspendedJobs, 1.36 beta);
                # on 1.35 the operator clears it itself (JobAdapter._forget_start).
                assert "startTime" not in status

            set_suspend(kube, namespace, name, suspend=False)

        wait_running(kube, namespace, name, 2)
        status = job_status(kube, namespace, name)
        assert_nothing_counted(status)
        resumed = condition(status, "Suspended")
        assert resumed is not None
        assert (resumed["status"], resumed["reason"]) == ("False", "JobResumed")
        assert status.get("startTime")
    finally:
        release(kube, namespace, name)


def test_an_evicted_pod_is_counted_against_the_retry_budget(kube: Kube, namespace: str) -> None:
    name = "evicted"
    kube.create(training_job(name, backoff_limit=2), namespace=namespace)
    victim = wait_running(kube, namespace, name, 2)[0]["metadata"]["name"]
    hold(kube, namespace, victim)
    try:
        eviction = {
            "apiVersion": "policy/v1",
            "kind": "Eviction",
            "metadata": {"name": victim, "namespace": namespace},
        }
        kube.kubectl(
            "create",
            "--raw",
            f"/api/v1/namespaces/{namespace}/pods/{victim}/eviction",
            "-f",
            "-",
            input_text=json.dumps(eviction),
        )

        def counted() -> dict[str, Any] | None:
            status = job_status(kube, namespace, name)
            return status if status.get("failed") == 1 else None

        status = wait_until(counted, timeout=60, message="the eviction to be counted")
        assert condition(status, "Failed") is None  # 1 failure is within backoffLimit 2
        assert not (status.get("uncountedTerminatedPods") or {}).get("failed"), status
        pod = kube.get("pod", victim, namespace)
        disruption = next(c for c in pod["status"]["conditions"] if c["type"] == "DisruptionTarget")
        assert (disruption["status"], disruption["reason"]) == ("True", "EvictionByEvictionAPI")
        # The Job controller counted it first, then let it go.
        assert pod["metadata"]["finalizers"] == [HOLD_FINALIZER]
    finally:
        release(kube, namespace, name)


def test_a_deleted_pod_that_exits_0_counts_as_a_completion(kube: Kube, namespace: str) -> None:
    # With podReplacementPolicy Failed (or any podFailurePolicy) the Job controller waits
    # for a deleted pod's final phase instead of counting the deletion as a failure; a
    # trainer that then exits 0 has "completed" its share of the training.
    name = "exits-0"
    kube.create(
        training_job(name, backoff_limit=2, pod_replacement_policy="Failed"), namespace=namespace
    )
    victim = wait_running(kube, namespace, name, 2)[0]["metadata"]["name"]
    hold(kube, namespace, victim)
    try:
        kube.kubectl("delete", "pod", victim, "-n", namespace, "--wait=false")
        wait_until(
            lambda: job_status(kube, namespace, name).get("terminating") == 1,
            timeout=60,
            message="the deleted pod to be terminating",
        )
        assert job_status(kube, namespace, name).get("failed", 0) == 0
        terminate_like_a_kubelet(kube, namespace, victim, exit_code=0)

        def counted() -> dict[str, Any] | None:
            status = job_status(kube, namespace, name)
            return status if status.get("succeeded") == 1 else None

        status = wait_until(counted, timeout=60, message="the exit 0 to be counted")
        assert status.get("failed", 0) == 0
        assert status.get("active") == 1  # no replacement: one of two completions is "done"
    finally:
        release(kube, namespace, name)


@pytest.mark.parametrize(
    ("policy", "replacements_while_terminating"), [("TerminatingOrFailed", 2), ("Failed", 0)]
)
def test_resuming_before_the_pods_are_gone(
    kube: Kube, namespace: str, policy: str, replacements_while_terminating: int
) -> None:
    name = f"early-{policy.lower()}"
    kube.create(
        training_job(name, backoff_limit=0, pod_replacement_policy=policy), namespace=namespace
    )
    try:
        for pod in wait_running(kube, namespace, name, 2):
            hold(kube, namespace, pod["metadata"]["name"])
        set_suspend(kube, namespace, name, suspend=True)
        wait_until(
            lambda: job_status(kube, namespace, name).get("terminating") == 2,
            timeout=60,
            message="2 terminating pods",
        )
        set_suspend(kube, namespace, name, suspend=False)

        def resumed() -> dict[str, Any] | None:
            status = job_status(kube, namespace, name)
            suspended = condition(status, "Suspended")
            return status if suspended and suspended["status"] == "False" else None

        # The sync that reports the resume is the one that decided whether to create pods
        # (manageJob runs before the status write), so this is the decision, not a race.
        status = wait_until(resumed, timeout=60, message="the Job to resume")
        fresh = [
            p for p in pods(kube, namespace, name) if not p["metadata"].get("deletionTimestamp")
        ]
        assert status.get("active", 0) == len(fresh) == replacements_while_terminating, status
        assert status.get("terminating") == 2, status
        assert_nothing_counted(status)
        if replacements_while_terminating:
            # Old and new generations side by side: both could write the same checkpoint.
            wait_running(kube, namespace, name, replacements_while_terminating)

        release(kube, namespace, name)
        wait_running(kube, namespace, name, 2)
        assert_nothing_counted(job_status(kube, namespace, name))
    finally:
        release(kube, namespace, name)
