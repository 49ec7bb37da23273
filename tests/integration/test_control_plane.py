"""The local control plane itself (hack/cluster-up.sh), as the operator relies on it.

Covers: a second cluster-up is a no-op that returns the same cluster (same
kube-apiserver process); the API server reports the pinned Kubernetes version it was built at
and enforces RBAC (an unknown ServiceAccount may not list pods); simulated GPU
nodes are Ready and untainted in three regions; kwok finishes a pod after its
``wattbit.io/simulated-duration``; and a Job that ran, suspended again, can be
re-targeted to another region and resumed there once its startTime is cleared (mutable
scheduling directives on suspended Jobs, which migration relies on; 1.36 clears startTime
itself, 1.35 needs the status patch the operator makes).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.integration.kube import REPO_ROOT, Kube, wait_until

pytestmark = pytest.mark.integration

REGION_LABEL = "topology.kubernetes.io/region"


def test_cluster_up_is_idempotent(kube: Kube) -> None:
    state = Path(kube.kubeconfig).parent
    pids_before = (state / "pids").read_text()
    again = subprocess.run(
        ["bash", str(REPO_ROOT / "hack" / "cluster-up.sh")],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert again.stdout.strip().splitlines()[-1] == kube.kubeconfig
    assert (state / "pids").read_text() == pids_before


def test_pinned_version_and_rbac(kube: Kube) -> None:
    version = json.loads(kube.kubectl("version", "-o", "json").stdout)
    built = subprocess.run(
        [str(kube.bin_dir / "kube-apiserver"), "--version"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()[-1]
    assert built in ("v1.35.4", "v1.36.3", "v1.37.2")  # hack/build-control-plane.sh's pins
    assert version["serverVersion"]["gitVersion"] == built
    denied = kube.kubectl(
        "auth", "can-i", "list", "pods", "--as=system:serviceaccount:default:nobody", check=False
    )
    assert denied.stdout.strip() == "no"


def test_gpu_nodes_in_three_regions_are_ready_and_untainted(kube: Kube) -> None:
    nodes = json.loads(kube.kubectl("get", "nodes", "-o", "json").stdout)["items"]
    by_region: dict[str, int] = {}
    for node in nodes:
        labels = node["metadata"]["labels"]
        ready = any(
            c["type"] == "Ready" and c["status"] == "True" for c in node["status"]["conditions"]
        )
        assert ready, node["metadata"]["name"]
        assert not any(
            t["key"] == "node.kubernetes.io/not-ready" for t in node["spec"].get("taints", [])
        )
        gpus = int(node["status"]["allocatable"].get("nvidia.com/gpu", "0"))
        by_region[labels[REGION_LABEL]] = by_region.get(labels[REGION_LABEL], 0) + gpus
    assert {"hokkaido", "tokyo", "kyushu"} <= set(by_region)
    assert all(gpus > 0 for gpus in by_region.values())


def job(name: str, region: str, *, suspend: bool, duration: str) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "suspend": suspend,
            "backoffLimit": 0,
            "template": {
                "metadata": {"annotations": {"wattbit.io/simulated-duration": duration}},
                "spec": {
                    "restartPolicy": "Never",
                    "nodeSelector": {REGION_LABEL: region},
                    "containers": [
                        {
                            "name": "c",
                            "image": "registry.example/train:1",
                            "resources": {"limits": {"nvidia.com/gpu": "1"}},
                        }
                    ],
                },
            },
        },
    }


def pod_regions(kube: Kube, namespace: str, job_name: str) -> set[str]:
    pods = json.loads(
        kube.kubectl(
            "get", "pods", "-n", namespace, "-l", f"job-name={job_name}", "-o", "json"
        ).stdout
    )["items"]
    regions = set()
    for pod in pods:
        node = pod["spec"].get("nodeName")
        if node and pod["status"].get("phase") == "Running":
            regions.add(kube.get("node", node)["metadata"]["labels"][REGION_LABEL])
    return regions


def job_condition(kube: Kube, namespace: str, name: str, type_: str) -> bool:
    status = kube.get("job", name, namespace).get("status") or {}
    return any(c["type"] == type_ and c["status"] == "True" for c in status.get("conditions") or [])


def test_kwok_finishes_a_pod_after_its_simulated_duration(kube: Kube, namespace: str) -> None:
    kube.create(job("short", "tokyo", suspend=False, duration="3s"), namespace=namespace)
    wait_until(
        lambda: pod_regions(kube, namespace, "short") == {"tokyo"},
        timeout=60,
        message="the pod to run in tokyo",
    )
    wait_until(
        lambda: job_condition(kube, namespace, "short", "Complete"),
        timeout=60,
        message="the Job to complete after 3s",
    )


def test_a_job_that_ran_can_be_suspended_retargeted_and_resumed(kube: Kube, namespace: str) -> None:
    kube.create(job("mover", "tokyo", suspend=False, duration="1h"), namespace=namespace)
    wait_until(
        lambda: pod_regions(kube, namespace, "mover") == {"tokyo"},
        timeout=60,
        message="the pod to run in tokyo",
    )
    kube.kubectl(
        "patch",
        "job",
        "mover",
        "-n",
        namespace,
        "--type=merge",
        "-p",
        '{"spec": {"suspend": true}}',
    )
    wait_until(
        lambda: not pod_regions(kube, namespace, "mover"),
        timeout=60,
        message="the pod to be removed on suspension",
    )
    # 1.36 clears startTime on suspension; 1.35 refuses a started Job's template change until
    # it is cleared through the status subresource, as the operator does (JobAdapter).
    kube.kubectl(
        "patch",
        "job",
        "mover",
        "-n",
        namespace,
        "--subresource=status",
        "--type=merge",
        "-p",
        '{"status": {"startTime": null}}',
    )
    retarget = {"spec": {"template": {"spec": {"nodeSelector": {REGION_LABEL: "kyushu"}}}}}
    kube.kubectl(
        "patch", "job", "mover", "-n", namespace, "--type=merge", "-p", json.dumps(retarget)
    )
    kube.kubectl(
        "patch",
        "job",
        "mover",
        "-n",
        namespace,
        "--type=merge",
        "-p",
        '{"spec": {"suspend": false}}',
    )
    wait_until(
        lambda: pod_regions(kube, namespace, "mover") == {"kyushu"},
        timeout=60,
        message="the resumed pod to run in kyushu",
    )
