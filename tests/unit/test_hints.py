"""Parsing workload hints and pod specs into typed values (wattbit.k8s.hints).

Covers, good and bad for each parser:
- durations: h/m/s/d units, fractions, plain seconds, whitespace; empty, signs, zero,
  unknown units, trailing numbers, above 366 days, non-finite;
- quantities: plain, binary and decimal suffixes, exponents, signs, fractions, ``E`` as exa
  vs exponent; junk, bare suffixes, unknown suffixes, runaway exponents;
- GPU quantities: strings and ints, ``1e2``; fractions, negatives, too large (``2k``,
  ``1e9``: a pod's GPUs sit on one node), bools, floats, None; the message names the field;
- GPUs per pod: limits over requests, containers summed, largest init container, the
  failing container's field in the message;
- deadlines: RFC 3339 with ``Z`` or an offset (returned in UTC), durations after creation;
  naive times, words, bare dates;
- checkpoint sizes (bytes to decimal GB, zero allowed) and GPU power (0, 5000];
- ``read_hints``: defaults, every annotation, the reason of each bad hint, the first bad hint
  wins, ``read_hints_all`` lists every one; a deadline before creation is an error, one
  after it is not (even if it has passed since);
- properties: integer quantities round-trip through every suffix; on arbitrary text every
  parser returns or raises only ValueError / InvalidWorkloadError.
Skipped on purpose: how handlers turn the errors into conditions (tests/integration).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wattbit.errors import InvalidWorkloadError
from wattbit.k8s import names
from wattbit.k8s.hints import (
    WorkloadHints,
    gpus_per_pod,
    parse_checkpoint_size_gb,
    parse_deadline,
    parse_duration_seconds,
    parse_gpu_power_watts,
    parse_gpu_quantity,
    parse_quantity,
    read_hints,
    read_hints_all,
)

CREATED_AT = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)
GPU = names.GPU_RESOURCE
FIELD = "containers[0].resources.limits[nvidia.com/gpu]"


# ---------------------------------------------------------------- durations


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90m", 5400),
        ("2h30m", 9000),
        ("3600s", 3600),
        ("1.5h", 5400),
        ("3600", 3600),
        ("1d", 86400),
        ("2d12h", 216000),
        ("1h1m1s", 3661),
        (" 45s ", 45),
        ("0.5", 0.5),
        ("366d", 366 * 86400),
    ],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration_seconds(text) == seconds


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("abc", "not a duration"),
        ("", "not a duration"),
        ("-5h", "must be positive"),
        ("+5h", "not a duration"),
        ("0", "must be positive"),
        ("0s", "must be positive"),
        ("0h0m", "must be positive"),
        ("5w", "not a duration"),
        ("10m5", "not a duration"),
        ("1.h", "not a duration"),
        ("h", "not a duration"),
        ("1 h", "not a duration"),
        ("inf", "not a duration"),
        ("nan", "not a duration"),
        ("1e3", "not a duration"),
        ("367d", "too long"),
        ("999999999999h", "too long"),
        ("9" * 400, "too long"),
        ("٣h", "not a duration"),  # Arabic-Indic digit three: digits are ASCII only
    ],
)
def test_bad_durations_are_rejected(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem) as caught:
        parse_duration_seconds(text)
    assert repr(text) in str(caught.value)


# ---------------------------------------------------------------- quantities


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("8", 8),
        ("2k", 2000),
        ("40Gi", 40 * 2**30),
        ("1.5Ti", Decimal("1.5") * 2**40),
        ("500M", 500 * 10**6),
        ("27T", 27 * 10**12),
        ("1E", 10**18),
        ("1E3", 1000),
        ("1e3", 1000),
        ("5e-1", Decimal("0.5")),
        ("1e+2", 100),
        ("100m", Decimal("0.1")),
        ("250u", Decimal("0.00025")),
        ("3n", Decimal("3e-9")),
        ("-1", -1),
        ("+2", 2),
        (".5", Decimal("0.5")),
        ("1.", 1),
        ("1Ei", 2**60),
        (" 4Ki ", 4096),
    ],
)
def test_quantities(text: str, value: Decimal | int) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize(
    "text",
    ["", "abc", "Gi", "1Gb", "1KiB", "1K", "1mi", "1e", "1e1.5", "1 Gi", ".", "--1", "1e1001"],
)
def test_bad_quantities_are_rejected(text: str) -> None:
    with pytest.raises(ValueError, match="quantity"):
        parse_quantity(text)


# ---------------------------------------------------------------- GPUs


@pytest.mark.parametrize(
    ("value", "gpus"),
    [("2", 2), (2, 2), ("8", 8), ("0", 0), (0, 0), ("1e2", 100), ("256", 256), ("4.0", 4)],
    ids=repr,
)
def test_gpu_quantities(value: object, gpus: int) -> None:
    assert parse_gpu_quantity(value, field=FIELD) == gpus


@pytest.mark.parametrize(
    "value",
    ["abc", "-1", -1, "0.5", "1e9", "2k", "257", 200000, "", "1Gi", True, 2.0, None, [2]],
    ids=repr,
)
def test_bad_gpu_quantities_name_the_field(value: object) -> None:
    with pytest.raises(InvalidWorkloadError) as caught:
        parse_gpu_quantity(value, field=FIELD)
    assert caught.value.reason == "InvalidGpuRequest"
    assert caught.value.message.startswith(f"{FIELD}={value!r}: expected a whole number")


def container(value: object, where: str = "limits") -> dict[str, Any]:
    return {"name": "c", "resources": {where: {GPU: value}}}


def test_gpus_per_pod_prefers_limits_sums_containers_and_takes_largest_init() -> None:
    both = {"name": "c", "resources": {"limits": {GPU: "2"}, "requests": {GPU: "3"}}}
    assert gpus_per_pod({"containers": [both, container(1, "requests"), {"name": "x"}]}) == 3
    spec = {"containers": [container("2")], "initContainers": [container("4"), container(1)]}
    assert gpus_per_pod(spec) == 4
    assert gpus_per_pod({}) == 0


def test_gpus_per_pod_names_the_bad_container_field() -> None:
    spec = {"containers": [container("2")], "initContainers": [container("x", "requests")]}
    with pytest.raises(InvalidWorkloadError) as caught:
        gpus_per_pod(spec)
    assert caught.value.message.startswith("initContainers[0].resources.requests[nvidia.com/gpu]")


# ---------------------------------------------------------------- deadlines


@pytest.mark.parametrize(
    ("text", "deadline"),
    [
        ("2026-12-03T08:00:00+09:00", datetime(2026, 12, 2, 23, 0, tzinfo=UTC)),
        ("2026-12-03T00:00:00Z", datetime(2026, 12, 3, 0, 0, tzinfo=UTC)),
        ("2026-12-03t00:00:00.5z", datetime(2026, 12, 3, 0, 0, 0, 500000, tzinfo=UTC)),
        ("36h", CREATED_AT + timedelta(hours=36)),
        ("2d", CREATED_AT + timedelta(days=2)),
        # After creation but passed since: the caller's to judge.
        ("2026-12-02T00:00:01Z", datetime(2026, 12, 2, 0, 0, 1, tzinfo=UTC)),
    ],
)
def test_deadlines(text: str, deadline: datetime) -> None:
    parsed = parse_deadline(text, created_at=CREATED_AT)
    assert parsed == deadline
    assert parsed.tzinfo is UTC


def test_a_duration_deadline_counts_from_creation_in_any_zone() -> None:
    tokyo = CREATED_AT.astimezone(timezone(timedelta(hours=9)))
    assert parse_deadline("1h", created_at=tokyo) == CREATED_AT + timedelta(hours=1)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("yesterday", ": expected an RFC 3339 time"),
        ("", ": expected an RFC 3339 time"),
        ("2026-12-03T08:00:00", " has no time zone"),
        ("2026-12-03", " has no time zone"),
        ("2026-13-03T08:00:00Z", ": not a valid time"),
        ("2026-12-03T08:00:00+0900", ": expected an RFC 3339 time"),
        ("-36h", ": expected an RFC 3339 time"),
        ("400d", ": expected an RFC 3339 time"),
    ],
)
def test_bad_deadlines_are_rejected(text: str, problem: str) -> None:
    with pytest.raises(InvalidWorkloadError) as caught:
        parse_deadline(text, created_at=CREATED_AT)
    assert caught.value.reason == "InvalidDeadline"
    assert caught.value.message.startswith(f"{names.ANNOTATION_DEADLINE}={text!r}{problem}")


@pytest.mark.parametrize("text", ["2020-01-01T00:00:00Z", "2026-12-01T00:00:00Z",
                                  "2026-12-01T08:59:59+09:00"])  # fmt: skip
def test_a_deadline_before_creation_is_rejected(text: str) -> None:
    with pytest.raises(InvalidWorkloadError) as caught:
        parse_deadline(text, created_at=CREATED_AT)
    assert caught.value.reason == "InvalidDeadline"
    assert caught.value.message.startswith(
        f"{names.ANNOTATION_DEADLINE}={text!r} is already past: it is before the workload "
        "was created"
    )


def test_a_naive_creation_time_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        parse_deadline("1h", created_at=CREATED_AT.replace(tzinfo=None))


# ---------------------------------------------------------------- checkpoint size, GPU power


@pytest.mark.parametrize(
    ("text", "gigabytes"),
    [
        ("40Gi", 40 * 2**30 / 1e9),
        ("27T", 27000.0),
        ("500G", 500.0),
        ("1.5Ti", 1.5 * 2**40 / 1e9),
        ("0", 0.0),
        ("2000000000", 2.0),
        ("10P", 1e7),
    ],
)
def test_checkpoint_sizes(text: str, gigabytes: float) -> None:
    assert parse_checkpoint_size_gb(text) == pytest.approx(gigabytes, rel=1e-12)


@pytest.mark.parametrize("text", ["lots", "-1Gi", "11P", "1e17", "", "40GB"])
def test_bad_checkpoint_sizes_are_rejected(text: str) -> None:
    with pytest.raises(InvalidWorkloadError) as caught:
        parse_checkpoint_size_gb(text)
    assert caught.value.reason == "InvalidCheckpointSize"
    assert caught.value.message.startswith(f"{names.ANNOTATION_CHECKPOINT_SIZE}={text!r}: ")


@pytest.mark.parametrize(
    ("text", "watts"), [("700", 700.0), ("350.5", 350.5), ("5000", 5000.0), ("1e3", 1000.0)]
)
def test_gpu_power(text: str, watts: float) -> None:
    assert parse_gpu_power_watts(text) == watts


@pytest.mark.parametrize("text", ["0", "-1", "1e9", "5000.1", "lots", "", "inf", "nan", "1_000"])
def test_bad_gpu_power_is_rejected(text: str) -> None:
    with pytest.raises(InvalidWorkloadError) as caught:
        parse_gpu_power_watts(text)
    assert caught.value.reason == "InvalidGpuPower"
    assert caught.value.message == (
        f"{names.ANNOTATION_GPU_POWER_WATTS}={text!r}: expected watts in (0, 5000], e.g. 700"
    )


# ---------------------------------------------------------------- read_hints


def read(
    annotations: dict[str, str], pod_spec: dict[str, Any] | None = None, pods: int = 2
) -> WorkloadHints:
    return read_hints(
        pod_spec={"containers": [container("4")]} if pod_spec is None else pod_spec,
        pods=pods,
        annotations=annotations,
        created_at=CREATED_AT,
        default_gpu_power_watts=700,
        default_expected_duration_s=3600,
    )


def test_defaults_apply_when_no_hint_is_given() -> None:
    assert read({}) == WorkloadHints(
        gpus=8,
        power_kw_per_gpu=0.7,
        expected_duration_s=3600,
        deadline=None,
        checkpoint_size_gb=0.0,
        checkpoint_duration_s=None,
        policy_name=None,
        termination_grace_s=30.0,
    )


def test_every_hint_is_read() -> None:
    hints = read(
        {
            names.ANNOTATION_EXPECTED_DURATION: "2h30m",
            names.ANNOTATION_GPU_POWER_WATTS: "400",
            names.ANNOTATION_DEADLINE: "2d",
            names.ANNOTATION_CHECKPOINT_SIZE: "500G",
            names.ANNOTATION_CHECKPOINT_DURATION: "90s",
            names.ANNOTATION_POLICY: "green",
            "unrelated.io/x": "ignored",
        },
        pod_spec={"containers": [container("8")], "terminationGracePeriodSeconds": 120},
        pods=3,
    )
    assert hints == WorkloadHints(
        gpus=24,
        power_kw_per_gpu=0.4,
        expected_duration_s=9000,
        deadline=CREATED_AT + timedelta(days=2),
        checkpoint_size_gb=500.0,
        checkpoint_duration_s=90,
        policy_name="green",
        termination_grace_s=120.0,
    )


def test_an_empty_policy_name_means_none_and_a_zero_grace_period_is_kept() -> None:
    hints = read(
        {names.ANNOTATION_POLICY: " "},
        pod_spec={"containers": [], "terminationGracePeriodSeconds": 0},
    )
    assert (hints.policy_name, hints.termination_grace_s, hints.gpus) == (None, 0.0, 0)


@pytest.mark.parametrize(
    ("annotations", "pod_spec", "reason", "named"),
    [
        (
            {names.ANNOTATION_EXPECTED_DURATION: "forever"},
            None,
            "InvalidExpectedDuration",
            names.ANNOTATION_EXPECTED_DURATION,
        ),
        ({names.ANNOTATION_GPU_POWER_WATTS: "0"}, None, "InvalidGpuPower", "gpu-power-watts"),
        ({names.ANNOTATION_DEADLINE: "tomorrow"}, None, "InvalidDeadline", "deadline"),
        ({names.ANNOTATION_CHECKPOINT_SIZE: "lots"}, None, "InvalidCheckpointSize", "lots"),
        (
            {names.ANNOTATION_CHECKPOINT_DURATION: "0s"},
            None,
            "InvalidCheckpointDuration",
            names.ANNOTATION_CHECKPOINT_DURATION,
        ),
        ({}, {"containers": [container("0.5")]}, "InvalidGpuRequest", "containers[0]"),
        (
            {},
            {"terminationGracePeriodSeconds": -1},
            "InvalidTerminationGracePeriod",
            "terminationGracePeriodSeconds=-1",
        ),
    ],
)
def test_each_bad_hint_has_its_reason(
    annotations: dict[str, str], pod_spec: dict[str, Any] | None, reason: str, named: str
) -> None:
    with pytest.raises(InvalidWorkloadError) as caught:
        read(annotations, pod_spec=pod_spec)
    assert caught.value.reason == reason
    assert named in caught.value.message
    assert "\n" not in caught.value.message


BAD_DURATION_AND_POWER = {
    names.ANNOTATION_GPU_POWER_WATTS: "-1",
    names.ANNOTATION_EXPECTED_DURATION: "-5h",
}


def test_the_first_bad_hint_wins_and_read_hints_all_lists_every_one() -> None:
    with pytest.raises(InvalidWorkloadError) as caught:
        read(BAD_DURATION_AND_POWER, pod_spec={"containers": [container("abc")]})
    assert caught.value.reason == "InvalidGpuRequest"
    hints, errors = read_hints_all(
        pod_spec={"containers": [container("abc")]},
        pods=1,
        annotations=BAD_DURATION_AND_POWER,
        created_at=CREATED_AT,
        default_gpu_power_watts=700,
        default_expected_duration_s=3600,
    )
    assert hints is None
    assert [e.reason for e in errors] == [
        "InvalidGpuRequest",
        "InvalidExpectedDuration",
        "InvalidGpuPower",
    ]


# ---------------------------------------------------------------- properties

BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
DECIMAL = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18}


@given(st.integers(min_value=0, max_value=10**30), st.sampled_from(sorted({**BINARY, **DECIMAL})))
def test_integer_quantities_round_trip(number: int, suffix: str) -> None:
    assert parse_quantity(f"{number}{suffix}") == number * {**BINARY, **DECIMAL}[suffix]


@given(st.integers(min_value=-(10**30), max_value=10**30), st.integers(-30, 30))
def test_exponent_quantities_round_trip(number: int, exponent: int) -> None:
    # Fractions are exact; Decimal arithmetic in the default context would round to 28 digits.
    assert Fraction(parse_quantity(f"{number}e{exponent}")) == number * Fraction(10) ** exponent


PARSERS: dict[str, Callable[[str], object]] = {
    "duration": parse_duration_seconds,
    "quantity": parse_quantity,
    "gpu": lambda text: parse_gpu_quantity(text, field=FIELD),
    "deadline": lambda text: parse_deadline(text, created_at=CREATED_AT),
    "checkpoint": parse_checkpoint_size_gb,
    "power": parse_gpu_power_watts,
}


@pytest.mark.parametrize("parser", sorted(PARSERS))
@given(text=st.text())
def test_parsers_fail_only_with_their_own_errors(parser: str, text: str) -> None:
    try:
        result = PARSERS[parser](text)
    except (ValueError, InvalidWorkloadError):
        return
    if isinstance(result, float):
        assert math.isfinite(result)


@given(text=st.from_regex(r"[0-9.+\-eEkKMGTPinum]{1,12}", fullmatch=True))
def test_quantity_like_text_fails_only_with_value_error(text: str) -> None:
    with contextlib.suppress(ValueError):
        parse_quantity(text)
