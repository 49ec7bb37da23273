"""Generate ``crds/wattbit.io_<plural>.yaml`` from the pydantic models.

``python -m wattbit.api.crdgen --out crds`` writes one CustomResourceDefinition per kind;
``--check`` only compares and fails when ``crds/`` is out of date. ``hack/gen-crds.sh``
wraps the first, and ``tests/test_layout.py`` runs the second.

Pydantic emits JSON Schema; the API server wants a *structural* OpenAPI v3 schema. This
module closes the gap: it inlines every ``$ref``, turns ``X | None`` (``anyOf`` with null)
into a plain optional ``X``, drops ``title``, ``default: null`` and
``additionalProperties: false``, keeps ``x-kubernetes-*`` markers and CEL rules declared on
the models, and fails loudly on anything without a structural equivalent. Output is
deterministic (sorted keys) so that ``git diff`` shows real changes only.

Why in-house and not ``kube-custom-resource`` 0.7.2 (evaluated first, as style.md asks):
it has no CEL (``x-kubernetes-validations``) or list-type markers, strips every ``default``
(we want server-side defaults such as ``pue: "1.2"``), requires its own metaclass-based
``CustomResource`` and ``Metadata`` models, ships no ``py.typed`` and pulls in ``click``.
The conversion we need is ~150 lines.

It must not import anything outside ``wattbit.api`` and does no API calls.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from wattbit.api.schema import WattbitResource
from wattbit.api.v1alpha1 import KINDS, VERSION
from wattbit.api.v1alpha1.common import GROUP

JsonObj = dict[str, Any]

_DROP_KEYS = frozenset({"title", "$defs"})
_PASS_KEYS = frozenset(
    {
        "type",
        "format",
        "description",
        "default",
        "enum",
        "pattern",
        "minLength",
        "maxLength",
        "minimum",
        "maximum",
        "minItems",
        "maxItems",
        "minProperties",
        "maxProperties",
        "uniqueItems",
        "nullable",
        "properties",
        "additionalProperties",
        "items",
        "required",
        "x-kubernetes-validations",
        "x-kubernetes-list-type",
        "x-kubernetes-list-map-keys",
        "x-kubernetes-map-type",
        "x-kubernetes-int-or-string",
        "x-kubernetes-preserve-unknown-fields",
        "x-kubernetes-embedded-resource",
    }
)


class SchemaError(ValueError):
    """The model produced JSON Schema that has no structural OpenAPI equivalent."""


def _resolve(node: JsonObj, defs: JsonObj) -> JsonObj:
    """Inline ``$ref`` (and single-element ``allOf``), keeping sibling keys as overrides."""
    node = dict(node)
    if "allOf" in node and len(node["allOf"]) == 1:
        node = {**node.pop("allOf")[0], **node}
    if "$ref" in node:
        target = defs[node.pop("$ref").rsplit("/", 1)[-1]]
        # Siblings (a field's description, default, CEL rules) win over the model's own.
        merged = {**_resolve(target, defs), **node}
        if "x-kubernetes-validations" in target and "x-kubernetes-validations" in node:
            merged["x-kubernetes-validations"] = [
                *target["x-kubernetes-validations"],
                *node["x-kubernetes-validations"],
            ]
        return merged
    return node


def _collapse_optional(node: JsonObj, defs: JsonObj) -> JsonObj:
    """``anyOf: [X, null]`` -> ``X`` with the outer keys; fields stay optional, not nullable.

    Null values of non-nullable fields are pruned by the API server (since 1.20), and
    ``exclude_none`` means we never send them, so ``nullable`` would only add noise.
    """
    branches = node.get("anyOf")
    if branches is None:
        return node
    rest = [b for b in branches if b.get("type") != "null"]
    if len(rest) != 1 or len(rest) == len(branches):
        raise SchemaError(f"unions are not structural: {branches}")
    outer = {k: v for k, v in node.items() if k != "anyOf"}
    inner = _resolve(rest[0], defs)
    merged = {**inner, **outer}
    rules = [*inner.get("x-kubernetes-validations", []), *outer.get("x-kubernetes-validations", [])]
    if rules:
        merged["x-kubernetes-validations"] = rules
    if merged.get("default", 0) is None:
        del merged["default"]
    return merged


def _convert_key(
    out: JsonObj, node: JsonObj, key: str, value: Any, *, defs: JsonObj, path: str
) -> None:
    """Put the structural form of ``node[key]`` into ``out``."""
    if key == "properties":
        out[key] = {name: structural(sub, defs, f"{path}.{name}") for name, sub in value.items()}
    elif key == "items":
        out[key] = structural(value, defs, f"{path}[]")
    elif key == "additionalProperties":
        # false is pydantic's extra="forbid"; structural schemas express that by pruning.
        if isinstance(value, dict):
            out[key] = structural(value, defs, f"{path}{{}}")
    elif key == "description":
        # Attribute docstrings wrap lines; kubectl explain re-wraps, so flatten them.
        out[key] = " ".join(value.replace("``", "`").split())
    elif key in ("minLength", "maxLength") and node.get("type") == "object":
        # pydantic spells a dict's max_length as maxLength; OpenAPI wants maxProperties.
        out[key.replace("Length", "Properties")] = value
    else:
        out[key] = value


def structural(node: JsonObj, defs: JsonObj, path: str = "") -> JsonObj:
    """Convert one pydantic JSON Schema node (recursively) into a structural schema node."""
    node = _collapse_optional(_resolve(node, defs), defs)
    if "const" in node:
        node = {**{k: v for k, v in node.items() if k != "const"}, "enum": [node["const"]]}
    unknown = set(node) - _PASS_KEYS - _DROP_KEYS
    if unknown:
        raise SchemaError(f"{path or '<root>'}: unsupported keywords {sorted(unknown)}")
    if "type" not in node and not node.get("x-kubernetes-preserve-unknown-fields"):
        raise SchemaError(f"{path or '<root>'}: every node needs a type")

    out: JsonObj = {}
    for key, value in node.items():
        if key not in _DROP_KEYS:
            _convert_key(out, node, key, value, defs=defs, path=path)

    if out.get("default") is None:
        out.pop("default", None)
    if "required" in out:
        # A required field with a Python default (e.g. a condition's message) must not
        # also carry a schema default: the API server would never apply it.
        for name in out["required"]:
            out.get("properties", {}).get(name, {}).pop("default", None)
    if out.get("type") == "object" and "properties" in out and "additionalProperties" in out:
        raise SchemaError(f"{path}: properties and additionalProperties are exclusive")
    return out


def openapi_schema(model: type[WattbitResource]) -> JsonObj:
    """The ``openAPIV3Schema`` of one kind."""
    raw = model.model_json_schema(by_alias=True, mode="validation")
    defs = raw.get("$defs", {})
    props = dict(raw["properties"])
    # apiVersion/kind/metadata are the API server's; declare them the way controller-gen does.
    for name in ("apiVersion", "kind", "metadata"):
        props.pop(name)
    schema = structural({**raw, "properties": props}, defs)
    schema["required"] = [r for r in schema.get("required", []) if r in props]
    if not schema["required"]:
        del schema["required"]
    schema["properties"] = {
        "apiVersion": {
            "type": "string",
            "description": "APIVersion defines the versioned schema of this representation "
            "of an object.",
        },
        "kind": {
            "type": "string",
            "description": "Kind is a string value representing the REST resource this "
            "object represents.",
        },
        "metadata": {"type": "object"},
        **schema["properties"],
    }
    rules = model.kind_info.root_rules
    if rules:
        schema["x-kubernetes-validations"] = [r.to_schema() for r in rules]
    return schema


def crd(model: type[WattbitResource]) -> JsonObj:
    """The CustomResourceDefinition of one kind."""
    info = model.kind_info
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{info.plural}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "names": {
                "kind": info.kind,
                "listKind": f"{info.kind}List",
                "plural": info.plural,
                "singular": info.singular,
                "shortNames": list(info.short_names),
                "categories": list(info.categories),
            },
            "scope": info.scope,
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": openapi_schema(model)},
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [c.to_schema() for c in info.printer_columns],
                }
            ],
        },
    }


def file_name(model: type[WattbitResource]) -> str:
    """``wattbit.io_<plural>.yaml``, the controller-gen naming."""
    return f"{GROUP}_{model.kind_info.plural}.yaml"


class _Dumper(yaml.SafeDumper):
    """SafeDumper without ``&id001`` anchors: repeated sub-schemas are written out in full."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def render(model: type[WattbitResource]) -> str:
    """Deterministic YAML for one kind."""
    header = "# Generated by hack/gen-crds.sh from wattbit.api; do not edit.\n"
    body = yaml.dump(crd(model), Dumper=_Dumper, sort_keys=True, width=100, allow_unicode=True)
    return f"{header}---\n{body}"


def render_all(models: Iterable[type[WattbitResource]] = KINDS) -> dict[str, str]:
    """File name -> YAML for every kind."""
    return {file_name(m): render(m) for m in models}


def stale_files(out: Path, rendered: dict[str, str]) -> list[str]:
    """Files in ``out`` that differ from ``rendered``, are missing, or are left over."""
    stale = [n for n, text in rendered.items() if _read(out / n) != text]
    leftovers = [p.name for p in out.glob(f"{GROUP}_*.yaml") if p.name not in rendered]
    return sorted(stale + leftovers)


def _read(path: Path) -> str | None:
    return path.read_text(encoding="utf-8") if path.exists() else None


def main(argv: list[str] | None = None) -> int:
    """CLI: write (default) or ``--check`` the CRD files."""
    parser = argparse.ArgumentParser(prog="python -m wattbit.api.crdgen", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("crds"), help="output directory")
    parser.add_argument("--check", action="store_true", help="fail if files are out of date")
    args = parser.parse_args(argv)
    rendered = render_all()
    out: Path = args.out
    if args.check:
        stale = stale_files(out, rendered)
        if stale:
            print(f"out of date: {', '.join(stale)}; run hack/gen-crds.sh", file=sys.stderr)
            return 1
        return 0
    out.mkdir(parents=True, exist_ok=True)
    for stale_name in stale_files(out, rendered):
        if stale_name not in rendered:
            (out / stale_name).unlink()
    for name, text in rendered.items():
        (out / name).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
