"""The chart's ValidatingAdmissionPolicy on the operator's own writes, on a real API server.

The chart's ServiceAccount, RBAC and policy are applied (the operator itself keeps running as
the admin, which the policy does not match). Patching as the ServiceAccount
(`kubectl --as=system:serviceaccount:...`):
- allowed: a Job's `suspend`, its pod template's nodeSelector and wattbit.io/ annotations;
  a Pod's wattbit.io/ annotations;
- denied, naming the rule: a Job's labels, another annotation, its parallelism; a Pod's
  labels and container image.
The cluster admin may still make the denied changes: the policy binds only the operator.
"""

from __future__ import annotations

import itertools
import json
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration import chart
from tests.integration.kube import Kube, wait_until

pytestmark = pytest.mark.integration

RELEASE_NAMESPACE = "wattbit-vap-test"
RELEASE = "wattbit-vap-test"
KINDS = {
    "ServiceAccount",
    "ClusterRole",
    "ClusterRoleBinding",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
}


@pytest.fixture(scope="module")
def operator_user(kube: Kube) -> Iterator[str]:
    with chart.installed(
        kube, release=RELEASE, namespace=RELEASE_NAMESPACE, kinds=KINDS, values={}
    ) as documents:
        yield chart.service_account_user(documents, RELEASE_NAMESPACE)


def patch(
    kube: Kube, user: str | None, kind: str, namespace: str, body: dict[str, Any]
) -> subprocess.CompletedProcess[str]:
    """Patch the test's workload of `kind` (named "target") as `user` (None: the admin)."""
    args = ["patch", kind, "target", "-n", namespace, "--type=strategic", "-p", json.dumps(body)]
    if user:
        args.append(f"--as={user}")
    return kube.kubectl(*args, check=False)


def job(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "labels": {"team": "ml"}, "annotations": {"owner": "a"}},
        "spec": {
            "suspend": True,
            "parallelism": 1,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "train", "image": "trainer:1"}],
                }
            },
        },
    }


def pod(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"team": "ml"}},
        "spec": {
            "schedulingGates": [{"name": "example.com/hold"}],
            "containers": [{"name": "train", "image": "trainer:1"}],
        },
    }


ALLOWED: list[
    tuple[str, dict[str, Any]]
] = [  # in this order: a Job's template is mutable only while it is suspended
    ("job", {"spec": {"template": {"spec": {"nodeSelector": {"region": "kyushu"}}}}}),
    ("job", {"spec": {"template": {"metadata": {"annotations": {"wattbit.io/region": "ky"}}}}}),
    ("job", {"metadata": {"annotations": {"wattbit.io/released-at": "2026-12-02T10:00:00Z"}}}),
    ("pod", {"metadata": {"annotations": {"wattbit.io/checkpoint-requested-at": "now"}}}),
    ("job", {"spec": {"suspend": False}}),
]

DENIED: list[tuple[str, dict[str, Any], str]] = [
    ("job", {"metadata": {"labels": {"team": "other"}}}, "labels"),
    ("job", {"metadata": {"annotations": {"owner": "b"}}}, "annotations"),
    ("job", {"spec": {"parallelism": 4}}, "suspend"),
    ("pod", {"metadata": {"labels": {"extra": "x"}}}, "labels"),
    (
        "pod",
        {"spec": {"containers": [{"name": "train", "image": "miner:1"}]}},
        "containers",
    ),
]


def test_the_operator_may_change_only_placement_on_workloads(
    kube: Kube, operator_user: str, namespace: str
) -> None:
    kube.create(job("target"), namespace=namespace)
    kube.create(pod("target"), namespace=namespace)

    # The policy is compiled asynchronously: wait until it denies. Each probe sets a new label
    # value, since a probe that lands before the policy would make a repeat of itself a no-op
    # that the policy then has no reason to deny.
    probes = itertools.count()

    def denied() -> bool:
        body = {"metadata": {"labels": {"team": f"probe-{next(probes)}"}}}
        return (
            "ValidatingAdmissionPolicy" in patch(kube, operator_user, "job", namespace, body).stderr
        )

    wait_until(denied, timeout=120, message="the policy to be in force")
    for kind, body, says in DENIED:
        result = patch(kube, operator_user, kind, namespace, body)
        assert result.returncode != 0, (kind, body)
        assert "wattbit-vap-test-operator-writes" in result.stderr
        assert says in result.stderr, result.stderr
    for kind, body in ALLOWED:
        result = patch(kube, operator_user, kind, namespace, body)
        assert result.returncode == 0, (kind, body, result.stderr)
    # Only the operator is bound: the admin may still relabel.
    assert patch(kube, None, "job", namespace, DENIED[0][1]).returncode == 0
