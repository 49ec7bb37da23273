"""`kubectl wattbit` against the real local control plane, as a user runs it.

Each command runs the installed console script (``kubectl-wattbit``) as a subprocess with
``--kubeconfig`` pointing at the test cluster, in every output format (table, wide, json,
yaml), with a missing object (exit 1) and bad flags (exit 2). One namespace and scenario is
shared by the module (a Job wattbit placed in kyushu and one under a named policy), so the
whole file costs one placement.
Skipped on purpose: moves and waits (their records are covered by test_reconcile.py; the
plugin only prints them, tests/unit/test_kubectl_commands.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.kube import Kube, wait_until
from tests.integration.test_placement import training_job

pytestmark = pytest.mark.integration

SCRIPT = Path(sys.executable).parent / "kubectl-wattbit"
PLACED = ("RunNow", "Stay")
"""A released Job's record says RunNow, and Stay from the next pass on."""


@dataclass(frozen=True)
class Scenario:
    kube: Kube
    namespace: str

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "wattbit.kubectl"]
        return subprocess.run(
            [*command, "--kubeconfig", self.kube.kubeconfig, *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )

    def ok(self, *args: str) -> str:
        result = self.run(*args)
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr
        return result.stdout

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "-o", "json"))

    def yaml(self, *args: str) -> Any:
        return yaml.safe_load(self.ok(*args, "-o", "yaml"))

    def fails(self, code: int, *args: str) -> str:
        result = self.run(*args)
        assert result.returncode == code, (result.stdout, result.stderr)
        assert result.stdout == ""
        assert result.stderr.startswith("error: ")
        assert result.stderr.count("\n") == 1, result.stderr  # one line, no traceback
        return result.stderr


def running_job(name: str, annotations: dict[str, str]) -> dict[str, Any]:
    job = training_job(
        name, gpus=2, annotations={"wattbit.io/expected-duration": "2h", **annotations}
    )
    del job["spec"]["template"]["metadata"]["annotations"]["wattbit.io/simulated-duration"]
    return job


@pytest.fixture(scope="module")
def scenario(kube: Kube, regions: list[str]) -> Iterator[Scenario]:
    namespace = f"t-plugin-{uuid.uuid4().hex[:6]}"
    kube.kubectl("create", "namespace", namespace)
    try:
        yield _scenario(kube, namespace)
    finally:
        kube.kubectl("delete", "namespace", namespace, "--wait=true", "--timeout=90s", check=False)


def _scenario(kube: Kube, namespace: str) -> Scenario:
    kube.apply(
        {
            "apiVersion": "wattbit.io/v1alpha1",
            "kind": "PlacementPolicy",
            "metadata": {"name": "batch", "namespace": namespace},
            "spec": {"toleranceWindowMinutes": 0},
        }
    )
    kube.create(running_job("train", {}), namespace=namespace)
    kube.create(running_job("batch-run", {"wattbit.io/policy": "batch"}), namespace=namespace)

    def decided() -> bool:
        for record in ("job-train", "job-batch-run"):
            found = kube.find("workloadplacement", record, namespace)
            status = (found or {}).get("status") or {}
            if status.get("decision") not in PLACED or status.get("region") != "kyushu":
                return False
            if not status.get("receipt"):
                return False
        return True

    wait_until(decided, timeout=60, message="both Jobs to be placed, with their receipts")
    return Scenario(kube=kube, namespace=namespace)


def test_regions_in_every_format(scenario: Scenario) -> None:
    table = scenario.ok("regions")
    assert table.splitlines()[0].split()[:3] == ["NAME", "gCO2/kWh", "JPY/kWh"]
    assert {"hokkaido", "tokyo", "kyushu"} <= {line.split()[0] for line in table.splitlines()[1:4]}
    assert "AVAILABILITY" in scenario.ok("regions", "-o", "wide")
    items = {i["name"]: i for i in scenario.json("regions")["items"]}
    assert items["kyushu"]["carbonGramsPerKwh"] == 120
    assert items["kyushu"]["signalsFresh"] == "True"
    assert items["kyushu"]["gpus"]["total"] == 16
    assert len(items["kyushu"]["forecast"]["carbonGramsPerKwh"]) == 48
    assert scenario.yaml("regions")["kind"] == "RegionSummaryList"


def test_explain_in_every_format_and_a_missing_workload(scenario: Scenario) -> None:
    ns = ("-n", scenario.namespace)
    text = scenario.ok("explain", "train", *ns)
    for expected in (
        f"Job {scenario.namespace}/train",
        f"WorkloadPlacement {scenario.namespace}/job-train",
        "Reason:        ",
        "Region kyushu",
        "topology.kubernetes.io/region In (kyushu)",
        "Events:",
    ):
        assert expected in text
    assert "MOVE JPY" in scenario.ok("explain", "job/train", "-o", "wide", *ns)
    doc = scenario.json("explain", "job/train", *ns)
    assert doc["record"]["region"] == "kyushu"
    assert doc["region"]["name"] == "kyushu"
    assert any(e["object"] == "job/train" for e in doc["events"])
    assert scenario.yaml("explain", "train", *ns)["workload"]["kind"] == "Job"
    missing = scenario.fails(1, "explain", "nope", *ns)
    assert f'job or pod "nope" not found in namespace "{scenario.namespace}"' in missing


def test_plan_in_every_format_writes_nothing(scenario: Scenario) -> None:
    ns = ("-n", scenario.namespace)
    before = scenario.kube.kubectl("get", "workloadplacements", "-A", "-o", "name").stdout
    text = scenario.ok("plan", "--gpus", "4", "--duration", "2h", *ns)
    assert "Decision: RunNow" in text
    assert "Region:   kyushu" in text
    doc = scenario.json("plan", "--gpus", "4", "--duration", "90m", "--deadline", "36h", *ns)
    assert (doc["decision"], doc["region"], doc["written"]) == ("RunNow", "kyushu", False)
    # kyushu has 16 GPUs and the scenario's Jobs hold 4: 16 more do not fit there now.
    big = scenario.yaml("plan", "--gpus", "16", "--parallelism", "2", "--duration", "1h", *ns)
    kyushu = next(c for c in big["candidates"] if c["region"] == "kyushu")
    assert kyushu["gpusFree"] == 12
    assert (big["decision"], big["region"]) != ("RunNow", "kyushu")
    assert "Expected end" in scenario.ok(
        "plan", "--gpus", "1", "--duration", "1h", "--policy", "batch", "-o", "wide", *ns
    )
    after = scenario.kube.kubectl("get", "workloadplacements", "-A", "-o", "name").stdout
    assert before == after
    assert "placementpolicy" in scenario.fails(
        1, "plan", "--gpus", "1", "--duration", "1h", "--policy", "nope", *ns
    )
    assert "--duration" in scenario.fails(2, "plan", "--gpus", "1", "--duration", "soon", *ns)


def test_list_in_every_format_with_filters(scenario: Scenario) -> None:
    ns = ("-n", scenario.namespace)
    table = scenario.ok("list", *ns)
    assert table.splitlines()[0].split()[:3] == ["WORKLOAD", "REGION", "STATE"]
    assert "SAVED KGCO2" in table
    assert "job/train" in table
    assert "job/batch-run" in table
    assert "POLICY" in scenario.ok("list", "-o", "wide", *ns)
    assert scenario.namespace in scenario.ok("list", "-A")
    items = scenario.json("list", *ns)["items"]
    assert {(i["workload"], i["region"]) for i in items} == {
        ("train", "kyushu"),
        ("batch-run", "kyushu"),
    }
    assert {i["state"] for i in items} <= set(PLACED)
    only = scenario.yaml("list", "--policy", "batch", *ns)["items"]
    assert [i["workload"] for i in only] == ["batch-run"]
    empty = scenario.run("list", "--for", "tokyo", *ns)
    assert (empty.returncode, empty.stdout) == (0, "")
    assert "No managed workloads found" in empty.stderr


def test_receipt_in_every_format_and_csv(scenario: Scenario) -> None:
    ns = ("-n", scenario.namespace)
    text = scenario.ok("receipt", "train", *ns)
    for expected in ("Receipt of Job", "Counterfactual:", "Check:", "Hours:", "Assumptions:"):
        assert expected in text
    assert "ADJUSTED JPY" in scenario.ok("receipt", "job/train", "-o", "wide", *ns)
    doc = scenario.json("receipt", "train", *ns)
    assert doc["check"]["agrees"] is True
    assert {h["region"] for h in doc["hours"] + doc["open"]} == {"kyushu"}
    assert doc["stored"]["method"] == scenario.yaml("receipt", "train", *ns)["method"]
    rows = scenario.ok("receipt", "train", "--csv", *ns).splitlines()
    assert rows[0].startswith("ledger,start,end,region,gpus")
    assert len(rows) > 1
    assert "not found" in scenario.fails(1, "receipt", "nope", *ns)
    assert "--csv and -o" in scenario.fails(2, "receipt", "train", "--csv", "-o", "json", *ns)


def test_bad_usage_exits_2_with_one_line(scenario: Scenario) -> None:
    assert "--bogus" in scenario.fails(2, "regions", "--bogus")
    assert "invalid choice: 'xml'" in scenario.fails(2, "list", "-o", "xml")
    assert "does not apply to explain" in scenario.fails(2, "explain", "-A", "train")
    assert "does not exist" in scenario.fails(2, "--context", "nope", "regions")
