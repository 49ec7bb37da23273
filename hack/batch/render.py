"""Point a controller's kustomize-rendered CRDs and webhook configurations at 127.0.0.1.

Used by hack/batch-stack-up.sh: ``kubectl kustomize DIR | python render.py ... | kubectl apply``.
Reads YAML documents on stdin and writes to stdout only:

- CustomResourceDefinitions: a conversion webhook's ``clientConfig.service`` becomes
  ``url: <base-url>/convert-path`` with the cluster CA as ``caBundle``; cert-manager's
  CA-injection annotation is dropped (nothing injects here).
- Mutating/ValidatingWebhookConfigurations: renamed ``<prefix>-mutating`` / ``<prefix>-validating``
  (upstream names such as ``mutating-webhook-configuration`` collide between controllers), each
  webhook's service becomes ``url: <base-url><path>`` with ``caBundle``. ``--keep-groups`` drops
  the webhooks none of whose rules is in those API groups (Kueue ships webhooks for every
  integration it knows; the ones for integrations that are not enabled are dropped, so no Pod,
  Deployment or StatefulSet goes through Kueue). ``--exclude-namespaces`` adds names to a
  ``kubernetes.io/metadata.name NotIn`` namespace selector where the webhook already has one.

Everything else (Services, namespaces of an in-cluster install) is left out.
"""

from __future__ import annotations

import argparse
import base64
import sys
from pathlib import Path
from typing import Any

import yaml

NAME_LABEL = "kubernetes.io/metadata.name"


def client_config(config: dict[str, Any], base_url: str, ca_bundle: str) -> dict[str, Any]:
    path = (config.get("service") or {}).get("path") or ""
    return {"url": base_url + path, "caBundle": ca_bundle}


def render_crd(doc: dict[str, Any], base_url: str, ca_bundle: str) -> dict[str, Any]:
    annotations = doc.get("metadata", {}).get("annotations") or {}
    annotations.pop("cert-manager.io/inject-ca-from", None)
    conversion = doc.get("spec", {}).get("conversion") or {}
    if conversion.get("strategy") == "Webhook":
        webhook = conversion["webhook"]
        webhook["clientConfig"] = client_config(webhook["clientConfig"], base_url, ca_bundle)
    return doc


def render_webhooks(
    doc: dict[str, Any],
    *,
    prefix: str,
    base_url: str,
    ca_bundle: str,
    keep_groups: set[str] | None,
    exclude_namespaces: list[str],
) -> dict[str, Any] | None:
    suffix = "mutating" if doc["kind"] == "MutatingWebhookConfiguration" else "validating"
    doc["metadata"] = {
        "name": f"{prefix}-{suffix}",
        "labels": {"app.kubernetes.io/part-of": prefix},
    }
    kept = []
    for hook in doc.get("webhooks") or []:
        groups = {g for rule in hook.get("rules") or [] for g in rule.get("apiGroups") or []}
        if keep_groups is not None and not groups & keep_groups:
            continue
        hook["clientConfig"] = client_config(hook["clientConfig"], base_url, ca_bundle)
        for expr in (hook.get("namespaceSelector") or {}).get("matchExpressions") or []:
            if expr.get("key") == NAME_LABEL and expr.get("operator") == "NotIn":
                values = list(expr.get("values") or [])
                expr["values"] = values + [n for n in exclude_namespaces if n not in values]
        kept.append(hook)
    if not kept:
        return None
    doc["webhooks"] = kept
    return doc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prefix", required=True, help="name prefix of the webhook configurations")
    parser.add_argument("--base-url", required=True, help="e.g. https://127.0.0.1:40123")
    parser.add_argument("--ca-file", required=True, type=Path)
    parser.add_argument("--keep-groups", help="comma-separated API groups ('' is core)")
    parser.add_argument("--exclude-namespaces", default="", help="comma-separated")
    args = parser.parse_args()

    ca_bundle = base64.b64encode(args.ca_file.read_bytes()).decode()
    keep = None if args.keep_groups is None else {g.strip() for g in args.keep_groups.split(",")}
    exclude = [n for n in args.exclude_namespaces.split(",") if n]
    out = []
    for doc in yaml.safe_load_all(sys.stdin):
        if not doc:
            continue
        if doc.get("kind") == "CustomResourceDefinition":
            out.append(render_crd(doc, args.base_url, ca_bundle))
        elif doc.get("kind") in ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"):
            rendered = render_webhooks(
                doc,
                prefix=args.prefix,
                base_url=args.base_url,
                ca_bundle=ca_bundle,
                keep_groups=keep,
                exclude_namespaces=exclude,
            )
            if rendered:
                out.append(rendered)
    yaml.safe_dump_all(out, sys.stdout, sort_keys=False)


if __name__ == "__main__":
    main()
