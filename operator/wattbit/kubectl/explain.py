"""``kubectl wattbit explain WORKLOAD``: the chain from a workload to its decision, as
``cmctl status certificate`` walks a certificate's.

Workload (kind, the labels and annotations wattbit reads, suspension or gates, node affinity,
pods) → its WorkloadPlacement (decision, reason, message, planned start, conditions, every
region compared with its figures, the move with each phase) → the region chosen and its
signals now → the Events of the workload and of its record.

WARNING: pure apart from the reader it is handed; decides nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from wattbit.api.v1alpha1.workloadplacement import WorkloadPlacementStatus
from wattbit.k8s import names
from wattbit.k8s.objects import parse_time
from wattbit.kubectl import regions
from wattbit.kubectl.args import Output, WorkloadRef
from wattbit.kubectl.cluster import Body, Reader
from wattbit.kubectl.formatting import (
    NONE,
    age,
    number,
    pairs,
    since,
    sparkline,
    timestamp,
    yes_no,
)
from wattbit.kubectl.output import Reply, dump, indented, section, table
from wattbit.kubectl.workloads import Found, find, relevant

EVENT_MESSAGE_WIDTH = 120
"""Events' messages are cut to this in the table (``-o wide``: whole)."""


def node_affinity(pod_spec: Mapping[str, Any]) -> list[str]:
    """The required node-affinity terms and node selector, as ``key In (a,b)`` text."""
    out = [f"{k}={v}" for k, v in sorted((pod_spec.get("nodeSelector") or {}).items())]
    required = ((pod_spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    for term in required.get("nodeSelectorTerms") or []:
        parts = [
            f"{e.get('key')} {e.get('operator')} ({','.join(e.get('values') or [])})"
            for e in term.get("matchExpressions") or []
        ]
        if parts:
            out.append(" and ".join(parts))
    return out


def workload_facts(found: Found) -> dict[str, Any]:
    body, obj = found.body, found.obj
    metadata = body.get("metadata") or {}
    spec = body.get("spec") or {}
    status = body.get("status") or {}
    facts: dict[str, Any] = {
        "kind": obj.kind.value,
        "namespace": obj.namespace,
        "name": obj.name,
        "uid": obj.uid,
        "created": timestamp(obj.created_at),
        "labels": relevant(metadata.get("labels")),
        "annotations": relevant(metadata.get("annotations")),
        "nodeAffinity": node_affinity(obj.pod_spec),
        "placedRegion": obj.placed_region,
        "releasedAt": timestamp(obj.released_at) if obj.released_at else None,
        "finished": obj.finished,
    }
    if obj.kind.value == "Job":
        facts["suspend"] = bool(spec.get("suspend"))
        facts["pods"] = {
            "parallelism": obj.pods,
            "active": int(status.get("active") or 0),
            "succeeded": int(status.get("succeeded") or 0),
            "failed": int(status.get("failed") or 0),
        }
    else:
        facts["schedulingGates"] = [g.get("name") for g in spec.get("schedulingGates") or []]
        facts["phase"] = status.get("phase")
        facts["nodeName"] = spec.get("nodeName")
    return facts


def record_facts(found: Found) -> dict[str, Any] | None:
    if found.record is None:
        return None
    spec = found.record.get("spec") or {}
    status = found.status or WorkloadPlacementStatus()
    migration = status.migration
    return {
        "name": found.record_name,
        "stale": found.record_is_stale,
        "policy": spec.get("policyName"),
        "decision": status.decision.value if status.decision else None,
        "reason": status.reason,
        "region": status.region,
        "message": status.message,
        "decidedAt": timestamp(status.decided_at) if status.decided_at else None,
        "plannedStart": timestamp(status.planned_start) if status.planned_start else None,
        "moves": status.moves,
        "lastMoveAt": timestamp(status.last_move_at) if status.last_move_at else None,
        "placementFailures": status.placement_failures,
        "conditions": [
            {"type": c.type, "status": c.status.value, "reason": c.reason, "message": c.message}
            for c in status.conditions
        ],
        "candidates": [c.to_wire() for c in status.candidates],
        "migration": None if migration is None else migration.to_wire(),
    }


def event_facts(events: Sequence[Body], now: datetime) -> list[dict[str, Any]]:
    def when(event: Body) -> datetime | None:
        return (
            parse_time(event.get("lastTimestamp"))
            or parse_time(event.get("eventTime"))
            or parse_time((event.get("metadata") or {}).get("creationTimestamp"))
        )

    out = []
    for event in sorted(events, key=lambda e: (when(e) or now, e.get("reason") or "")):
        involved = event.get("involvedObject") or {}
        source = event.get("source") or {}
        moment = when(event)
        out.append(
            {
                "type": event.get("type"),
                "reason": event.get("reason"),
                "object": f"{str(involved.get('kind')).lower()}/{involved.get('name')}",
                "from": source.get("component") or event.get("reportingComponent") or "",
                "count": int(event.get("count") or 1),
                "lastSeen": timestamp(moment),
                "ageSeconds": None if moment is None else round((now - moment).total_seconds()),
                "message": event.get("message") or "",
            }
        )
    return out


def explain(
    found: Found, region: Body | None, events: Sequence[Body], now: datetime
) -> dict[str, Any]:
    """The whole chain as plain values (the ``-o json`` document)."""
    return {
        "kind": "WorkloadExplanation",
        "workload": workload_facts(found),
        "record": record_facts(found),
        "region": None if region is None else regions.summarize(region, now),
        "events": event_facts(events, now),
    }


# ---------------------------------------------------------------- text


def _kv(mapping: Mapping[str, str]) -> str:
    return "\n".join(f"{k}={v}" for k, v in mapping.items()) or NONE


def _workload_text(w: Mapping[str, Any]) -> str:
    fields = [
        ("Labels", _kv(w["labels"])),
        ("Annotations", _kv(w["annotations"])),
    ]
    if w["kind"] == "Job":
        pods = w["pods"]
        held = "held by wattbit" if w["annotations"].get(names.ANNOTATION_HELD) == "true" else ""
        suspend = str(w["suspend"]).lower() + (f" ({held})" if held and w["suspend"] else "")
        fields.append(("Suspend", suspend))
        fields.append(
            (
                "Pods",
                f"{pods['parallelism']} at once: {pods['active']} active, "
                f"{pods['succeeded']} succeeded, {pods['failed']} failed",
            )
        )
    else:
        fields.append(("Scheduling gates", ", ".join(w["schedulingGates"]) or NONE))
        fields.append(("Phase", f"{w['phase'] or NONE} on {w['nodeName'] or NONE}"))
    fields.append(("Node affinity", "; ".join(w["nodeAffinity"]) or NONE))
    fields.append(("Released", w["releasedAt"] or "never"))
    fields.append(("Finished", yes_no(w["finished"])))
    return section(f"{w['kind']} {w['namespace']}/{w['name']}", fields)


def _candidates_text(candidates: Sequence[Mapping[str, Any]], wide: bool) -> str:
    headers = ["REGION", "ELIGIBLE", "FREE GPUS", "gCO2/kWh", "JPY/kWh", "kWh", "kgCO2", "JPY"]
    headers += ["MOVE JPY", "REASON"] if wide else ["REASON"]
    rows = []
    for c in candidates:
        row = [
            c["region"],
            yes_no(c["eligible"]),
            number(c.get("gpusFree"), 0),
            number(c.get("carbonGramsPerKwh"), 0),
            number(c.get("priceJpyPerKwh"), 2),
            number(c.get("energyKwh"), 1),
            number(c.get("carbonKg"), 2),
            number(c.get("costJpy"), 0),
        ]
        if wide:
            row.append(number(c.get("moveCostJpy"), 0))
        row.append(c.get("reason") or "")
        rows.append(row)
    return table(headers, rows)


def _migration_text(m: Mapping[str, Any], now: datetime) -> str:
    since_text = since(parse_time(m.get("phaseSince")), now)
    head = (
        f"{m['fromRegion']} -> {m['toRegion']} ({m['reason']}): {m['phase']} for {since_text}"
        + (f", over APNLink {m['link']}" if m.get("link") else "")
    )
    rows = [
        [entry["phase"], timestamp(parse_time(entry.get("at"))), entry.get("message") or ""]
        for entry in m.get("history") or []
    ]
    return head + "\n" + table(["PHASE", "AT", "MESSAGE"], rows)


def _record_text(r: Mapping[str, Any] | None, found: Found, now: datetime, wide: bool) -> str:
    title = f"WorkloadPlacement {found.obj.namespace}/{found.record_name}"
    if r is None:
        return f"{title}\n  not found: the operator has not decided for this workload yet"
    planned = r["plannedStart"]
    start = NONE if planned is None else f"{planned} (in {since(now, parse_time(planned) or now)})"
    fields = [
        ("Policy", r["policy"] or "the namespace's default, else built-in"),
        ("Decision", r["decision"] or NONE),
        ("Reason", r["reason"] or NONE),
        ("Region", r["region"] or NONE),
        ("Planned start", start),
        ("Decided", f"{r['decidedAt'] or NONE} ({since(parse_time(r['decidedAt']), now)} ago)"),
        ("Moves", str(r["moves"]) + (f" (last {r['lastMoveAt']})" if r["lastMoveAt"] else "")),
        (
            "Conditions",
            "; ".join(f"{c['type']}={c['status']} ({c['reason']})" for c in r["conditions"])
            or NONE,
        ),
        ("Message", r["message"] or NONE),
    ]
    if r["stale"]:
        fields.insert(0, ("Note", "this record belongs to an earlier workload of the same name"))
    text = section(title, fields)
    if r["candidates"]:
        text += "\n  Candidates (at current signals, for the remaining run):\n"
        text += indented(_candidates_text(r["candidates"], wide), 4)
    if r["migration"]:
        text += "\n  Migration:\n" + indented(_migration_text(r["migration"], now), 4)
    return text


def _percent(value: float | None) -> str:
    return NONE if value is None else f"{number(value, 0)}%"


def _region_text(item: Mapping[str, Any] | None, name: str | None) -> str:
    if name is None:
        return "Region\n  none chosen"
    if item is None:
        return f"Region {name}\n  not found"
    if "error" in item:
        return f"Region {name}\n  {item['error']}"
    gpus = item.get("gpus")
    forecast = item["forecast"]
    fields = [
        (
            "Signals",
            f"{number(item['carbonGramsPerKwh'], 0)} gCO2/kWh, "
            f"{number(item['priceJpyPerKwh'], 2)} JPY/kWh, renewables "
            f"{_percent(item['renewablePercent'])}, curtailment {yes_no(item['curtailment'])}",
        ),
        (
            "Freshness",
            f"{regions.freshness(item)} (SignalsFresh={item['signalsFresh'] or NONE}, "
            f"max age {item['signalMaxAgeSeconds']}s), source {item['source'] or NONE}",
        ),
        ("Availability", item["availability"]),
        ("GPUs", NONE if gpus is None else f"{gpus['free']} free of {gpus['total']}"),
        ("gCO2/kWh next 48h, 2 h bars", sparkline(pairs(forecast["carbonGramsPerKwh"])) or NONE),
        ("JPY/kWh next 48h, 2 h bars", sparkline(pairs(forecast["priceJpyPerKwh"])) or NONE),
    ]
    return section(f"Region {name}", fields)


def _events_text(events: Sequence[Mapping[str, Any]], wide: bool) -> str:
    if not events:
        return "Events:\n  <none>"
    rows = []
    for e in events:
        message = e["message"].replace("\n", " ")
        if not wide and len(message) > EVENT_MESSAGE_WIDTH:
            message = message[: EVENT_MESSAGE_WIDTH - 3] + "..."
        seen = NONE if e["ageSeconds"] is None else age(e["ageSeconds"])
        count = f" (x{e['count']})" if e["count"] > 1 else ""
        rows.append([e["type"] or "", e["reason"] or "", seen + count, e["object"], message])
    return "Events:\n" + indented(table(["TYPE", "REASON", "AGE", "OBJECT", "MESSAGE"], rows))


def render(doc: Mapping[str, Any], found: Found, now: datetime, output: Output | None) -> str:
    if output in (Output.JSON, Output.YAML):
        return dump(dict(doc), output)
    wide = output is Output.WIDE
    record = doc["record"]
    region_name = record["region"] if record else None
    return "\n\n".join(
        [
            _workload_text(doc["workload"]),
            _record_text(record, found, now, wide),
            _region_text(doc["region"], region_name),
            _events_text(doc["events"], wide),
        ]
    )


def run(
    reader: Reader, ref: WorkloadRef, *, namespace: str, output: Output | None, now: datetime
) -> Reply:
    found = find(reader, ref, namespace)
    region_name = found.status.region if found.status else None
    region = reader.custom_get("regions", region_name) if region_name else None
    events = list(reader.events(namespace, found.obj.kind.value, found.obj.name))
    if found.record is not None:
        events += reader.events(namespace, "WorkloadPlacement", found.record_name)
    doc = explain(found, region, events, now)
    return Reply(out=render(doc, found, now, output))
