"""The chart's RBAC, asked of a real API server with ``kubectl auth can-i``.

Matrix:
- the operator's ServiceAccount may do everything in tests/chart/rbac.py OPERATOR_CAN
  (own kinds and status, patch-only workloads, read-only nodes, events, CRD watch, one
  named Secret in the release namespace) and nothing in OPERATOR_CANNOT (create/delete
  Jobs, create Pods, Secrets elsewhere or by list, node/namespace writes, kube-system,
  escalation);
- the aggregated view/edit roles reach the built-in ``view`` and ``edit``: a viewer reads
  the wattbit.io kinds, an editor writes PowerSignals but not WorkloadPlacements.

Only the ServiceAccount, (Cluster)Roles and bindings are applied, into a fresh namespace;
everything, cluster-scoped objects included, is deleted afterwards. Skipped on purpose: the
Deployment and webhook (no image can be built here; a webhook without endpoints would
block labelled workloads of other tests).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.chart.rbac import OPERATOR_CAN, OPERATOR_CANNOT, RELEASE, SECRET_NAME, Access
from tests.integration import chart
from tests.integration.kube import Kube, wait_until

pytestmark = pytest.mark.integration

NAMESPACE = "wattbit-rbac-test"
RELEASE_NAME = "wattbit-rbac-test"  # contains "wattbit", so it is also the name prefix
RBAC_KINDS = {"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"}
VIEWER = "wattbit-rbac-test-viewer"
EDITOR = "wattbit-rbac-test-editor"


@dataclass
class Installed:
    service_account: str
    documents: list[dict[str, Any]]

    @property
    def user(self) -> str:
        return f"system:serviceaccount:{NAMESPACE}:{self.service_account}"


@pytest.fixture(scope="module")
def installed(kube: Kube) -> Iterator[Installed]:
    values = {"providers": {"secretNames": [SECRET_NAME]}}
    with chart.installed(
        kube, release=RELEASE_NAME, namespace=NAMESPACE, kinds=RBAC_KINDS, values=values
    ) as documents:
        account = next(d for d in documents if d["kind"] == "ServiceAccount")
        yield Installed(service_account=account["metadata"]["name"], documents=documents)


def can_i(kube: Kube, user: str, access: Access) -> bool:
    result = kube.kubectl(
        "auth", "can-i", *access.args(NAMESPACE), f"--as={user}", "--quiet", check=False
    )
    if result.returncode not in (0, 1):
        raise AssertionError(f"kubectl auth can-i {access} failed: {result.stderr.strip()}")
    return result.returncode == 0


def _describe(access: Access) -> str:
    where = NAMESPACE if access.namespace == RELEASE else access.namespace or "cluster"
    sub = f"/{access.subresource}" if access.subresource else ""
    return f"{access.verb} {access.resource}{sub} in {where}"


def test_operator_has_what_it_needs(kube: Kube, installed: Installed) -> None:
    missing = [_describe(a) for a in OPERATOR_CAN if not can_i(kube, installed.user, a)]
    assert not missing, "the operator lacks:\n" + "\n".join(missing)


def test_operator_has_nothing_more(kube: Kube, installed: Installed) -> None:
    extra = [_describe(a) for a in OPERATOR_CANNOT if can_i(kube, installed.user, a)]
    assert not extra, "the operator must not be able to:\n" + "\n".join(extra)


def test_aggregated_roles_reach_view_and_edit(kube: Kube, installed: Installed) -> None:
    for user, role in ((VIEWER, "view"), (EDITOR, "edit")):
        kube.kubectl(
            "create",
            "rolebinding",
            user,
            f"--clusterrole={role}",
            f"--user={user}",
            "-n",
            NAMESPACE,
        )
    in_namespace = "placementpolicies.wattbit.io"
    # The controller-manager aggregates asynchronously.
    wait_until(
        lambda: can_i(kube, VIEWER, Access("list", in_namespace, RELEASE)),
        timeout=30,
        message="wattbit-view to be aggregated into view",
    )
    wait_until(
        lambda: can_i(kube, EDITOR, Access("create", "powersignals.wattbit.io", RELEASE)),
        timeout=30,
        message="wattbit-edit to be aggregated into edit",
    )
    assert can_i(kube, VIEWER, Access("get", "workloadplacements.wattbit.io", RELEASE))
    assert not can_i(kube, VIEWER, Access("create", in_namespace, RELEASE))
    assert can_i(kube, EDITOR, Access("delete", in_namespace, RELEASE))
    assert can_i(kube, EDITOR, Access("list", "workloadplacements.wattbit.io", RELEASE))
    assert not can_i(kube, EDITOR, Access("create", "workloadplacements.wattbit.io", RELEASE))
    assert not can_i(kube, EDITOR, Access("patch", in_namespace, RELEASE, subresource="status"))
