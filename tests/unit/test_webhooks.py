"""The admission handlers (wattbit.handlers.webhooks) count what they decide.

Covers: each outcome (held, passed, skipped, error) of the Job and the Pod handler is
counted under its kind and timed, and the patch is the one wattbit.k8s.admission returns
(counting changes no answer; an error still propagates, so kopf denies the request).
Skipped: what the admission functions decide (test_admission.py) and kopf's webhook
server (the integration tests run it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import kopf
import pytest
from prometheus_client import REGISTRY

from wattbit.handlers import webhooks
from wattbit.k8s import admission, names

DEFERRABLE = {names.LABEL_DEFERRABLE: "true"}


def count(kind: str, outcome: str) -> float:
    labels = {"kind": kind, "outcome": outcome}
    return REGISTRY.get_sample_value("wattbit_admissions_total", labels) or 0.0


def timed(kind: str) -> float:
    labels = {"kind": kind}
    return REGISTRY.get_sample_value("wattbit_webhook_duration_seconds_count", labels) or 0.0


def body(raw: dict[str, Any]) -> kopf.Body:
    return kopf.Body(cast("kopf.RawBody", raw))


def job(namespace: str = "ml", labels: dict[str, str] | None = None, **spec: Any) -> kopf.Body:
    meta = {"name": "train", "namespace": namespace, "labels": labels or {}}
    return body({"kind": "Job", "metadata": meta, "spec": {"template": {}, **spec}})


def pod(
    owners: list[dict[str, Any]] | None = None, labels: dict[str, str] | None = None
) -> kopf.Body:
    meta = {"name": "p", "namespace": "ml", "labels": labels or DEFERRABLE}
    return body({"kind": "Pod", "metadata": {**meta, "ownerReferences": owners or []}})


def admit(kind: str, workload: kopf.Body) -> kopf.Patch:
    """Call the handler as kopf does, with the arguments it reads."""
    patch = kopf.Patch()
    handler: Callable[..., object] = webhooks.hold_job if kind == "Job" else webhooks.gate_pod
    handler(body=workload, patch=patch)
    return patch


@pytest.mark.parametrize(
    ("kind", "workload", "outcome", "held"),
    [
        ("Job", job(labels=DEFERRABLE), "held", True),
        ("Job", job(labels=DEFERRABLE, suspend=True), "passed", False),
        ("Job", job(), "skipped", False),
        ("Job", job("kube-system", DEFERRABLE), "skipped", False),
        ("Pod", pod(), "held", True),
        ("Pod", pod([{"kind": "Job", "name": "train", "controller": True}]), "passed", False),
        ("Pod", pod(labels={"app": "x"}), "skipped", False),
    ],
    ids=[
        "job-held",
        "job-suspended-by-owner",
        "job-unlabelled",
        "job-excluded-namespace",
        "pod-held",
        "pod-of-a-job",
        "pod-unlabelled",
    ],
)
def test_each_admission_is_counted_by_kind_and_outcome(
    kind: str, workload: kopf.Body, outcome: str, held: bool
) -> None:
    before, before_timed = count(kind, outcome), timed(kind)
    patch = admit(kind, workload)
    assert bool(patch) is held
    assert count(kind, outcome) == before + 1
    assert timed(kind) == before_timed + 1


def test_an_error_is_counted_and_still_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_: Any, **__: Any) -> dict[str, Any] | None:
        raise RuntimeError("broken")

    monkeypatch.setattr(admission, "hold_job", broken)
    before, before_timed = count("Job", "error"), timed("Job")
    with pytest.raises(RuntimeError, match="broken"):
        admit("Job", job(labels=DEFERRABLE))
    assert count("Job", "error") == before + 1
    assert timed("Job") == before_timed + 1
