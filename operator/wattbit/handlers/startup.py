"""Operator startup and shutdown: kopf settings, the webhook server, shared clients.

Everything the other handlers share lives in kopf's ``memo`` (built here once):
the configuration, the API client and the adapters.
"""

from __future__ import annotations

import logging
from typing import Any

import kopf
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from wattbit import metrics
from wattbit.config import OperatorConfig
from wattbit.handlers.context import CountingApiClient, OperatorContext
from wattbit.k8s import client as k8s_client
from wattbit.k8s import versions, webhook_config


@kopf.on.startup()
def configure(*, settings: kopf.OperatorSettings, memo: Any, logger: kopf.Logger, **_: Any) -> None:
    config = OperatorConfig.from_env()

    # Keep kopf's own bookkeeping under our domain, so `kubectl get -o yaml` shows who wrote it.
    settings.persistence.finalizer = "wattbit.io/finalizer"
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix="wattbit.io")
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix="wattbit.io", key="last-handled-configuration"
    )
    # Watches end server-side after this long and are restarted; without a bound, a
    # silently dropped connection leaves kopf blind forever (kopf docs, "Networking").
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.networking.request_timeout = 30
    # Our own Events say what was decided (wattbit.k8s.events); kopf posts only its failures,
    # not a "succeeded" Event for every handler run.
    settings.posting.level = logging.WARNING
    # Our handlers are sync (the kubernetes client is sync); decisions run in the one
    # reconcile loop, so a few threads are enough and keep memory small.
    settings.execution.max_workers = 8

    if config.webhook_cert_file and config.webhook_key_file:
        settings.admission.server = kopf.WebhookServer(
            addr=config.webhook_listen_address,
            port=config.webhook_port,
            certfile=config.webhook_cert_file,
            pkeyfile=config.webhook_key_file,
            cafile=config.webhook_ca_file,
            host=config.webhook_host,
            # kopf re-reads the files this often and restarts its listener when they change.
            file_check_interval=config.webhook_cert_check_seconds,
        )
    else:
        logger.warning(
            "no webhook certificate configured: deferrable workloads are not held at creation"
        )

    api = k8s_client.api_client(CountingApiClient)
    try:
        git_version = versions.server_version(api)
    except (ApiException, OSError) as error:  # kopf retries a TemporaryError
        raise kopf.TemporaryError(f"cannot read the API server's version: {error}") from error
    try:
        versions.check_supported(git_version)
    except versions.UnsupportedKubernetes as error:
        # Stop with the reason rather than run half-working (reliability: say why).
        raise kopf.PermanentError(str(error)) from error
    logger.info(f"Kubernetes {git_version}")
    context = OperatorContext.build(config=config, api=api)
    memo["wattbit"] = context

    if config.manage_webhook_configuration:
        webhook_config.apply(
            client.AdmissionregistrationV1Api(api),
            config=config,
        )
        logger.info(f"webhook configuration {config.webhook_configuration_name} applied")

    if config.metrics_port:
        metrics.serve(config.metrics_listen_address, config.metrics_port)


@kopf.on.cleanup()
def cleanup(*, memo: Any, logger: kopf.Logger, **_: Any) -> None:
    context: OperatorContext | None = memo.get("wattbit")
    if context is None:
        return
    # The webhook configuration stays: a graceful stop must not change what admission does
    # (with Ignore, work created meanwhile is adopted on return; with Fail, it is refused, as
    # after a crash). Removing it is the uninstaller's job.
    context.api.close()  # type: ignore[no-untyped-call]
