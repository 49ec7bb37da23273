"""The Helm chart, rendered by the real helm binary (no cluster).

Matrix:
- security: pod and container securityContext (non-root 65532, read-only root, no privilege
  escalation, drop ALL, seccomp RuntimeDefault), /tmp emptyDir, 1 replica, Recreate, command;
- RBAC: the operator ClusterRole equals tests/chart/rbac.py exactly; no wildcard anywhere
  (default and every optional object on); no create/update/delete on Jobs or Pods in any role;
  Secrets only through a Role in the release namespace, get only, resourceNames from values;
  aggregated view/edit roles;
- webhook: namespaceSelector excludes kube-system and the release namespace (two namespaces),
  objectSelector is the label, failurePolicy follows values, equal to what
  wattbit.k8s.webhook_config builds for local runs except the client; caBundle or
  cert-manager injection; the Service routes 443 to the webhook port;
- settings: every WATTBIT_* variable is an OperatorConfig field and the rendered env
  validates; every field is either set or deliberately left to its default;
- CRDs: the chart's copies equal crds/ byte for byte; crds.enabled / crds.keep;
- optional objects (ServiceMonitor, NetworkPolicy, dashboard) off by default, on when asked;
  the dashboard charts every metric in wattbit.metrics;
- values: helm lint; the schema rejects unknown keys and bad enums; every key documented in
  values.yaml and README.md; kubeVersion enforced.

Skipped on purpose: anything needing an API server (tests/integration/test_chart_rbac.py
checks the RBAC there) and the operator image, which cannot be built here.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import Counter, Gauge, Histogram

from tests.chart.rbac import (
    FORBIDDEN_WORKLOAD_VERBS,
    OPERATOR_RULES,
    WORKLOAD_SUBRESOURCES,
    WORKLOADS,
)
from wattbit import metrics
from wattbit.config import FailurePolicy, OperatorConfig
from wattbit.k8s import webhook_config

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "wattbit"
KUBE_VERSION = "1.36.3"
NAMESPACE = "wattbit-system"
DEFERRABLE = {"wattbit.io/deferrable": "true"}
ALL_ON: dict[str, Any] = {
    "metrics": {
        "serviceMonitor": {"enabled": True},
        "dashboard": {"enabled": True},
    },
    "networkPolicy": {"enabled": True},
    "providers": {"secretNames": ["electricitymaps", "watttime"]},
}
NO_CERT_MANAGER: dict[str, Any] = {
    "webhook": {"certManager": {"enabled": False}, "caBundle": "Q0EgYnVuZGxl"},
}
# Settings the chart leaves at their defaults on purpose: in a cluster the chart owns the
# webhook configuration, and both servers bind 0.0.0.0 (the pod IP) by default.
LEFT_TO_DEFAULT = {
    "webhook_listen_address",
    "metrics_listen_address",
    "webhook_host",
    "webhook_ca_file",
    "webhook_configuration_name",
    "webhook_cert_check_seconds",  # 10 s: a renewed certificate is served within it
    "lease_duration_seconds",  # 15 s: client-go's default
}


@cache
def helm() -> str:
    out = subprocess.run(
        ["bash", str(ROOT / "hack" / "build-control-plane.sh")],
        capture_output=True,
        text=True,
        check=True,
        timeout=3600,
    ).stdout
    return str(Path(out.strip().splitlines()[-1]) / "helm")


def run_helm(*args: str, values: dict[str, Any] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [helm(), *args, "--values", "-"],
        input=json.dumps(values or {}),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def render(
    values: dict[str, Any] | None = None, *, namespace: str = NAMESPACE, release: str = "wattbit"
) -> list[dict[str, Any]]:
    result = run_helm(
        "template",
        release,
        str(CHART),
        "--namespace",
        namespace,
        "--kube-version",
        KUBE_VERSION,
        values=values,
    )
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def render_error(values: dict[str, Any], kube_version: str = KUBE_VERSION) -> str:
    result = run_helm(
        "template", "wattbit", str(CHART), "--kube-version", kube_version, values=values
    )
    assert result.returncode != 0, "rendering should have failed"
    return result.stderr


def of_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def one(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = of_kind(docs, kind)
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def operator_container(docs: list[dict[str, Any]]) -> dict[str, Any]:
    containers = one(docs, "Deployment")["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["operator"]
    container: dict[str, Any] = containers[0]
    return container


def env_of(docs: list[dict[str, Any]]) -> dict[str, str]:
    env = operator_container(docs)["env"]
    return {e["name"]: e.get("value") or f"<{e['valueFrom']}>" for e in env}


def rules(docs: list[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    for doc in docs:
        if doc["kind"] in {"Role", "ClusterRole"}:
            for rule in doc.get("rules") or []:
                yield doc, rule


def expand(rule: dict[str, Any]) -> dict[tuple[str, str], set[str]]:
    return {
        (group, resource): set(rule["verbs"])
        for group in rule["apiGroups"]
        for resource in rule["resources"]
    }


@pytest.fixture(scope="module")
def default() -> list[dict[str, Any]]:
    return render()


# ---------------------------------------------------------------- objects and security


def test_default_render_objects(default: list[dict[str, Any]]) -> None:
    kinds = sorted(d["kind"] for d in default)
    assert kinds == sorted(
        ["Deployment", "ServiceAccount", "Service", "MutatingWebhookConfiguration"]
        + ["ClusterRole"] * 3
        + ["ClusterRoleBinding", "Certificate", "Issuer", "PodDisruptionBudget"]
        + ["ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"]
        + ["Role", "RoleBinding"] * 2
        + ["CustomResourceDefinition"] * 5
    )
    cluster_scoped = {
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "MutatingWebhookConfiguration",
    }
    for doc in default:
        if doc["kind"] not in cluster_scoped:
            assert doc["metadata"]["namespace"] == NAMESPACE, doc["kind"]


def test_security_context(default: list[dict[str, Any]]) -> None:
    pod = one(default, "Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 65532
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    security = operator_container(default)["securityContext"]
    assert security["runAsNonRoot"] is True
    assert security["runAsUser"] == 65532
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["privileged"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert security["seccompProfile"] == {"type": "RuntimeDefault"}
    assert "add" not in security["capabilities"]
    assert pod.get("hostNetwork", False) is False
    assert pod["enableServiceLinks"] is False


def test_deployment_shape(default: list[dict[str, Any]]) -> None:
    deployment = one(default, "Deployment")
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
    }
    spread = deployment["spec"]["template"]["spec"]["topologySpreadConstraints"]
    assert [c["topologyKey"] for c in spread] == ["kubernetes.io/hostname"]
    env = {e["name"]: e for e in operator_container(default)["env"]}
    assert env["WATTBIT_LEADER_ELECTION"]["value"] == "true"
    assert env["WATTBIT_POD_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    budget = one(default, "PodDisruptionBudget")
    assert budget["spec"]["minAvailable"] == 1
    assert budget["spec"]["selector"] == deployment["spec"]["selector"]
    pod = deployment["spec"]["template"]["spec"]
    container = operator_container(default)
    assert container["command"] == [
        "python",
        "-m",
        "wattbit",
        "--standalone",
        "--liveness=http://0.0.0.0:8081/healthz",
    ]
    assert container["image"] == "registry.example/wattbit/operator:0.1.0"
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "healthz"}
    assert container["readinessProbe"]["tcpSocket"] == {"port": "webhook"}
    assert container["resources"]["limits"]["memory"]
    assert container["resources"]["requests"]["cpu"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"webhook": 9443, "metrics": 8080, "healthz": 8081}
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert "emptyDir" in volumes["tmp"]
    assert mounts["tmp"]["mountPath"] == "/tmp"  # noqa: S108 - the pod's emptyDir, not ours
    assert mounts["webhook-tls"]["readOnly"] is True
    assert pod["serviceAccountName"] == one(default, "ServiceAccount")["metadata"]["name"]


def test_image_digest_wins_over_tag() -> None:
    digest = "sha256:" + "a" * 64
    docs = render({"image": {"repository": "r.example/w", "tag": "1.2.3", "digest": digest}})
    assert operator_container(docs)["image"] == f"r.example/w@{digest}"


# ---------------------------------------------------------------- RBAC


@pytest.mark.parametrize("values", [{}, ALL_ON], ids=["default", "all-on"])
def test_no_wildcards(values: dict[str, Any]) -> None:
    for doc, rule in rules(render(values)):
        for field in ("apiGroups", "resources", "verbs", "resourceNames", "nonResourceURLs"):
            assert not any("*" in item for item in rule.get(field) or []), (
                f"{doc['kind']} {doc['metadata']['name']} has a wildcard in {field}: {rule}"
            )


def test_operator_cluster_role_is_exactly_the_matrix(default: list[dict[str, Any]]) -> None:
    role = next(
        d for d in of_kind(default, "ClusterRole") if d["metadata"]["name"] == "wattbit-operator"
    )
    granted: dict[tuple[str, str], set[str]] = {}
    for rule in role["rules"]:
        assert "resourceNames" not in rule
        for key, verbs in expand(rule).items():
            granted.setdefault(key, set()).update(verbs)
    assert granted == {key: set(verbs) for key, verbs in OPERATOR_RULES.items()}


@pytest.mark.parametrize("values", [{}, ALL_ON], ids=["default", "all-on"])
def test_workloads_never_created_or_deleted(values: dict[str, Any]) -> None:
    for doc, rule in rules(render(values)):
        for (group, resource), verbs in expand(rule).items():
            base = resource.split("/")[0]
            if (group, resource) in WORKLOAD_SUBRESOURCES:
                assert verbs == WORKLOAD_SUBRESOURCES[(group, resource)], (group, resource, verbs)
                continue
            if (group, base) in WORKLOADS:
                assert not verbs & FORBIDDEN_WORKLOAD_VERBS, (
                    f"{doc['metadata']['name']} may {sorted(verbs)} {resource}"
                )
                assert resource == base, f"{doc['metadata']['name']} grants {resource}"


@pytest.mark.parametrize(
    ("values", "names"),
    [({}, None), (ALL_ON, ["electricitymaps", "watttime"])],
    ids=["any-name", "by-name"],
)
def test_secrets_only_via_namespaced_role(values: dict[str, Any], names: list[str] | None) -> None:
    namespace = "energy-ops"
    docs = render(values, namespace=namespace)
    holders = [
        (doc, rule)
        for doc, rule in rules(docs)
        if "" in rule["apiGroups"] and "secrets" in rule["resources"]
    ]
    assert len(holders) == 1, [d["metadata"]["name"] for d, _ in holders]
    role, rule = holders[0]
    assert role["kind"] == "Role"
    assert role["metadata"]["namespace"] == namespace
    assert rule["resources"] == ["secrets"]
    assert rule["verbs"] == ["get"]
    assert rule.get("resourceNames") == names
    binding = next(
        d for d in of_kind(docs, "RoleBinding") if d["metadata"]["name"] == role["metadata"]["name"]
    )
    assert binding["metadata"]["namespace"] == namespace
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "wattbit", "namespace": namespace}
    ]
    assert env_of(docs)["WATTBIT_NAMESPACE"] == namespace


def test_bindings_name_the_service_account(default: list[dict[str, Any]]) -> None:
    binding = one(default, "ClusterRoleBinding")
    assert binding["roleRef"]["name"] == "wattbit-operator"
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "wattbit", "namespace": NAMESPACE}
    ]


def test_aggregated_roles(default: list[dict[str, Any]]) -> None:
    roles = {d["metadata"]["name"]: d for d in of_kind(default, "ClusterRole")}
    view, edit = roles["wattbit-view"], roles["wattbit-edit"]
    assert view["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-view"] == "true"
    assert edit["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-edit"] == "true"
    kinds = {"regions", "apnlinks", "powersignals", "placementpolicies", "workloadplacements"}
    assert {r for rule in view["rules"] for r in rule["resources"]} == kinds
    assert all(set(rule["verbs"]) == {"get", "list", "watch"} for rule in view["rules"])
    assert all(rule["apiGroups"] == ["wattbit.io"] for rule in view["rules"] + edit["rules"])
    # People edit their own signals and policies; decision records stay the operator's.
    assert {r for rule in edit["rules"] for r in rule["resources"]} == {
        "powersignals",
        "placementpolicies",
    }
    off = render({"rbac": {"aggregateClusterRoles": False}})
    assert [d["metadata"]["name"] for d in of_kind(off, "ClusterRole")] == ["wattbit-operator"]


# ---------------------------------------------------------------- webhook


@pytest.mark.parametrize("namespace", [NAMESPACE, "energy-ops"])
def test_webhook_selectors(namespace: str) -> None:
    docs = render(namespace=namespace)
    configuration = one(docs, "MutatingWebhookConfiguration")
    webhooks = configuration["webhooks"]
    assert [w["name"] for w in webhooks] == [
        "jobs.wattbit.io",
        "pods.wattbit.io",
        "jobsets.wattbit.io",
        "trainjobs.wattbit.io",
    ]
    for webhook in webhooks:
        assert webhook["namespaceSelector"] == {
            "matchExpressions": [
                {
                    "key": "kubernetes.io/metadata.name",
                    "operator": "NotIn",
                    "values": sorted({"kube-system", namespace}),
                }
            ]
        }
        assert webhook["objectSelector"] == {"matchLabels": DEFERRABLE}
        assert webhook["sideEffects"] == "None"
        assert webhook["timeoutSeconds"] == 5
        assert webhook["failurePolicy"] == "Ignore"
        assert [rule["operations"] for rule in webhook["rules"]] == [["CREATE"]]
        assert webhook["clientConfig"]["service"]["namespace"] == namespace
    assert [
        (r["apiGroups"], r["apiVersions"], r["resources"]) for w in webhooks for r in w["rules"]
    ] == [
        (["batch"], ["v1"], ["jobs"]),
        ([""], ["v1"], ["pods"]),
        (["jobset.x-k8s.io"], ["v1alpha2"], ["jobsets"]),
        (["trainer.kubeflow.org"], ["v1alpha1"], ["trainjobs"]),
    ]


def test_webhook_service_routes_to_the_webhook_port(default: list[dict[str, Any]]) -> None:
    service = one(default, "Service")
    webhook = one(default, "MutatingWebhookConfiguration")["webhooks"][0]
    assert webhook["clientConfig"]["service"]["name"] == service["metadata"]["name"]
    ports = {p["name"]: p for p in service["spec"]["ports"]}
    assert ports["https"]["port"] == webhook["clientConfig"]["service"]["port"] == 443
    assert ports["https"]["targetPort"] == "webhook"
    assert ports["metrics"]["port"] == 8080
    selector = service["spec"]["selector"]
    pod_labels = one(default, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert selector.items() <= pod_labels.items()


@pytest.mark.parametrize("policy", ["Fail", "Ignore"])
def test_failure_policy_follows_values(policy: str) -> None:
    docs = render({"webhook": {"failurePolicy": policy}})
    webhooks = one(docs, "MutatingWebhookConfiguration")["webhooks"]
    assert {w["failurePolicy"] for w in webhooks} == {policy}
    assert env_of(docs)["WATTBIT_WEBHOOK_FAILURE_POLICY"] == policy


@pytest.mark.parametrize("policy", ["Fail", "Ignore"])
def test_webhook_equals_the_local_configuration(policy: str, tmp_path: Path) -> None:
    """The chart's webhooks are what webhook_config.build makes, but called via the Service."""
    ca_file = tmp_path / "ca.crt"
    ca_file.write_bytes(b"CA bundle")
    local = webhook_config.build(
        OperatorConfig(
            namespace="energy-ops",
            webhook_host="127.0.0.1",
            webhook_ca_file=str(ca_file),
            webhook_failure_policy=FailurePolicy(policy),
        )
    )
    values = {**NO_CERT_MANAGER, "webhook": {**NO_CERT_MANAGER["webhook"], "failurePolicy": policy}}
    chart = one(render(values, namespace="energy-ops"), "MutatingWebhookConfiguration")
    assert len(chart["webhooks"]) == len(local["webhooks"])
    for ours, theirs in zip(chart["webhooks"], local["webhooks"], strict=True):
        path = "/" + theirs["clientConfig"]["url"].rsplit("/", 1)[-1]
        assert ours["clientConfig"]["service"]["path"] == path
        assert {k: v for k, v in ours.items() if k != "clientConfig"} == {
            k: v for k, v in theirs.items() if k != "clientConfig"
        }


def test_ca_bundle_without_cert_manager() -> None:
    docs = render(NO_CERT_MANAGER)
    configuration = one(docs, "MutatingWebhookConfiguration")
    assert "annotations" not in configuration["metadata"]
    assert {w["clientConfig"]["caBundle"] for w in configuration["webhooks"]} == {"Q0EgYnVuZGxl"}
    assert not of_kind(docs, "Certificate")
    assert not of_kind(docs, "Issuer")
    volumes = one(docs, "Deployment")["spec"]["template"]["spec"]["volumes"]
    tls = next(v["secret"]["secretName"] for v in volumes if v["name"] == "webhook-tls")
    assert tls == "wattbit-webhook-tls"
    own = render({"webhook": {**NO_CERT_MANAGER["webhook"], "tls": {"secretName": "my-tls"}}})
    volumes = one(own, "Deployment")["spec"]["template"]["spec"]["volumes"]
    assert next(v["secret"]["secretName"] for v in volumes if v["name"] == "webhook-tls") == (
        "my-tls"
    )


def test_missing_ca_bundle_fails_the_render() -> None:
    error = render_error({"webhook": {"certManager": {"enabled": False}}})
    assert "webhook.caBundle is required" in error


def test_cert_manager_injects_the_ca(default: list[dict[str, Any]]) -> None:
    configuration = one(default, "MutatingWebhookConfiguration")
    certificate = one(default, "Certificate")
    inject = configuration["metadata"]["annotations"]["cert-manager.io/inject-ca-from"]
    assert inject == f"{NAMESPACE}/{certificate['metadata']['name']}"
    assert all("caBundle" not in w["clientConfig"] for w in configuration["webhooks"])
    service = one(default, "Service")["metadata"]["name"]
    assert f"{service}.{NAMESPACE}.svc" in certificate["spec"]["dnsNames"]
    volumes = one(default, "Deployment")["spec"]["template"]["spec"]["volumes"]
    secret = next(v["secret"]["secretName"] for v in volumes if v["name"] == "webhook-tls")
    assert certificate["spec"]["secretName"] == secret
    assert certificate["spec"]["issuerRef"]["name"] == one(default, "Issuer")["metadata"]["name"]
    issued = render(
        {"webhook": {"certManager": {"issuerRef": {"name": "corp-ca", "kind": "ClusterIssuer"}}}}
    )
    assert not of_kind(issued, "Issuer")
    assert one(issued, "Certificate")["spec"]["issuerRef"] == {
        "name": "corp-ca",
        "kind": "ClusterIssuer",
        "group": "cert-manager.io",
    }


# ---------------------------------------------------------------- operator settings


def test_env_is_operator_config(default: list[dict[str, Any]]) -> None:
    env = env_of(default)
    settings = {name for name in env if name.startswith("WATTBIT_")}
    fields = {f"WATTBIT_{name.upper()}" for name in OperatorConfig.model_fields}
    assert settings <= fields, f"not an OperatorConfig setting: {sorted(settings - fields)}"
    unset = {name for name in OperatorConfig.model_fields if f"WATTBIT_{name.upper()}" not in env}
    assert unset == LEFT_TO_DEFAULT, "decide in the chart how to set the new operator setting"
    config = OperatorConfig.from_env(env)
    assert config.namespace == NAMESPACE
    assert config.manage_webhook_configuration is False
    assert config.webhook_port == 9443
    assert config.metrics_port == 8080
    assert config.webhook_cert_file == "/tls/tls.crt"


def test_values_reach_the_operator() -> None:
    docs = render(
        {
            "defaults": {
                "gpuPowerWatts": 400,
                "expectedDurationSeconds": 7200,
                "carbonPriceJpyPerTonne": 5000,
            },
            "webhook": {"port": 10443},
            "metrics": {"port": 9090},
            "verbose": True,
        }
    )
    config = OperatorConfig.from_env(env_of(docs))
    assert config.default_gpu_power_watts == 400
    assert config.default_expected_duration_seconds == 7200
    assert config.default_carbon_price_jpy_per_tonne == 5000
    assert config.webhook_port == 10443
    assert config.metrics_port == 9090
    container = operator_container(docs)
    assert container["command"][-1] == "--verbose"
    assert {p["name"]: p["containerPort"] for p in container["ports"]}["webhook"] == 10443


# ---------------------------------------------------------------- CRDs


def test_chart_crds_equal_crds_dir() -> None:
    source = {p.name: p.read_bytes() for p in sorted((ROOT / "crds").glob("*.yaml"))}
    copies = {p.name: p.read_bytes() for p in sorted((CHART / "templates" / "crds").glob("*"))}
    hint = "charts/wattbit/templates/crds differs from crds/; run hack/sync-chart-crds.sh"
    assert sorted(copies) == sorted(source), hint
    for name, data in copies.items():
        lines = data.decode("utf-8").splitlines(keepends=True)
        assert lines[0] == "{{- if .Values.crds.enabled }}\n", f"{name}: {hint}"
        stripped = "".join(line for line in lines if "{{" not in line).encode("utf-8")
        assert stripped == source[name], f"{name}: {hint}"


def test_crd_toggles(default: list[dict[str, Any]]) -> None:
    crds = of_kind(default, "CustomResourceDefinition")
    assert sorted(c["metadata"]["name"] for c in crds) == sorted(
        f"{p.stem.split('_', 1)[1]}.wattbit.io" for p in (ROOT / "crds").glob("*.yaml")
    )
    assert all(c["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep" for c in crds)
    loose = of_kind(render({"crds": {"keep": False}}), "CustomResourceDefinition")
    assert len(loose) == len(crds)
    assert all("annotations" not in c["metadata"] for c in loose)
    assert not of_kind(render({"crds": {"enabled": False}}), "CustomResourceDefinition")


# ---------------------------------------------------------------- optional objects


def test_optional_objects_are_opt_in(default: list[dict[str, Any]]) -> None:
    for kind in ("ServiceMonitor", "NetworkPolicy", "ConfigMap"):
        assert not of_kind(default, kind)
    docs = render(ALL_ON)
    monitor = one(docs, "ServiceMonitor")
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
    assert one(docs, "ConfigMap")["metadata"]["labels"]["grafana_dashboard"] == "1"


def test_network_policy_keeps_the_webhook_open() -> None:
    policy = one(render(ALL_ON), "NetworkPolicy")["spec"]
    assert set(policy["policyTypes"]) == {"Ingress", "Egress"}
    webhook_rule = next(
        r for r in policy["ingress"] if {"port": "webhook", "protocol": "TCP"} in r["ports"]
    )
    assert "from" not in webhook_rule, "the API server must reach the webhook (k8s#112765)"
    egress_ports = {(p["port"], p["protocol"]) for r in policy["egress"] for p in r["ports"]}
    assert {(53, "UDP"), (53, "TCP"), (443, "TCP"), (6443, "TCP")} <= egress_ports


def _metric_names() -> set[str]:
    names: set[str] = set()
    for collector in vars(metrics).values():
        if isinstance(collector, Counter | Gauge | Histogram):
            for family in collector.describe():
                suffix = "_total" if isinstance(collector, Counter) else ""
                names.add(family.name + suffix)
    return names


def test_dashboard_charts_every_metric() -> None:
    names = _metric_names()
    assert "wattbit_placement_decisions_total" in names
    docs = render(ALL_ON)
    dashboard = json.loads(one(docs, "ConfigMap")["data"]["wattbit.json"])
    assert dashboard == json.loads((CHART / "files" / "dashboard.json").read_text())
    exprs = " ".join(t["expr"] for p in dashboard["panels"] for t in p.get("targets", []))
    # A histogram is charted through its series: name_bucket, name_sum, name_count.
    charted = {
        re.sub(r"_(bucket|sum|count)$", "", series)
        for series in re.findall(r"wattbit_[a-z_]+", exprs)
    }
    assert charted == names


# ---------------------------------------------------------------- values and lint


@pytest.mark.parametrize("values", [{}, ALL_ON, NO_CERT_MANAGER], ids=["default", "all", "no-cm"])
def test_helm_lint(values: dict[str, Any]) -> None:
    result = run_helm("lint", "--strict", str(CHART), "--kube-version", KUBE_VERSION, values=values)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"replica": 2}, "additional properties 'replica' not allowed"),
        ({"replicas": 0}, "replicas"),
        ({"webhook": {"failurPolicy": "Fail"}}, "additional properties 'failurPolicy'"),
        ({"metrics": {"serviceMonitor": {"enable": True}}}, "additional properties 'enable'"),
        ({"webhook": {"failurePolicy": "Maybe"}}, "failurePolicy"),
        ({"image": {"tag": "latest"}}, "/image/tag"),
    ],
)
def test_schema_rejects_bad_values(values: dict[str, Any], message: str) -> None:
    assert message in render_error(values)


def test_template_and_lint_work_offline_without_a_kube_version() -> None:
    """helm's offline default version is its own (v1.20 in some builds), not the target's."""
    rendered = run_helm("template", "wattbit", str(CHART))
    assert rendered.returncode == 0, rendered.stderr
    assert "kind: Deployment" in rendered.stdout
    linted = run_helm("lint", "--strict", str(CHART))
    assert linted.returncode == 0, linted.stdout + linted.stderr


def _schema_paths(node: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, bool]]:
    """(dotted key, is_leaf) for every key the schema declares."""
    for key, child in node.get("properties", {}).items():
        path = f"{prefix}{key}"
        nested = "properties" in child
        yield path, not nested
        if nested:
            assert child.get("additionalProperties") is False, f"{path}: closed objects only"
            yield from _schema_paths(child, path + ".")


def _values_key_lines() -> dict[str, int]:
    """Dotted key -> line index in values.yaml, for keys the schema declares."""
    lines = (CHART / "values.yaml").read_text().splitlines()
    declared = {path for path, _ in _schema_paths(_schema())}
    found: dict[str, int] = {}
    stack: list[str] = []
    for index, line in enumerate(lines):
        match = re.match(r"^( *)([A-Za-z][\w]*):", line)
        if not match:
            continue
        stack = [*stack[: len(match.group(1)) // 2], match.group(2)]
        path = ".".join(stack)
        if path in declared:
            found[path] = index
    return found


@cache
def _schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((CHART / "values.schema.json").read_text())
    return schema


def test_every_value_is_declared_documented_and_listed() -> None:
    schema = _schema()
    assert schema["additionalProperties"] is False
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    declared = dict(_schema_paths(schema))

    def value_paths(node: dict[str, Any], prefix: str = "") -> Iterator[str]:
        for key, child in node.items():
            path = f"{prefix}{key}"
            yield path
            if isinstance(child, dict) and not declared.get(path, True):
                yield from value_paths(child, path + ".")

    assert set(value_paths(values)) == set(declared), "values.yaml and the schema disagree"
    lines = (CHART / "values.yaml").read_text().splitlines()
    for path, index in _values_key_lines().items():
        assert lines[index - 1].lstrip().startswith("#"), f"values.yaml: {path} has no comment"
    readme = (CHART / "README.md").read_text()
    for path, leaf in declared.items():
        if leaf:
            assert f"| `{path}` |" in readme, f"README.md values table lacks {path}"
