"""Operator configuration from the environment (wattbit.config)."""

from __future__ import annotations

import pytest

from wattbit.config import FailurePolicy, OperatorConfig
from wattbit.errors import ConfigError


def test_defaults_and_excluded_namespaces() -> None:
    config = OperatorConfig.from_env({})
    assert config.webhook_failure_policy is FailurePolicy.IGNORE
    assert config.excluded_namespaces == {"kube-system", "wattbit-system"}


def test_values_come_from_wattbit_variables() -> None:
    config = OperatorConfig.from_env(
        {
            "WATTBIT_NAMESPACE": "ops",
            "WATTBIT_WEBHOOK_PORT": "9999",
            "OTHER": "x",
            "WATTBIT_MANAGE_WEBHOOK_CONFIGURATION": "true",
        }
    )
    assert (config.namespace, config.webhook_port) == ("ops", 9999)
    assert config.manage_webhook_configuration is True
    assert config.excluded_namespaces == {"kube-system", "ops"}


def test_invalid_values_fail_with_the_variable_named() -> None:
    with pytest.raises(ConfigError, match="webhook_port"):
        OperatorConfig.from_env({"WATTBIT_WEBHOOK_PORT": "70000"})
