"""Admission webhooks: hold deferrable Jobs, JobSets, TrainJobs and Pods at creation.

Only wraps the pure functions in ``wattbit.k8s.admission``; the configuration
(objectSelector on the label, namespaceSelector without kube-system and our own
namespace) keeps everything else from ever reaching these handlers, and the
functions check the same again. Each admission is counted by kind and outcome
(held, passed, skipped, error) and timed; counting never changes the answer.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import kopf

from wattbit import metrics
from wattbit.config import OperatorConfig
from wattbit.k8s import admission
from wattbit.k8s.webhook_config import (
    GATE_POD_HANDLER_ID,
    HOLD_JOB_HANDLER_ID,
    HOLD_JOBSET_HANDLER_ID,
    HOLD_TRAINJOB_HANDLER_ID,
)

# Read once: the webhook must answer within the API server's timeout, without I/O.
_EXCLUDED = OperatorConfig.from_env().excluded_namespaces


def _apply(
    kind: metrics.AdmissionKind,
    mutate: Callable[..., dict[str, Any] | None],
    body: kopf.Body,
    patch: kopf.Patch,
) -> None:
    started = time.perf_counter()
    outcome: metrics.AdmissionOutcome = "error"  # unless the mutation returns
    try:
        namespace = body.metadata.namespace
        changes = mutate(
            body,
            namespace=namespace,
            excluded_namespaces=_EXCLUDED,
            now=datetime.now(UTC),
        )
        for key, value in (changes or {}).items():
            patch[key] = value
        if changes:
            outcome = "held"
        elif admission.out_of_scope(body, namespace, _EXCLUDED):
            outcome = "skipped"
        else:
            outcome = "passed"
    finally:
        metrics.observe_admission(kind, outcome, time.perf_counter() - started)


@kopf.on.mutate("batch", "v1", "jobs", id=HOLD_JOB_HANDLER_ID, operations={"CREATE"})
def hold_job(*, body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
    _apply("Job", admission.hold_job, body, patch)


@kopf.on.mutate(
    "jobset.x-k8s.io", "v1alpha2", "jobsets", id=HOLD_JOBSET_HANDLER_ID, operations={"CREATE"}
)
def hold_jobset(*, body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
    _apply("JobSet", admission.hold_job, body, patch)


@kopf.on.mutate(
    "trainer.kubeflow.org",
    "v1alpha1",
    "trainjobs",
    id=HOLD_TRAINJOB_HANDLER_ID,
    operations={"CREATE"},
)
def hold_trainjob(*, body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
    _apply("TrainJob", admission.hold_job, body, patch)


@kopf.on.mutate("", "v1", "pods", id=GATE_POD_HANDLER_ID, operations={"CREATE"})
def gate_pod(*, body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
    _apply("Pod", admission.gate_pod, body, patch)
