"""Arrivals passes (wattbit.handlers.reconcile `full=False`) and when the loop runs a full one.

Covers: an arrivals pass decides and acts on only the workloads never decided (a new Pod or
Job, one adopted after the webhook was down), steps moves but re-plans no running or waiting
work, and writes nothing for them; it decides against the standing plan (running work as the
snapshot counts it, each waiting workload at its planned start) and never places beyond the
GPUs left free (a property over random clusters); a release this process made is neither
decided again nor its GPUs given away while the indexes still show the workload held; a full
pass still decides every workload. The loop: which events ask for a full pass (deletions,
finished work, Regions, policies, links, nodes, record deletions), which only for an arrivals
pass (new and released workloads, our own record writes), and that the period, a failed pass
and the switch `reconcile_arrival_passes` bring a full one.
No I/O: API clients are mocks; views are built from bodies by `cluster_view`.
"""

from __future__ import annotations

import asyncio
import math
import uuid
from collections import defaultdict
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any, cast
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import REGISTRY

from wattbit.config import OperatorConfig
from wattbit.core.model import DecisionKind, RegionName
from wattbit.handlers import loop
from wattbit.handlers import reconcile as reconcile_module
from wattbit.handlers.context import OperatorContext
from wattbit.handlers.reconcile import (
    Apis,
    Memory,
    PassResult,
    _decide,
    acts_alone,
    arrivals,
    arrivals_due,
    needs_decision,
    reconcile,
)
from wattbit.k8s import names
from wattbit.k8s.objects import ANNOTATION_RELEASED_AT
from wattbit.k8s.snapshots import (
    ClusterView,
    Managed,
    SnapshotSettings,
    Stage,
    cluster_view,
    plan_input,
    record_settled,
)

NOW = datetime(2026, 12, 2, 10, 30, tzinfo=UTC)
NS = "ml"
REGIONS = ("hokkaido", "tokyo")
SIGNALS = {"hokkaido": (500, "9.5"), "tokyo": (450, "14.2")}


def stamp(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def uid(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, name))


def region(name: str) -> dict[str, Any]:
    carbon, price = SIGNALS[name]
    return {
        "metadata": {"name": name, "creationTimestamp": stamp(NOW - timedelta(days=1))},
        "spec": {
            "pue": "1.2",
            "gridArea": "JP-TK",
            "signals": {
                "provider": "static",
                "static": {"carbonGramsPerKwh": carbon, "priceJpyPerKwh": price},
            },
        },
        "status": {
            "signals": {
                "observedAt": stamp(NOW - timedelta(minutes=1)),
                "carbonGramsPerKwh": carbon,
                "priceJpyPerKwh": float(price),
                "source": "static",
            }
        },
    }


def node(name: str, where: str, gpus: int) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": {names.REGION_LABEL: where}},
        "spec": {},
        "status": {
            "allocatable": {names.GPU_RESOURCE: str(gpus)},
            "conditions": [{"type": "Ready", "status": "True"}],
        },
    }


def pod(
    name: str,
    gpus: int = 1,
    *,
    released_in: str | None = None,
    hours: float = 4.0,
) -> dict[str, Any]:
    """A deferrable bare Pod: held (gated) by the webhook, or released and bound."""
    annotations = {names.ANNOTATION_HELD: "true", names.ANNOTATION_EXPECTED_DURATION: f"{hours}h"}
    spec: dict[str, Any] = {
        "containers": [{"name": "t", "resources": {"limits": {names.GPU_RESOURCE: str(gpus)}}}]
    }
    phase = "Pending"
    if released_in is None:
        spec["schedulingGates"] = [{"name": names.SCHEDULING_GATE}]
    else:
        annotations[ANNOTATION_RELEASED_AT] = stamp(NOW - timedelta(minutes=10))
        annotations[names.ANNOTATION_REGION] = released_in
        spec["nodeName"] = f"{released_in}-0"
        phase = "Running"
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "namespace": NS,
            "name": name,
            "uid": uid(name),
            "creationTimestamp": stamp(NOW - timedelta(minutes=20)),
            "labels": {names.LABEL_DEFERRABLE: "true"},
            "annotations": annotations,
            "resourceVersion": "1",
        },
        "spec": spec,
        "status": {"phase": phase},
    }


def record(name: str, **status: Any) -> dict[str, Any]:
    """The WorkloadPlacement of Pod `name`, with this status (wire names)."""
    return {
        "metadata": {"namespace": NS, "name": f"pod-{name}"},
        "spec": {"workloadRef": {"kind": "Pod", "name": name, "uid": uid(name)}},
        "status": {"decidedAt": stamp(NOW - timedelta(minutes=5)), **status},
    }


def view(
    pods: list[dict[str, Any]],
    records: list[dict[str, Any]] = (),  # type: ignore[assignment]
    *,
    gpus: dict[str, int] | None = None,
    tolerance_minutes: int = 0,
) -> ClusterView:
    per_region = gpus or {"hokkaido": 8, "tokyo": 8}
    return cluster_view(
        now=NOW,
        regions=[region(r) for r in REGIONS],
        nodes=[node(f"{r}-0", r, per_region.get(r, 0)) for r in REGIONS],
        pods=pods,
        jobs=[],
        records=list(records),
        policies=[
            {
                "metadata": {"namespace": NS, "name": "default"},
                "spec": {"toleranceWindowMinutes": tolerance_minutes},
            }
        ],
        links=[],
    )


def apis() -> Apis:
    return Apis(
        jobs=mock.MagicMock(), pods=mock.MagicMock(), custom=mock.MagicMock(), core=mock.MagicMock()
    )


def released(api: Apis) -> dict[str, str]:
    """Pod name -> region, of every place-and-release call."""
    calls = cast("mock.MagicMock", api.pods).place_and_release.call_args_list
    return {c.args[0].name: c.kwargs["region"] for c in calls}


def record_writes(api: Apis) -> list[str]:
    calls = cast("mock.MagicMock", api.custom).patch_namespaced_custom_object_status.call_args_list
    return [c.args[4] for c in calls]


def run(v: ClusterView, *, full: bool, memory: Memory | None = None) -> tuple[PassResult, Apis]:
    api = apis()
    result = reconcile(
        v, apis=api, settings=SnapshotSettings(), memory=memory or Memory(), full=full
    )
    return result, api


# ---------------------------------------------------------------- what an arrivals pass does

STANDING = [
    pod("running", 2, released_in="hokkaido"),
    pod("waiting", 2),
    pod("held", 1),
]
STANDING_RECORDS = [
    record("running", decision="Stay", reason="LowestCost", region="hokkaido"),
    record(
        "waiting",
        decision="Wait",
        reason="CheaperLater",
        region="tokyo",
        plannedStart=stamp(NOW + timedelta(hours=3, minutes=30)),
    ),
    record("held", decision="Hold", reason="NoEligibleRegion"),
]


def test_an_arrivals_pass_decides_only_the_new_workloads() -> None:
    v = view([*STANDING, pod("new-a"), pod("new-b")], STANDING_RECORDS)
    result, api = run(v, full=False)
    assert not result.full
    assert result.decided == 2
    assert set(released(api)) == {"new-a", "new-b"}
    assert set(record_writes(api)) == {"pod-new-a", "pod-new-b"}
    assert result.actions == {"release": 2}


def test_a_full_pass_decides_every_workload() -> None:
    v = view([*STANDING, pod("new-a")], STANDING_RECORDS)
    result, _ = run(v, full=True)
    assert result.full
    assert result.decided == 4  # running, waiting, held and the new one


def test_nothing_new_means_nothing_decided_and_nothing_written() -> None:
    result, api = run(view(STANDING, STANDING_RECORDS), full=False)
    assert result.decided == 0
    assert record_writes(api) == []
    assert released(api) == {}


def test_an_arrivals_pass_with_nothing_due_makes_no_call_at_all() -> None:
    v = view(STANDING, STANDING_RECORDS)
    assert not arrivals_due(v)
    result, api = run(v, full=False)
    assert result.skipped
    assert (result.decided, result.writes, result.actions) == (0, 0, {})
    for client in (api.jobs, api.pods, api.custom, api.core):
        assert cast("mock.MagicMock", client).mock_calls == []


@pytest.mark.parametrize(
    ("pods", "records"),
    [
        pytest.param([*STANDING, pod("new")], STANDING_RECORDS, id="a workload without a record"),
        pytest.param(
            STANDING,
            [*STANDING_RECORDS[:2], {**record("held"), "status": {"decision": "Hold"}}],
            id="a record never decided",
        ),
        pytest.param(
            STANDING,
            [
                *STANDING_RECORDS[:2],
                {**record("held"), "spec": {"workloadRef": {"uid": uid("an older one")}}},
            ],
            id="the record of an older workload of the same name",
        ),
        pytest.param(
            STANDING,
            [
                *STANDING_RECORDS[:2],
                record("held", decision="Hold", reason="AdmittedUngated"),
            ],
            id="held only until adopted",
        ),
        pytest.param(
            STANDING,
            [
                record(
                    "running",
                    decision="Move",
                    reason="LowestCost",
                    region="hokkaido",
                    migration={"phase": "Suspended"},
                ),
                *STANDING_RECORDS[1:],
            ],
            id="a move in flight",
        ),
    ],
)
def test_an_arrivals_pass_is_due_for(
    pods: list[dict[str, Any]], records: list[dict[str, Any]]
) -> None:
    assert arrivals_due(view(pods, records))


@pytest.mark.parametrize(
    ("status", "settled"),
    [
        ({}, False),
        ({"decision": "Wait"}, False),
        ({"decidedAt": "2026-12-02T10:00:00Z", "decision": "Wait"}, True),
        ({"decidedAt": "2026-12-02T10:00:00Z", "migration": {"phase": "Running"}}, True),
        ({"decidedAt": "2026-12-02T10:00:00Z", "migration": {"phase": "Abandoned"}}, True),
        ({"decidedAt": "2026-12-02T10:00:00Z", "migration": {"phase": "Planned"}}, False),
        ({"decidedAt": "2026-12-02T10:00:00Z", "migration": "garbage"}, False),
        (
            {"decidedAt": "2026-12-02T10:00:00Z", "decision": "Hold", "reason": "AdmittedUngated"},
            False,
        ),
        (
            {"decidedAt": "2026-12-02T10:00:00Z", "decision": "Hold", "reason": "InvalidHints"},
            True,
        ),
    ],
)
def test_a_record_is_settled_when_decided_with_no_move_in_flight(
    status: dict[str, Any], settled: bool
) -> None:
    assert record_settled(status) is settled


def test_an_adopted_workload_is_decided_in_an_arrivals_pass() -> None:
    adopted = record("late", decision="Hold", reason="AdmittedUngated")
    plan = plan_input(view([pod("late")], [adopted]), SnapshotSettings())
    assert [needs_decision(m) for m in plan.managed] == [True]


def test_the_standing_plan_holds_its_gpus() -> None:
    # tokyo: 4 GPUs, of which the waiting 2-GPU workload holds 2 from its planned start.
    # hokkaido: 4 GPUs, the running 2-GPU workload holds 2. Four new 1-GPU workloads need
    # 4 GPUs for 4 h: at most 2 + 2 can start now, whatever the costs.
    v = view(
        [*STANDING, *(pod(f"new-{i}") for i in range(6))],
        STANDING_RECORDS,
        gpus={"hokkaido": 4, "tokyo": 4},
    )
    plan = plan_input(v, SnapshotSettings())
    chosen, acting = arrivals(plan, NOW)
    assert {m.obj.name for m in acting} == {f"new-{i}" for i in range(6)}
    tokyo = next(r for r in chosen.regions if r.name == "tokyo")
    # The wait starts at 14:00 (slot 4 of the 10:00 grid) and holds 2 GPUs from there.
    assert tokyo.free_gpus[:4] == (4, 4, 4, 4)
    assert tokyo.free_gpus[4:8] == (2, 2, 2, 2)
    decisions = _decide(chosen, NOW)
    now_in: dict[str, int] = defaultdict(int)
    for d in decisions.values():
        if d.kind is DecisionKind.RUN_NOW and d.region is not None:
            now_in[d.region] += 1
    assert now_in["hokkaido"] <= 2


def test_a_release_is_not_decided_twice_while_the_indexes_lag() -> None:
    memory = Memory()
    # One node of 2 GPUs: the first pass releases the 1-GPU Pod.
    first = view([pod("a")], gpus={"hokkaido": 2, "tokyo": 0})
    _, api = run(first, full=False, memory=memory)
    assert released(api) == {"a": "hokkaido"}
    # The next pass still sees `a` gated and without a record (watch events not in yet),
    # and a new 2-GPU Pod: `a` is neither released again nor its GPU given to the new one.
    stale = view([pod("a"), pod("b", 2)], gpus={"hokkaido": 2, "tokyo": 0})
    for full in (False, True):
        _, api = run(stale, full=full, memory=memory)
        assert "a" not in released(api)
        assert "b" not in released(api)
        assert "pod-a" not in record_writes(api)
    # Once the indexes show `a` released, it is running work like any other.
    caught_up = view(
        [pod("a", released_in="hokkaido")],
        [
            record(
                "a", decision="RunNow", reason="LowestCost", region="hokkaido", decidedAt=stamp(NOW)
            )
        ],
        gpus={"hokkaido": 2, "tokyo": 0},
    )
    run(caught_up, full=False, memory=memory)
    assert memory.recent == {}


def test_a_release_shown_before_its_record_is_not_recorded_again() -> None:
    memory = Memory()
    run(view([pod("a")], gpus={"hokkaido": 2, "tokyo": 0}), full=False, memory=memory)
    # The Pod watch shows `a` released; the record watch has not delivered its record yet.
    lagging = view([pod("a", released_in="hokkaido")], gpus={"hokkaido": 2, "tokyo": 0})
    _, api = run(lagging, full=True, memory=memory)
    # It reads as recorded here: running work's own updates (Stay, its receipt), but no
    # record created again and no second Event.
    assert cast("mock.MagicMock", api.custom).create_namespaced_custom_object.call_count == 0
    assert cast("mock.MagicMock", api.core).create_namespaced_event.call_count == 0


def test_a_hold_recorded_here_is_not_rewritten_while_the_record_index_lags() -> None:
    memory = Memory()
    no_room = {"hokkaido": 0, "tokyo": 0}
    _, api = run(view([pod("h")], gpus=no_room), full=False, memory=memory)
    assert record_writes(api) == ["pod-h"]
    assert released(api) == {}
    status = cast("mock.MagicMock", api.custom).patch_namespaced_custom_object_status
    assert status.call_args.args[5]["status"]["decision"] == "Hold"
    # The next passes still see no record: what was written stands, nothing is rewritten.
    for full in (False, True):
        _, api = run(view([pod("h")], gpus=no_room), full=full, memory=memory)
        assert record_writes(api) == []
        assert cast("mock.MagicMock", api.core).create_namespaced_event.call_count == 0


# ---------------------------------------------------------------- never beyond free capacity


@st.composite
def clusters(draw: st.DrawFn) -> tuple[ClusterView, dict[str, int]]:
    gpus = {r: draw(st.integers(min_value=0, max_value=12)) for r in REGIONS}
    pods: list[dict[str, Any]] = []
    records: list[dict[str, Any]] = []
    running = draw(st.lists(st.tuples(st.sampled_from(REGIONS), st.integers(1, 4)), max_size=4))
    for i, (where, n) in enumerate(running):
        pods.append(pod(f"run-{i}", n, released_in=where))
        records.append(record(f"run-{i}", decision="Stay", reason="LowestCost", region=where))
    waits = draw(
        st.lists(
            st.tuples(st.sampled_from(REGIONS), st.integers(1, 4), st.integers(0, 40)),
            max_size=4,
        )
    )
    for i, (where, n, hours) in enumerate(waits):
        pods.append(pod(f"wait-{i}", n))
        records.append(
            record(
                f"wait-{i}",
                decision="Wait",
                reason="CheaperLater",
                region=where,
                plannedStart=stamp(NOW.replace(minute=0) + timedelta(hours=hours)),
            )
        )
    arrivals_ = draw(st.lists(st.integers(1, 4), min_size=1, max_size=8))
    for i, n in enumerate(arrivals_):
        pods.append(pod(f"new-{i}", n, hours=draw(st.sampled_from([0.5, 2.0, 7.0]))))
    tolerance = draw(st.sampled_from([0, 6 * 60, 24 * 60]))
    return view(pods, records, gpus=gpus, tolerance_minutes=tolerance), gpus


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(clusters())
def test_arrivals_never_overcommit_a_region(case: tuple[ClusterView, dict[str, int]]) -> None:
    v, total = case
    plan = plan_input(v, SnapshotSettings())
    chosen, _ = arrivals(plan, NOW)
    decisions = _decide(chosen, NOW)
    slots = plan.horizon.slot_count
    used = {r: [0.0] * slots for r in REGIONS}

    def hold(where: str, gpus: float, start: datetime, seconds: float) -> None:
        # Every slot the run touches, as the core and the snapshot count it.
        begin = max(start, NOW)
        first = int(plan.horizon.position(begin))
        last = plan.horizon.position(begin + timedelta(seconds=seconds))
        for slot in range(first, min(slots, max(first + 1, math.ceil(last - 1e-9)))):
            used[where][slot] += gpus

    for m in plan.managed:
        hints, rec = m.hints, m.record
        assert hints is not None
        if m.stage is Stage.RUNNING and m.snapshot is not None and m.obj.placed_region:
            hold(m.obj.placed_region, hints.gpus, NOW, m.snapshot.remaining_runtime_s)
        elif m.stage is Stage.PENDING and rec is not None and rec.decision is DecisionKind.WAIT:
            assert rec.region is not None
            assert rec.planned_start is not None
            hold(rec.region, hints.gpus, rec.planned_start, hints.expected_duration_s)
    # What was standing may already exceed a region (the property is about new decisions).
    before = {r: list(used[r]) for r in REGIONS}
    by_id: dict[str, Managed] = {m.workload_id: m for m in plan.managed}
    for workload_id, d in decisions.items():
        hints = by_id[workload_id].hints
        assert hints is not None
        if d.kind is DecisionKind.RUN_NOW and d.region is not None:
            hold(d.region, hints.gpus, NOW, hints.expected_duration_s)
        elif d.kind is DecisionKind.WAIT and d.region is not None and d.start_at is not None:
            hold(d.region, hints.gpus, d.start_at, hints.expected_duration_s)
    for r in REGIONS:
        for slot in range(slots):
            added = used[r][slot] - before[r][slot]
            if added:
                assert used[r][slot] <= total[r], (r, slot, used[r][slot], total[r])


# ---------------------------------------------------------------- when the loop runs a full pass


def context(**config: Any) -> OperatorContext:
    ctx = cast(
        "OperatorContext",
        SimpleNamespace(config=OperatorConfig(**config), full_due=False, wake=None, indexed=None),
    )
    return ctx


def test_a_full_pass_when_asked_on_the_period_or_when_arrivals_passes_are_off() -> None:
    ctx = context()
    assert not loop.pass_is_full(ctx, last_full=100.0, now=101.0)
    assert loop.pass_is_full(ctx, last_full=100.0, now=130.0)  # the period (30 s)
    ctx.full_due = True
    assert loop.pass_is_full(ctx, last_full=100.0, now=101.0)
    off = context(reconcile_arrival_passes=False)
    assert loop.pass_is_full(off, last_full=100.0, now=101.0)


def test_which_events_free_capacity() -> None:
    new = pod("x")
    assert not loop.frees_capacity(new, "ADDED")
    assert not loop.frees_capacity(pod("x", released_in="tokyo"), "MODIFIED")
    assert loop.frees_capacity(new, "DELETED")
    assert loop.frees_capacity(new, None)  # the first listing
    assert loop.frees_capacity({**new, "status": {"phase": "Succeeded"}}, "MODIFIED")
    deleting = {**new, "metadata": {**new["metadata"], "deletionTimestamp": stamp(NOW)}}
    assert loop.frees_capacity(deleting, "MODIFIED")
    job = {"status": {"conditions": [{"type": "Complete", "status": "True"}]}}
    assert loop.frees_capacity(job, "MODIFIED")
    assert not loop.frees_capacity({"status": {"active": 1}}, "MODIFIED")


def poked(handler: Any, **kwargs: Any) -> bool:
    """Run one wake-up handler on a fresh context; returns whether it asked for a full pass."""

    async def go() -> bool:
        ctx = context()
        ctx.wake, ctx.indexed = asyncio.Event(), asyncio.Event()
        ctx.region_gists = {}
        await handler(memo={"wattbit": ctx}, **kwargs)
        assert ctx.wake.is_set()
        return ctx.full_due

    return asyncio.run(go())


def test_arrivals_ask_for_an_arrivals_pass_other_changes_for_a_full_one() -> None:
    assert not poked(loop.wake_on_pod, body=pod("x"), type="ADDED")
    assert not poked(loop.wake_on_pod, body=pod("x", released_in="tokyo"), type="MODIFIED")
    assert poked(loop.wake_on_pod, body=pod("x"), type="DELETED")
    assert not poked(loop.wake_on_job, body={"spec": {"suspend": True}}, type="ADDED")
    assert poked(loop.wake_on_job, body={}, type="DELETED")
    assert not poked(loop.wake_on_record, type="MODIFIED")
    assert poked(loop.wake_on_record, type="DELETED")
    assert poked(loop.wake_on_region, name="tokyo", body=region("tokyo"), type="MODIFIED")
    assert poked(loop.wake_on_policy)
    assert poked(loop.wake_on_apn_link)
    assert poked(loop.wake_on_power_signal)
    assert poked(loop.wake_on_node, type="ADDED")


def test_each_wake_up_is_counted_by_its_source_and_the_pass_it_asks_for() -> None:
    def count(source: str, kind: str) -> float:
        value = REGISTRY.get_sample_value(
            "wattbit_loop_wakeups_total", {"source": source, "kind": kind}
        )
        return value or 0.0

    pods_before, records_before = count("pod", "arrivals"), count("record", "full")
    poked(loop.wake_on_pod, body=pod("x"), type="ADDED")
    poked(loop.wake_on_record, type="DELETED")
    assert count("pod", "arrivals") == pods_before + 1
    assert count("record", "full") == records_before + 1


def looping_context(*, period_s: float) -> OperatorContext:
    """A context for `loop.run` with `_one_pass` replaced: inside a running event loop."""
    ctx = context(
        reconcile_period_seconds=period_s,
        reconcile_debounce_seconds=0.01,
        reconcile_arrival_debounce_seconds=0.0,
    )
    ctx.wake, ctx.indexed = asyncio.Event(), asyncio.Event()
    ctx.full_due, ctx.leading, ctx.pass_lock = True, True, asyncio.Lock()
    for name in ("jobs", "pods", "jobsets", "trainjobs", "custom", "core"):
        setattr(ctx, name, None)
    return ctx


def test_the_loop_runs_full_passes_first_on_changes_and_on_its_period(
    monkeypatch: Any,
) -> None:
    kinds: list[bool] = []

    async def one_pass(*_: Any, full: bool = True) -> PassResult:
        kinds.append(full)
        return PassResult(full=full)

    monkeypatch.setattr(loop, "_one_pass", one_pass)
    monkeypatch.setattr(loop, "Apis", lambda **_: None)

    async def go() -> None:
        ctx = looping_context(period_s=0.6)
        memo = {"wattbit": ctx}
        on_pod: Any = loop.wake_on_pod
        on_policy: Any = loop.wake_on_policy
        on_record: Any = loop.wake_on_record
        task = asyncio.create_task(loop.run(ctx, {}))
        await on_pod(memo=memo, body=pod("x"), type=None)  # the first listing
        await asyncio.sleep(0.1)
        await on_pod(memo=memo, body=pod("y"), type="ADDED")
        await asyncio.sleep(0.1)
        await on_policy(memo=memo)
        await asyncio.sleep(0.1)
        await on_record(memo=memo, type="MODIFIED")
        await asyncio.sleep(0.8)  # past the period since the last full pass
        task.cancel()

    asyncio.run(go())
    assert kinds[:4] == [True, False, True, False]
    assert True in kinds[4:]  # the period


def test_a_pass_that_left_rewordings_is_followed_at_once_by_a_full_one(
    monkeypatch: Any,
) -> None:
    kinds: list[bool] = []

    async def one_pass(*_: Any, full: bool = True) -> PassResult:
        kinds.append(full)
        return PassResult(full=full, deferred=300 if len(kinds) <= 2 else 0)

    monkeypatch.setattr(loop, "_one_pass", one_pass)
    monkeypatch.setattr(loop, "Apis", lambda **_: None)

    async def go() -> None:
        ctx = looping_context(period_s=60.0)
        task = asyncio.create_task(loop.run(ctx, {}))
        on_policy: Any = loop.wake_on_policy
        await on_policy(memo={"wattbit": ctx})  # sets the indexed flag and asks for a pass
        await asyncio.sleep(0.5)  # far less than the 60 s period
        task.cancel()

    asyncio.run(go())
    assert kinds == [True, True, True]  # two passes left rewordings; the third did not


def test_only_moves_and_evictions_ask_for_a_full_pass_after_them() -> None:
    assert not loop.steps_on({"release": 40, "release-unplaced": 1, "hold-ungated": 2})
    assert not loop.steps_on({"release-dry-run": 3})
    assert loop.steps_on({"release": 4, "move-Suspend": 1})
    assert loop.steps_on({"evict": 1})


def test_stays_are_acted_on_in_parallel_moves_one_at_a_time() -> None:
    plan = plan_input(view(STANDING, STANDING_RECORDS), SnapshotSettings())
    running = next(m for m in plan.managed if m.stage is Stage.RUNNING)
    pending = next(m for m in plan.managed if m.stage is Stage.PENDING)
    assert acts_alone(pending, None)
    assert acts_alone(running, None)
    decisions = _decide(plan, NOW)
    stay = decisions[running.workload_id]
    assert stay.kind is DecisionKind.STAY
    assert acts_alone(running, stay)
    move = replace(stay, kind=DecisionKind.MOVE, region=RegionName("tokyo"))
    assert not acts_alone(running, move)


def test_a_pass_rewords_its_share_of_standing_stays_and_leaves_the_rest_for_the_next(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(reconcile_module, "REWORDED_PER_PASS", 2)
    running = [pod(f"run-{i}", 1, released_in="hokkaido") for i in range(5)]
    # Recorded when a move was waiting for the budget; now each simply stays.
    worded_before = [
        record(f"run-{i}", decision="Stay", reason="MovesInFlightLimit", region="hokkaido")
        for i in range(5)
    ]
    result, api = run(view([*running, pod("new")], worded_before), full=True)
    calls = cast("mock.MagicMock", api.custom).patch_namespaced_custom_object_status.call_args_list
    reworded = {c.args[4] for c in calls if "reason" in c.args[5]["status"]}  # not receipts
    assert len(reworded - {"pod-new"}) == 2
    assert result.deferred == 3
    assert "new" in released(api)  # a decision that acts is never deferred
    assert "pod-new" in record_writes(api)
