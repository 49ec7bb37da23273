"""Part of the chart, applied to the local control plane for a test and removed after it.

`helm template` renders the chart for a release namespace; `installed` applies the documents
of the given kinds into a fresh namespace (removing leftovers of an interrupted run first) and
deletes them, cluster-scoped ones included, afterwards. The Deployment and webhook are never
applied: a webhook without endpoints would block other tests' labelled workloads.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import yaml

from tests.integration.kube import REPO_ROOT, Kube, wait_until

NAMESPACED = {"ServiceAccount", "Role", "RoleBinding"}


def render(
    kube: Kube, *, release: str, namespace: str, kinds: set[str], values: dict[str, Any]
) -> list[dict[str, Any]]:
    result = subprocess.run(
        [
            str(kube.bin_dir / "helm"),
            "template",
            release,
            str(REPO_ROOT / "charts" / "wattbit"),
            "--namespace",
            namespace,
            "--values",
            "-",
        ],
        input=json.dumps(values),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return [d for d in yaml.safe_load_all(result.stdout) if d and d["kind"] in kinds]


def _delete(kube: Kube, documents: list[dict[str, Any]], namespace: str) -> None:
    for doc in documents:
        if doc["kind"] not in NAMESPACED:
            kube.kubectl(
                "delete", doc["kind"], doc["metadata"]["name"], "--ignore-not-found", check=False
            )
    kube.kubectl("delete", "namespace", namespace, "--ignore-not-found", "--wait=false")


@contextmanager
def installed(
    kube: Kube, *, release: str, namespace: str, kinds: set[str], values: dict[str, Any]
) -> Iterator[list[dict[str, Any]]]:
    """The chart's documents of `kinds`, applied in `namespace`; yields them."""
    documents = render(kube, release=release, namespace=namespace, kinds=kinds, values=values)
    assert {d["kind"] for d in documents} == kinds
    _delete(kube, documents, namespace)  # leftovers of an interrupted run
    wait_until(
        lambda: not kube.find("namespace", namespace),
        timeout=60,
        message=f"namespace {namespace} to be gone",
    )
    try:
        kube.kubectl("create", "namespace", namespace)
        kube.apply(*documents)
        yield documents
    finally:
        _delete(kube, documents, namespace)


def service_account_user(documents: list[dict[str, Any]], namespace: str) -> str:
    account = next(d for d in documents if d["kind"] == "ServiceAccount")
    return f"system:serviceaccount:{namespace}:{account['metadata']['name']}"
