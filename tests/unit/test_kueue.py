"""wattbit as a Kueue AdmissionCheck controller: what it reads and the stages it infers."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from tests.unit.test_admission import NOW
from tests.unit.test_snapshots import JobBuilder, classified, make_cluster, make_job, managed
from wattbit.core.model import Reason
from wattbit.k8s import admission, names
from wattbit.k8s.kueue import (
    ACTIVE_MESSAGE,
    CONTROLLER_NAME,
    CheckState,
    check_apply,
    is_active,
    kueue_workload,
    serves,
)
from wattbit.k8s.snapshots import Stage

CHECK = "carbon"


def workload_body(
    owner_uid: str,
    *,
    state: str = CheckState.PENDING,
    quota: bool = True,
    admitted: bool = False,
    active: bool | None = None,
    checks: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    conditions = [{"type": "QuotaReserved", "status": "True" if quota else "False"}]
    conditions.append({"type": "Admitted", "status": "True" if admitted else "False"})
    spec: dict[str, Any] = {"podSets": [{"name": "main", "count": 2}], "queueName": "q"}
    if active is not None:
        spec["active"] = active
    return {
        "apiVersion": "kueue.x-k8s.io/v1beta2",
        "kind": "Workload",
        "metadata": {
            "namespace": "ml",
            "name": "job-train-1a2b3",
            "ownerReferences": [
                {"kind": "Job", "name": "train", "uid": owner_uid, "controller": True}
            ],
        },
        "spec": spec,
        "status": {
            "conditions": conditions,
            "admission": {"clusterQueue": "gpus"},
            "admissionChecks": checks
            if checks is not None
            else [{"name": CHECK, "state": state, "message": ""}],
        },
    }


def queued_job() -> JobBuilder:
    return make_job("train").not_held().label(names.ANNOTATION_QUEUE_NAME, "q")


def test_a_workload_is_read_with_its_checks_and_pod_sets() -> None:
    body = workload_body(
        "u-1",
        checks=[
            {"name": "other", "state": "Ready"},
            {
                "name": CHECK,
                "state": "Ready",
                "message": "placed",
                "podSetUpdates": [{"name": "main", "nodeSelector": {"r": "kyushu"}}],
            },
        ],
        admitted=True,
    )
    workload = kueue_workload(body)
    assert workload is not None
    assert workload.owner_uid == "u-1"
    assert workload.pod_sets == ("main",)
    assert workload.quota_reserved
    assert workload.admitted
    assert workload.active  # unset means active
    assert workload.cluster_queue == "gpus"
    check = workload.check({CHECK})
    assert check is not None
    assert check.node_selectors == {"main": {"r": "kyushu"}}
    assert workload.check({"absent"}) is None


def test_a_workload_without_a_controlling_owner_is_not_a_jobs() -> None:
    body = workload_body("u-1")
    body["metadata"]["ownerReferences"] = []
    assert kueue_workload(body) is None


def test_the_check_write_names_only_wattbits_entry_with_every_pod_set() -> None:
    workload = kueue_workload(workload_body("u-1"))
    assert workload is not None
    body = check_apply(
        workload,
        check=CHECK,
        state=CheckState.READY,
        message="placed in kyushu",
        node_selector={"topology.kubernetes.io/region": "kyushu"},
        now=NOW,
    )
    assert body["metadata"] == {"name": "job-train-1a2b3", "namespace": "ml"}
    (entry,) = body["status"]["admissionChecks"]
    assert entry["name"] == CHECK
    assert entry["state"] == "Ready"
    assert entry["lastTransitionTime"] == "2026-04-15T03:00:00Z"
    assert entry["podSetUpdates"] == [
        {"name": "main", "nodeSelector": {"topology.kubernetes.io/region": "kyushu"}}
    ]
    pending = check_apply(
        workload, check=CHECK, state="Pending", message="x" * 5000, node_selector=None, now=NOW
    )
    (entry,) = pending["status"]["admissionChecks"]
    assert "podSetUpdates" not in entry
    assert len(entry["message"]) <= 1024


def test_only_checks_naming_wattbit_as_controller_are_served() -> None:
    ours = {"spec": {"controllerName": CONTROLLER_NAME}}
    assert serves(ours)
    assert not serves({"spec": {"controllerName": "kueue.x-k8s.io/provisioning-request"}})
    assert not is_active(ours)
    assert is_active({**ours, "status": {"conditions": [{"type": "Active", "status": "True"}]}})
    assert "not running" in ACTIVE_MESSAGE


def _with_workload(job: JobBuilder, **kw: Any) -> Any:
    obj = job.obj()
    workload = kueue_workload(workload_body(obj.uid, **kw))
    assert workload is not None
    cluster = make_cluster().region("kyushu").region("tokyo")
    return obj, cluster, workload


def _classify(job: JobBuilder, *, checks: frozenset[str] = frozenset({CHECK}), **kw: Any) -> Any:
    obj, cluster, workload = _with_workload(job, **kw)
    view = cluster.workload(obj).build()
    view = replace(view, kueue_workloads={obj.uid: workload}, kueue_checks=checks)
    return managed(view, obj)


def test_with_quota_reserved_and_the_check_pending_wattbit_decides() -> None:
    item = _classify(queued_job())
    assert item.stage is Stage.PENDING
    assert item.obj.kueue is not None
    assert item.obj.kueue.check.name == CHECK
    assert item.snapshot is not None


def test_without_quota_it_waits_in_kueue() -> None:
    item = _classify(queued_job(), quota=False)
    assert item.stage is Stage.FOREIGN
    assert item.reason is Reason.MANAGED_BY_KUEUE
    assert "waiting for quota" in item.message


def test_a_queue_without_wattbits_check_is_kueues_alone() -> None:
    item = _classify(queued_job(), checks=frozenset({"someone-else"}))
    assert item.stage is Stage.FOREIGN
    assert "no wattbit AdmissionCheck" in item.message
    assert classified(queued_job().obj()).stage is Stage.FOREIGN  # no Workload at all


def test_admitted_and_running_after_ready_it_may_be_moved() -> None:
    job = queued_job().running_unsuspended().annotate(names.ANNOTATION_REGION, "kyushu")
    item = _classify(job, state=CheckState.READY, admitted=True)
    assert item.stage is Stage.RUNNING
    assert item.obj.placed_region == "kyushu"  # from the Job's own metadata
    assert item.movable


def test_ready_but_still_suspended_or_deactivated_is_left_to_kueue() -> None:
    assert _classify(queued_job(), state=CheckState.READY).stage is Stage.PAUSED
    running = queued_job().running_unsuspended()
    assert _classify(running, state=CheckState.READY, active=False).stage is Stage.PAUSED


def test_a_rejected_check_is_reported() -> None:
    item = _classify(queued_job(), state=CheckState.REJECTED)
    assert item.stage is Stage.FOREIGN
    assert "Rejected" in item.message


def test_a_queued_job_is_never_adopted_as_ungated() -> None:
    # Admitted by Kueue and running, never held by wattbit's webhook: still Kueue's.
    item = _classify(queued_job().running_unsuspended(), state=CheckState.READY, admitted=True)
    assert not item.admitted_ungated


@pytest.mark.parametrize("kind", ["Job", "JobSet", "TrainJob"])
def test_the_webhook_leaves_a_queued_workload_to_kueues_webhook(kind: str) -> None:
    body = {
        "kind": kind,
        "metadata": {"labels": {names.LABEL_DEFERRABLE: "true", names.ANNOTATION_QUEUE_NAME: "q"}},
        "spec": {"suspend": False},
    }
    assert admission.hold_job(body, namespace="ml", excluded_namespaces=(), now=NOW) is None
