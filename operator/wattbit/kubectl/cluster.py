"""Reading the cluster: raw object bodies, as the API server returns them (camelCase JSON).

`Cluster` wraps the synchronous kubernetes client for one kubeconfig and context. Every
read returns plain dicts (the bodies kopf's indexes see too), so that the same parsers serve
the operator and the plugin. A missing object is None (the caller names it in a
`NotFoundError`); any other API failure becomes a one-line `PluginError`.

WARNING: reads only. Nothing here writes, and nothing decides.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException
from urllib3.exceptions import HTTPError

from wattbit.k8s import names
from wattbit.kubectl.errors import PluginError, UsageError

GROUP = "wattbit.io"
VERSION = "v1alpha1"
REQUEST_TIMEOUT_SECONDS = 15.0
HTTP_NOT_FOUND = 404
Body = dict[str, Any]


CUSTOM_WORKLOADS = {
    "JobSet": ("jobset.x-k8s.io", "v1alpha2", "jobsets"),
    "TrainJob": ("trainer.kubeflow.org", "v1alpha1", "trainjobs"),
}
"""Workload kinds read through the custom-objects API: group, version, plural."""


class Reader(Protocol):
    """What the commands read; `Cluster` reads a live API server, tests pass a fake."""

    def custom_list(self, plural: str, namespace: str | None = None) -> list[Body]: ...
    def custom_get(self, plural: str, name: str, namespace: str | None = None) -> Body | None: ...
    def workload(self, kind: str, namespace: str, name: str) -> Body | None: ...
    def events(self, namespace: str, kind: str, name: str) -> list[Body]: ...
    def nodes(self) -> list[Body]: ...
    def pods(self) -> list[Body]: ...
    def deferrable_jobs(self) -> list[Body]: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Target:
    """Where to read: the kubeconfig file (None: $KUBECONFIG or ~/.kube/config) and context."""

    kubeconfig: str | None = None
    context: str | None = None


def context_namespace(target: Target) -> str:
    """The namespace of the context used (kubectl's default for ``-n``), else ``default``."""
    try:
        contexts, current = config.list_kube_config_contexts(  # type: ignore[no-untyped-call]
            config_file=target.kubeconfig
        )
    except (ConfigException, OSError) as error:
        raise UsageError(f"cannot read kubeconfig: {error}") from error
    chosen = current
    if target.context is not None:
        chosen = next((c for c in contexts if c.get("name") == target.context), None)
        if chosen is None:
            raise UsageError(f'context "{target.context}" does not exist in the kubeconfig')
    namespace = ((chosen or {}).get("context") or {}).get("namespace")
    return str(namespace) if namespace else "default"


class Cluster:
    """A live API server, read through the kubernetes client."""

    def __init__(self, target: Target) -> None:
        try:
            self._api = config.new_client_from_config(  # type: ignore[no-untyped-call]
                config_file=target.kubeconfig, context=target.context, persist_config=False
            )
        except (ConfigException, OSError) as error:
            raise UsageError(f"cannot use kubeconfig: {error}") from error
        self.server = str(self._api.configuration.host)
        self._core = client.CoreV1Api(self._api)
        self._batch = client.BatchV1Api(self._api)
        self._custom = client.CustomObjectsApi(self._api)

    def close(self) -> None:
        self._api.close()

    def _call(self, what: str, call: Callable[[], Any]) -> Any:
        """The call's JSON body; None on 404; PluginError for any other failure."""
        try:
            response = call()
        except ApiException as error:
            if error.status == HTTP_NOT_FOUND:
                return None
            raise PluginError(f"reading {what}: {_api_message(error)}") from error
        except (HTTPError, OSError) as error:
            raise PluginError(f"cannot reach the API server at {self.server}: {error}") from error
        if isinstance(response, dict):
            return response
        return json.loads(response.data)

    def _items(self, what: str, call: Callable[[], Any]) -> list[Body]:
        body = self._call(what, call)
        if body is None:
            # The list itself is not found: the CRD is not installed.
            raise PluginError(f"reading {what}: not found (are wattbit's CRDs installed?)")
        return list(body.get("items") or [])

    def custom_list(self, plural: str, namespace: str | None = None) -> list[Body]:
        kwargs: dict[str, Any] = {"_request_timeout": REQUEST_TIMEOUT_SECONDS}
        if namespace is None:
            return self._items(
                plural,
                lambda: self._custom.list_cluster_custom_object(GROUP, VERSION, plural, **kwargs),
            )
        return self._items(
            plural,
            lambda: self._custom.list_namespaced_custom_object(
                GROUP, VERSION, namespace, plural, **kwargs
            ),
        )

    def custom_get(self, plural: str, name: str, namespace: str | None = None) -> Body | None:
        timeout = REQUEST_TIMEOUT_SECONDS
        if namespace is None:
            return self._call(  # type: ignore[no-any-return]
                f"{plural}/{name}",
                lambda: self._custom.get_cluster_custom_object(
                    GROUP, VERSION, plural, name, _request_timeout=timeout
                ),
            )
        return self._call(  # type: ignore[no-any-return]
            f"{plural}/{name}",
            lambda: self._custom.get_namespaced_custom_object(
                GROUP, VERSION, namespace, plural, name, _request_timeout=timeout
            ),
        )

    def workload(self, kind: str, namespace: str, name: str) -> Body | None:
        custom = CUSTOM_WORKLOADS.get(kind)
        if custom is not None:
            group, version, plural = custom
            return self._call(  # type: ignore[no-any-return]
                f"{kind.lower()}/{name}",
                lambda: self._custom.get_namespaced_custom_object(
                    group,
                    version,
                    namespace,
                    plural,
                    name,
                    _request_timeout=REQUEST_TIMEOUT_SECONDS,
                ),
            )
        read = self._batch.read_namespaced_job if kind == "Job" else self._core.read_namespaced_pod
        return self._call(  # type: ignore[no-any-return]
            f"{kind.lower()}/{name}",
            lambda: read(
                name,
                namespace,
                _preload_content=False,
                _request_timeout=REQUEST_TIMEOUT_SECONDS,
            ),
        )

    def events(self, namespace: str, kind: str, name: str) -> list[Body]:
        selector = f"involvedObject.kind={kind},involvedObject.name={name}"
        return self._items(
            "events",
            lambda: self._core.list_namespaced_event(
                namespace,
                field_selector=selector,
                _preload_content=False,
                _request_timeout=REQUEST_TIMEOUT_SECONDS,
            ),
        )

    def nodes(self) -> list[Body]:
        return self._items(
            "nodes",
            lambda: self._core.list_node(
                _preload_content=False, _request_timeout=REQUEST_TIMEOUT_SECONDS
            ),
        )

    def pods(self) -> list[Body]:
        return self._items(
            "pods",
            lambda: self._core.list_pod_for_all_namespaces(
                _preload_content=False, _request_timeout=REQUEST_TIMEOUT_SECONDS
            ),
        )

    def deferrable_jobs(self) -> list[Body]:
        return self._items(
            "jobs",
            lambda: self._batch.list_job_for_all_namespaces(
                label_selector=f"{names.LABEL_DEFERRABLE}=true",
                _preload_content=False,
                _request_timeout=REQUEST_TIMEOUT_SECONDS,
            ),
        )


def _api_message(error: ApiException) -> str:
    """The API server's own message (its Status body), else the HTTP status."""
    try:
        status = json.loads(error.body or "{}")
    except ValueError:
        status = {}
    message = status.get("message") if isinstance(status, dict) else None
    return str(message or f"{error.status} {error.reason}")
