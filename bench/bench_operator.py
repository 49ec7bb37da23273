"""Operator at scale: N deferrable Jobs on the local control plane, a signal change, memory.

Starts its own local cluster (hack/cluster-up.sh, state in .run/cluster-bench), applies the
CRDs, three Regions (hokkaido and tokyo on static signals, kyushu on a PowerSignal, capped at
`--move-room` GPUs), APNLinks between them and a `default` PlacementPolicy that sets only the
tolerance window (`--tolerance-minutes`, 0: Jobs start at once, so the signal change moves
running work); everything else, including the 60 s checkpoint notice and the cluster-wide
limit of 10 moves in flight, is what users get. It runs the operator as the integration tests do
(`python -m wattbit --standalone`, webhook on 127.0.0.1, metrics on a free port, default
reconcile period and debounce), then measures, for issue 9:

- placement: create N one- or two-GPU Jobs (label wattbit.io/deferrable; kwok runs their pods
  until deleted), time from the first create request to the last WorkloadPlacement carrying a
  decision (watch arrival time), and to every released Job's pod Running (or Unschedulable:
  the operator counts free GPUs per region, not per node);
- idle: once every workload is running or waiting and two passes have seen it,
  `--idle-periods` reconcile periods with nothing changing: operator API requests per pass
  (`wattbit_api_requests_total` divided by the passes counted by
  `wattbit_reconcile_duration_seconds_count`), split into reads (GET) and writes
  (POST/PATCH/PUT/DELETE); record rewrites (watch MODIFIED events); and Region and
  PowerSignal status writes made by the operator's kopf timers (not in that counter);
- signal change: kyushu's PowerSignal is replaced by a curtailment (price 0.01 JPY/kWh,
  20 g/kWh). T0 is the moment before that request. Reported: T0 -> first move recorded
  (`Planned`, the operator's timestamp of the pass); T0 -> last move resumed (the Job
  unsuspended in kyushu, the operator's timestamp of that pass); T0 -> last move complete (its
  record showing `Running`: its pod runs in kyushu; watch arrival time); T0 -> first and last
  release of a waiting Job (its RunNow record, written right after the release patch); and
  T0 -> last resulting action applied, the later of the last two. The wave ends when no move
  is in flight and two more passes started no move or release;
- operator RSS (VmRSS): at the end of the idle window, peak sampled during the wave, and the
  process's lifetime peak (VmHWM), each with the pods the cluster holds (the operator watches
  every pod);
- with `--soak-minutes M` (default 0: none): after the wave, M minutes with nothing changing,
  VmRSS sampled every 10 s: at the start and end, the maximum and the least-squares slope
  (MiB per minute); the operator's API requests per second over the soak
  (`wattbit_api_requests_total`) next to its client's limits (it sets none: no QPS or burst
  in the Python kubernetes client nor in kopf, only a connection pool and thread counts);
  passes and record rewrites in the soak (should be passes only);
- with `--profile`: one pass rerun in this process under cProfile on what the cluster holds
  after the idle window (the operator's own index functions over LISTs, API calls mocked).

`--synthetic N` runs no cluster: the operator's passes in this process over N running
one-GPU Jobs held in kopf-like indexes built by the operator's own index functions (API calls
mocked, so the figures are the operator's compute, not the API server's), and prints: a full
pass that settles them, an idle full pass, an arrivals pass deciding 100 new Jobs among them,
and the full pass after a curtailment makes kyushu the cheapest region (signal change ->
last decision applied, with API calls taking no time), with the API calls each would make.

Clean-up (namespace, operator, cluster) runs even on failure or SIGTERM; `--keep-cluster`
keeps the cluster up. Takes about 6-8 minutes on 2 cores with the defaults (plus the soak).
10,000 Jobs need more room than the defaults (16 nodes x 64 GPUs a region, 110 pods a node):
e.g. `--nodes-per-region 64 --gpus-per-node 140` (hokkaido and tokyo hold 1.5 GPUs x 10k).

    .venv/bin/python bench/bench_operator.py [--workloads 1000] [--profile] [--keep-cluster]
    .venv/bin/python bench/bench_operator.py --workloads 1000 --soak-minutes 10
    .venv/bin/python bench/bench_operator.py --synthetic 10000
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[1]
GROUP, VERSION = "wattbit.io", "v1alpha1"
OPERATOR_NAMESPACE = "wattbit-system"
WEBHOOK_CONFIGURATION = "wattbit-admission-bench"
REGIONS = ("hokkaido", "tokyo", "kyushu")
STATIC_SIGNALS = {"hokkaido": ("JP-HKD", 500, "9.5"), "tokyo": ("JP-TK", 450, "14.2")}
WRITE_METHODS = ("POST", "PATCH", "PUT", "DELETE")
FINAL_PHASES = ("Running", "Abandoned")
RELEASED = ("RunNow", "Stay", "Move")
"""Record decisions of a workload that was released (Wait and Hold keep it suspended)."""
T = TypeVar("T")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def poll(predicate: Callable[[], T | None], *, timeout: float, what: str, every: float = 0.5) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except ApiException:
            value = None
        if value:
            return value
        time.sleep(every)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def instant(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def parse_time(text: str | None) -> float | None:
    return None if not text else datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


# ---------------------------------------------------------------- cluster and operator


@dataclass
class Cluster:
    state_dir: Path
    kubeconfig: str
    env: dict[str, str]
    api: client.ApiClient

    def kubectl(self, *args: str, stdin: str | None = None, check: bool = True) -> str:
        result = subprocess.run(  # noqa: S603 - our kubectl, our arguments
            [f"{self.env['WATTBIT_BIN_DIR']}/kubectl", f"--kubeconfig={self.kubeconfig}", *args],
            input=stdin,
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"kubectl {' '.join(args)}: {result.stderr.strip()}")
        return result.stdout

    def apply(self, *documents: dict[str, Any]) -> None:
        self.kubectl(
            "apply",
            "-f",
            "-",
            stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": list(documents)}),
        )


def cluster_env(args: argparse.Namespace) -> dict[str, str]:
    return {
        **os.environ,
        "WATTBIT_STATE_DIR": str(args.state_dir),
        "WATTBIT_REGIONS": " ".join(REGIONS),
        "WATTBIT_NODES_PER_REGION": str(args.nodes_per_region),
        "WATTBIT_GPUS_PER_NODE": str(args.gpus_per_node),
    }


def cluster_up(args: argparse.Namespace) -> Cluster:
    up = subprocess.run(  # noqa: S603 - the repository's own script
        ["bash", str(ROOT / "hack" / "cluster-up.sh")],  # noqa: S607
        env=cluster_env(args),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if up.returncode != 0:
        raise RuntimeError(f"hack/cluster-up.sh failed:\n{up.stderr[-3000:]}")
    kubeconfig = up.stdout.strip().splitlines()[-1]
    env: dict[str, str] = {}
    for line in (Path(kubeconfig).parent / "env").read_text().splitlines():
        if line.startswith("export "):
            key, _, value = line[len("export ") :].partition("=")
            env[key] = value.strip("'\"")
    api = config.new_client_from_config(config_file=kubeconfig)  # type: ignore[no-untyped-call]
    api.configuration.connection_pool_maxsize = 16
    return Cluster(state_dir=args.state_dir, kubeconfig=kubeconfig, env=env, api=api)


def cluster_down(args: argparse.Namespace) -> None:
    subprocess.run(  # noqa: S603 - the repository's own script
        ["bash", str(ROOT / "hack" / "cluster-down.sh")],  # noqa: S607
        env=cluster_env(args),
        capture_output=True,
        timeout=300,
        check=False,
    )


@dataclass
class Operator:
    process: subprocess.Popen[bytes]
    log_path: Path
    metrics_url: str

    def metrics(self) -> dict[str, float]:
        """Every sample, keyed `name{label=value,...}` (labels sorted)."""
        with urllib.request.urlopen(self.metrics_url, timeout=10) as response:  # noqa: S310
            text = response.read().decode()
        out: dict[str, float] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
                out[f"{sample.name}{{{labels}}}"] = float(sample.value)
        return out

    def rss_kib(self) -> tuple[int, int]:
        """(VmRSS, VmHWM) of the operator process, KiB."""
        values = {"VmRSS": 0, "VmHWM": 0}
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in values:
                values[key] = int(rest.split()[0])
        return values["VmRSS"], values["VmHWM"]


def start_operator(cluster: Cluster, log_path: Path, *, verbose: bool) -> Operator:
    cluster.kubectl("create", "namespace", OPERATOR_NAMESPACE, check=False)
    metrics_port = free_port()
    env = {
        **os.environ,
        "KUBECONFIG": cluster.kubeconfig,
        "WATTBIT_NAMESPACE": OPERATOR_NAMESPACE,
        "WATTBIT_WEBHOOK_LISTEN_ADDRESS": "127.0.0.1",
        "WATTBIT_WEBHOOK_HOST": "127.0.0.1",
        "WATTBIT_WEBHOOK_PORT": str(free_port()),
        "WATTBIT_WEBHOOK_CERT_FILE": cluster.env["WATTBIT_WEBHOOK_CERT_FILE"],
        "WATTBIT_WEBHOOK_KEY_FILE": cluster.env["WATTBIT_WEBHOOK_KEY_FILE"],
        "WATTBIT_WEBHOOK_CA_FILE": cluster.env["WATTBIT_CA_FILE"],
        "WATTBIT_MANAGE_WEBHOOK_CONFIGURATION": "true",
        "WATTBIT_WEBHOOK_CONFIGURATION_NAME": WEBHOOK_CONFIGURATION,
        "WATTBIT_METRICS_LISTEN_ADDRESS": "127.0.0.1",
        "WATTBIT_METRICS_PORT": str(metrics_port),
    }
    command = [sys.executable, "-m", "wattbit", "--standalone"] + (["--verbose"] if verbose else [])
    with log_path.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603 - this interpreter, the operator module
            command, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT
        )
    return Operator(
        process=process,
        log_path=log_path,
        metrics_url=f"http://127.0.0.1:{metrics_port}/metrics",
    )


def stop_operator(cluster: Cluster, operator: Operator) -> None:
    operator.process.terminate()
    try:
        operator.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        operator.process.kill()
        operator.process.wait(timeout=10)
    cluster.kubectl(
        "delete",
        "mutatingwebhookconfiguration",
        WEBHOOK_CONFIGURATION,
        "--ignore-not-found",
        check=False,
    )


def wait_for_webhook(cluster: Cluster, namespace: str, operator: Operator) -> None:
    probe = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "probe", "labels": {"wattbit.io/deferrable": "true"}},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }

    def gated() -> bool:
        if operator.process.poll() is not None:
            raise RuntimeError(f"the operator exited; see {operator.log_path}")
        out = cluster.kubectl(
            "create",
            "-n",
            namespace,
            "--dry-run=server",
            "-o",
            "json",
            "-f",
            "-",
            stdin=json.dumps(probe),
            check=False,
        )
        return "wattbit.io/placement" in out

    poll(gated, timeout=90, what="the admission webhook to answer")


# ---------------------------------------------------------------- manifests


def region(name: str) -> dict[str, Any]:
    spec: dict[str, Any] = {"pue": "1.2"}
    if name in STATIC_SIGNALS:
        area, carbon, price = STATIC_SIGNALS[name]
        spec |= {
            "gridArea": area,
            "signals": {
                "provider": "static",
                "static": {"carbonGramsPerKwh": carbon, "priceJpyPerKwh": price},
            },
        }
    else:
        spec |= {"gridArea": "JP-KY", "signals": {"provider": "external"}}
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Region",
        "metadata": {"name": name},
        "spec": spec,
    }


def link(a: str, b: str) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "APNLink",
        "metadata": {"name": f"{a}-{b}"},
        "spec": {"fromRegion": a, "toRegion": b, "latencyMicroseconds": 8000, "bandwidthGbps": 400},
    }


def signal_spec(*, carbon: int, price: str, curtailment: bool) -> dict[str, Any]:
    now = datetime.now(UTC).replace(microsecond=0)
    return {
        "region": "kyushu",
        "source": "bench",
        "validFrom": instant(now - timedelta(minutes=5)),
        "validUntil": instant(now + timedelta(days=2)),
        "observation": {
            "carbonGramsPerKwh": carbon,
            "priceJpyPerKwh": price,
            "curtailment": curtailment,
        },
    }


def policy(tolerance_minutes: int) -> dict[str, Any]:
    """Users' defaults, but for the one setting the scenario is about: Jobs start at once (no
    waiting), so the signal change moves running work."""
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "PlacementPolicy",
        "metadata": {"name": "default"},
        "spec": {"toleranceWindowMinutes": tolerance_minutes},
    }


def job(index: int) -> dict[str, Any]:
    gpus = 1 + index % 2
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": f"train-{index:05d}",
            "labels": {"wattbit.io/deferrable": "true"},
            "annotations": {"wattbit.io/expected-duration": "4h"},
        },
        "spec": {
            "parallelism": 1,
            "completions": 1,
            "backoffLimit": 0,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [
                        {
                            "name": "train",
                            "image": "registry.example/train:1",
                            "resources": {
                                "limits": {
                                    "nvidia.com/gpu": str(gpus),
                                    "cpu": "100m",
                                    "memory": "256Mi",
                                }
                            },
                        }
                    ],
                }
            },
        },
    }


# ---------------------------------------------------------------- watching


@dataclass(frozen=True, slots=True)
class Seen:
    """One watch event, as much of it as the figures need."""

    at: float
    """Arrival time (wall clock, this host)."""
    type: str
    name: str
    decision: str | None = None
    reason: str | None = None
    phase: str | None = None
    move_started: float | None = None


@dataclass
class Watcher:
    """Follows one resource with a watch in a thread; keeps each object and every event."""

    list_call: Callable[..., Any]
    args: tuple[Any, ...]
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> Watcher:
        threading.Thread(target=self._run, daemon=True, name="bench watch").start()
        return self

    def _run(self) -> None:
        version: str | None = None
        while not self.stop.is_set():
            stream = watch.Watch()  # type: ignore[no-untyped-call]
            try:
                kwargs: dict[str, Any] = {"timeout_seconds": 300}
                if version:
                    kwargs["resource_version"] = version
                events = stream.stream(  # type: ignore[no-untyped-call]
                    self.list_call, *self.args, **kwargs
                )
                for event in events:
                    if self.stop.is_set():
                        return
                    self._take(event["type"], event["object"])
                    version = event["object"]["metadata"]["resourceVersion"]
            except ApiException as error:
                version = None  # 410 Gone: start afresh (the initial ADDED events re-sync)
                if not self.stop.is_set():
                    log(f"watch restarted: {error.status}")
            except Exception as error:  # noqa: BLE001 - a dropped stream is re-opened
                if not self.stop.is_set():
                    log(f"watch restarted: {error}")
                time.sleep(0.5)

    def _take(self, kind: str, obj: dict[str, Any]) -> None:
        now = time.time()
        name = obj["metadata"]["name"]
        status = obj.get("status") or {}
        migration = status.get("migration") or {}
        seen = Seen(
            at=now,
            type=kind,
            name=name,
            decision=status.get("decision"),
            reason=status.get("reason"),
            phase=migration.get("phase"),
            move_started=parse_time(migration.get("startedAt")),
        )
        with self.lock:
            self.seen.append(seen)
            if kind == "DELETED":
                self.objects.pop(name, None)
            else:
                self.objects[name] = obj

    def snapshot(self) -> tuple[dict[str, dict[str, Any]], list[Seen]]:
        with self.lock:
            return dict(self.objects), list(self.seen)

    def modified_between(self, start: float, end: float) -> int:
        with self.lock:
            return sum(1 for s in self.seen if s.type == "MODIFIED" and start <= s.at < end)


def pod_states(cluster: Cluster, namespace: str) -> tuple[int, int]:
    """(Running, unschedulable) pods in the namespace, not counting those being deleted."""
    response = client.CoreV1Api(cluster.api).list_namespaced_pod(namespace, _preload_content=False)
    running = unschedulable = 0
    for pod in items(response):
        if pod["metadata"].get("deletionTimestamp"):
            continue
        status = pod.get("status") or {}
        if status.get("phase") == "Running":
            running += 1
        elif any(
            c.get("type") == "PodScheduled" and c.get("reason") == "Unschedulable"
            for c in status.get("conditions") or []
        ):
            unschedulable += 1
    return running, unschedulable


def items(response: Any) -> list[dict[str, Any]]:
    """The items of a LIST made with `_preload_content=False`, as plain dicts."""
    found: list[dict[str, Any]] = json.loads(response.data)["items"]
    return found


def cluster_pods(cluster: Cluster) -> int:
    """Pods the cluster holds, every namespace (the operator watches them all)."""
    core = client.CoreV1Api(cluster.api)
    try:
        response: Any = core.list_pod_for_all_namespaces(limit=1, _preload_content=False)
        first = json.loads(response.data)
        remaining = first["metadata"].get("remainingItemCount")
        if remaining is not None:
            return len(first["items"]) + int(remaining)
        return len(items(core.list_pod_for_all_namespaces(_preload_content=False)))
    except ApiException:
        return -1


# ---------------------------------------------------------------- figures


@dataclass
class Figures:
    rows: list[tuple[str, str, str]] = field(default_factory=list)

    def add(self, what: str, value: str, note: str = "") -> None:
        self.rows.append((what, value, note))
        log(f"{what}: {value} {note}".rstrip())

    def print(self) -> None:
        width = max(len(r[0]) for r in self.rows)
        value_width = max(len(r[1]) for r in self.rows)
        for what, value, note in self.rows:
            print(f"{what:<{width}}  {value:>{value_width}}  {note}".rstrip())


def delta(after: dict[str, float], before: dict[str, float], prefix: str) -> dict[str, float]:
    return {
        key: after[key] - before.get(key, 0.0)
        for key in after
        if key.startswith(prefix) and after[key] != before.get(key, 0.0)
    }


def requests_by_method(after: dict[str, float], before: dict[str, float]) -> dict[str, int]:
    out: dict[str, int] = {}
    for key, value in delta(after, before, "wattbit_api_requests_total{").items():
        method = key.split("method=", 1)[1].rstrip("}")
        out[method] = int(value)
    return out


def wakeups(after: dict[str, float], before: dict[str, float]) -> str:
    """What asked for passes between two scrapes (`wattbit_loop_wakeups_total`), busiest first,
    and how many arrivals passes found nothing due."""
    counts = {
        key.split("{", 1)[1].rstrip("}").replace('"', ""): int(value)
        for key, value in delta(after, before, "wattbit_loop_wakeups_total{").items()
    }
    skipped = delta(after, before, "wattbit_reconcile_passes_skipped_total")
    busiest = sorted(counts.items(), key=lambda item: -item[1])
    listed = ", ".join(f"{labels} {count}" for labels, count in busiest) or "none"
    return f"{listed}; arrivals passes with nothing due {int(sum(skipped.values()))}"


def passes(after: dict[str, float], before: dict[str, float]) -> tuple[int, float]:
    """(passes, mean seconds) between two scrapes."""
    count = after.get("wattbit_reconcile_duration_seconds_count{}", 0.0) - before.get(
        "wattbit_reconcile_duration_seconds_count{}", 0.0
    )
    total = after.get("wattbit_reconcile_duration_seconds_sum{}", 0.0) - before.get(
        "wattbit_reconcile_duration_seconds_sum{}", 0.0
    )
    return int(count), (total / count if count else 0.0)


def mean_decide(after: dict[str, float], before: dict[str, float]) -> float:
    count = after.get("wattbit_decide_duration_seconds_count{}", 0.0) - before.get(
        "wattbit_decide_duration_seconds_count{}", 0.0
    )
    total = after.get("wattbit_decide_duration_seconds_sum{}", 0.0) - before.get(
        "wattbit_decide_duration_seconds_sum{}", 0.0
    )
    return total / count if count else 0.0


def split(methods: dict[str, int]) -> tuple[int, int]:
    reads = sum(v for m, v in methods.items() if m not in WRITE_METHODS)
    writes = sum(v for m, v in methods.items() if m in WRITE_METHODS)
    return reads, writes


def mib(kib: int) -> str:
    return f"{kib / 1024:.0f} MiB"


def with_pods(cluster: Cluster, note: str = "") -> str:
    """A note for an RSS figure: how many pods the operator watches at that moment."""
    return f"{cluster_pods(cluster)} pods watched" + (f"; {note}" if note else "")


# ---------------------------------------------------------------- the phases


def set_up(cluster: Cluster, namespace: str, args: argparse.Namespace) -> None:
    cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(ROOT / "crds"))
    cluster.kubectl(
        "wait", "--for=condition=Established", "--timeout=60s", "-f", str(ROOT / "crds")
    )
    cluster.kubectl("create", "namespace", namespace)
    kyushu = region("kyushu")
    kyushu["spec"]["capacity"] = {"gpus": args.move_room}
    cluster.apply(region("hokkaido"), region("tokyo"), kyushu)
    cluster.apply(link("hokkaido", "tokyo"), link("tokyo", "kyushu"), link("hokkaido", "kyushu"))
    feed = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "PowerSignal",
        "metadata": {"name": "kyushu-feed", "namespace": namespace},
        "spec": signal_spec(carbon=480, price="16.0", curtailment=False),
    }
    policy_manifest = policy(args.tolerance_minutes)
    policy_manifest["metadata"]["namespace"] = namespace
    cluster.apply(feed, policy_manifest)


def regions_ready(cluster: Cluster) -> bool:
    items = json.loads(cluster.kubectl("get", "regions", "-o", "json"))["items"]
    ready = {
        r["metadata"]["name"]
        for r in items
        if any(
            c["type"] == "Ready" and c["status"] == "True"
            for c in (r.get("status") or {}).get("conditions") or []
        )
    }
    kyushu_price = next(
        (
            ((r.get("status") or {}).get("signals") or {}).get("priceJpyPerKwh")
            for r in items
            if r["metadata"]["name"] == "kyushu"
        ),
        None,
    )
    return set(REGIONS) <= ready and kyushu_price == 16.0


def create_jobs(cluster: Cluster, namespace: str, count: int) -> tuple[float, float]:
    """Create the Jobs, 4 requests at a time; returns (first request, last answer) times."""
    batch = client.BatchV1Api(cluster.api)

    def create(index: int) -> None:
        batch.create_namespaced_job(
            namespace,
            job(index),  # type: ignore[arg-type]  # the client sends plain dicts as they are
            _preload_content=False,
        )

    started = time.time()
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(create, range(count)))
    return started, time.time()


@dataclass
class Bench:
    """What every phase works with."""

    cluster: Cluster
    operator: Operator
    namespace: str
    watchers: dict[str, Watcher]
    figures: Figures

    def add(self, what: str, value: str, note: str = "") -> None:
        self.figures.add(what, value, note)


def place(bench: Bench, count: int) -> None:
    operator, records = bench.operator, bench.watchers["records"]
    before = operator.metrics()
    first, created = create_jobs(bench.cluster, bench.namespace, count)
    bench.add("create Jobs", f"{created - first:.1f} s", f"{count} Jobs, 4 client threads")

    def all_decided() -> bool:
        objects, _ = records.snapshot()
        decided = sum(1 for o in objects.values() if (o.get("status") or {}).get("decision"))
        return decided >= count

    # 600 s, 900 s and 300 s (settle) at 1,000 Jobs; more for more (10k: releases at ~25/s).
    poll(all_decided, timeout=max(600, 0.1 * count), what="every Job to have a decision")
    objects, seen = records.snapshot()
    decided_at: dict[str, float] = {}
    for s in seen:
        if s.decision and s.name not in decided_at:
            decided_at[s.name] = s.at
    outcomes: dict[str, int] = {}
    for obj in objects.values():
        status = obj.get("status") or {}
        key = f"{status.get('decision')}/{status.get('region') or '-'}"
        outcomes[key] = outcomes.get(key, 0) + 1
    bench.add(
        "place all: first create -> last decided",
        f"{max(decided_at.values()) - first:.1f} s",
        ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())),
    )
    released = sum(v for k, v in outcomes.items() if k.split("/")[0] in RELEASED)

    def started() -> tuple[int, int] | None:
        states = pod_states(bench.cluster, bench.namespace)
        return states if sum(states) >= released else None

    states = poll(
        started,
        timeout=max(900, 0.15 * count),
        what="the released Jobs' pods to run (or be unschedulable)",
        every=max(2.0, count / 2000),  # a LIST of every pod: 5 s at 10,000
    )
    bench.add(
        "place all: first create -> released pods Running",
        f"{time.time() - first:.1f} s",
        f"{states[0]} pods Running, {states[1]} unschedulable; kube-controller-manager creates "
        "pods at its default 20 QPS",
    )
    after = operator.metrics()
    n, mean_s = passes(after, before)
    bench.add(
        "placement: passes, mean pass",
        f"{n}, {mean_s:.2f} s",
        f"mean decide {mean_decide(after, before):.3f} s; requests "
        + describe(requests_by_method(after, before)),
    )
    bench.add("placement: wake-ups by source, kind", "", wakeups(after, before))


def describe(methods: dict[str, int]) -> str:
    return ", ".join(f"{m} {v}" for m, v in sorted(methods.items())) or "none"


def settle(bench: Bench, count: int) -> None:
    """Until the operator counts every workload Running or Pending (none moving), every released
    workload's pod runs, and two more passes have run."""

    def settled() -> dict[str, float] | None:
        now = bench.operator.metrics()
        running = now.get("wattbit_workloads_managed{stage=Running}", 0.0)
        pending = now.get("wattbit_workloads_managed{stage=Pending}", 0.0)
        moving = now.get("wattbit_workloads_managed{stage=Moving}", 0.0)
        if running + pending != count or moving:
            return None
        return now if sum(pod_states(bench.cluster, bench.namespace)) >= running else None

    seen = poll(
        settled,
        timeout=max(300, 0.05 * count),
        what="every workload running or pending",
        every=2.0,
    )
    start = seen.get("wattbit_reconcile_duration_seconds_count{}", 0.0)
    poll(
        lambda: (
            bench.operator.metrics().get("wattbit_reconcile_duration_seconds_count{}", 0.0)
            >= start + 2
        ),
        timeout=300,
        what="two passes over the settled cluster",
    )


def idle(bench: Bench, seconds: float) -> None:
    operator, records = bench.operator, bench.watchers["records"]

    def versions() -> dict[str, str]:
        return {n: o["metadata"]["resourceVersion"] for n, o in records.snapshot()[0].items()}

    versions_before = versions()
    before, start = operator.metrics(), time.time()
    time.sleep(seconds)
    after, end = operator.metrics(), time.time()
    versions_after = versions()
    n, mean_s = passes(after, before)
    methods = requests_by_method(after, before)
    reads, writes = split(methods)
    per = max(n, 1)
    bench.add(
        "idle: passes in window, mean pass",
        f"{n}, {mean_s:.2f} s",
        f"{seconds:.0f} s window; mean decide {mean_decide(after, before):.3f} s",
    )
    bench.add("idle: wake-ups by source, kind", "", wakeups(after, before))
    bench.add(
        "idle: operator API reads per pass (GET/LIST)", f"{reads / per:.1f}", f"total {reads}"
    )
    bench.add(
        "idle: operator API writes per pass",
        f"{writes / per:.1f}",
        f"target 0; {describe(methods)}",
    )
    churned = sum(1 for k, v in versions_after.items() if versions_before.get(k) != v)
    bench.add(
        "idle: WorkloadPlacements rewritten",
        f"{churned}",
        f"{records.modified_between(start, end)} MODIFIED events",
    )
    minutes = (end - start) / 60.0
    bench.add(
        "idle: Region status writes per minute",
        f"{bench.watchers['regions'].modified_between(start, end) / minutes:.1f}",
        "kopf timer refresh-region (not in wattbit_api_requests_total); each wakes a pass",
    )
    bench.add(
        "idle: PowerSignal status writes per minute",
        f"{bench.watchers['signals'].modified_between(start, end) / minutes:.1f}",
        "kopf timer report-power-signal",
    )
    rss, _ = operator.rss_kib()
    bench.add(
        "operator RSS at idle",
        mib(rss),
        with_pods(bench.cluster, f"{len(versions_after)} records watched"),
    )


@dataclass
class Wave:
    """What the signal change led to, as the records say."""

    t0: float
    before: dict[str, float]
    peak_rss_kib: int = 0
    max_in_flight: int = 0

    def moves(self, records: Watcher) -> dict[str, dict[str, Any]]:
        """Record name -> migration, for every move started after the change."""
        out = {}
        for name, obj in records.snapshot()[0].items():
            migration = (obj.get("status") or {}).get("migration") or {}
            started = parse_time(migration.get("startedAt"))
            if started is not None and started >= self.t0 - 1.0:
                out[name] = migration
        return out

    def releases(self, records: Watcher) -> dict[str, float]:
        """Record name -> arrival of its first RunNow after the change, for every workload
        that was waiting or held before it (the record is written right after the release)."""
        before: dict[str, str | None] = {}
        out: dict[str, float] = {}
        for s in records.snapshot()[1]:
            if s.at < self.t0:
                before[s.name] = s.decision
            elif (
                s.decision == "RunNow"
                and before.get(s.name) in ("Wait", "Hold")
                and s.name not in out
            ):
                out[s.name] = s.at
        return out


def wave(bench: Bench, timeout: float) -> Wave:
    """Replace kyushu's PowerSignal with a curtailment; follow the moves and releases it causes
    until no move is in flight and two more passes started nothing."""
    operator, records = bench.operator, bench.watchers["records"]
    custom = client.CustomObjectsApi(bench.cluster.api)
    result = Wave(t0=0.0, before=operator.metrics(), peak_rss_kib=operator.rss_kib()[0])
    result.t0 = time.time()
    custom.patch_namespaced_custom_object(
        GROUP,
        VERSION,
        bench.namespace,
        "powersignals",
        "kyushu-feed",
        {"spec": signal_spec(carbon=20, price="0.01", curtailment=True)},
        _content_type="application/merge-patch+json",
    )
    last: tuple[int, int, int] = (0, 0, 0)
    quiet_from = 0.0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(0.5)
        result.peak_rss_kib = max(result.peak_rss_kib, operator.rss_kib()[0])
        moves = result.moves(records)
        in_flight = sum(1 for m in moves.values() if m.get("phase") not in FINAL_PHASES)
        result.max_in_flight = max(result.max_in_flight, in_flight)
        activity = (len(moves), in_flight, len(result.releases(records)))
        count = operator.metrics().get("wattbit_reconcile_duration_seconds_count{}", 0.0)
        if activity != last or in_flight:
            last, quiet_from = activity, count
        elif activity == (0, 0, 0):
            if time.time() - result.t0 > timeout / 2:
                break  # nothing happened at all
        elif count >= quiet_from + 2:
            break
    else:
        log("the wave did not settle before --wave-timeout")
    return result


def phase_at(migration: dict[str, Any], phase: str) -> float | None:
    """When the operator recorded `phase` in a move's history (the pass's time)."""
    return next(
        (parse_time(h.get("at")) for h in migration.get("history") or [] if h["phase"] == phase),
        None,
    )


def report_wave(bench: Bench, result: Wave) -> None:
    operator, records, t0 = bench.operator, bench.watchers["records"], result.t0
    after = operator.metrics()
    moves = result.moves(records)
    releases = result.releases(records)
    completed = {n: m for n, m in moves.items() if m.get("phase") == "Running"}
    abandoned = sum(1 for m in moves.values() if m.get("phase") == "Abandoned")
    routes: dict[str, int] = {}
    for m in moves.values():
        key = f"{m.get('fromRegion')}->{m.get('toRegion')}"
        routes[key] = routes.get(key, 0) + 1
    bench.add(
        "signal change: moves, releases",
        f"{len(moves)}, {len(releases)}",
        f"moves: {len(completed)} completed, {abandoned} abandoned, "
        + ", ".join(f"{k} {v}" for k, v in sorted(routes.items()))
        + f", at most {result.max_in_flight} in flight (maxMovesInFlight default 10)",
    )
    planned = [t for m in moves.values() if (t := phase_at(m, "Planned")) is not None]
    resumed = [t for m in moves.values() if (t := phase_at(m, "Resumed")) is not None]
    completed_seen: dict[str, float] = {}
    said: dict[str, str] = {}
    transitions: Counter[str] = Counter()
    for s in records.snapshot()[1]:
        gist = f"{s.decision}/{s.reason}" + (f"/{s.phase}" if s.phase else "")
        if s.at >= t0 and s.type == "MODIFIED":
            transitions[f"{said.get(s.name)} -> {gist}"] += 1
        said[s.name] = gist
        if s.at >= t0 and s.phase == "Running" and s.name in completed:
            completed_seen.setdefault(s.name, s.at)
    durations = [
        end - start
        for m in completed.values()
        if (start := phase_at(m, "Planned")) is not None
        and (end := phase_at(m, "Running")) is not None
    ]
    first_seen = [s.at for s in records.snapshot()[1] if s.at >= t0 and s.phase and s.name in moves]
    if planned and first_seen:
        bench.add(
            "signal -> first move recorded (Planned)",
            f"{min(first_seen) - t0:.1f} s",
            f"watch arrival; the pass that planned it started at +{min(planned) - t0:.1f} s",
        )
    if releases:
        bench.add(
            "signal -> first, last release",
            f"{min(releases.values()) - t0:.1f}, {max(releases.values()) - t0:.1f} s",
            "watch arrival of the RunNow record (written right after the release patch)",
        )
    if resumed:
        bench.add(
            "signal -> last move resumed",
            f"{max(resumed) - t0:.1f} s",
            "operator's time of the pass that unsuspended it in kyushu",
        )
    if completed_seen:
        bench.add(
            "signal -> last move complete (record Running)",
            f"{max(completed_seen.values()) - t0:.1f} s",
            "watch arrival of the record: its pod runs in kyushu",
        )
    ends = [*completed_seen.values(), *releases.values()]
    if ends:
        bench.add(
            "signal -> last resulting action applied",
            f"{max(ends) - t0:.1f} s",
            "the later of the last release and the last move complete",
        )
    if durations:
        bench.add(
            "one move, Planned -> Running",
            f"{statistics.median(durations):.1f} s",
            f"median; max {max(durations):.1f} s; default checkpoint notice 60 s",
        )
    bench.add(
        "wave: record writes",
        f"{sum(transitions.values())}",
        ", ".join(f"{k} {v}" for k, v in transitions.most_common(5)),
    )
    n, mean_s = passes(after, result.before)
    bench.add(
        "wave: passes, mean pass",
        f"{n}, {mean_s:.2f} s",
        f"mean decide {mean_decide(after, result.before):.3f} s; requests "
        + describe(requests_by_method(after, result.before)),
    )
    bench.add(
        "operator RSS peak during the wave",
        mib(result.peak_rss_kib),
        with_pods(bench.cluster, "at the wave's end; VmRSS every 0.5 s"),
    )
    bench.add(
        "operator RSS lifetime peak", mib(operator.rss_kib()[1]), with_pods(bench.cluster, "VmHWM")
    )


# ---------------------------------------------------------------- soak


def client_limits() -> str:
    """What limits the operator's request rate on the client side (read from its code)."""
    from wattbit.handlers.reconcile import ACT_THREADS  # noqa: PLC0415 - only with a soak

    pool = client.Configuration().connection_pool_maxsize
    return (
        "no client-side rate limit: the operator's kubernetes client (wattbit.k8s.client) sets "
        "no QPS or burst (the Python client has none) and kopf has none; only concurrency: "
        f"{pool} pooled connections (client default), {ACT_THREADS} action threads a pass "
        "(ACT_THREADS), kopf max_workers 8 (handlers/startup.py)"
    )


def soak(bench: Bench, minutes: float) -> None:
    """`minutes` with nothing changing: the operator's VmRSS every 10 s, its slope, and its
    API request rate."""
    operator, cluster = bench.operator, bench.cluster
    period = 10.0
    pods_start = cluster_pods(cluster)
    before, start = operator.metrics(), time.time()
    versions_before = {
        n: o["metadata"]["resourceVersion"]
        for n, o in bench.watchers["records"].snapshot()[0].items()
    }
    samples: list[tuple[float, int]] = []
    stopped: BaseException | None = None
    try:
        while True:
            if operator.process.poll() is not None:
                raise RuntimeError(f"the operator exited in the soak; see {operator.log_path}")
            now = time.time()
            samples.append((now - start, operator.rss_kib()[0]))
            if len(samples) % 6 == 1:
                log(f"soak: {(now - start) / 60:.1f} min, VmRSS {mib(samples[-1][1])}")
            if now - start >= minutes * 60.0:
                break
            time.sleep(max(0.0, min(start + len(samples) * period, start + minutes * 60.0) - now))
    except (SystemExit, KeyboardInterrupt) as stop:  # SIGTERM: report the samples so far
        stopped = stop
        log(f"soak interrupted after {(time.time() - start) / 60:.1f} min: figures so far")
    if len(samples) < 2:  # a slope needs two points
        if stopped:
            raise stopped
        return
    after, end = operator.metrics(), time.time()
    pods_end = cluster_pods(cluster)
    seconds = end - start
    rss_mb = [kib / 1024 for _, kib in samples]
    slope, _ = statistics.linear_regression([t / 60.0 for t, _ in samples], rss_mb)
    pods = f"{pods_start} pods watched" + ("" if pods_end == pods_start else f" -> {pods_end}")
    bench.add(
        "soak: operator RSS start, end",
        f"{rss_mb[0]:.0f}, {rss_mb[-1]:.0f} MiB",
        f"{pods}; {len(samples)} samples over {seconds / 60:.1f} min, every {period:.0f} s",
    )
    bench.add("soak: operator RSS max", f"{max(rss_mb):.0f} MiB", pods)
    bench.add(
        "soak: operator RSS slope",
        f"{slope:+.3f} MiB/min",
        f"least squares over the samples; {slope * 60:+.1f} MiB/hour",
    )
    methods = requests_by_method(after, before)
    reads, writes = split(methods)
    bench.add(
        "soak: operator API requests per second",
        f"{(reads + writes) / seconds:.2f}",
        f"reads {reads / seconds:.2f}/s, writes {writes / seconds:.2f}/s; {describe(methods)}; "
        "kopf's own Region status writes (not counted there) "
        f"{bench.watchers['regions'].modified_between(start, end) / seconds:.2f}/s",
    )
    bench.add("soak: client's configured limits", "none", client_limits())
    n, mean_s = passes(after, before)
    records = bench.watchers["records"]
    versions_after = {n: o["metadata"]["resourceVersion"] for n, o in records.snapshot()[0].items()}
    churned = sum(1 for k, v in versions_after.items() if versions_before.get(k) != v)
    bench.add(
        "soak: passes, mean pass; records rewritten",
        f"{n}, {mean_s:.2f} s; {churned}",
        f"{records.modified_between(start, end)} record MODIFIED events; Region status writes "
        f"{bench.watchers['regions'].modified_between(start, end)}",
    )
    if stopped:
        raise stopped


# ---------------------------------------------------------------- profile


def profile_pass(bench: Bench, repeats: int) -> str:
    """Run the operator's reconcile pass in this process, on what the cluster holds now (the
    indexes rebuilt from LISTs by the operator's own index functions), under cProfile, with
    API clients that only record calls. Returns the timings and the top of the profile."""
    import cProfile  # noqa: PLC0415 - only with --profile
    import pstats  # noqa: PLC0415
    from io import StringIO  # noqa: PLC0415
    from types import SimpleNamespace  # noqa: PLC0415
    from unittest import mock  # noqa: PLC0415

    import kopf  # noqa: PLC0415

    from wattbit.handlers import indexes  # noqa: PLC0415 - registers kopf handlers; harmless
    from wattbit.handlers.loop import collect  # noqa: PLC0415
    from wattbit.handlers.reconcile import Apis, reconcile  # noqa: PLC0415
    from wattbit.k8s.snapshots import SnapshotSettings  # noqa: PLC0415

    core = client.CoreV1Api(bench.cluster.api)
    custom = client.CustomObjectsApi(bench.cluster.api)
    store: dict[str, dict[Any, list[Any]]] = {}

    def index(name: str, function: Any, objects: list[dict[str, Any]]) -> None:
        store[name] = {}
        for obj in objects:
            meta = obj["metadata"]
            body = kopf.Body(obj)  # type: ignore[arg-type]  # a plain dict is a raw body
            found = function(body=body, name=meta["name"], namespace=meta.get("namespace"))
            for key, value in found.items():
                store[name].setdefault(key, []).append(value)

    def crs(plural: str) -> list[dict[str, Any]]:
        return items(
            custom.list_cluster_custom_object(GROUP, VERSION, plural, _preload_content=False)
        )

    pods = items(core.list_pod_for_all_namespaces(_preload_content=False))
    deferrable = [p for p in pods if p["metadata"].get("labels", {}).get("wattbit.io/deferrable")]
    jobs = client.BatchV1Api(bench.cluster.api).list_job_for_all_namespaces(
        label_selector="wattbit.io/deferrable=true", _preload_content=False
    )
    index("nodes", indexes.nodes, items(core.list_node(_preload_content=False)))
    index("gpu_pods", indexes.gpu_pods, pods)
    index("owned_pods", indexes.owned_pods, pods)
    index("deferrable_pods", indexes.deferrable_pods, deferrable)
    index("deferrable_jobs", indexes.deferrable_jobs, items(jobs))
    index("regions", indexes.regions, crs("regions"))
    index("policies", indexes.policies, crs("placementpolicies"))
    index("placement_records", indexes.placement_records, crs("workloadplacements"))
    index("apn_links", indexes.apn_links, crs("apnlinks"))
    context: Any = SimpleNamespace(readings={})  # the Regions' status values stand in
    mocks = [mock.MagicMock() for _ in range(4)]
    apis = Apis(jobs=mocks[0], pods=mocks[1], custom=mocks[2], core=mocks[3])
    profiler = cProfile.Profile()
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        view = collect(context, store, datetime.now(UTC))
        profiler.enable()
        reconcile(view, apis=apis, settings=SnapshotSettings())
        profiler.disable()
        timings.append(time.perf_counter() - started)
    calls = sum(len(m.mock_calls) for m in mocks)
    out = StringIO()
    out.write(
        f"one pass in this process over {len(store['deferrable_jobs'].get('all', []))} Jobs: "
        f"median {statistics.median(timings):.3f} s of {repeats} (collect + reconcile, "
        f"no profiler: see cProfile's own total below), {calls} API calls it would make\n"
    )
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(25)
    return out.getvalue()


# ---------------------------------------------------------------- synthetic


def synthetic_job(index: int, region_name: str | None, now: datetime) -> dict[str, Any]:
    """A one-GPU Job as the API server holds it after admission: held, or released and
    running in `region_name`."""
    body = job(index)
    meta = body["metadata"]
    meta.update(
        namespace="synthetic",
        uid=str(uuid.uuid5(uuid.NAMESPACE_URL, f"synthetic/{index}")),
        creationTimestamp=instant(now - timedelta(hours=1)),
        resourceVersion=str(index + 1),
    )
    meta.setdefault("labels", {})["wattbit.io/deferrable"] = "true"
    meta.setdefault("annotations", {})["wattbit.io/held"] = "true"
    body["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] = "1"
    body["spec"]["suspend"] = region_name is None
    if region_name is not None:
        meta["annotations"]["wattbit.io/released-at"] = instant(now - timedelta(minutes=30))
        template_meta = body["spec"]["template"].setdefault("metadata", {})
        template_meta.setdefault("annotations", {})["wattbit.io/region"] = region_name
        body["status"] = {"active": 1}
    return body


def synthetic(count: int, figures: Figures) -> None:  # noqa: PLR0915 - one scenario, in order
    from types import SimpleNamespace  # noqa: PLC0415 - only with --synthetic
    from unittest import mock  # noqa: PLC0415

    import kopf  # noqa: PLC0415

    from wattbit.handlers import indexes  # noqa: PLC0415 - registers kopf handlers; harmless
    from wattbit.handlers.loop import collect  # noqa: PLC0415
    from wattbit.handlers.reconcile import Apis, Memory, reconcile  # noqa: PLC0415
    from wattbit.k8s.snapshots import SnapshotSettings  # noqa: PLC0415

    now = datetime.now(UTC)
    store: dict[str, dict[Any, list[Any]]] = {}

    def index(name: str, function: Any, objects: list[dict[str, Any]]) -> None:
        store[name] = {}
        for obj in objects:
            meta = obj["metadata"]
            body = kopf.Body(obj)  # type: ignore[arg-type]  # a plain dict is a raw body
            found = function(body=body, name=meta["name"], namespace=meta.get("namespace"))
            for key, value in found.items():
                store[name].setdefault(key, []).append(value)

    def region_body(name: str, carbon: int, price: str) -> dict[str, Any]:
        body = region(name)
        body["metadata"]["creationTimestamp"] = instant(now - timedelta(days=1))
        body["spec"]["signals"] = {
            "provider": "static",
            "static": {"carbonGramsPerKwh": carbon, "priceJpyPerKwh": price},
        }
        body["status"] = {
            "signals": {
                "observedAt": instant(now - timedelta(seconds=30)),
                "carbonGramsPerKwh": carbon,
                "priceJpyPerKwh": float(price),
                "source": "bench",
            }
        }
        return body

    def node_body(name: str, where: str, gpus: int) -> dict[str, Any]:
        return {
            "metadata": {"name": name, "labels": {"topology.kubernetes.io/region": where}},
            "spec": {},
            "status": {
                "allocatable": {"nvidia.com/gpu": str(gpus)},
                "conditions": [{"type": "Ready", "status": "True"}],
            },
        }

    # hokkaido holds every Job; tokyo is dearer; kyushu is dearest until the curtailment.
    per_node = 100
    nodes = [
        node_body(f"{where}-{i}", where, per_node)
        for where, n in (("hokkaido", count // per_node + 2), ("tokyo", 40), ("kyushu", 40))
        for i in range(n)
    ]
    signals = {"hokkaido": (500, "9.5"), "tokyo": (450, "14.2"), "kyushu": (600, "30")}
    jobs = [synthetic_job(i, "hokkaido", now) for i in range(count)]
    index("nodes", indexes.nodes, nodes)
    index("gpu_pods", indexes.gpu_pods, [])
    index("owned_pods", indexes.owned_pods, [])
    index("deferrable_pods", indexes.deferrable_pods, [])
    index("deferrable_jobs", indexes.deferrable_jobs, jobs)
    index("regions", indexes.regions, [region_body(n, *v) for n, v in signals.items()])
    index("policies", indexes.policies, [])
    links = [link(a, b) for a, b in (("hokkaido", "tokyo"), ("tokyo", "kyushu"))]
    links.append(link("hokkaido", "kyushu"))
    index("apn_links", indexes.apn_links, links)
    for name in (
        "deferrable_jobsets",
        "deferrable_trainjobs",
        "cluster_training_runtimes",
        "training_runtimes",
        "kueue_workloads",
        "kueue_checks",
    ):
        store[name] = {}
    records: dict[str, dict[str, Any]] = {}
    uids = {f"job-{b['metadata']['name']}": b["metadata"]["uid"] for b in jobs}

    def apply_writes(apis: Apis) -> None:
        """Fold the record writes a pass made back into the records index."""
        for call in apis.custom.patch_namespaced_custom_object_status.call_args_list:
            namespace, name, body = call.args[2], call.args[4], call.args[5]
            entry = records.setdefault(
                name,
                {
                    "metadata": {"namespace": namespace, "name": name},
                    "spec": {"workloadRef": {"uid": uids.get(name, "")}},
                    "status": {},
                },
            )
            entry["status"] = records_merge(entry["status"], body["status"])
        index("placement_records", indexes.placement_records, list(records.values()))

    context: Any = SimpleNamespace(readings={})
    settings = SnapshotSettings(hints_cache={})
    memory = Memory()

    def one(label: str, *, full: bool) -> Apis:
        mocks: list[Any] = [mock.MagicMock() for _ in range(4)]
        apis = Apis(jobs=mocks[0], pods=mocks[1], custom=mocks[2], core=mocks[3])
        started = time.perf_counter()
        view = collect(context, store, datetime.now(UTC))
        collected = time.perf_counter() - started
        result = reconcile(view, apis=apis, settings=settings, memory=memory, full=full)
        took = time.perf_counter() - started
        calls = sum(len(m.mock_calls) for m in mocks)
        figures.add(
            f"synthetic {count}: {label}",
            f"{took:.2f} s",
            f"collect {collected:.2f} s; {'full' if full else 'arrivals'}, "
            f"{result.decided} decided, {result.writes} record writes "
            f"({result.deferred} rewordings deferred), "
            f"actions {result.actions}, {calls} API calls",
        )
        return apis

    index("placement_records", indexes.placement_records, [])
    apply_writes(one("first full pass (records created)", full=True))
    apply_writes(one("idle full pass", full=True))
    new = [synthetic_job(count + i, None, now) for i in range(100)]
    jobs.extend(new)
    uids.update({f"job-{b['metadata']['name']}": b["metadata"]["uid"] for b in new})
    index("deferrable_jobs", indexes.deferrable_jobs, jobs)
    arrived = one("arrivals pass, 100 new Jobs", full=False)
    apply_writes(arrived)
    # The releases as the Job watch shows them next: running where they were placed.
    arrived_jobs: Any = arrived.jobs  # a MagicMock
    placed = {
        call.args[0].name: call.kwargs["region"]
        for call in arrived_jobs.place_and_release.call_args_list
    }
    jobs[count:] = [
        synthetic_job(count + i, placed.get(body["metadata"]["name"]), now)
        for i, body in enumerate(new)
    ]
    index("deferrable_jobs", indexes.deferrable_jobs, jobs)
    signals["kyushu"] = (20, "0.01")
    index("regions", indexes.regions, [region_body(n, *v) for n, v in signals.items()])
    one("signal change: full pass to the last decision", full=True)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    figures.add(
        f"synthetic {count}: this process's peak RSS",
        mib(peak_kib),
        "bodies, indexes and views in one process: not the operator's RSS",
    )


def records_merge(old: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """RFC 7386: the record's status after a merge patch."""
    out = dict(old)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = records_merge(out[key], value)
        else:
            out[key] = value
    return out


# ---------------------------------------------------------------- main


@contextmanager
def cleanup(action: Callable[[], object], what: str) -> Iterator[None]:
    try:
        yield
    finally:
        log(f"clean-up: {what}")
        try:
            action()
        except Exception as error:  # noqa: BLE001 - clean-up goes on with the next step
            log(f"clean-up of {what} failed: {error}")


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", type=int, default=1000)
    parser.add_argument("--nodes-per-region", type=int, default=16)
    parser.add_argument("--gpus-per-node", type=int, default=64)
    parser.add_argument(
        "--move-room",
        type=int,
        default=96,
        help="kyushu's capacity.gpus: how many GPUs the signal change can draw there "
        "(bounds the wave's size, so the run stays short)",
    )
    parser.add_argument(
        "--tolerance-minutes",
        type=int,
        default=0,
        help="the policy's toleranceWindowMinutes: 0 starts every Job at once, so the signal "
        "change moves running Jobs; the default of 360 lets Jobs that do not fit in the "
        "cheapest region wait for it, and the change releases them instead",
    )
    parser.add_argument("--idle-periods", type=int, default=3, help="reconcile periods (30 s)")
    parser.add_argument("--wave-timeout", type=float, default=900.0)
    parser.add_argument(
        "--soak-minutes",
        type=float,
        default=0.0,
        help="after the wave, this long with nothing changing: operator RSS every 10 s, its "
        "slope, API requests per second (0: no soak)",
    )
    parser.add_argument("--state-dir", type=Path, default=ROOT / ".run" / "cluster-bench")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="after the idle window, profile the reconcile pass in this process (cProfile)",
    )
    parser.add_argument("--keep-cluster", action="store_true", help="leave the cluster up")
    parser.add_argument("--verbose-operator", action="store_true", help="run it with --verbose")
    parser.add_argument(
        "--synthetic",
        type=int,
        default=0,
        metavar="N",
        help="no cluster: time the operator's passes in this process over N Jobs (see above)",
    )
    return parser.parse_args()


def main() -> int:
    args = arguments()
    if args.synthetic:
        synthetic_figures = Figures()
        synthetic(args.synthetic, synthetic_figures)
        print()
        synthetic_figures.print()
        return 0
    # A background job ignores SIGINT; make SIGTERM unwind through the clean-up.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    print(
        f"python {platform.python_version()}, kopf {importlib.metadata.version('kopf')}, "
        f"{os.cpu_count()} CPUs, "
        f"{args.workloads} workloads, {len(REGIONS)} regions x {args.nodes_per_region} nodes x "
        f"{args.gpus_per_node} GPUs (kyushu capped at {args.move_room})"
    )
    figures = Figures()
    namespace = f"bench-{uuid.uuid4().hex[:6]}"
    log_path = Path(tempfile.mkdtemp(prefix="wattbit-bench-")) / "operator.log"
    started = time.monotonic()
    profile = ""
    with ExitStack() as stack:
        log(f"starting the cluster in {args.state_dir}")
        if not args.keep_cluster:
            stack.enter_context(cleanup(lambda: cluster_down(args), "stop the cluster"))
        cluster = cluster_up(args)
        set_up(cluster, namespace, args)

        def delete_namespace() -> None:
            cluster.kubectl("delete", "namespace", namespace, "--wait=false")

        stack.enter_context(cleanup(delete_namespace, f"delete namespace {namespace}"))
        log(f"starting the operator (log: {log_path})")
        operator = start_operator(cluster, log_path, verbose=args.verbose_operator)
        stack.enter_context(cleanup(lambda: stop_operator(cluster, operator), "stop the operator"))
        wait_for_webhook(cluster, namespace, operator)
        poll(lambda: regions_ready(cluster), timeout=90, what="three Ready Regions")
        custom = client.CustomObjectsApi(cluster.api)
        watchers = {
            "records": Watcher(
                custom.list_namespaced_custom_object,
                (GROUP, VERSION, namespace, "workloadplacements"),
            ).start(),
            "regions": Watcher(
                custom.list_cluster_custom_object, (GROUP, VERSION, "regions")
            ).start(),
            "signals": Watcher(
                custom.list_namespaced_custom_object, (GROUP, VERSION, namespace, "powersignals")
            ).start(),
        }
        for watcher in watchers.values():
            stack.callback(watcher.stop.set)
        bench = Bench(
            cluster=cluster,
            operator=operator,
            namespace=namespace,
            watchers=watchers,
            figures=figures,
        )
        bench.add(
            "operator RSS, started, no workloads",
            mib(operator.rss_kib()[0]),
            with_pods(cluster),
        )
        log(f"creating {args.workloads} Jobs in {namespace}")
        place(bench, args.workloads)
        log("waiting for the passes to settle")
        settle(bench, args.workloads)
        log(f"idle for {args.idle_periods} periods")
        idle(bench, 30.0 * args.idle_periods)
        profile = profile_pass(bench, repeats=3) if args.profile else ""
        log("replacing kyushu's PowerSignal with a curtailment")
        report_wave(bench, wave(bench, args.wave_timeout))
        if args.soak_minutes > 0:
            log(f"soak: {args.soak_minutes:g} minutes with nothing changing")
            soak(bench, args.soak_minutes)
    print()
    figures.print()
    if profile:
        print()
        print(profile)
    print(f"(run took {time.monotonic() - started:.0f} s; operator log {log_path})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
