"""The MutatingWebhookConfiguration that sends deferrable workloads to the operator.

Used when the operator runs outside a cluster (local development and tests);
in a cluster the Helm chart owns the same object. Both select only objects
labelled ``wattbit.io/deferrable=true`` and never namespaces ``kube-system`` or
the operator's own.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from wattbit.config import OperatorConfig
from wattbit.errors import ConfigError
from wattbit.k8s import names

HOLD_JOB_HANDLER_ID = "hold-job"
GATE_POD_HANDLER_ID = "gate-pod"
HOLD_JOBSET_HANDLER_ID = "hold-jobset"
HOLD_TRAINJOB_HANDLER_ID = "hold-trainjob"
REQUEST_TIMEOUT_SECONDS = 10.0
HTTP_NOT_FOUND = 404


def build(config: OperatorConfig) -> dict[str, Any]:
    """The configuration object for a webhook served at ``https://host:port/<handler-id>``."""
    if not (config.webhook_host and config.webhook_ca_file):
        raise ConfigError(
            "managing the webhook configuration needs WATTBIT_WEBHOOK_HOST and "
            "WATTBIT_WEBHOOK_CA_FILE"
        )
    ca_bundle = base64.b64encode(Path(config.webhook_ca_file).read_bytes()).decode("ascii")
    namespace_selector = {
        "matchExpressions": [
            {
                "key": "kubernetes.io/metadata.name",
                "operator": "NotIn",
                "values": sorted(config.excluded_namespaces),
            }
        ]
    }
    object_selector = {"matchLabels": {names.LABEL_DEFERRABLE: "true"}}

    def webhook(
        name: str, handler_id: str, group: str, resource: str, version: str = "v1"
    ) -> dict[str, Any]:
        return {
            "name": f"{name}.wattbit.io",
            "admissionReviewVersions": ["v1"],
            "sideEffects": "None",
            "failurePolicy": config.webhook_failure_policy.value,
            "timeoutSeconds": 5,
            "reinvocationPolicy": "Never",
            "matchPolicy": "Equivalent",
            "namespaceSelector": namespace_selector,
            "objectSelector": object_selector,
            "rules": [
                {
                    "apiGroups": [group],
                    "apiVersions": [version],
                    "operations": ["CREATE"],
                    "resources": [resource],
                    "scope": "Namespaced",
                }
            ],
            "clientConfig": {
                "url": f"https://{config.webhook_host}:{config.webhook_port}/{handler_id}",
                "caBundle": ca_bundle,
            },
        }

    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": {
            "name": config.webhook_configuration_name,
            "labels": {"app.kubernetes.io/managed-by": "wattbit"},
        },
        "webhooks": [
            webhook("jobs", HOLD_JOB_HANDLER_ID, "batch", "jobs"),
            webhook("pods", GATE_POD_HANDLER_ID, "", "pods"),
            # Rules for kinds whose CRDs are not installed match nothing until they are.
            webhook("jobsets", HOLD_JOBSET_HANDLER_ID, "jobset.x-k8s.io", "jobsets", "v1alpha2"),
            webhook(
                "trainjobs",
                HOLD_TRAINJOB_HANDLER_ID,
                "trainer.kubeflow.org",
                "trainjobs",
                "v1alpha1",
            ),
        ],
    }


def _model(body: dict[str, Any]) -> client.V1MutatingWebhookConfiguration:
    model = client.V1MutatingWebhookConfiguration.from_dict(body)
    if model is None:  # from_dict returns None only for a None input
        raise ConfigError("could not build the MutatingWebhookConfiguration")
    return model


def apply(api: client.AdmissionregistrationV1Api, *, config: OperatorConfig) -> None:
    body = build(config)
    name = config.webhook_configuration_name
    try:
        existing = api.read_mutating_webhook_configuration(
            name, _request_timeout=REQUEST_TIMEOUT_SECONDS
        )
    except ApiException as error:
        if error.status != HTTP_NOT_FOUND:
            raise
        api.create_mutating_webhook_configuration(
            _model(body),
            _request_timeout=REQUEST_TIMEOUT_SECONDS,
        )
        return
    if existing.metadata is not None:
        body["metadata"]["resourceVersion"] = existing.metadata.resource_version
    api.replace_mutating_webhook_configuration(
        name,
        _model(body),
        _request_timeout=REQUEST_TIMEOUT_SECONDS,
    )
