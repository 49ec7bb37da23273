"""The plugin's commands against a fake reader: what each finds, decides and prints.

Matrix:
- regions: signals, freshness (fresh, STALE by the SignalsFresh condition, none yet), free
  GPUs, the forecast on the planner's hourly grid from the hour's start, one scale for every
  sparkline, a Region that does not parse, no Regions (a note, exit 0), JSON and YAML;
- explain: a bare name finds the Job before the Pod, then the Pod; a missing workload is a
  NotFoundError naming kind, name and namespace; the chain (labels and annotations wattbit
  reads, suspension, node affinity, record, candidates, migration history, region, Events
  sorted by time); a record of an earlier workload of the same name; no record yet; a record
  whose status this plugin cannot parse is one line;
- plan: the described job is decided by the core among the cluster's workloads (the cheapest
  region; a full region left out; a deadline and checkpoint size are read), a missing
  --policy is a NotFoundError, bad --duration/--deadline/--checkpoint-size and an uneven
  --parallelism are UsageErrors naming the flag, nothing is written (the reader has no write);
- list: rows from records (state is the move phase while one is in flight), --for and
  --policy filters (a record naming no policy is under `default`), -A adds NAMESPACE, empty.
Skipped on purpose: the kubernetes client (tests/integration/test_kubectl.py).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml

from wattbit.kubectl import explain, listing, plan, regions
from wattbit.kubectl.args import Output, WorkloadRef
from wattbit.kubectl.errors import NotFoundError, PluginError, UsageError

NOW = datetime(2026, 12, 2, 10, 30, tzinfo=UTC)
NS = "ml-team"
UID = "11111111-1111-1111-1111-111111111111"


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class FakeReader:
    custom: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    jobs: list[dict[str, Any]] = field(default_factory=list)
    bare_pods: list[dict[str, Any]] = field(default_factory=list)
    all_events: list[dict[str, Any]] = field(default_factory=list)
    node_list: list[dict[str, Any]] = field(default_factory=list)

    def custom_list(self, plural: str, namespace: str | None = None) -> list[dict[str, Any]]:
        return [
            b
            for b in self.custom.get(plural, [])
            if namespace is None or b["metadata"].get("namespace") == namespace
        ]

    def custom_get(
        self, plural: str, name: str, namespace: str | None = None
    ) -> dict[str, Any] | None:
        return next(
            (
                b
                for b in self.custom.get(plural, [])
                if b["metadata"]["name"] == name and b["metadata"].get("namespace") == namespace
            ),
            None,
        )

    def workload(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        items = self.jobs if kind == "Job" else self.bare_pods
        return next(
            (
                b
                for b in items
                if b["metadata"]["name"] == name and b["metadata"]["namespace"] == namespace
            ),
            None,
        )

    def events(self, namespace: str, kind: str, name: str) -> list[dict[str, Any]]:
        return [
            e
            for e in self.all_events
            if e["involvedObject"] == {"kind": kind, "name": name}
            and e["metadata"]["namespace"] == namespace
        ]

    def nodes(self) -> list[dict[str, Any]]:
        return self.node_list

    def pods(self) -> list[dict[str, Any]]:
        return self.bare_pods

    def deferrable_jobs(self) -> list[dict[str, Any]]:
        return self.jobs


def region(
    name: str,
    carbon: float,
    price: float,
    *,
    fresh: str = "True",
    observed: datetime = NOW - timedelta(seconds=30),
    forecast: list[tuple[datetime, float, float]] | None = None,
) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {"gridArea": "JP-KY"},
        "status": {
            "signals": {
                "carbonGramsPerKwh": carbon,
                "priceJpyPerKwh": price,
                "renewablePercent": 40.0,
                "curtailment": False,
                "observedAt": iso(observed),
                "source": "static",
                "forecast": [
                    {"start": iso(at), "carbonGramsPerKwh": c, "priceJpyPerKwh": p}
                    for at, c, p in forecast or []
                ],
            },
            "gpus": {"total": 16, "allocated": 4, "free": 12},
            "conditions": [
                {
                    "type": "SignalsFresh",
                    "status": fresh,
                    "reason": "SignalsFresh" if fresh == "True" else "SignalStale",
                    "message": "",
                    "lastTransitionTime": iso(NOW),
                }
            ],
        },
    }


def node(name: str, region_name: str, gpus: int = 8) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": {"topology.kubernetes.io/region": region_name}},
        "status": {
            "allocatable": {"nvidia.com/gpu": str(gpus)},
            "conditions": [{"type": "Ready", "status": "True"}],
        },
    }


def job(name: str = "train", **annotations: str) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": NS,
            "uid": UID,
            "creationTimestamp": iso(NOW - timedelta(hours=1)),
            "labels": {"wattbit.io/deferrable": "true", "app": "x"},
            "annotations": {"wattbit.io/held": "true", "other": "y", **annotations},
        },
        "spec": {
            "suspend": False,
            "parallelism": 2,
            "template": {
                "metadata": {"annotations": {"wattbit.io/region": "kyushu"}},
                "spec": {
                    "containers": [{"name": "c", "resources": {"limits": {"nvidia.com/gpu": 2}}}],
                    "affinity": {
                        "nodeAffinity": {
                            "requiredDuringSchedulingIgnoredDuringExecution": {
                                "nodeSelectorTerms": [
                                    {
                                        "matchExpressions": [
                                            {
                                                "key": "topology.kubernetes.io/region",
                                                "operator": "In",
                                                "values": ["kyushu"],
                                            }
                                        ]
                                    }
                                ]
                            }
                        }
                    },
                },
            },
        },
        "status": {"active": 2},
    }


def record(name: str = "job-train", uid: str = UID, **status: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": NS, "creationTimestamp": iso(NOW)},
        "spec": {
            "workloadRef": {"apiVersion": "batch/v1", "kind": "Job", "name": "train", "uid": uid}
        },
        "status": {
            "decision": "RunNow",
            "reason": "LowestCost",
            "region": "kyushu",
            "message": "run now in kyushu",
            "decidedAt": iso(NOW - timedelta(minutes=10)),
            **status,
        },
    }


def event(kind: str, name: str, reason: str, at: datetime, message: str = "m") -> dict[str, Any]:
    return {
        "metadata": {"namespace": NS, "name": f"{name}.{reason}"},
        "involvedObject": {"kind": kind, "name": name},
        "type": "Normal",
        "reason": reason,
        "message": message,
        "lastTimestamp": iso(at),
        "source": {"component": "wattbit"},
    }


# ---------------------------------------------------------------- regions


def test_regions_summary_and_table() -> None:
    forecast = [(NOW.replace(minute=0) + timedelta(hours=h), 100.0 + 10 * h, 5.0) for h in range(4)]
    reader = FakeReader(
        custom={
            "regions": [
                region("tokyo", 450, 14.2, fresh="False", observed=NOW - timedelta(hours=2)),
                region("kyushu", 120, 0.01, forecast=forecast),
                {"metadata": {"name": "broken"}, "spec": {"gridArea": "nowhere!"}},
            ]
        }
    )
    reply = regions.run(reader, output=Output.JSON, now=NOW)
    items = {i["name"]: i for i in json.loads(reply.out)["items"]}
    kyushu = items["kyushu"]
    assert kyushu["signalAgeSeconds"] == 30
    assert kyushu["gpus"] == {"total": 16, "free": 12}
    assert kyushu["forecast"]["start"] == "2026-12-02T10:00:00Z"
    assert kyushu["forecast"]["carbonGramsPerKwh"][:4] == [100, 110, 120, 130]
    assert "does not parse" in items["broken"]["error"]
    text = regions.run(reader, output=None, now=NOW).out
    lines = {line.split()[0]: line for line in text.splitlines() if line}
    assert "30s" in lines["kyushu"]
    assert "STALE 2h" in lines["tokyo"]
    assert "12/16" in lines["kyushu"]
    # One scale: kyushu's 100-130 sits below tokyo's flat 450.
    assert "▁" in lines["kyushu"]
    assert "█" * 24 in lines["tokyo"]
    assert "2 h per bar; 100-450 gCO2/kWh" in text


def test_regions_none_is_a_note_and_yaml_is_a_list() -> None:
    assert regions.run(FakeReader(), output=None, now=NOW).note == "No Regions found."
    doc = yaml.safe_load(regions.run(FakeReader(), output=Output.YAML, now=NOW).out)
    assert doc == {"kind": "RegionSummaryList", "items": []}


def test_freshness_before_any_reading() -> None:
    assert regions.freshness({"signalAgeSeconds": None}) == "<none>"


# ---------------------------------------------------------------- explain


def chain_reader(**record_status: Any) -> FakeReader:
    return FakeReader(
        custom={
            "workloadplacements": [record(**record_status)],
            "regions": [region("kyushu", 120, 0.01)],
        },
        jobs=[job()],
        all_events=[
            event("Job", "train", "Placed", NOW - timedelta(minutes=9)),
            event("Job", "train", "Held", NOW - timedelta(minutes=20)),
            event("WorkloadPlacement", "job-train", "Recorded", NOW - timedelta(minutes=5)),
            event("Job", "other", "Placed", NOW),
        ],
    )


def test_explain_walks_the_chain() -> None:
    migration = {
        "phase": "Running",
        "fromRegion": "tokyo",
        "toRegion": "kyushu",
        "reason": "GreenerRegion",
        "startedAt": iso(NOW - timedelta(minutes=30)),
        "phaseSince": iso(NOW - timedelta(minutes=20)),
        "link": "tokyo-kyushu",
        "history": [
            {"phase": "Planned", "at": iso(NOW - timedelta(minutes=30)), "message": "move"},
            {"phase": "Running", "at": iso(NOW - timedelta(minutes=20)), "message": "moved"},
        ],
    }
    candidates = [
        {"region": "kyushu", "eligible": True, "gpusFree": 12, "carbonKg": 1.5, "costJpy": 20.0},
        {"region": "tokyo", "eligible": False, "reason": "SignalStale"},
    ]
    reader = chain_reader(migration=migration, candidates=candidates, moves=1)
    ref = WorkloadRef(None, "train")
    doc = json.loads(explain.run(reader, ref, namespace=NS, output=Output.JSON, now=NOW).out)
    workload = doc["workload"]
    assert workload["kind"] == "Job"
    assert workload["labels"] == {"wattbit.io/deferrable": "true"}
    assert workload["annotations"] == {"wattbit.io/held": "true"}
    assert workload["nodeAffinity"] == ["topology.kubernetes.io/region In (kyushu)"]
    assert workload["pods"]["active"] == 2
    assert doc["record"]["name"] == "job-train"
    assert doc["record"]["stale"] is False
    assert doc["record"]["migration"]["history"][0]["phase"] == "Planned"
    assert doc["region"]["name"] == "kyushu"
    assert [e["reason"] for e in doc["events"]] == ["Held", "Placed", "Recorded"]
    text = explain.run(reader, WorkloadRef("Job", "train"), namespace=NS, output=None, now=NOW).out
    for expected in (
        "Job ml-team/train",
        "WorkloadPlacement ml-team/job-train",
        "Decision:      RunNow",
        "tokyo -> kyushu (GreenerRegion): Running for 20m, over APNLink tokyo-kyushu",
        "SignalStale",
        "Region kyushu",
        "Events:",
    ):
        assert expected in text
    wide = explain.run(reader, ref, namespace=NS, output=Output.WIDE, now=NOW)
    assert "MOVE JPY" in wide.out


def test_explain_a_bare_name_falls_back_to_a_pod() -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "solo", "namespace": NS, "uid": UID, "labels": {}},
        "spec": {"schedulingGates": [{"name": "wattbit.io/placement"}], "containers": []},
        "status": {"phase": "Pending"},
    }
    reader = FakeReader(bare_pods=[pod])
    text = explain.run(reader, WorkloadRef(None, "solo"), namespace=NS, output=None, now=NOW).out
    assert "Pod ml-team/solo" in text
    assert "Scheduling gates: wattbit.io/placement" in text
    assert "WorkloadPlacement ml-team/pod-solo\n  not found" in text


def test_explain_missing_workload_names_what_was_looked_for() -> None:
    with pytest.raises(NotFoundError, match='job or pod "nope" not found in namespace "ml-team"'):
        explain.run(FakeReader(), WorkloadRef(None, "nope"), namespace=NS, output=None, now=NOW)
    with pytest.raises(NotFoundError, match=r'^pod "train" not found'):
        explain.run(chain_reader(), WorkloadRef("Pod", "train"), namespace=NS, output=None, now=NOW)


def test_explain_an_earlier_workloads_record_is_said_to_be_so() -> None:
    reader = chain_reader()
    reader.custom["workloadplacements"] = [record(uid="22222222-2222-2222-2222-222222222222")]
    text = explain.run(reader, WorkloadRef(None, "train"), namespace=NS, output=None, now=NOW).out
    assert "belongs to an earlier workload of the same name" in text


def test_explain_a_status_this_plugin_cannot_parse_is_one_line() -> None:
    reader = chain_reader(decision="Teleport")
    with pytest.raises(PluginError) as caught:
        explain.run(reader, WorkloadRef(None, "train"), namespace=NS, output=None, now=NOW)
    assert "workloadplacement job-train: status does not parse" in caught.value.message
    assert "\n" not in caught.value.message


# ---------------------------------------------------------------- plan


def plan_args(**overrides: Any) -> argparse.Namespace:
    values: dict[str, Any] = {
        "namespace": NS,
        "gpus": 4,
        "parallelism": 1,
        "duration": "2h",
        "deadline": None,
        "checkpoint_size": None,
        "policy": None,
    }
    values.update(overrides)
    return argparse.Namespace(**values)


def cluster() -> FakeReader:
    return FakeReader(
        custom={
            "regions": [region("kyushu", 120, 1.0), region("tokyo", 450, 14.0)],
            "placementpolicies": [
                {
                    "metadata": {"name": "urgent", "namespace": NS},
                    "spec": {"toleranceWindowMinutes": 0},
                }
            ],
        },
        node_list=[node("k1", "kyushu"), node("t1", "tokyo")],
    )


def test_plan_picks_the_cheapest_region_now() -> None:
    request = plan.request_from(plan_args(), NOW)
    doc = json.loads(plan.run(cluster(), request, output=Output.JSON).out)
    assert (doc["decision"], doc["region"], doc["reason"]) == ("RunNow", "kyushu", "LowestCost")
    assert doc["written"] is False
    assert doc["policy"] == "built-in"
    assert [c["region"] for c in doc["candidates"]] == ["kyushu", "tokyo"]
    assert doc["figures"]["energyKwh"] == pytest.approx(4 * 0.7 * 2 * 1.2, rel=1e-3)
    text = plan.run(cluster(), request, output=None).out
    assert "Decision: RunNow" in text
    assert "(nothing written)" in text


def test_plan_leaves_out_a_region_without_room() -> None:
    reader = cluster()
    reader.jobs = []
    request = plan.request_from(plan_args(gpus=12, parallelism=2), NOW)
    doc = json.loads(plan.run(reader, request, output=Output.JSON).out)
    # 2 pods of 6 GPUs: neither region's single 8-GPU node holds both.
    assert doc["decision"] == "Hold"
    assert {c["reason"] for c in doc["candidates"]} == {"InsufficientCapacity"}


def test_plan_counts_the_clusters_running_work() -> None:
    reader = cluster()
    busy = job("big")
    busy["spec"]["parallelism"] = 2
    busy["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"] = {"nvidia.com/gpu": 4}
    busy["metadata"]["annotations"]["wattbit.io/released-at"] = iso(NOW - timedelta(minutes=5))
    busy["metadata"]["annotations"]["wattbit.io/expected-duration"] = "10h"
    reader.jobs = [busy]
    request = plan.request_from(plan_args(policy="urgent"), NOW)
    doc = json.loads(plan.run(reader, request, output=Output.JSON).out)
    assert doc["policy"] == "urgent"
    assert doc["region"] == "tokyo"  # kyushu's 8 GPUs are taken by the running Job


def test_plan_reads_deadline_and_checkpoint() -> None:
    request = plan.request_from(plan_args(deadline="36h", checkpoint_size="40Gi"), NOW)
    assert request.deadline == NOW + timedelta(hours=36)
    body = plan.described_job(request)
    annotations = body["metadata"]["annotations"]
    assert annotations["wattbit.io/checkpoint-size"] == "40Gi"
    assert annotations["wattbit.io/deadline"].startswith("2026-12-03T22:30:00")


def test_plan_missing_policy_is_not_found() -> None:
    request = plan.request_from(plan_args(policy="nope"), NOW)
    with pytest.raises(NotFoundError, match='placementpolicy "nope" not found'):
        plan.run(cluster(), request, output=None)


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"duration": "soon"}, "--duration: not a duration: 'soon'"),
        ({"deadline": "tomorrow"}, "--deadline 'tomorrow'"),
        ({"deadline": "2026-12-01T00:00:00Z"}, "already past"),
        ({"checkpoint_size": "big"}, "--checkpoint-size 'big'"),
        ({"gpus": 3, "parallelism": 2}, "cannot be split evenly"),
    ],
)
def test_plan_bad_flags_are_usage_errors(overrides: dict[str, Any], fragment: str) -> None:
    with pytest.raises(UsageError) as caught:
        plan.request_from(plan_args(**overrides), NOW)
    assert fragment in caught.value.message


# ---------------------------------------------------------------- list


def list_reader() -> FakeReader:
    moving = record(
        "job-b",
        migration={
            "phase": "Suspended",
            "fromRegion": "tokyo",
            "toRegion": "hokkaido",
            "reason": "GreenerRegion",
            "startedAt": iso(NOW),
            "phaseSince": iso(NOW),
        },
        region="tokyo",
    )
    moving["spec"]["workloadRef"]["name"] = "b"
    moving["spec"]["policyName"] = "urgent"
    waiting = record("job-a", decision="Wait", reason="WaitingForGreenerWindow")
    waiting["status"]["plannedStart"] = iso(NOW + timedelta(hours=2))
    waiting["spec"]["workloadRef"]["name"] = "a"
    elsewhere = record("job-c")
    elsewhere["metadata"]["namespace"] = "other"
    elsewhere["spec"]["workloadRef"]["name"] = "c"
    return FakeReader(custom={"workloadplacements": [moving, waiting, elsewhere]})


def listed(**kwargs: Any) -> list[dict[str, Any]]:
    options: dict[str, Any] = {"namespace": NS, "for_region": None, "policy": None}
    options.update(kwargs)
    reply = listing.run(list_reader(), output=Output.JSON, now=NOW, **options)
    items: list[dict[str, Any]] = json.loads(reply.out)["items"]
    return items


def test_list_rows_and_states() -> None:
    items = {i["workload"]: i for i in listed()}
    assert set(items) == {"a", "b"}
    assert items["a"]["state"] == "Wait"
    assert items["a"]["plannedStart"] == "2026-12-02T12:30:00Z"
    assert items["b"]["state"] == "Moving/Suspended"
    assert items["b"]["region"] == "hokkaido"


def test_list_filters() -> None:
    assert [i["workload"] for i in listed(for_region="hokkaido")] == ["b"]
    assert [i["workload"] for i in listed(policy="urgent")] == ["b"]
    assert [i["workload"] for i in listed(policy="default")] == ["a"]
    assert [i["workload"] for i in listed(namespace=None)] == ["a", "b", "c"]


def test_list_table_and_empty() -> None:
    text = listing.run(
        list_reader(), namespace=None, for_region=None, policy=None, output=None, now=NOW
    ).out
    header = text.splitlines()[0].split()
    assert header[:3] == ["NAMESPACE", "WORKLOAD", "REGION"]
    assert "job/b" in text
    empty = listing.run(
        list_reader(), namespace=NS, for_region="mars", policy=None, output=None, now=NOW
    )
    assert empty.note == 'No managed workloads found in namespace "ml-team".'
