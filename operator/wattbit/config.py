"""The operator's own configuration, read once at startup from the environment.

Every setting is an environment variable ``WATTBIT_<FIELD_NAME_UPPERCASE>``;
the Helm chart sets them. Nothing here is reloaded at run time.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from wattbit.errors import ConfigError


class FailurePolicy(StrEnum):
    FAIL = "Fail"
    IGNORE = "Ignore"


class OperatorConfig(BaseModel):
    """Settings of one operator process."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    namespace: str = "wattbit-system"
    """Namespace the operator runs in. The webhook never touches it, nor kube-system."""

    webhook_listen_address: str = "0.0.0.0"  # noqa: S104 - in-cluster the Service reaches the pod IP
    """Address the admission webhook server binds to."""

    webhook_port: int = Field(default=9443, ge=1, le=65535)
    """HTTPS port of the admission webhook server."""

    webhook_host: str | None = None
    """Host the API server calls when the operator manages its own webhook configuration
    (local development: 127.0.0.1). Unset in-cluster, where the chart owns the configuration."""

    webhook_cert_file: str | None = None
    """PEM serving certificate of the webhook (made by openssl or cert-manager)."""

    webhook_key_file: str | None = None
    """PEM private key of the webhook serving certificate."""

    webhook_ca_file: str | None = None
    """PEM CA bundle that signed the serving certificate; becomes the configuration's caBundle."""

    leader_election: bool = False
    """Run for a Lease (`<namespace>/wattbit-operator`) so that, of several replicas, exactly
    one acts on workloads and polls the feeds while all serve the webhook. The chart turns it
    on; a single local process does not need it."""

    pod_name: str | None = None
    """This replica's identity in the Lease (the chart passes the pod name); the host name and
    process id when unset."""

    lease_duration_seconds: int = Field(default=15, ge=2, le=300)
    """A holder that has not renewed for this long is replaced."""

    webhook_cert_check_seconds: float = Field(default=10.0, gt=0, le=3600)
    """How often the certificate files are re-read; a renewed certificate (cert-manager writes
    the Secret, the kubelet updates the mounted files) is served from the next check on,
    without a restart."""

    manage_webhook_configuration: bool = False
    """Create and update the MutatingWebhookConfiguration at startup (local development only;
    the chart owns it in a cluster)."""

    webhook_configuration_name: str = "wattbit-admission"
    """Name of the MutatingWebhookConfiguration the operator manages when asked to."""

    webhook_failure_policy: FailurePolicy = FailurePolicy.IGNORE
    """Ignore (the default): while the webhook is down a deferrable workload is admitted
    unheld, and the reconcile loop adopts it (`AdmittedUngated`): held and placed if it has
    not started, else placed where it runs and moved like any other. Fail: it is rejected
    instead, so nothing runs unplaced but submissions fail during an outage. Only labelled
    workloads are sent to the webhook, so nothing else is affected either way."""

    default_gpu_power_watts: int = Field(default=700, ge=1, le=5000)
    """Power of one GPU when a workload gives none (H100 SXM board power, 700 W)."""

    default_expected_duration_seconds: int = Field(default=3600, ge=1)
    """Expected runtime when a workload gives none."""

    default_carbon_price_jpy_per_tonne: int = Field(default=10_000, ge=0)
    """Internal carbon price when no PlacementPolicy applies (JPY per tonne CO2)."""

    reconcile_period_seconds: float = Field(default=30.0, gt=0, le=3600)
    """The reconcile loop runs at least this often, besides on signal and workload changes:
    planned starts, checkpoint deadlines and forecasts advancing are picked up within it."""

    reconcile_debounce_seconds: float = Field(default=1.0, ge=0, le=60)
    """After a change, wait this long for more before a pass, so a burst of events (a
    PowerSignal update, a hundred Jobs applied at once) costs one pass."""

    reconcile_arrival_debounce_seconds: float = Field(default=0.05, ge=0, le=60)
    """The debounce when only new workloads arrived since the last pass: such a pass
    decides only them, against the standing plan (no moves), so it is cheap to run often.
    Any other change, and the period, still bring a full pass after the debounce above."""

    reconcile_arrival_passes: bool = True
    """Run arrivals-only passes at all; false: every pass is a full one, as before."""

    metrics_listen_address: str = "0.0.0.0"  # noqa: S104 - scraped by Prometheus in-cluster
    """Address the /metrics endpoint binds to."""

    metrics_port: int = Field(default=8080, ge=0, le=65535)
    """Port of the Prometheus /metrics endpoint; 0 disables it."""

    @property
    def excluded_namespaces(self) -> frozenset[str]:
        return frozenset({"kube-system", self.namespace})

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> OperatorConfig:
        env = os.environ if environ is None else environ
        values = {
            name: env[f"WATTBIT_{name.upper()}"]
            for name in cls.model_fields
            if f"WATTBIT_{name.upper()}" in env
        }
        try:
            return cls.model_validate(values)
        except ValidationError as error:
            raise ConfigError(f"invalid operator configuration: {error}") from error
