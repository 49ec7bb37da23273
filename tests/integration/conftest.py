"""Fixtures for tests against the real local control plane (hack/cluster-up.sh).

Session scope: the cluster is started once (or reused when already up), the
CRDs from crds/ are applied, and the operator runs as a real process
(``python -m wattbit --standalone``) with its admission webhook on 127.0.0.1.
The operator runs out of process on purpose: it exercises the real entry point
and webhook server, and a crash shows up as a failed test, not a dead pytest.

Function scope: each test gets its own namespace, deleted afterwards.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config

from tests.integration.kube import REGION_SIGNALS, REPO_ROOT, Kube, region, wait_until


def _read_env_file(path: Path) -> dict[str, str]:
    env: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if line.startswith("export "):
            key, _, value = line[len("export ") :].partition("=")
            env[key] = value.strip("'\"")
    return env


@pytest.fixture(scope="session")
def kube() -> Iterator[Kube]:
    """The local control plane, with wattbit's CRDs applied and established."""
    up = subprocess.run(
        ["bash", str(REPO_ROOT / "hack" / "cluster-up.sh")],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if up.returncode != 0:
        pytest.fail(f"hack/cluster-up.sh failed:\n{up.stderr[-4000:]}")
    kubeconfig = up.stdout.strip().splitlines()[-1]
    env = _read_env_file(Path(kubeconfig).parent / "env")
    api = config.new_client_from_config(config_file=kubeconfig)  # type: ignore[no-untyped-call]
    kube = Kube(
        kubeconfig=kubeconfig, env=env, api_client=api, bin_dir=Path(env["WATTBIT_BIN_DIR"])
    )
    kube.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(REPO_ROOT / "crds"))
    kube.kubectl(
        "wait", "--for=condition=Established", "--timeout=60s", "-f", str(REPO_ROOT / "crds")
    )
    yield kube
    api.close()


OPERATOR_NAMESPACE = "wattbit-system"


@dataclass
class Operator:
    """The operator process. `stop` and `start` let a test restart it (with a fault injected,
    say): one process at a time, since two operators on one cluster would fight."""

    log_path: Path
    kube: Kube
    env: dict[str, str]
    """The session's environment for the process; `start` adds to it per process."""
    process: subprocess.Popen[bytes] | None = None
    metrics_url: str = ""
    extra_env: dict[str, str] = field(default_factory=dict)
    """What the current process was started with on top of `env`."""

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM (the webhook configuration stays, as after a crash), SIGKILL after `timeout`;
        returns the exit code. A process that already exited is only reaped."""
        process = self.process
        assert process is not None, "never started"
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        return process.returncode

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, extra_env: dict[str, str] | None = None) -> None:
        """A new process with the session's settings plus `extra_env`, on fresh ports; returns
        once its webhook answers. The previous process must have exited."""
        assert not self.running, "stop() the running operator first"
        metrics_port = _free_port()
        env = {
            **self.env,
            "WATTBIT_WEBHOOK_PORT": str(_free_port()),
            "WATTBIT_METRICS_PORT": str(metrics_port),
            **(extra_env or {}),
        }
        with self.log_path.open("ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "wattbit", "--standalone", "--verbose"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=REPO_ROOT,
            )
        self.process = process
        self.metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
        self.extra_env = dict(extra_env or {})
        admission = client.AdmissionregistrationV1Api(self.kube.api_client)
        try:
            wait_until(
                lambda: (
                    process.poll() is None
                    and admission.read_mutating_webhook_configuration("wattbit-admission-test")
                ),
                timeout=60,
                message="the operator to register its webhook",
            )
            # After a crash the old configuration is still there: this waits for the new one.
            _wait_for_webhook(self.kube)
        except AssertionError:
            self.stop()
            pytest.fail(f"operator did not start:\n{self.log()[-6000:]}")


def _free_port() -> int:
    import socket  # noqa: PLC0415 - only needed here

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def operator(kube: Kube, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Operator]:
    """The wattbit operator, running against the local cluster with its webhook registered."""
    kube.kubectl("create", "namespace", OPERATOR_NAMESPACE, check=False)
    log_path = tmp_path_factory.mktemp("operator") / "operator.log"
    env = {
        **os.environ,
        "KUBECONFIG": kube.kubeconfig,
        "WATTBIT_NAMESPACE": OPERATOR_NAMESPACE,
        "WATTBIT_WEBHOOK_LISTEN_ADDRESS": "127.0.0.1",
        "WATTBIT_WEBHOOK_HOST": "127.0.0.1",
        "WATTBIT_WEBHOOK_CERT_FILE": kube.env["WATTBIT_WEBHOOK_CERT_FILE"],
        "WATTBIT_WEBHOOK_KEY_FILE": kube.env["WATTBIT_WEBHOOK_KEY_FILE"],
        "WATTBIT_WEBHOOK_CA_FILE": kube.env["WATTBIT_CA_FILE"],
        "WATTBIT_MANAGE_WEBHOOK_CONFIGURATION": "true",
        "WATTBIT_WEBHOOK_CONFIGURATION_NAME": "wattbit-admission-test",
        "WATTBIT_METRICS_LISTEN_ADDRESS": "127.0.0.1",
    }
    running = Operator(log_path=log_path, kube=kube, env=env)
    running.start()
    yield running
    running.stop(timeout=20)
    # A stopped operator leaves its webhook configuration (as a crashed one would): remove it.
    kube.kubectl(
        "delete",
        "mutatingwebhookconfiguration",
        "wattbit-admission-test",
        "--ignore-not-found",
        check=False,
    )


def _wait_for_webhook(kube: Kube) -> None:
    """Until the webhook answers: a labelled dry-run Pod comes back gated."""
    probe = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "probe",
            "namespace": "default",
            "labels": {"wattbit.io/deferrable": "true"},
        },
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }

    def gated() -> bool:
        result = kube.kubectl(
            "create",
            "-n",
            "default",
            "--dry-run=server",
            "-o",
            "json",
            "-f",
            "-",
            input_text=json.dumps(probe),
            check=False,
        )
        return result.returncode == 0 and "wattbit.io/placement" in result.stdout

    wait_until(gated, timeout=60, message="the admission webhook to answer")


@pytest.fixture
def namespace(kube: Kube) -> Iterator[str]:
    name = f"t-{uuid.uuid4().hex[:8]}"
    kube.kubectl("create", "namespace", name)
    yield name
    # Wait (bounded): a test's pods still running would hold GPUs in the next test.
    kube.kubectl("delete", "namespace", name, "--wait=true", "--timeout=90s", check=False)


@pytest.fixture(scope="session")
def regions(kube: Kube, operator: Operator) -> list[str]:
    kube.apply(*(region(n, *values) for n, values in REGION_SIGNALS.items()))

    def all_ready() -> bool:
        items = json.loads(kube.kubectl("get", "regions", "-o", "json").stdout)["items"]
        ready = {
            r["metadata"]["name"]
            for r in items
            for c in (r.get("status") or {}).get("conditions") or []
            if c["type"] == "Ready" and c["status"] == "True"
        }
        return set(REGION_SIGNALS) <= ready

    wait_until(all_ready, timeout=60, message="the three Regions to be Ready")
    return list(REGION_SIGNALS)


def link(a: str, b: str) -> dict[str, Any]:
    return {
        "apiVersion": "wattbit.io/v1alpha1",
        "kind": "APNLink",
        "metadata": {"name": f"{a}-{b}"},
        "spec": {
            "fromRegion": a,
            "toRegion": b,
            "latencyMicroseconds": 8000,
            "bandwidthGbps": 400,
        },
    }


LINKS = (link("hokkaido", "tokyo"), link("tokyo", "kyushu"), link("hokkaido", "kyushu"))


@pytest.fixture
def kyushu_external(kube: Kube, regions: list[str], namespace: str) -> Iterator[str]:
    """Kyushu fed by PowerSignals in the test's namespace, the three regions linked by the
    APN (moves go over links); restored afterwards."""
    patch = {"spec": {"signals": {"provider": "external", "static": None}}}
    kube.kubectl("patch", "region", "kyushu", "--type=merge", "-p", json.dumps(patch))
    kube.apply(*LINKS)
    yield namespace
    for item in LINKS:
        kube.kubectl("delete", "apnlink", item["metadata"]["name"], "--ignore-not-found")
    kube.kubectl("delete", "powersignals", "--all", "-n", namespace, check=False)
    kube.apply(region("kyushu", *REGION_SIGNALS["kyushu"]))
    kube.kubectl(
        "patch",
        "region",
        "kyushu",
        "--type=merge",
        "-p",
        json.dumps({"spec": {"availability": "Available", "capacity": None}}),
    )


# The batch stack (Kueue, JobSet, Trainer; hack/batch-stack-up.sh): the `batch_stack` session
# fixture is defined in tests/integration/batch.py.
from tests.integration.batch import batch_stack  # noqa: E402, F401
