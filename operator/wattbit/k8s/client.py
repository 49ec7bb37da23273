"""Build the synchronous Kubernetes API client the adapters use.

In a pod it uses the ServiceAccount; elsewhere the kubeconfig (``KUBECONFIG``),
the same credentials kopf logs in with.
"""

from __future__ import annotations

from kubernetes import client, config


def api_client(factory: type[client.ApiClient] = client.ApiClient) -> client.ApiClient:
    try:
        config.load_incluster_config()  # type: ignore[no-untyped-call]
    except config.ConfigException:
        config.load_kube_config()  # type: ignore[no-untyped-call]
    return factory()
