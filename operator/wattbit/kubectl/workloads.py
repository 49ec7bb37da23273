"""Finding a workload and its WorkloadPlacement record, and parsing the record.

A bare name means a Job first, then a Pod (the Job is the unit wattbit manages). The record's
name comes from the operator's own rule (`wattbit.k8s.snapshots.record_name`), and a record
left by an earlier workload of the same name (another uid) is said to be so.

WARNING: reads through the reader it is given; decides nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from wattbit.api.v1alpha1.workloadplacement import PLURAL, WorkloadPlacementStatus
from wattbit.k8s.jobsets import jobset_object, trainjob_object
from wattbit.k8s.objects import WorkloadObject, job_object, pod_object
from wattbit.k8s.snapshots import record_name
from wattbit.kubectl.args import WorkloadRef
from wattbit.kubectl.cluster import Body, Reader
from wattbit.kubectl.errors import NotFoundError, PluginError
from wattbit.kubectl.output import first_error


@dataclass(frozen=True, slots=True, kw_only=True)
class Found:
    """A workload, its parsed view, and its record (None: no record yet)."""

    body: Body
    obj: WorkloadObject
    record_name: str
    record: Body | None
    status: WorkloadPlacementStatus | None
    """The record's status, parsed; None without a record or status."""
    record_is_stale: bool
    """The record names another workload of the same name (an earlier uid)."""


def find_workload(reader: Reader, ref: WorkloadRef, namespace: str) -> tuple[str, Body]:
    """(kind, body) of the workload; NotFoundError naming what was looked for."""
    kinds = (ref.kind,) if ref.kind else ("Job", "Pod")
    for kind in kinds:
        body = reader.workload(kind, namespace, ref.name)
        if body is not None:
            return kind, body
    looked = " or ".join(k.lower() for k in kinds)
    raise NotFoundError(f'{looked} "{ref.name}" not found in namespace "{namespace}"')


def parse_status(name: str, record: Body) -> WorkloadPlacementStatus | None:
    raw = record.get("status")
    if not raw:
        return None
    try:
        return WorkloadPlacementStatus.model_validate(raw)
    except ValidationError as error:
        raise PluginError(
            f"workloadplacement {name}: status does not parse with this plugin's "
            f"wattbit.io/v1alpha1 ({first_error(error)}); is the plugin older than the operator?"
        ) from error


def parse_workload(kind: str, body: Body) -> WorkloadObject:
    """A workload body as the operator parses it (a TrainJob's pod sets from its own trainer
    fields: the plugin does not read its runtime)."""
    if kind == "TrainJob":
        return trainjob_object(body, {})
    parsers = {"Job": job_object, "Pod": pod_object, "JobSet": jobset_object}
    return parsers[kind](body)


def find(reader: Reader, ref: WorkloadRef, namespace: str) -> Found:
    kind, body = find_workload(reader, ref, namespace)
    obj = parse_workload(kind, body)
    name = record_name(obj)
    record = reader.custom_get(PLURAL, name, namespace)
    uid = ((record or {}).get("spec") or {}).get("workloadRef", {}).get("uid")
    return Found(
        body=body,
        obj=obj,
        record_name=name,
        record=record,
        status=None if record is None else parse_status(name, record),
        record_is_stale=record is not None and uid not in (None, obj.uid),
    )


def relevant(mapping: dict[str, Any] | None) -> dict[str, str]:
    """The labels or annotations wattbit reads or writes (``wattbit.io/``, Kueue's queue)."""
    return {
        k: str(v)
        for k, v in sorted((mapping or {}).items())
        if k.startswith(("wattbit.io/", "kueue.x-k8s.io/"))
    }
