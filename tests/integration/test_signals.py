"""Live signals on the real control plane: freshness, staleness, PowerSignals.

Covers, with the real operator:
- a Region on the embedded replay dataset is fresh, shows carbon, price and a
  forecast of at least 24 hours, and names its source;
- switched to an http feed that is down, it keeps its last reading while that
  is younger than maxAgeSeconds, then goes stale (SignalsFresh False, Ready
  False, a Warning Event, wattbit_region_signals_stale 1), within maxAge of the
  switch;
- an http feed served on 127.0.0.1 by the test makes it fresh again (the stale
  gauge back to 0);
- PowerSignals written with kubectl drive a Region with provider external: the
  newest valid one wins, a curtailment event shows in the Region's status, and
  the next placement follows it to Kyushu; the superseded and the expired
  signals are reported as such in their own status and Events.
Not covered here: provider wire formats and failures (tests/providers/).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from tests.integration.conftest import Operator
from tests.integration.kube import REGION_SIGNALS, Kube, region, wait_until

pytestmark = pytest.mark.integration

MAX_AGE_SECONDS = 30


def region_status(kube: Kube, name: str) -> dict[str, Any]:
    status: dict[str, Any] = (kube.find("region", name) or {}).get("status") or {}
    return status


def region_until(
    kube: Kube, name: str, ok: Callable[[dict[str, Any]], bool], *, timeout: float, message: str
) -> dict[str, Any]:
    """Wait until the Region's status satisfies ``ok``; return that status."""

    def probe() -> dict[str, Any] | None:
        status = region_status(kube, name)
        return status if status and ok(status) else None

    return wait_until(probe, timeout=timeout, message=message)


def condition(status: dict[str, Any], type_: str) -> dict[str, Any]:
    for c in status.get("conditions") or []:
        if c["type"] == type_:
            return dict(c)
    return {}


def free_port() -> int:
    import socket  # noqa: PLC0415 - only needed here

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stale_gauge(operator: Operator, name: str) -> float | None:
    """The operator's wattbit_region_signals_stale for the Region, as it serves it."""
    text = requests.get(operator.metrics_url, timeout=5).text
    found = re.search(rf'^wattbit_region_signals_stale\{{region="{name}"\}} (\S+)$', text, re.M)
    return float(found.group(1)) if found else None


class CarbonFeed(BaseHTTPRequestHandler):
    """A carbon feed in the generic JSON shape the Region is configured for."""

    def do_GET(self) -> None:
        body = json.dumps({"data": {"carbon": 210.0, "at": datetime.now(UTC).isoformat()}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test asserts on the Region, not on the access log."""


@pytest.fixture
def feed_region(kube: Kube, operator: object) -> Iterator[str]:
    """A Region whose nodes do not exist, so its signals can change without moving work."""
    name = "signals-test"
    manifest = region(name, "JP-TH", 0, "0")
    manifest["spec"]["nodeSelector"] = {"wattbit.io/test-site": "none"}
    manifest["spec"]["signals"] = {
        "provider": "replay",
        "maxAgeSeconds": MAX_AGE_SECONDS,
        "refreshIntervalSeconds": 5,
    }
    kube.apply(manifest)
    yield name
    kube.kubectl("delete", "region", name, "--ignore-not-found")


def http_signals(port: int) -> dict[str, Any]:
    return {
        "provider": "http",
        "maxAgeSeconds": MAX_AGE_SECONDS,
        "refreshIntervalSeconds": 5,
        "http": {
            "timeoutSeconds": 2,
            "feeds": [
                {
                    "metric": "carbon",
                    "url": f"http://127.0.0.1:{port}/carbon",
                    "units": "gCO2PerKWh",
                    "valuePath": "data.carbon",
                    "timestampPath": "data.at",
                }
            ],
        },
    }


def test_replay_region_goes_stale_on_a_dead_feed_within_max_age_and_recovers(
    kube: Kube, operator: Operator, feed_region: str
) -> None:
    status = region_until(
        kube,
        feed_region,
        lambda s: condition(s, "SignalsFresh").get("status") == "True",
        timeout=60,
        message="the replay Region to be fresh",
    )
    signals = status["signals"]
    assert signals["source"].startswith("replay")
    assert signals["carbonGramsPerKwh"] > 0
    assert signals["priceJpyPerKwh"] >= 0.01
    starts = [datetime.fromisoformat(p["start"]) for p in signals["forecast"]]
    assert max(starts) - datetime.now(UTC) >= timedelta(hours=23)

    port = free_port()  # nothing listens here: the feed is down
    switched_at = time.monotonic()
    kube.kubectl(
        "patch",
        "region",
        feed_region,
        "--type=merge",
        "-p",
        json.dumps({"spec": {"signals": http_signals(port)}}),
    )
    kept = region_until(
        kube,
        feed_region,
        lambda s: "Unreachable" in condition(s, "SignalsFresh").get("message", ""),
        timeout=30,
        message="the dead feed to be reported",
    )
    # The replay's values are another source's: the switched Region never serves them as
    # the new feed's, so it is stale at once rather than after maxAge.
    assert condition(kept, "SignalsFresh")["status"] == "False"

    stale = region_until(
        kube,
        feed_region,
        lambda s: condition(s, "SignalsFresh").get("status") == "False",
        timeout=MAX_AGE_SECONDS + 30,
        message="the Region to go stale",
    )
    # Within maxAge of the switch, plus one refresh tick of slack.
    assert time.monotonic() - switched_at <= MAX_AGE_SECONDS + 10
    assert condition(stale, "SignalsFresh")["reason"] in ("Unreachable", "SignalStale")
    assert condition(stale, "Ready")["status"] == "False"
    events = kube.core.list_event_for_all_namespaces(
        field_selector=f"involvedObject.name={feed_region}"
    ).items
    assert any(e.type == "Warning" and "stale" in (e.message or "") for e in events)
    assert stale_gauge(operator, feed_region) == 1.0

    server = ThreadingHTTPServer(("127.0.0.1", port), CarbonFeed)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        recovered = region_until(
            kube,
            feed_region,
            lambda s: (
                condition(s, "SignalsFresh").get("status") == "True"
                and (s.get("signals") or {}).get("carbonGramsPerKwh") == 210.0
            ),
            timeout=90,  # the backoff after the failures may hold the next attempt a while
            message="the Region to recover from the restored feed",
        )
        assert recovered["signals"]["source"].startswith("http")
        recovery = wait_until(
            lambda: [
                e
                for e in kube.core.list_event_for_all_namespaces(
                    field_selector=f"involvedObject.name={feed_region}"
                ).items
                if e.type == "Normal" and e.reason == "SignalsFresh"
            ],
            timeout=30,
            message="a SignalsFresh Event on recovery",
        )
        assert "fresh again" in (recovery[0].message or "")
        assert stale_gauge(operator, feed_region) == 0.0
    finally:
        server.shutdown()
        server.server_close()


def power_signal(
    name: str,
    *,
    valid_from: datetime,
    valid_until: datetime,
    carbon: int,
    price: str,
    curtailment: bool = False,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "region": "kyushu",
        "source": "test-aggregator",
        "validFrom": valid_from.isoformat(),
        "validUntil": valid_until.isoformat(),
        "observation": {
            "carbonGramsPerKwh": carbon,
            "priceJpyPerKwh": price,
            "curtailment": curtailment,
        },
    }
    if curtailment:
        spec["events"] = [
            {
                "type": "Curtailment",
                "start": valid_from.isoformat(),
                "end": valid_until.isoformat(),
                "description": "solar output control, Kyushu",
            }
        ]
    return {
        "apiVersion": "wattbit.io/v1alpha1",
        "kind": "PowerSignal",
        "metadata": {"name": name},
        "spec": spec,
    }


def placed_region(kube: Kube, namespace: str, job: str) -> str:
    def region_of() -> str | None:
        found = kube.find("workloadplacement", f"job-{job}", namespace) or {}
        return (found.get("status") or {}).get("region")

    return wait_until(region_of, timeout=60, message=f"a placement for {job}")


def small_job(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "labels": {"wattbit.io/deferrable": "true"}},
        "spec": {
            "template": {
                "metadata": {"annotations": {"wattbit.io/simulated-complete": "true"}},
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [
                        {
                            "name": "train",
                            "image": "registry.example/train:1",
                            "resources": {"limits": {"nvidia.com/gpu": "1"}},
                        }
                    ],
                },
            }
        },
    }


def test_power_signal_curtailment_drives_region_status_and_next_placement(
    kube: Kube, regions: list[str], namespace: str
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    kube.kubectl(
        "patch",
        "region",
        "kyushu",
        "--type=merge",
        "-p",
        json.dumps({"spec": {"signals": {"provider": "external", "static": None}}}),
    )
    try:
        kube.create(
            power_signal(
                "evening",
                valid_from=now - timedelta(minutes=5),
                valid_until=now + timedelta(hours=2),
                carbon=480,
                price="16.0",
            ),
            namespace=namespace,
        )
        kube.create(
            power_signal(
                "yesterday",
                valid_from=now - timedelta(days=1),
                valid_until=now - timedelta(hours=20),
                carbon=100,
                price="1.0",
            ),
            namespace=namespace,
        )
        wait_until(
            lambda: (
                (region_status(kube, "kyushu").get("signals") or {}).get("source")
                == f"powersignal:{namespace}/evening"
            ),
            timeout=60,
            message="kyushu to follow the evening PowerSignal",
        )
        # Kyushu is now the dearest: 16 + 480 g x 0.01 JPY/g; Hokkaido wins.
        kube.create(small_job("before"), namespace=namespace)
        assert placed_region(kube, namespace, "before") == "hokkaido"

        kube.create(
            power_signal(
                "curtailment",
                valid_from=now - timedelta(minutes=1),
                valid_until=now + timedelta(hours=2),
                carbon=40,
                price="0.01",
                curtailment=True,
            ),
            namespace=namespace,
        )
        status = region_until(
            kube,
            "kyushu",
            lambda s: (s.get("signals") or {}).get("curtailment") is True,
            timeout=60,
            message="kyushu's status to show the curtailment",
        )
        assert status["signals"]["priceJpyPerKwh"] == 0.01
        assert status["signals"]["source"] == f"powersignal:{namespace}/curtailment"

        kube.create(small_job("after"), namespace=namespace)
        assert placed_region(kube, namespace, "after") == "kyushu"

        def reported(name: str, reason: str) -> bool:
            found = kube.find("powersignal", name, namespace) or {}
            return condition(found.get("status") or {}, "Accepted").get("reason") == reason

        wait_until(
            lambda: reported("curtailment", "SignalsReceived"),
            timeout=30,
            message="the curtailment signal to be reported in use",
        )
        wait_until(
            lambda: reported("evening", "Superseded"),
            timeout=30,
            message="the evening signal to be reported superseded",
        )
        wait_until(
            lambda: reported("yesterday", "Expired"),
            timeout=30,
            message="the expired signal to be reported",
        )
        expired = kube.get("powersignal", "yesterday", namespace)["status"]
        assert condition(expired, "Expired")["status"] == "True"
        assert kube.get("powersignal", "curtailment", namespace)["status"]["regions"] == ["kyushu"]
        events = kube.core.list_namespaced_event(
            namespace, field_selector="involvedObject.name=yesterday"
        ).items
        assert any(e.reason == "Expired" and e.type == "Warning" for e in events)
    finally:
        carbon, price = REGION_SIGNALS["kyushu"][1:]
        kube.apply(region("kyushu", *REGION_SIGNALS["kyushu"]))
        wait_until(
            lambda: (region_status(kube, "kyushu").get("signals") or {}).get("source") == "static",
            timeout=60,
            message=f"kyushu to be restored to static {carbon} g / {price} JPY",
        )


def test_a_region_switched_to_external_is_stale_until_a_power_signal_and_reads_by_label(
    kube: Kube, feed_region: str, namespace: str
) -> None:
    """Switched from replay to external with no PowerSignal yet, the Region does not serve
    the replay's last values as fresh; with a signalSelector, a PowerSignal carrying the label
    feeds it whatever region it names, and says so."""
    name = feed_region
    region_until(
        kube,
        name,
        lambda s: condition(s, "SignalsFresh").get("status") == "True",
        timeout=60,
        message="fresh on the replay",
    )
    external = {
        "provider": "external",
        "external": {"signalSelector": {"matchLabels": {"feed": "tohoku-utility"}}},
    }
    kube.kubectl(
        "patch", "region", name, "--type=merge", "-p", json.dumps({"spec": {"signals": external}})
    )
    stale = region_until(
        kube,
        name,
        lambda s: condition(s, "SignalsFresh").get("status") == "False",
        timeout=30,
        message="stale once switched, with no PowerSignal",
    )
    assert condition(stale, "SignalsFresh")["reason"] == "NoData"
    assert not stale.get("signals")  # the replay's values are neither shown nor used

    now = datetime.now(UTC)
    labelled = power_signal(
        "labelled-feed",
        valid_from=now - timedelta(minutes=1),
        valid_until=now + timedelta(hours=1),
        carbon=77,
        price="7.7",
    )
    labelled["metadata"]["labels"] = {"feed": "tohoku-utility"}  # names kyushu, not this one
    kube.create(labelled, namespace=namespace)
    fed = region_until(
        kube,
        name,
        lambda s: condition(s, "SignalsFresh").get("status") == "True",
        timeout=30,
        message="fresh from the labelled PowerSignal",
    )
    assert fed["signals"]["carbonGramsPerKwh"] == 77
    signal_status = wait_until(
        lambda: (kube.get("powersignal", "labelled-feed", namespace).get("status") or {}).get(
            "regions"
        ),
        timeout=30,
        message="the PowerSignal to say which Region it feeds",
    )
    assert name in signal_status
