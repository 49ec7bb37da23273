"""The batch stack on the test cluster: the real JobSet, Kubeflow Trainer and Kueue controllers.

``batch_stack`` (session scope; re-exported by conftest.py) runs hack/batch-stack-up.sh on the
``kube`` fixture's cluster: it builds the controllers on a cache miss (hack/test.sh builds them
before pytest), installs their CRDs, starts them as host processes with their webhooks on
127.0.0.1 and registers those, and returns once each answers. Idempotent: on a cluster where the
stack already runs, it only checks it. The controllers keep running until hack/cluster-down.sh.

What the fixture gives a test (``BatchStack``): the components that are ready, the CRDs they
installed, ``TRAINING_RUNTIME`` (a ClusterTrainingRuntime applied at start), the controllers'
ports, and ``log(component)`` for assertion messages. Kueue manages only Jobs/JobSets/TrainJobs
labelled ``kueue.x-k8s.io/queue-name`` and never touches ``KUEUE_EXCLUDED_NAMESPACES``.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.integration.kube import REPO_ROOT, Kube

COMPONENTS = ("jobset", "trainer", "kueue")
TRAINING_RUNTIME = "torch-distributed"
"""hack/batch/torch-distributed.yaml: one replicated job `node`, one Job of numNodes pods."""
KUEUE_EXCLUDED_NAMESPACES = ("kube-system", "kueue-system", "wattbit-system")
QUEUE_NAME_LABEL = "kueue.x-k8s.io/queue-name"
KUEUE_API = "kueue.x-k8s.io/v1beta2"


@dataclass(frozen=True)
class BatchStack:
    components: tuple[str, ...]
    """The controllers that are running and ready (a subset of COMPONENTS)."""
    crds: tuple[str, ...]
    """Every CRD the stack installed, e.g. ``jobsets.jobset.x-k8s.io``."""
    env: dict[str, str]
    """$STATE/batch-env: WATTBIT_BATCH_DIR, WATTBIT_<COMPONENT>_{WEBHOOK,HEALTH,METRICS}_PORT."""
    state_dir: Path

    def log(self, component: str, tail: int = 4000) -> str:
        """The end of a controller's log, for assertion messages."""
        path = self.state_dir / "logs" / f"{component}.log"
        return path.read_text(errors="replace")[-tail:] if path.exists() else "(no log)"


def _read_env_file(path: Path) -> dict[str, str]:
    env: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        if raw.startswith("export "):
            key, _, value = raw[len("export ") :].partition("=")
            env[key] = " ".join(shlex.split(value))  # written with printf %q
    return env


def start_batch_stack(kube: Kube, components: tuple[str, ...] = COMPONENTS) -> BatchStack:
    """Run hack/batch-stack-up.sh for ``components`` on ``kube``'s cluster (idempotent)."""
    state_dir = Path(kube.kubeconfig).parent
    up = subprocess.run(
        ["bash", str(REPO_ROOT / "hack" / "batch-stack-up.sh"), *components],
        env={**os.environ, "WATTBIT_STATE_DIR": str(state_dir)},
        capture_output=True,
        text=True,
        # A cache miss builds the three controllers first (about 7 minutes on 2 cores).
        timeout=2400,
        check=False,
    )
    if up.returncode != 0:
        pytest.fail(f"hack/batch-stack-up.sh {' '.join(components)} failed:\n{up.stderr[-6000:]}")
    env = _read_env_file(Path(up.stdout.strip().splitlines()[-1]))
    crds = kube.kubectl(
        "get", "crd", "-o", "jsonpath={range .items[*]}{.metadata.name}{'\\n'}{end}"
    ).stdout.split()
    groups = ("jobset.x-k8s.io", "trainer.kubeflow.org", "kueue.x-k8s.io")
    return BatchStack(
        components=tuple(env["WATTBIT_BATCH_COMPONENTS"].split()),
        crds=tuple(sorted(c for c in crds if c.endswith(groups))),
        env=env,
        state_dir=state_dir,
    )


@pytest.fixture(scope="session")
def batch_stack(kube: Kube) -> BatchStack:
    """JobSet, Trainer and Kueue running against the local cluster (hack/batch-stack-up.sh).
    They keep running after the session, as the cluster does."""
    return start_batch_stack(kube)


def kueue_queue(
    name: str, namespace: str, *, gpus: int, check: str | None = None
) -> list[dict[str, Any]]:
    """A ResourceFlavor, a ClusterQueue and a LocalQueue, all named `name`: `gpus` GPUs and
    100 CPUs of quota, and the AdmissionCheck `check` listed on the ClusterQueue if given."""
    spec: dict[str, Any] = {
        "namespaceSelector": {},
        "resourceGroups": [
            {
                "coveredResources": ["cpu", "nvidia.com/gpu"],
                "flavors": [
                    {
                        "name": name,
                        "resources": [
                            {"name": "cpu", "nominalQuota": "100"},
                            {"name": "nvidia.com/gpu", "nominalQuota": str(gpus)},
                        ],
                    }
                ],
            }
        ],
    }
    if check is not None:
        spec["admissionChecksStrategy"] = {"admissionChecks": [{"name": check}]}
    return [
        {"apiVersion": KUEUE_API, "kind": "ResourceFlavor", "metadata": {"name": name}},
        {"apiVersion": KUEUE_API, "kind": "ClusterQueue", "metadata": {"name": name}, "spec": spec},
        {
            "apiVersion": KUEUE_API,
            "kind": "LocalQueue",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"clusterQueue": name},
        },
    ]
