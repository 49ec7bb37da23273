"""Reading workload hints and writing region affinity (wattbit.k8s.workloads).

Covers: duration formats and errors; GPU counting across containers and init
containers; Job parallelism vs completions (hints themselves: test_hints.py); affinity
merge keeps user terms, replaces an earlier region, and creates affinity when absent.
"""

from __future__ import annotations

from typing import Any

import pytest

from wattbit.k8s import names
from wattbit.k8s.hints import gpus_per_pod, parse_duration_seconds
from wattbit.k8s.objects import job_pod_count
from wattbit.k8s.workloads import with_region_affinity

REGION = names.REGION_LABEL


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90m", 5400), ("2h30m", 9000), ("45s", 45), ("3600", 3600), ("1.5h", 5400), ("5d", 432000)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration_seconds(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "5w", "10m5", "0", "-5m"])
def test_bad_durations_are_rejected(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration_seconds(text)


def gpu_container(n: int, where: str = "limits") -> dict[str, object]:
    return {"name": "c", "resources": {where: {names.GPU_RESOURCE: str(n)}}}


def test_gpus_per_pod_sums_containers_and_takes_largest_init() -> None:
    spec = {
        "containers": [gpu_container(2), gpu_container(1, "requests"), {"name": "x"}],
        "initContainers": [gpu_container(4)],
    }
    assert gpus_per_pod(spec) == 4
    assert gpus_per_pod({"containers": [gpu_container(2), gpu_container(1)]}) == 3


def test_job_pod_count() -> None:
    assert job_pod_count({}) == 1
    assert job_pod_count({"parallelism": 4}) == 4
    assert job_pod_count({"parallelism": 4, "completions": 2}) == 2


def test_affinity_is_created_when_absent() -> None:
    affinity = with_region_affinity(None, {REGION: "kyushu"})
    terms = affinity["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"
    ]
    assert terms == [
        {"matchExpressions": [{"key": REGION, "operator": "In", "values": ["kyushu"]}]}
    ]


def test_affinity_keeps_user_terms_and_replaces_an_earlier_region() -> None:
    user = {"key": "gpu.product", "operator": "In", "values": ["H100", "H200"]}
    original: dict[str, Any] = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchExpressions": [user]},
                    {"matchExpressions": [], "matchFields": [{"key": "f"}]},
                ]
            }
        },
        "podAffinity": {"x": 1},
    }
    first = with_region_affinity(original, {REGION: "tokyo"})
    second = with_region_affinity(first, {REGION: "kyushu"})
    terms = second["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"
    ]
    ours = {"key": REGION, "operator": "In", "values": ["kyushu"]}
    assert terms[0]["matchExpressions"] == [user, ours]
    assert terms[1]["matchExpressions"] == [ours]
    assert terms[1]["matchFields"] == [{"key": "f"}]
    assert second["podAffinity"] == {"x": 1}
    # the input is not modified
    assert original["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"
    ][0]["matchExpressions"] == [user]
