"""Build the synchronous Kubernetes API client the adapters use.

In a pod it uses the ServiceAccount; elsewhere the kubeconfig (``KUBECONFIG``),
the same credentials kopf logs in with.
"""

from __future__ import annotations

from kubernetes import client, config

from wattbit import __version__

USER_AGENT = f"wattbit-operator/{__version__}"
"""The API server names a client's writes after its user agent (managedFields' manager), so
`kubectl get -o yaml --show-managed-fields` says which fields wattbit wrote."""


def api_client(factory: type[client.ApiClient] = client.ApiClient) -> client.ApiClient:
    try:
        config.load_incluster_config()  # type: ignore[no-untyped-call]
    except config.ConfigException:
        config.load_kube_config()  # type: ignore[no-untyped-call]
    api = factory()
    api.user_agent = USER_AGENT
    return api
