"""Post Kubernetes Events about workloads and wattbit objects.

This module's one job is to write a core/v1 Event (reason, message, type) for an object, as
``kubectl describe`` shows it. The reconcile loop decides when an Event is due (only when what
it says changed); this module only writes it, and a failure to post is logged, never raised:
an Event is a courtesy, the record in WorkloadPlacement status is the source of truth.
"""

from __future__ import annotations

import logging
import socket
from datetime import datetime
from typing import Final

from kubernetes import client
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

REPORTING_COMPONENT: Final = "wattbit.io/operator"
REQUEST_TIMEOUT_SECONDS = 10.0
MAX_MESSAGE = 1024
NORMAL: Final = "Normal"
WARNING: Final = "Warning"

logger = logging.getLogger(__name__)


def post(
    api: client.CoreV1Api,
    *,
    api_version: str,
    kind: str,
    namespace: str,
    name: str,
    uid: str,
    reason: str,
    message: str,
    now: datetime,
    warning: bool = False,
) -> None:
    """Write one Event about the object; failures are logged and swallowed."""
    stamp = now.isoformat().replace("+00:00", "Z")
    body = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"generateName": f"{name}.", "namespace": namespace},
        "involvedObject": {
            "apiVersion": api_version,
            "kind": kind,
            "name": name,
            "namespace": namespace,
            "uid": uid,
        },
        "reason": reason,
        "message": message[:MAX_MESSAGE],
        "type": WARNING if warning else NORMAL,
        "source": {"component": "wattbit"},
        "reportingComponent": REPORTING_COMPONENT,
        "reportingInstance": socket.gethostname()[:128],
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "count": 1,
    }
    try:
        api.create_namespaced_event(
            namespace,
            body,  # type: ignore[arg-type]  # the client serialises plain dicts as they are
            _request_timeout=REQUEST_TIMEOUT_SECONDS,
        )
    except (ApiException, HTTPError) as error:
        logger.warning("could not post Event %s on %s/%s: %s", reason, namespace, name, error)
