"""Admission burst: deferrable Pods and Jobs created at once, against kube-scheduler's own pace.

Issue 12's figures, on the local control plane with kwok GPU nodes in three regions and the
operator as users run it (defaults; webhook on 127.0.0.1, as bench_operator.py starts it):

1. baseline: `--pods` unlabelled one-GPU Pods, created by `--threads` client threads; the rate
   at which kube-scheduler binds them (first create request -> last pod bound), so the same
   cluster's own pace is the yardstick;
2. burst: `--pods` deferrable one-GPU Pods and `--jobs` deferrable one-GPU Jobs, created the
   same way at once. Each is held at admission (scheduling gate / suspend) and released by the
   operator. Reported: creation time through the webhook, placements per second (first create
   -> last release), and p50/p99 from each object's create answer to its release (watch
   arrival of the Pod without wattbit's gate, or of the Job with `suspend: false`);
3. the operator's side of the burst: its CPU time per workload, reconcile passes (full and
   arrivals-only, from its log) and their mean duration, and its API requests per released
   workload (reads and writes, from `wattbit_api_requests_total`; the webhook's answers are
   not API requests);
4. operator RSS at the end and its lifetime peak.

The PlacementPolicy `default` sets toleranceWindowMinutes 0 (start now) so every workload is
released at once: the figure is the admission path's, not a wait the policy chose. Everything
else is the users' defaults.

    .venv/bin/python bench/bench_burst.py [--pods 5000] [--jobs 1000] [--threads 16]

Takes about 10 minutes on 2 cores with the defaults; clean-up runs on failure or SIGTERM.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from functools import partial
from pathlib import Path
from typing import Any

from bench_operator import (
    ROOT,
    Cluster,
    Figures,
    Operator,
    cleanup,
    cluster_down,
    cluster_up,
    job,
    log,
    mib,
    passes,
    poll,
    regions_ready,
    requests_by_method,
    set_up,
    split,
    start_operator,
    stop_operator,
    wait_for_webhook,
)
from kubernetes import client, watch

GATE = "wattbit.io/placement"


def gpu_pod(name: str, *, deferrable: bool) -> dict[str, Any]:
    labels = {"wattbit.io/deferrable": "true"} if deferrable else {"bench": "baseline"}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "labels": labels,
            "annotations": {"wattbit.io/expected-duration": "4h"},
        },
        "spec": {
            "restartPolicy": "Never",
            "containers": [
                {
                    "name": "train",
                    "image": "registry.example/train:1",
                    "resources": {
                        "limits": {"nvidia.com/gpu": "1", "cpu": "10m", "memory": "64Mi"}
                    },
                }
            ],
        },
    }


def one_gpu_job(index: int) -> dict[str, Any]:
    manifest = job(index)
    limits = manifest["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
    limits["nvidia.com/gpu"] = "1"
    return manifest


class Times:
    """Name -> first time a predicate held for it, from a watch in a thread."""

    def __init__(self, list_call: Callable[..., Any], namespace: str, done: Callable[[Any], bool]):
        self.at: dict[str, float] = {}
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(
            target=self._run, args=(list_call, namespace, done), daemon=True
        )
        self._thread.start()

    def _run(
        self, list_call: Callable[..., Any], namespace: str, done: Callable[[Any], bool]
    ) -> None:
        version: str | None = None
        while not self._stop.is_set():
            stream = watch.Watch()  # type: ignore[no-untyped-call]
            try:
                kwargs: dict[str, Any] = {"timeout_seconds": 300}
                if version:
                    kwargs["resource_version"] = version
                for event in stream.stream(list_call, namespace, **kwargs):  # type: ignore[no-untyped-call]
                    if self._stop.is_set():
                        return
                    obj = event["object"]
                    version = obj.metadata.resource_version
                    if event["type"] != "DELETED" and done(obj):
                        with self._lock:
                            self.at.setdefault(obj.metadata.name, time.time())
            except Exception as error:  # noqa: BLE001 - a dropped stream is re-opened
                version = None
                if not self._stop.is_set():
                    log(f"watch restarted: {error}")
                    time.sleep(0.5)

    def count(self, names: set[str]) -> int:
        with self._lock:
            return sum(1 for n in names if n in self.at)

    def stop(self) -> None:
        self._stop.set()


def creates(create: Callable[..., Any], namespace: str, body: Any) -> Callable[[], Any]:
    """One create request, sent when called (the body is a plain dict, as the API takes)."""
    return partial(create, namespace, body, _preload_content=False)


def create_all(
    items: list[tuple[str, Callable[[], Any]]], threads: int
) -> tuple[float, dict[str, float]]:
    """Run every create; returns (first request time, name -> time its answer arrived)."""
    answered: dict[str, float] = {}

    def create(item: tuple[str, Callable[[], Any]]) -> None:
        name, call = item
        call()
        answered[name] = time.time()

    started = time.time()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(create, items))
    return started, answered


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def baseline(cluster: Cluster, namespace: str, args: argparse.Namespace, figures: Figures) -> None:
    core = client.CoreV1Api(cluster.api)
    bound = Times(core.list_namespaced_pod, namespace, lambda p: bool(p.spec.node_name))
    names = [f"plain-{i:05d}" for i in range(args.pods)]
    items = [
        (n, creates(core.create_namespaced_pod, namespace, gpu_pod(n, deferrable=False)))
        for n in names
    ]
    first, answered = create_all(items, args.threads)
    figures.add(
        "baseline: create unlabelled Pods",
        f"{max(answered.values()) - first:.1f} s",
        f"{args.pods} Pods, {args.threads} threads, "
        f"{args.pods / (max(answered.values()) - first):.0f}/s",
    )
    wanted = set(names)
    poll(lambda: bound.count(wanted) >= len(wanted), timeout=1800, what="every Pod bound", every=1)
    bound.stop()
    last = max(bound.at[n] for n in names)
    waits = [bound.at[n] - answered[n] for n in names]
    figures.add(
        "baseline: kube-scheduler binds",
        f"{args.pods / (last - first):.0f} pods/s",
        f"first create -> last bound {last - first:.1f} s; create -> bound "
        f"p50 {statistics.median(waits):.2f} s, p99 {percentile(waits, 0.99):.2f} s",
    )


def pass_kinds(log_path: Path, start: int) -> dict[str, int]:
    """Passes that did something, by kind, from the operator's log past byte `start`
    ("reconcile (full): ..." / "reconcile (arrivals): ..."; older builds say "reconcile:")."""
    kinds: dict[str, int] = {}
    with log_path.open("rb") as text:
        text.seek(start)
        for raw in text:
            line = raw.decode(errors="replace")
            for kind in ("full", "arrivals"):
                if f"reconcile ({kind})" in line:
                    kinds[kind] = kinds.get(kind, 0) + 1
            if "reconcile: " in line and "record writes" in line:
                kinds["full"] = kinds.get("full", 0) + 1
    return kinds


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (/proc/PID/stat), seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def operator_side(
    operator: Operator,
    *,
    before: dict[str, float],
    log_start: int,
    cpu_before: float,
    total: int,
    figures: Figures,
) -> None:
    cpu = cpu_seconds(operator.process.pid) - cpu_before
    figures.add(
        "burst: operator CPU",
        f"{cpu:.0f} s",
        f"{1000 * cpu / total:.1f} ms per workload (webhook, watches, passes)",
    )
    after = operator.metrics()
    count, mean_s = passes(after, before)
    kinds = pass_kinds(operator.log_path, log_start)
    figures.add(
        "burst: operator passes",
        f"{count}",
        f"mean {mean_s:.2f} s; of those that acted: {kinds.get('full', 0)} full, "
        f"{kinds.get('arrivals', 0)} arrivals-only",
    )
    methods = requests_by_method(after, before)
    reads, writes = split(methods)
    figures.add(
        "burst: operator API requests",
        f"{(reads + writes) / total:.2f} /workload",
        f"{writes / total:.2f} writes, {reads / total:.2f} reads per workload "
        f"({dict(sorted(methods.items()))})",
    )


def burst(cluster: Cluster, namespace: str, args: argparse.Namespace, figures: Figures) -> None:
    core, batch = client.CoreV1Api(cluster.api), client.BatchV1Api(cluster.api)

    def released_pod(pod: Any) -> bool:
        return not any(g.name == GATE for g in pod.spec.scheduling_gates or [])

    pods_released = Times(core.list_namespaced_pod, namespace, released_pod)
    jobs_released = Times(batch.list_namespaced_job, namespace, lambda j: not j.spec.suspend)
    pod_names = [f"burst-{i:05d}" for i in range(args.pods)]
    job_names = [one_gpu_job(i)["metadata"]["name"] for i in range(args.jobs)]
    items = [
        (n, creates(core.create_namespaced_pod, namespace, gpu_pod(n, deferrable=True)))
        for n in pod_names
    ]
    # Interleave the Jobs so both kinds arrive through the whole burst.
    step = max(1, len(items) // max(1, args.jobs))
    for i in range(args.jobs):
        items.insert(
            min(len(items), i * (step + 1)),
            (job_names[i], creates(batch.create_namespaced_job, namespace, one_gpu_job(i))),
        )
    first, answered = create_all(items, args.threads)
    total = len(items)
    created_s = max(answered.values()) - first
    figures.add(
        "burst: create through the webhook",
        f"{created_s:.1f} s",
        f"{args.pods} Pods + {args.jobs} Jobs, {args.threads} threads, {total / created_s:.0f}/s",
    )
    pods_wanted, jobs_wanted = set(pod_names), set(job_names)
    poll(
        lambda: pods_released.count(pods_wanted) + jobs_released.count(jobs_wanted) >= total,
        timeout=1800,
        what="every workload released",
        every=1,
    )
    pods_released.stop()
    jobs_released.stop()
    released = {**pods_released.at, **jobs_released.at}
    last = max(released[n] for n in answered)
    waits = [released[n] - answered[n] for n in answered]
    figures.add(
        "burst: placements",
        f"{total / (last - first):.0f} /s",
        f"first create -> last released {last - first:.1f} s",
    )
    figures.add(
        "burst: create -> released",
        f"p50 {statistics.median(waits):.2f} s, p99 {percentile(waits, 0.99):.2f} s",
        f"max {max(waits):.2f} s",
    )


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=5000)
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=16, help="client threads creating")
    parser.add_argument("--nodes-per-region", type=int, default=40)
    parser.add_argument("--gpus-per-node", type=int, default=100)
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--state-dir", type=Path, default=ROOT / ".run" / "cluster-burst")
    parser.add_argument("--keep-cluster", action="store_true", help="leave the cluster up")
    args = parser.parse_args()
    # set_up's knobs that this bench does not vary: kyushu uncapped, start at once.
    args.move_room = args.nodes_per_region * args.gpus_per_node
    args.tolerance_minutes = 0
    return args


def main() -> int:
    args = arguments()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    print(
        f"{os.cpu_count()} CPUs; {args.pods} Pods + {args.jobs} Jobs, one GPU each; 3 regions x "
        f"{args.nodes_per_region} nodes x {args.gpus_per_node} GPUs"
    )
    figures = Figures()
    namespace = f"burst-{uuid.uuid4().hex[:6]}"
    plain = f"{namespace}-plain"
    log_path = Path(tempfile.mkdtemp(prefix="wattbit-burst-")) / "operator.log"
    with ExitStack() as stack:
        if not args.keep_cluster:
            stack.enter_context(cleanup(lambda: cluster_down(args), "stop the cluster"))
        log(f"starting the cluster in {args.state_dir}")
        cluster = cluster_up(args)
        cluster.api.configuration.connection_pool_maxsize = max(16, args.threads)
        set_up(cluster, namespace, args)
        cluster.kubectl("create", "namespace", plain)
        for ns in (namespace, plain):
            stack.enter_context(
                cleanup(
                    partial(cluster.kubectl, "delete", "namespace", ns, "--wait=false"),
                    f"delete namespace {ns}",
                )
            )
        log(f"starting the operator (log: {log_path})")
        operator = start_operator(cluster, log_path, verbose=False)
        stack.enter_context(cleanup(lambda: stop_operator(cluster, operator), "stop the operator"))
        wait_for_webhook(cluster, namespace, operator)
        poll(lambda: regions_ready(cluster), timeout=90, what="three Ready Regions")
        if not args.skip_baseline:
            log("baseline: unlabelled Pods")
            baseline(cluster, plain, args, figures)
        log("burst: deferrable Pods and Jobs")
        rss_before = operator.rss_kib()[0]
        metrics_before = operator.metrics()
        log_start = log_path.stat().st_size
        cpu_before = cpu_seconds(operator.process.pid)
        burst(cluster, namespace, args, figures)
        operator_side(
            operator,
            before=metrics_before,
            log_start=log_start,
            cpu_before=cpu_before,
            total=args.pods + args.jobs,
            figures=figures,
        )
        rss, peak = operator.rss_kib()
        figures.add(
            "operator RSS", f"{mib(rss)}", f"before the burst {mib(rss_before)}; peak {mib(peak)}"
        )
    figures.print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
