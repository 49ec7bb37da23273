"""Parse a workload's wattbit annotations and pod spec into plain typed values.

One job: text in, numbers with units out, or an ``InvalidWorkloadError`` whose CamelCase
reason and one-line message name the annotation or field, the bad value and what is
expected. It must not call the Kubernetes API, read the clock (``created_at`` is passed in)
or decide anything. A deadline before the workload was created is an error (a typo, or a
copied manifest); one that passes later, while it waits or runs, is the caller's to judge.

Formats, as documented in the README:
- durations: ``90m``, ``2h30m``, ``3600s``, ``1.5h``, ``2d12h`` or plain seconds (``3600``);
- quantities: Kubernetes ``resource.Quantity`` text (``8``, ``2k``, ``40Gi``, ``1.5Ti``, ``1e3``);
- deadlines: RFC 3339 with a zone (``2026-12-03T08:00:00+09:00``) or a duration after creation.
"""

from __future__ import annotations

import decimal
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any, Final, TypeVar

from wattbit.errors import InvalidWorkloadError
from wattbit.k8s import names

_T = TypeVar("_T")


class HintReason(StrEnum):
    """Reasons of the ``InvalidWorkloadError`` raised here (a workload is held with them)."""

    INVALID_EXPECTED_DURATION = "InvalidExpectedDuration"
    INVALID_GPU_POWER = "InvalidGpuPower"
    INVALID_DEADLINE = "InvalidDeadline"
    INVALID_CHECKPOINT_SIZE = "InvalidCheckpointSize"
    INVALID_CHECKPOINT_DURATION = "InvalidCheckpointDuration"
    INVALID_GPU_REQUEST = "InvalidGpuRequest"
    INVALID_TERMINATION_GRACE_PERIOD = "InvalidTerminationGracePeriod"


MAX_DURATION_S: Final = 366 * 86400.0
"""Longest duration accepted anywhere: a year and a day; more is a typo, not a plan."""

MAX_GPUS_PER_QUANTITY: Final = 256
"""Largest ``nvidia.com/gpu`` quantity of one container. A pod's GPUs sit on one node and
the largest nodes carry 8 to 16; more is a typo (``2k`` for 2, ``1e9``), which would
otherwise wait for capacity that never comes."""

MAX_GPU_POWER_WATTS: Final = 5000.0
"""Largest power of one GPU; today's largest accelerators draw about a fifth of it."""

MAX_CHECKPOINT_SIZE_BYTES: Final = 10**16
"""Largest checkpoint: 10 PB."""

DEFAULT_TERMINATION_GRACE_S: Final = 30.0
"""Kubernetes' default ``terminationGracePeriodSeconds``."""

_DURATION_EXAMPLES = "e.g. 90m, 2h30m, 1.5h, 2d or 3600 (seconds)"
_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)([dhms])")
_SECONDS_PER_UNIT = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}
_PLAIN_SECONDS = re.compile(r"[0-9]+(?:\.[0-9]+)?")

# resource.Quantity's grammar (k8s.io/apimachinery/pkg/api/resource/quantity.go). The
# exponent branch comes before the decimal SI one, so "1E3" is 1000 and "1E" is an exa.
_QUANTITY = re.compile(
    r"(?P<number>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"(?:(?P<binary>[KMGTPE]i)|[eE](?P<exponent>[+-]?[0-9]+)|(?P<decimal>[numkMGTPE]?))"
)
_BINARY_POWERS = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL_SUFFIXES = ("n", "u", "m", "", "k", "M", "G", "T", "P", "E")
_DECIMAL_EXPONENTS = {suffix: 3 * (i - 3) for i, suffix in enumerate(_DECIMAL_SUFFIXES)}
"""n = 1e-9, u = 1e-6, m = 1e-3, "" = 1, k = 1e3, ... E = 1e18."""
_MAX_QUANTITY_EXPONENT = 1000
"""Bound on ``e<n>`` so that no text can make the decimal arithmetic overflow."""

_PLAIN_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?"
    r"(?:[Zz]|[+-][0-9]{2}:[0-9]{2})"
)


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkloadHints:
    """What a workload tells wattbit about itself, parsed and with defaults applied."""

    gpus: int
    """GPUs of the whole workload: GPUs per pod times pods."""
    power_kw_per_gpu: float
    expected_duration_s: float
    deadline: datetime | None
    """Time by which the workload must have completed (tz-aware, UTC); None when unset."""
    checkpoint_size_gb: float
    """Decimal gigabytes (1 GB = 1e9 bytes); 0 when unset (no checkpoint to move)."""
    checkpoint_duration_s: float | None
    """Time to write a checkpoint; None when unset (the caller estimates it from the size)."""
    policy_name: str | None
    termination_grace_s: float


def parse_duration_seconds(text: str) -> float:
    """Parse ``"2h30m"``, ``"90m"``, ``"45s"``, ``"1.5h"``, ``"2d12h"`` or plain seconds.

    Raises ValueError unless the result is positive, finite and at most 366 days.
    """
    stripped = text.strip()
    if stripped.startswith("-"):
        raise ValueError(f"duration must be positive: {text!r} ({_DURATION_EXAMPLES})")
    if _PLAIN_SECONDS.fullmatch(stripped):
        seconds = float(stripped)
    else:
        parts = _DURATION_PART.findall(stripped)
        if not parts or "".join(n + u for n, u in parts) != stripped:
            raise ValueError(f"not a duration: {text!r} ({_DURATION_EXAMPLES})")
        seconds = sum(float(n) * _SECONDS_PER_UNIT[u] for n, u in parts)
    if seconds <= 0:
        raise ValueError(f"duration must be positive: {text!r} ({_DURATION_EXAMPLES})")
    if not math.isfinite(seconds) or seconds > MAX_DURATION_S:
        raise ValueError(f"duration too long: {text!r} (at most 366 days, {_DURATION_EXAMPLES})")
    return seconds


def parse_quantity(text: str) -> Decimal:
    """The exact value of a Kubernetes quantity (``"40Gi"``, ``"2k"``, ``"1.5"``, ``"1e3"``).

    Surrounding whitespace is ignored; anything else outside the grammar raises ValueError.
    """
    match = _QUANTITY.fullmatch(text.strip())
    if match is None:
        raise ValueError(
            f"not a Kubernetes quantity: {text!r} (expected e.g. 8, 2k, 40Gi, 1.5Ti or 1e3)"
        )
    number = match["number"]
    # Exact arithmetic: enough digits for the mantissa times 1024**6 (19 digits).
    context = decimal.Context(prec=len(number) + 24, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN)
    value = Decimal(number)
    if match["binary"] is not None:
        return context.multiply(value, Decimal(1024 ** _BINARY_POWERS[match["binary"]]))
    if match["exponent"] is not None:
        significant = match["exponent"].lstrip("+-").lstrip("0")
        # Length first: int() of thousands of digits is itself refused (or slow).
        exponent = int(match["exponent"]) if len(significant) < 6 else 10**6
        if abs(exponent) > _MAX_QUANTITY_EXPONENT:
            raise ValueError(f"quantity exponent out of range: {text!r}")
    else:
        exponent = _DECIMAL_EXPONENTS[match["decimal"]]
    return context.scaleb(value, exponent)


def parse_gpu_quantity(value: object, *, field: str) -> int:
    """GPUs of an ``nvidia.com/gpu`` request or limit: a whole quantity in [0, 256]."""
    gpus: Decimal | None = None
    if isinstance(value, str):
        try:
            gpus = parse_quantity(value)
        except ValueError:
            gpus = None
    elif isinstance(value, int) and not isinstance(value, bool):
        gpus = Decimal(value)
    if gpus is None or gpus != gpus.to_integral_value() or not 0 <= gpus <= MAX_GPUS_PER_QUANTITY:
        raise InvalidWorkloadError(
            HintReason.INVALID_GPU_REQUEST,
            f"{field}={value!r}: expected a whole number of GPUs from 0 to "
            f"{MAX_GPUS_PER_QUANTITY} (a Kubernetes quantity such as 8)",
        )
    return int(gpus)


def gpus_per_pod(pod_spec: Mapping[str, Any]) -> int:
    """GPUs one pod asks for: the sum over containers, or the largest init container.

    A container's limit counts, else its request. An unparseable or absurd quantity raises
    ``InvalidWorkloadError`` (``InvalidGpuRequest``) naming the container's field.
    """

    def gpus(kind: str, index: int, container: Mapping[str, Any]) -> int:
        resources = container.get("resources") or {}
        for where in ("limits", "requests"):
            value = (resources.get(where) or {}).get(names.GPU_RESOURCE)
            if value is not None:
                field = f"{kind}[{index}].resources.{where}[{names.GPU_RESOURCE}]"
                return parse_gpu_quantity(value, field=field)
        return 0

    containers = enumerate(pod_spec.get("containers") or [])
    init_containers = enumerate(pod_spec.get("initContainers") or [])
    regular = sum(gpus("containers", i, c) for i, c in containers)
    init = max((gpus("initContainers", i, c) for i, c in init_containers), default=0)
    return max(regular, init)


def parse_deadline(text: str, *, created_at: datetime) -> datetime:
    """The deadline in UTC: an RFC 3339 time with a zone, or a duration after ``created_at``.

    A time before ``created_at`` raises ``InvalidDeadline``; one after it is returned even
    if it has passed since (judging that needs the clock, which is the caller's).
    ``created_at`` must be timezone-aware.
    """
    if created_at.tzinfo is None:
        raise ValueError(f"created_at must be timezone-aware: {created_at!r}")
    stripped = text.strip()
    expected = (
        "expected an RFC 3339 time with a zone (2026-12-03T08:00:00+09:00 or "
        "2026-12-03T00:00:00Z) or a duration after creation (36h, 2d)"
    )
    if _RFC3339.fullmatch(stripped):
        try:
            # fromisoformat (3.11) accepts RFC 3339 once its lower-case letters are upper.
            deadline = datetime.fromisoformat(stripped.upper()).astimezone(UTC)
        except (ValueError, OverflowError) as error:
            message = f"{names.ANNOTATION_DEADLINE}={text!r}: not a valid time; {expected}"
            raise InvalidWorkloadError(HintReason.INVALID_DEADLINE, message) from error
        if deadline <= created_at:
            created = created_at.astimezone(UTC).isoformat()
            message = (
                f"{names.ANNOTATION_DEADLINE}={text!r} is already past: it is before the "
                f"workload was created ({created}) and can never be met; give a later time "
                "or a duration (36h)"
            )
            raise InvalidWorkloadError(HintReason.INVALID_DEADLINE, message)
        return deadline
    try:
        return (created_at + timedelta(seconds=parse_duration_seconds(stripped))).astimezone(UTC)
    except (ValueError, OverflowError):
        pass
    if _is_naive_time(stripped):
        message = f"{names.ANNOTATION_DEADLINE}={text!r} has no time zone; {expected}"
    else:
        message = f"{names.ANNOTATION_DEADLINE}={text!r}: {expected}"
    raise InvalidWorkloadError(HintReason.INVALID_DEADLINE, message)


def _is_naive_time(text: str) -> bool:
    try:
        return datetime.fromisoformat(text).tzinfo is None
    except ValueError:
        return False


def parse_checkpoint_size_gb(text: str) -> float:
    """Checkpoint size in decimal GB from a quantity in bytes (``"40Gi"``, ``"500G"``, ``"0"``)."""
    try:
        size_bytes: Decimal | None = parse_quantity(text)
    except ValueError:
        size_bytes = None
    if size_bytes is None or not 0 <= size_bytes <= MAX_CHECKPOINT_SIZE_BYTES:
        raise InvalidWorkloadError(
            HintReason.INVALID_CHECKPOINT_SIZE,
            f"{names.ANNOTATION_CHECKPOINT_SIZE}={text!r}: expected bytes as a Kubernetes "
            "quantity from 0 to 10P, e.g. 40Gi, 500G or 1.5Ti",
        )
    return float(size_bytes / Decimal(10**9))


def parse_gpu_power_watts(text: str) -> float:
    """Power of one GPU in watts, in (0, 5000] (``"700"``, ``"350.5"``)."""
    stripped = text.strip()
    watts = float(stripped) if _PLAIN_NUMBER.fullmatch(stripped) else math.nan
    # NaN fails the comparison, so text that is no number lands here too.
    if not 0 < watts <= MAX_GPU_POWER_WATTS:
        raise InvalidWorkloadError(
            HintReason.INVALID_GPU_POWER,
            f"{names.ANNOTATION_GPU_POWER_WATTS}={text!r}: expected watts in (0, 5000], e.g. 700",
        )
    return watts


def read_hints(
    *,
    pod_spec: Mapping[str, Any],
    pods: int,
    annotations: Mapping[str, str],
    created_at: datetime,
    default_gpu_power_watts: float,
    default_expected_duration_s: float,
) -> WorkloadHints:
    """A workload's hints, or ``InvalidWorkloadError`` for the first bad one.

    Order: GPU requests, expected duration, GPU power, deadline, checkpoint size, checkpoint
    duration, termination grace period.
    """
    hints, errors = read_hints_all(
        pod_spec=pod_spec,
        pods=pods,
        annotations=annotations,
        created_at=created_at,
        default_gpu_power_watts=default_gpu_power_watts,
        default_expected_duration_s=default_expected_duration_s,
    )
    if hints is None:
        raise errors[0]
    return hints


def read_hints_all(
    *,
    pod_spec: Mapping[str, Any],
    pods: int,
    annotations: Mapping[str, str],
    created_at: datetime,
    default_gpu_power_watts: float,
    default_expected_duration_s: float,
    pod_sets: Sequence[tuple[Mapping[str, Any], int]] = (),
) -> tuple[WorkloadHints | None, tuple[InvalidWorkloadError, ...]]:
    """A workload's hints and no errors, or None and every bad hint, in ``read_hints`` order.

    `pod_sets` (pod spec, pods) replaces `pod_spec` x `pods` for kinds with several pod
    groups (a JobSet's replicated Jobs): GPUs are summed, and the shortest grace period of
    any group bounds a checkpoint."""
    errors: list[InvalidWorkloadError] = []
    groups = tuple(pod_sets) or ((pod_spec, pods),)

    def attempt(parse: Callable[[], _T], fallback: _T) -> _T:
        try:
            return parse()
        except InvalidWorkloadError as error:
            errors.append(error)
            return fallback

    def hint(name: str, parse: Callable[[str], _T]) -> _T | None:
        text = annotations.get(name)
        return None if text is None else attempt(lambda: parse(text), None)

    gpus = attempt(lambda: sum(gpus_per_pod(spec) * count for spec, count in groups), 0)
    expected_duration_s = hint(
        names.ANNOTATION_EXPECTED_DURATION,
        _duration_hint(names.ANNOTATION_EXPECTED_DURATION, HintReason.INVALID_EXPECTED_DURATION),
    )
    power_watts = hint(names.ANNOTATION_GPU_POWER_WATTS, parse_gpu_power_watts)
    deadline = hint(
        names.ANNOTATION_DEADLINE, lambda text: parse_deadline(text, created_at=created_at)
    )
    checkpoint_size_gb = hint(names.ANNOTATION_CHECKPOINT_SIZE, parse_checkpoint_size_gb)
    checkpoint_duration_s = hint(
        names.ANNOTATION_CHECKPOINT_DURATION,
        _duration_hint(
            names.ANNOTATION_CHECKPOINT_DURATION, HintReason.INVALID_CHECKPOINT_DURATION
        ),
    )
    termination_grace_s = attempt(
        lambda: min(_termination_grace_s(spec) for spec, _ in groups), 0.0
    )
    if errors:
        return None, tuple(errors)
    policy_name = (annotations.get(names.ANNOTATION_POLICY) or "").strip() or None
    return WorkloadHints(
        gpus=gpus,
        power_kw_per_gpu=(default_gpu_power_watts if power_watts is None else power_watts) / 1000,
        expected_duration_s=(
            default_expected_duration_s if expected_duration_s is None else expected_duration_s
        ),
        deadline=deadline,
        checkpoint_size_gb=0.0 if checkpoint_size_gb is None else checkpoint_size_gb,
        checkpoint_duration_s=checkpoint_duration_s,
        policy_name=policy_name,
        termination_grace_s=termination_grace_s,
    ), ()


def _duration_hint(name: str, reason: HintReason) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            return parse_duration_seconds(text)
        except ValueError as error:
            raise InvalidWorkloadError(reason, f"{name}: {error}") from error

    return parse


def _termination_grace_s(pod_spec: Mapping[str, Any]) -> float:
    value = pod_spec.get("terminationGracePeriodSeconds")
    if value is None:
        return DEFAULT_TERMINATION_GRACE_S
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidWorkloadError(
            HintReason.INVALID_TERMINATION_GRACE_PERIOD,
            f"terminationGracePeriodSeconds={value!r}: expected whole seconds, 0 or more",
        )
    return float(value)
