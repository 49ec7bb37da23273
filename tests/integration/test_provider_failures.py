"""A signal feed failing in every way, end to end: the Region goes stale with the reason, and
the workload running there stays put (zero moves) until the feed is good again.

Kyushu reads an HTTP/JSON feed served by the test on 127.0.0.1 (`tests.feed`). A Job runs
there while the feed is good (Kyushu is the cheapest region); then the carbon endpoint
times out, answers 401, 429 with Retry-After, 500, garbage, a value 1000 x too large, and a
timestamp an hour ahead, one after the other. Each time, `SignalsFresh` turns False with the
failure's reason once the last good reading is older than `maxAgeSeconds`; the Job is never
moved, and the Region is fresh again once the feed recovers.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.feed import FeedServer, Reply, Seen, serve
from tests.integration.kube import REGION_SIGNALS, Kube, wait_until
from tests.integration.test_reconcile import long_job, pods_regions, status

pytestmark = pytest.mark.integration

MAX_AGE_S = 6


def good_carbon(_: Seen) -> Reply:
    return Reply(body={"data": {"carbon": 20, "time": _now()}})


def good_price(_: Seen) -> Reply:
    return Reply(body={"data": {"price": 0.01, "time": _now()}})


def _now(ahead: timedelta = timedelta(0)) -> str:
    return (datetime.now(UTC) + ahead).isoformat().replace("+00:00", "Z")


FAILURES: dict[str, tuple[Any, str]] = {
    "timeout": (lambda _: Reply(body={}, delay_seconds=4), "Timeout"),
    "401": (Reply(status=401, body={"error": "bad token"}), "Unauthorized"),
    "429": (Reply(status=429, headers={"Retry-After": "2"}), "RateLimited"),
    "500": (Reply(status=500, raw=b"internal error"), "ServerError"),
    "garbage": (Reply(raw=b"<html><title>Login</title></html>"), "Malformed"),
    "units-x1000": (
        lambda _: Reply(body={"data": {"carbon": 20_000, "time": _now()}}),
        "OutOfRange",
    ),
    "future": (
        lambda _: Reply(body={"data": {"carbon": 20, "time": _now(timedelta(hours=1))}}),
        "ClockSkew",
    ),
}


@pytest.fixture
def kyushu_http(kube: Kube, regions: list[str]) -> Iterator[FeedServer]:
    """Kyushu fed by the test's HTTP server; restored to its static signals afterwards."""
    with serve() as feed:
        feed.routes["/carbon"] = good_carbon
        feed.routes["/price"] = good_price
        signals = {
            "provider": "http",
            "static": None,
            "maxAgeSeconds": MAX_AGE_S,
            "refreshIntervalSeconds": 5,
            "http": {
                "timeoutSeconds": 1,
                "feeds": [
                    {
                        "metric": "carbon",
                        "url": f"{feed.url}/carbon",
                        "units": "gCO2PerKWh",
                        "valuePath": "data.carbon",
                        "timestampPath": "data.time",
                    },
                    {
                        "metric": "price",
                        "url": f"{feed.url}/price",
                        "units": "JPYPerKWh",
                        "valuePath": "data.price",
                        "timestampPath": "data.time",
                    },
                ],
            },
        }
        patch = json.dumps({"spec": {"signals": signals}})
        kube.kubectl("patch", "region", "kyushu", "--type=merge", "-p", patch)
        try:
            yield feed
        finally:
            _, carbon, price = REGION_SIGNALS["kyushu"]
            restore = {
                "provider": "static",
                "http": None,
                "static": {"carbonGramsPerKwh": carbon, "priceJpyPerKwh": price},
                "maxAgeSeconds": 900,
                "refreshIntervalSeconds": 60,
            }
            kube.kubectl(
                "patch",
                "region",
                "kyushu",
                "--type=merge",
                "-p",
                json.dumps({"spec": {"signals": restore}}),
            )


def fresh(kube: Kube) -> dict[str, Any]:
    conditions = (kube.get("region", "kyushu").get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c["type"] == "SignalsFresh"), {})


def test_every_feed_failure_makes_the_region_stale_and_moves_nothing(
    kube: Kube, kyushu_http: FeedServer, namespace: str
) -> None:
    feed, ns = kyushu_http, namespace
    wait_until(lambda: fresh(kube).get("status") == "True", timeout=60, message="fresh")
    kube.create(long_job("steady"), namespace=ns)
    wait_until(lambda: pods_regions(kube, ns, "steady") == {"kyushu"}, timeout=60, message="run")

    seen: dict[str, str] = {}
    for name, (reply, reason) in FAILURES.items():
        feed.routes["/carbon"] = reply

        def stale_with(reason: str = reason) -> dict[str, Any] | None:
            condition = fresh(kube)
            ok = condition.get("status") == "False" and condition.get("reason") == reason
            return condition if ok else None

        condition = wait_until(
            stale_with, timeout=45, message=f"{name}: SignalsFresh=False with {reason}"
        )
        seen[name] = condition["message"]
        record = status(kube, ns, "steady")
        assert record.get("migration") is None, (name, record.get("migration"))
        assert record.get("moves", 0) == 0
        feed.routes["/carbon"] = good_carbon
        wait_until(
            lambda: fresh(kube).get("status") == "True",
            timeout=45,
            message=f"fresh again after {name}",
        )

    assert pods_regions(kube, ns, "steady") == {"kyushu"}
    assert "stale" in seen["500"]
    assert set(seen) == set(FAILURES)
