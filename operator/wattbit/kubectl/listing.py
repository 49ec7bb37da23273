"""``kubectl wattbit list``: every managed workload, from its WorkloadPlacement record.

One row per record: the workload, its region, its state (the decision, or the phase of a move
in flight), reason, planned start, and the receipt's kgCO2 and saving so far. ``--for REGION``
keeps the workloads whose record names that region (where they run, will run, or are moving
to); ``--policy NAME`` those whose record names that PlacementPolicy (a record naming none is
under its namespace's ``default``, or the built-in one).

WARNING: pure apart from the reader it is handed; decides nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from wattbit.api.v1alpha1.placementpolicy import DEFAULT_POLICY_NAME
from wattbit.api.v1alpha1.workloadplacement import PLURAL
from wattbit.k8s.objects import parse_time
from wattbit.kubectl.args import Output
from wattbit.kubectl.cluster import Body, Reader
from wattbit.kubectl.errors import PluginError
from wattbit.kubectl.formatting import NONE, age, number, timestamp
from wattbit.kubectl.output import Reply, dump, table
from wattbit.kubectl.workloads import parse_status


def row(body: Body, now: datetime) -> dict[str, Any]:
    """One record as plain values (the ``-o json`` item)."""
    metadata = body.get("metadata") or {}
    spec = body.get("spec") or {}
    ref = spec.get("workloadRef") or {}
    name = str(metadata.get("name"))
    try:
        status = parse_status(name, body)
    except PluginError as error:
        return {"namespace": metadata.get("namespace"), "record": name, "error": error.message}
    migration = status.migration if status else None
    moving = migration is not None and not migration.phase.is_final
    state = None
    if moving and migration is not None:
        state = f"Moving/{migration.phase.value}"
    elif status is not None and status.decision is not None:
        state = status.decision.value
    created = parse_time(metadata.get("creationTimestamp"))
    return {
        "namespace": metadata.get("namespace"),
        "record": name,
        "kind": ref.get("kind"),
        "workload": ref.get("name"),
        "policy": spec.get("policyName"),
        "region": (migration.to_region if moving and migration else None)
        or (status.region if status else None),
        "state": state,
        "reason": status.reason if status else None,
        "plannedStart": timestamp(status.planned_start)
        if status and status.planned_start
        else None,
        "moves": status.moves if status else 0,
        "decidedAt": timestamp(status.decided_at) if status and status.decided_at else None,
        "ageSeconds": None if created is None else round((now - created).total_seconds()),
        "message": status.message if status else None,
        "carbonKg": status.totals.carbon_kg if status and status.totals else None,
        "savedCarbonKg": status.savings.carbon_kg if status and status.savings else None,
        "savedJpy": status.savings.cost_jpy if status and status.savings else None,
    }


def matches(item: dict[str, Any], *, for_region: str | None, policy: str | None) -> bool:
    if for_region is not None and item.get("region") != for_region:
        return False
    return policy is None or (item.get("policy") or DEFAULT_POLICY_NAME) == policy


def render(items: Sequence[dict[str, Any]], output: Output | None, *, all_namespaces: bool) -> str:
    if output in (Output.JSON, Output.YAML):
        return dump({"kind": "ManagedWorkloadList", "items": list(items)}, output)
    wide = output is Output.WIDE
    headers = ["NAMESPACE"] if all_namespaces else []
    headers += ["WORKLOAD", "REGION", "STATE", "REASON", "START", "KGCO2", "SAVED KGCO2", "AGE"]
    if wide:
        headers += ["SAVED JPY", "MOVES", "POLICY", "DECIDED", "RECORD"]
    rows = []
    for item in items:
        cells = [item["namespace"] or ""] if all_namespaces else []
        if "error" in item:
            rows.append(
                cells + [item["record"], item["error"]] + [""] * (len(headers) - 2 - len(cells))
            )
            continue
        cells += [
            f"{str(item['kind']).lower()}/{item['workload']}",
            item["region"] or NONE,
            item["state"] or NONE,
            item["reason"] or NONE,
            item["plannedStart"] or NONE,
            number(item["carbonKg"], 3),
            number(item["savedCarbonKg"], 3),
            NONE if item["ageSeconds"] is None else age(item["ageSeconds"]),
        ]
        if wide:
            cells += [
                number(item["savedJpy"], 1),
                str(item["moves"]),
                item["policy"] or f"({DEFAULT_POLICY_NAME})",
                item["decidedAt"] or NONE,
                item["record"],
            ]
        rows.append(cells)
    return table(headers, rows)


def run(
    reader: Reader,
    *,
    namespace: str | None,
    for_region: str | None,
    policy: str | None,
    output: Output | None,
    now: datetime,
) -> Reply:
    bodies = reader.custom_list(PLURAL, namespace)
    items = [row(body, now) for body in bodies]
    items = [i for i in items if "error" in i or matches(i, for_region=for_region, policy=policy)]
    items.sort(key=lambda i: (i.get("namespace") or "", i.get("workload") or i["record"]))
    if not items and output not in (Output.JSON, Output.YAML):
        where = "in any namespace" if namespace is None else f'in namespace "{namespace}"'
        return Reply(note=f"No managed workloads found {where}.")
    return Reply(out=render(items, output, all_namespaces=namespace is None))
