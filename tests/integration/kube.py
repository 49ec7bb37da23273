"""Helpers for integration tests: the Kube handle and wait_until.

Imported by conftest.py and the tests (``from tests.integration.kube import ...``).
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

REPO_ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")


def wait_until(
    predicate: Callable[[], T | None],
    *,
    timeout: float = 60.0,
    interval: float = 0.5,
    message: str = "condition",
) -> T:
    """Poll ``predicate`` until it returns a truthy value; fail with ``message`` on timeout."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except ApiException as error:  # transient API errors while objects settle
            last_error = error
            value = None
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(
        f"timed out after {timeout:.0f}s waiting for {message}"
        + (f" (last API error: {last_error})" if last_error else "")
    )


def holds_for(
    predicate: Callable[[], object],
    *,
    duration: float,
    interval: float = 0.5,
    message: str = "condition",
) -> int:
    """Poll ``predicate`` for ``duration`` seconds; fail the moment it is falsy (something
    that must not happen did). Returns how many times it was checked."""
    deadline = time.monotonic() + duration
    checks = 0
    while True:
        checks += 1
        if not predicate():
            raise AssertionError(f"no longer true after {checks} checks: {message}")
        if time.monotonic() >= deadline:
            return checks
        time.sleep(interval)


@dataclass
class Kube:
    kubeconfig: str
    env: dict[str, str]
    api_client: client.ApiClient
    bin_dir: Path

    @property
    def minor(self) -> int:
        """The API server's minor version (35 on a WATTBIT_KUBERNETES=1.35 cluster)."""
        info = client.VersionApi(self.api_client).get_code()
        return int(str(info.minor).rstrip("+"))

    @property
    def core(self) -> client.CoreV1Api:
        return client.CoreV1Api(self.api_client)

    @property
    def batch(self) -> client.BatchV1Api:
        return client.BatchV1Api(self.api_client)

    @property
    def custom(self) -> client.CustomObjectsApi:
        return client.CustomObjectsApi(self.api_client)

    def kubectl(
        self, *args: str, input_text: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run kubectl against the cluster; with ``check``, fail showing its stderr."""
        result = subprocess.run(
            [str(self.bin_dir / "kubectl"), f"--kubeconfig={self.kubeconfig}", *args],
            input=input_text,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {result.stderr.strip()}")
        return result

    def create(
        self, manifest: dict[str, Any], *, namespace: str | None = None, dry_run: bool = False
    ) -> dict[str, Any]:
        """Create an object as a user would (kubectl) and return it as the server stored it."""
        args = ["create", "-f", "-", "-o", "json"]
        if namespace:
            args += ["-n", namespace]
        if dry_run:
            args.append("--dry-run=server")
        result = self.kubectl(*args, input_text=json.dumps(manifest))
        created: dict[str, Any] = json.loads(result.stdout)
        return created

    def get(self, resource: str, name: str, namespace: str | None = None) -> dict[str, Any]:
        args = ["get", resource, name, "-o", "json"]
        if namespace:
            args += ["-n", namespace]
        found: dict[str, Any] = json.loads(self.kubectl(*args).stdout)
        return found

    def managed_fields(
        self, resource: str, name: str, namespace: str | None = None
    ) -> list[dict[str, Any]]:
        """The object's managedFields (`kubectl get` hides them unless asked)."""
        args = ["get", resource, name, "-o", "json", "--show-managed-fields"]
        if namespace:
            args += ["-n", namespace]
        found = json.loads(self.kubectl(*args).stdout)
        entries: list[dict[str, Any]] = found["metadata"]["managedFields"]
        return entries

    def find(self, resource: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        """The object, or None while it does not exist (for polling)."""
        args = ["get", resource, name, "-o", "json", "--ignore-not-found"]
        if namespace:
            args += ["-n", namespace]
        out = self.kubectl(*args).stdout.strip()
        if not out:
            return None
        found: dict[str, Any] = json.loads(out)
        return found

    def apply(self, *documents: dict[str, Any]) -> None:
        self.kubectl("apply", "-f", "-", input_text=yaml.safe_dump_all(documents))


# Kyushu's spring midday: solar surplus, floor price. It must win on cost.
REGION_SIGNALS = {
    "hokkaido": ("JP-HKD", 500, "9.5"),
    "tokyo": ("JP-TK", 450, "14.2"),
    "kyushu": ("JP-KY", 120, "0.01"),
}


def region(name: str, area: str, carbon: int, price: str) -> dict[str, Any]:
    return {
        "apiVersion": "wattbit.io/v1alpha1",
        "kind": "Region",
        "metadata": {"name": name},
        "spec": {
            "gridArea": area,
            "pue": "1.2",
            "signals": {
                "provider": "static",
                "static": {"carbonGramsPerKwh": carbon, "priceJpyPerKwh": price},
            },
        },
    }
