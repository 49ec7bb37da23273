"""The admission path while the operator is down.

- A graceful stop (SIGTERM) leaves the webhook configuration in place, so admission does
  what it would after a crash.
- With the default failurePolicy Ignore, a labelled Job created meanwhile runs unheld; when
  the operator is back, the reconcile loop adopts it (`AdmittedUngated`), records where it
  runs and places or moves it like any other.
- With failurePolicy Fail, the same Job is refused while the operator is down.
- A renewed serving certificate (new files, as cert-manager and the kubelet write them) is
  served without a restart.
"""

from __future__ import annotations

import functools
import os
import shutil
import socket
import ssl
import subprocess
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from tests.integration.conftest import Operator
from tests.integration.kube import Kube, wait_until
from tests.integration.test_move_crash import (
    restartable,  # noqa: F401 - the fixture, used by name below
)
from tests.integration.test_reconcile import long_job, pods_regions, status

pytestmark = pytest.mark.integration

CONFIGURATION = "wattbit-admission-test"


def configuration_exists(kube: Kube) -> bool:
    admission = client.AdmissionregistrationV1Api(kube.api_client)
    names = {
        c.metadata.name for c in admission.list_mutating_webhook_configuration().items if c.metadata
    }
    return CONFIGURATION in names


@pytest.mark.usefixtures("regions", "restartable")
def test_a_job_created_while_the_operator_is_stopped_is_adopted_when_it_is_back(
    kube: Kube, operator: Operator, namespace: str
) -> None:
    assert operator.stop() == 0
    assert configuration_exists(kube), "a graceful stop must leave the webhook configuration"
    kube.create(long_job("unheld"), namespace=namespace)
    job = kube.get("job", "unheld", namespace)
    assert job["spec"].get("suspend") is not True  # failurePolicy Ignore: admitted unheld
    assert "wattbit.io/held" not in (job["metadata"].get("annotations") or {})
    running_in = wait_until(
        lambda: (regions := pods_regions(kube, namespace, "unheld")) and regions,
        timeout=60,
        message="the unheld Job's pods to run",
    )
    operator.start()

    def adopted_record() -> dict[str, Any] | None:
        record = status(kube, namespace, "unheld")
        conditions = record.get("conditions") or []
        ok = any(c["type"] == "AdmittedUngated" and c["status"] == "True" for c in conditions)
        return record if ok else None

    adopted = wait_until(adopted_record, timeout=60, message="the Job adopted on record")
    assert adopted["region"] in running_in
    reasons = {
        e.reason
        for e in kube.core.list_namespaced_event(
            namespace, field_selector="involvedObject.name=unheld"
        ).items
    }
    assert "AdmittedUngated" in reasons


@pytest.mark.usefixtures("regions", "restartable")
def test_with_failure_policy_fail_a_job_is_refused_while_the_operator_is_stopped(
    kube: Kube, operator: Operator, namespace: str
) -> None:
    operator.stop()
    operator.start({"WATTBIT_WEBHOOK_FAILURE_POLICY": "Fail"})
    assert operator.stop() == 0
    with pytest.raises(AssertionError, match="wattbit") as refused:
        kube.create(long_job("refused"), namespace=namespace)
    assert "failed calling webhook" in str(refused.value)
    assert kube.find("job", "refused", namespace) is None


def served_serial(port: int, ca_file: str) -> str:
    context = ssl.create_default_context(cafile=ca_file)
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        certificate = tls.getpeercert()
    assert certificate is not None
    return str(certificate["serialNumber"])


def renew(ca_dir: Path, cert: Path, key: Path, work: Path) -> None:
    """A new serving certificate from the cluster's CA, written over `cert` and `key`."""
    extensions = work / "ext.cnf"
    extensions.write_text(
        "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
    )
    new_key, csr, new_cert = work / "new.key", work / "new.csr", work / "new.crt"
    run = functools.partial(subprocess.run, check=True, capture_output=True)
    run(
        [
            "openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-subj", "/CN=wattbit-webhook", "-keyout", new_key, "-out", csr,
        ]
    )  # fmt: skip
    run(
        [
            "openssl", "x509", "-req", "-in", csr, "-CA", ca_dir / "ca.crt",
            "-CAkey", ca_dir / "ca.key", "-CAserial", work / "ca.srl", "-CAcreateserial",
            "-days", "1", "-extfile", extensions, "-out", new_cert,
        ]
    )  # fmt: skip
    os.replace(new_key, key)
    os.replace(new_cert, cert)


@pytest.mark.usefixtures("regions", "restartable")
def test_a_renewed_certificate_is_served_without_a_restart(
    kube: Kube, operator: Operator, namespace: str, tmp_path: Path
) -> None:
    cert, key = tmp_path / "tls.crt", tmp_path / "tls.key"
    shutil.copy(kube.env["WATTBIT_WEBHOOK_CERT_FILE"], cert)
    shutil.copy(kube.env["WATTBIT_WEBHOOK_KEY_FILE"], key)
    ca_file = kube.env["WATTBIT_CA_FILE"]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    operator.stop()
    operator.start(
        {
            "WATTBIT_WEBHOOK_PORT": str(port),
            "WATTBIT_WEBHOOK_CERT_FILE": str(cert),
            "WATTBIT_WEBHOOK_KEY_FILE": str(key),
            "WATTBIT_WEBHOOK_CERT_CHECK_SECONDS": "1",
        }
    )
    before = served_serial(port, ca_file)
    renew(Path(ca_file).parent, cert, key, tmp_path)
    wait_until(
        lambda: served_serial(port, ca_file) != before,
        timeout=30,
        message="the renewed certificate to be served",
    )
    held = kube.create(long_job("after-renewal"), namespace=namespace)
    assert held["spec"]["suspend"] is True
    assert operator.process is not None
    assert operator.process.poll() is None  # the same process throughout
