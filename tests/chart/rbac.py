"""The operator's RBAC matrix, shared by the chart tests and the RBAC integration test.

One place says what the operator may do, derived from the API calls it makes
(operator/wattbit/handlers, k8s/ and kopf itself); the chart's ClusterRole must equal
OPERATOR_RULES exactly, and a real API server must answer ``yes`` to every entry of
OPERATOR_CAN and ``no`` to every entry of OPERATOR_CANNOT.
"""

from __future__ import annotations

from typing import NamedTuple

# (apiGroup, resource) -> verbs. Every verb has a caller:
OPERATOR_RULES: dict[tuple[str, str], frozenset[str]] = {
    # kopf indexes (watch) and timers on these; kopf patches its annotations onto them.
    ("wattbit.io", "regions"): frozenset({"get", "list", "watch", "patch"}),
    ("wattbit.io", "powersignals"): frozenset({"get", "list", "watch", "patch"}),
    ("wattbit.io", "placementpolicies"): frozenset({"get", "list", "watch", "patch"}),
    # handlers/regions.py and handlers/powersignals.py write status (kopf: status subresource).
    ("wattbit.io", "regions/status"): frozenset({"patch"}),
    ("wattbit.io", "powersignals/status"): frozenset({"patch"}),
    # k8s/records.py: create once (409 = exists), read back, write status; GC deletes it.
    # handlers/indexes.py keeps them in an index: what is in flight lives in the records.
    ("wattbit.io", "workloadplacements"): frozenset({"get", "list", "watch", "create"}),
    ("wattbit.io", "workloadplacements/status"): frozenset({"patch"}),
    # APNLinks: indexed (moves are priced over them); their status lists the moves they carried.
    ("wattbit.io", "apnlinks"): frozenset({"list", "watch"}),
    ("wattbit.io", "apnlinks/status"): frozenset({"patch"}),
    # k8s/workloads.py PodAdapter.evict: pods a controller replaces move through the Eviction
    # API, which honours PodDisruptionBudgets (never a delete).
    ("", "pods/eviction"): frozenset({"create"}),
    # k8s/workloads.py JobAdapter._forget_start: a suspended Job's startTime, cleared before
    # its template is re-pointed (1.35 refuses the template change otherwise).
    ("batch", "jobs/status"): frozenset({"patch"}),
    # k8s/workloads.py patches; kopf timers watch. Never create, update or delete.
    ("batch", "jobs"): frozenset({"get", "list", "watch", "patch"}),
    ("", "pods"): frozenset({"get", "list", "watch", "patch"}),
    # k8s/workloads.py JobSetAdapter and TrainJobAdapter patch them; indexes watch them.
    ("jobset.x-k8s.io", "jobsets"): frozenset({"get", "list", "watch", "patch"}),
    ("trainer.kubeflow.org", "trainjobs"): frozenset({"get", "list", "watch", "patch"}),
    # handlers/indexes.py: a TrainJob's pod sets come from its runtime. Read only.
    ("trainer.kubeflow.org", "clustertrainingruntimes"): frozenset({"list", "watch"}),
    ("trainer.kubeflow.org", "trainingruntimes"): frozenset({"list", "watch"}),
    # k8s/kueue.py KueueApi: spec.active of a Workload, wattbit's check in its status (SSA),
    # its AdmissionChecks' Active condition; handlers/indexes.py watches both.
    ("kueue.x-k8s.io", "workloads"): frozenset({"list", "watch", "patch"}),
    ("kueue.x-k8s.io", "workloads/status"): frozenset({"patch"}),
    ("kueue.x-k8s.io", "admissionchecks"): frozenset({"list", "watch"}),
    ("kueue.x-k8s.io", "admissionchecks/status"): frozenset({"patch"}),
    # handlers/indexes.py: GPU capacity. Read only.
    ("", "nodes"): frozenset({"get", "list", "watch"}),
    # kopf.info / kopf.warn post core/v1 Events.
    ("", "events"): frozenset({"create", "patch"}),
    # kopf's resource observer: notices CRDs installed after the operator started.
    ("apiextensions.k8s.io", "customresourcedefinitions"): frozenset({"list", "watch"}),
}

# Workload kinds and the verbs the operator must never hold on them.
WORKLOADS = {
    ("batch", "jobs"),
    ("", "pods"),
    ("jobset.x-k8s.io", "jobsets"),
    ("trainer.kubeflow.org", "trainjobs"),
}
FORBIDDEN_WORKLOAD_VERBS = frozenset({"create", "delete", "deletecollection", "update"})
# The one subresource of a workload the operator may touch, and how: an eviction honours
# PodDisruptionBudgets, where a delete would not.
WORKLOAD_SUBRESOURCES = {
    ("", "pods/eviction"): frozenset({"create"}),
    # JobAdapter._forget_start clears a suspended Job's startTime before re-pointing it.
    ("batch", "jobs/status"): frozenset({"patch"}),
}


class Access(NamedTuple):
    """One ``kubectl auth can-i`` question: verb, resource[.group][/name], namespace."""

    verb: str
    resource: str
    namespace: str | None = None
    subresource: str | None = None

    def args(self, release_namespace: str) -> list[str]:
        namespace = release_namespace if self.namespace == RELEASE else self.namespace
        args = [self.verb, self.resource]
        if self.subresource:
            args.append(f"--subresource={self.subresource}")
        # No namespace: the question is cluster-wide (cluster-scoped kinds, all-namespace watches).
        args += ["-n", namespace] if namespace else ["--all-namespaces"]
        return args


RELEASE = "<release-namespace>"
"""Placeholder for the namespace the chart is installed in."""

SECRET_NAME = "wattbit-providers"  # noqa: S105 - a Secret's name, not its value
"""The one Secret name the RBAC integration test allows (providers.secretNames)."""

OPERATOR_CAN: list[Access] = [
    *(
        Access(verb, f"{plural}.wattbit.io", "ml-team")
        for plural in ("powersignals", "placementpolicies")
        for verb in ("get", "list", "watch", "patch")
    ),
    *(Access(verb, "regions.wattbit.io") for verb in ("get", "list", "watch", "patch")),
    Access("patch", "regions.wattbit.io", subresource="status"),
    Access("patch", "powersignals.wattbit.io", "ml-team", subresource="status"),
    Access("create", "workloadplacements.wattbit.io", "ml-team"),
    Access("get", "workloadplacements.wattbit.io", "ml-team"),
    Access("list", "workloadplacements.wattbit.io"),
    Access("watch", "workloadplacements.wattbit.io"),
    Access("list", "apnlinks.wattbit.io"),
    Access("watch", "apnlinks.wattbit.io"),
    Access("patch", "apnlinks.wattbit.io", subresource="status"),
    Access("create", "pods", "ml-team", subresource="eviction"),
    Access("patch", "jobs.batch", "ml-team", subresource="status"),
    Access("patch", "workloadplacements.wattbit.io", "ml-team", subresource="status"),
    *(Access(verb, "jobs.batch", "ml-team") for verb in ("get", "list", "watch", "patch")),
    *(Access(verb, "pods", "ml-team") for verb in ("get", "list", "watch", "patch")),
    *(
        Access(verb, resource, "ml-team")
        for resource in ("jobsets.jobset.x-k8s.io", "trainjobs.trainer.kubeflow.org")
        for verb in ("get", "list", "watch", "patch")
    ),
    Access("watch", "clustertrainingruntimes.trainer.kubeflow.org"),
    Access("patch", "workloads.kueue.x-k8s.io", "ml-team"),
    Access("patch", "workloads.kueue.x-k8s.io", "ml-team", subresource="status"),
    Access("watch", "admissionchecks.kueue.x-k8s.io"),
    Access("patch", "admissionchecks.kueue.x-k8s.io", subresource="status"),
    Access("list", "trainingruntimes.trainer.kubeflow.org"),
    Access("list", "jobs.batch"),  # cluster-wide watches
    Access("watch", "pods"),
    *(Access(verb, "nodes") for verb in ("get", "list", "watch")),
    Access("create", "events", "ml-team"),
    Access("patch", "events", "ml-team"),
    Access("list", "customresourcedefinitions.apiextensions.k8s.io"),
    Access("watch", "customresourcedefinitions.apiextensions.k8s.io"),
    Access("get", f"secrets/{SECRET_NAME}", RELEASE),
    # handlers/leadership.py: the replicas' one Lease, in the release namespace.
    Access("get", "leases.coordination.k8s.io/wattbit-operator", RELEASE),
    Access("update", "leases.coordination.k8s.io/wattbit-operator", RELEASE),
    Access("create", "leases.coordination.k8s.io", RELEASE),
]

OPERATOR_CANNOT: list[Access] = [
    # Workloads are steered, never created or removed.
    Access("create", "jobs.batch", "ml-team"),
    Access("delete", "jobs.batch", "ml-team"),
    Access("update", "jobs.batch", "ml-team"),
    Access("deletecollection", "jobs.batch", "ml-team"),
    Access("create", "pods", "ml-team"),
    Access("delete", "pods", "ml-team"),
    Access("update", "pods", "ml-team"),
    Access("create", "pods", "ml-team", subresource="exec"),
    Access("create", "jobsets.jobset.x-k8s.io", "ml-team"),
    Access("delete", "jobsets.jobset.x-k8s.io", "ml-team"),
    Access("create", "trainjobs.trainer.kubeflow.org", "ml-team"),
    Access("delete", "trainjobs.trainer.kubeflow.org", "ml-team"),
    Access("patch", "clustertrainingruntimes.trainer.kubeflow.org"),
    # Quota is Kueue's: no writes to queues, and no Workload created or deleted.
    Access("patch", "clusterqueues.kueue.x-k8s.io"),
    Access("create", "workloads.kueue.x-k8s.io", "ml-team"),
    Access("delete", "workloads.kueue.x-k8s.io", "ml-team"),
    Access("patch", "admissionchecks.kueue.x-k8s.io"),
    Access("update", "jobs.batch", "ml-team", subresource="status"),
    Access("patch", "pods", "ml-team", subresource="status"),
    # Secrets: one name, get only, release namespace only.
    Access("get", "secrets/other-secret", RELEASE),
    Access("list", "secrets", RELEASE),
    Access("watch", "secrets", RELEASE),
    Access("get", f"secrets/{SECRET_NAME}", "default"),
    Access("get", "secrets", "ml-team"),
    Access("get", "secrets", "kube-system"),
    Access("list", "secrets", "kube-system"),
    Access("list", "secrets"),
    # Leases: our one, in our namespace.
    Access("update", "leases.coordination.k8s.io/kube-controller-manager", RELEASE),
    Access("update", "leases.coordination.k8s.io/wattbit-operator", "kube-system"),
    Access("delete", "leases.coordination.k8s.io/wattbit-operator", RELEASE),
    # Nodes and namespaces are read or left alone.
    Access("update", "nodes"),
    Access("patch", "nodes"),
    Access("delete", "nodes"),
    Access("create", "nodes", subresource="proxy"),
    Access("delete", "namespaces"),
    Access("patch", "namespaces"),
    Access("list", "namespaces"),
    # No deletes of our own records, no writes to definitions or admission.
    Access("delete", "workloadplacements.wattbit.io", "ml-team"),
    Access("delete", "regions.wattbit.io"),
    Access("patch", "apnlinks.wattbit.io"),
    Access("delete", "apnlinks.wattbit.io"),
    Access("create", "regions.wattbit.io"),
    Access("create", "customresourcedefinitions.apiextensions.k8s.io"),
    Access("patch", "customresourcedefinitions.apiextensions.k8s.io"),
    Access("patch", "mutatingwebhookconfigurations.admissionregistration.k8s.io"),
    Access("create", "validatingwebhookconfigurations.admissionregistration.k8s.io"),
    # No privilege escalation paths.
    Access("create", "clusterrolebindings.rbac.authorization.k8s.io"),
    Access("escalate", "clusterroles.rbac.authorization.k8s.io"),
    Access("bind", "clusterroles.rbac.authorization.k8s.io"),
    Access("impersonate", "serviceaccounts", "default"),
    Access("create", "serviceaccounts", RELEASE, subresource="token"),
    # Anything in kube-system beyond what cluster-wide reads allow.
    Access("patch", "configmaps", "kube-system"),
    Access("create", "pods", "kube-system"),
    Access("delete", "deployments.apps", "kube-system"),
]
