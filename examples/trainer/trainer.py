"""A toy trainer that follows wattbit's checkpoint protocol (docs/checkpoint-protocol.md).

It advances a step counter, keeps its latest checkpoint as one JSON file on shared storage,
and resumes from it at start. Every second it reads the pod's annotations from a
downward-API file; when the operator's ``wattbit.io/checkpoint-requested-at`` is newer than
the trainer's last acknowledgement, it writes a checkpoint and sets
``wattbit.io/checkpoint-acknowledged-at`` on its own pod. On SIGTERM (the Job was suspended,
or the pod is being deleted for any other reason) it checkpoints once more and exits 143.

The pure parts (the downward-API file format, the pending-request rule, the atomic
checkpoint, the acknowledgement patch) are functions tested in
tests/unit/test_example_trainer.py. Only the standard library and the ``kubernetes``
client (with its transport, urllib3) are used, so the file runs in any Python image that
has that client installed. It must not grow a dependency on wattbit itself: a trainer image
does not ship the operator.

Environment (names follow examples/trainer/job.yaml):
    CHECKPOINT_DIR     directory on shared storage (default ``/checkpoints``)
    ANNOTATIONS_FILE   downward-API annotations file (default ``/etc/podinfo/annotations``)
    POD_NAME, POD_NAMESPACE   this pod, from the downward API (fieldRef)
    TOTAL_STEPS        steps to train (default 10000); STEP_SECONDS, seconds per step (0.5)
    RANK               only rank 0 writes checkpoints and acknowledges (default ``0``)
"""

from __future__ import annotations

import json
import logging
import math
import os
import signal
import string
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any, Final

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError  # the kubernetes client's transport

ANNOTATION_CHECKPOINT_REQUESTED_AT: Final = "wattbit.io/checkpoint-requested-at"
ANNOTATION_CHECKPOINT_DEADLINE: Final = "wattbit.io/checkpoint-deadline"
ANNOTATION_CHECKPOINT_ACKNOWLEDGED_AT: Final = "wattbit.io/checkpoint-acknowledged-at"

MERGE_PATCH: Final = "application/merge-patch+json"
"""The acknowledgement is a JSON merge patch: it sets one annotation and touches nothing else."""

CHECKPOINT_FILE: Final = "checkpoint.json"
POLL_INTERVAL_SECONDS: Final = 1.0
EXIT_SIGTERM: Final = 143
"""Exit code after a SIGTERM checkpoint. Never 0: a pod that was deleted (not suspended) and
exits 0 is Succeeded, and the Job controller would count the unfinished training as done."""

log = logging.getLogger("trainer")


# ---------------------------------------------------------------- downward-API file format


_SIMPLE_ESCAPES: Final = {
    "a": 0x07,
    "b": 0x08,
    "f": 0x0C,
    "n": 0x0A,
    "r": 0x0D,
    "t": 0x09,
    "v": 0x0B,
    "\\": 0x5C,
    '"': 0x22,
    "'": 0x27,
}
_HEX_DIGITS: Final = {"x": 2, "u": 4, "U": 8}


def unquote_go_string(quoted: str) -> str:
    """Decode one Go double-quoted string literal, as ``strconv.Quote`` writes it.

    The kubelet writes each annotation value with ``strconv.AppendQuote``
    (pkg/fieldpath/fieldpath.go ``FormatMap``): ``\\"``, ``\\\\``, ``\\n`` and the other
    single-letter escapes, ``\\xNN`` for control characters and invalid UTF-8 bytes, and
    ``\\uNNNN``/``\\UNNNNNNNN`` for other non-printable characters. ``\\xNN`` is a byte, not
    a code point, so the value is assembled as bytes and decoded once at the end.
    """
    if len(quoted) < 2 or quoted[0] != '"' or quoted[-1] != '"':
        raise ValueError(f"not a double-quoted string: {quoted!r}")
    body = quoted[1:-1]
    out = bytearray()
    i = 0
    while i < len(body):
        char = body[i]
        if char == '"':
            raise ValueError(f"unescaped quote at {i + 1} in {quoted!r}")
        if char != "\\":
            out += char.encode()
            i += 1
            continue
        if i + 1 >= len(body):
            raise ValueError(f"dangling backslash in {quoted!r}")
        kind = body[i + 1]
        if kind in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[kind])
            i += 2
        elif kind in _HEX_DIGITS:
            digits = body[i + 2 : i + 2 + _HEX_DIGITS[kind]]
            if len(digits) != _HEX_DIGITS[kind] or not all(d in string.hexdigits for d in digits):
                raise ValueError(f"bad \\{kind} escape in {quoted!r}")
            value = int(digits, 16)
            out += bytes([value]) if kind == "x" else chr(value).encode()
            i += 2 + len(digits)
        elif kind in "01234567":
            digits = body[i + 1 : i + 4]
            if len(digits) != 3 or not all(d in string.octdigits for d in digits):
                raise ValueError(f"bad octal escape in {quoted!r}")
            out.append(int(digits, 8))
            i += 4
        else:
            raise ValueError(f"unknown escape \\{kind} in {quoted!r}")
    return out.decode(errors="replace")


def parse_annotations(text: str) -> dict[str, str]:
    """The pod's annotations from a downward-API ``metadata.annotations`` file.

    One ``key="value"`` per line, keys sorted; newlines inside values are escaped, so every
    entry is one line. A line that does not parse is skipped rather than fatal: the file is
    written by the kubelet, and a trainer should not die over an annotation it never reads.
    """
    annotations: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, quoted = line.partition("=")
        if not sep or not key:
            continue
        try:
            annotations[key] = unquote_go_string(quoted)
        except ValueError:
            log.warning("skipping unparsable annotation line %r", line)
    return annotations


def read_annotations(path: Path) -> dict[str, str]:
    """Read the file; the kubelet swaps it atomically (a symlink flip), so a read is whole."""
    try:
        return parse_annotations(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}


# ---------------------------------------------------------------- the pending-request rule


def parse_time(value: str | None) -> datetime | None:
    """An RFC 3339 timestamp with a zone, or None when absent or malformed."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def format_time(moment: datetime) -> str:
    """RFC 3339 in UTC, whole seconds, ``Z`` suffix (the form the operator writes)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def pending_request(
    annotations: dict[str, str], last_acknowledged_at: datetime | None
) -> datetime | None:
    """The checkpoint request still to be answered, or None.

    A request is answered by an acknowledgement at or after it. The last acknowledgement is
    the later of the one this process remembers and the one on the pod (the annotation
    survives a container restart; the memory survives the kubelet's refresh delay).
    """
    requested_at = parse_time(annotations.get(ANNOTATION_CHECKPOINT_REQUESTED_AT))
    if requested_at is None:
        return None
    acknowledgements = [
        moment
        for moment in (
            last_acknowledged_at,
            parse_time(annotations.get(ANNOTATION_CHECKPOINT_ACKNOWLEDGED_AT)),
        )
        if moment is not None
    ]
    if acknowledgements and max(acknowledgements) >= requested_at:
        return None
    return requested_at


def acknowledgement_time(now: datetime, requested_at: datetime) -> datetime:
    """When to say the checkpoint became durable: now, but never before the request.

    The operator ignores an acknowledgement earlier than its request, and this pod's clock
    may lag the operator's; the result is rounded up to a whole second so that the
    whole-second string still compares at or after the request.
    """
    moment = max(now, requested_at)
    if moment.microsecond:
        moment = moment.replace(microsecond=0) + timedelta(seconds=1)
    return moment


def acknowledgement_patch(acknowledged_at: datetime) -> dict[str, Any]:
    """The merge-patch body that records the acknowledgement on this pod."""
    return {
        "metadata": {
            "annotations": {ANNOTATION_CHECKPOINT_ACKNOWLEDGED_AT: format_time(acknowledged_at)}
        }
    }


def acknowledge(
    core: client.CoreV1Api, *, pod_name: str, namespace: str, acknowledged_at: datetime
) -> None:
    core.patch_namespaced_pod(
        name=pod_name,
        namespace=namespace,
        body=acknowledgement_patch(acknowledged_at),
        _content_type=MERGE_PATCH,
    )


# ---------------------------------------------------------------- the checkpoint


@dataclass(slots=True, kw_only=True)
class TrainState:
    step: int = 0
    loss: float = 10.0


def save_checkpoint(directory: Path, state: TrainState) -> Path:
    """Write the state durably and atomically: temp file, fsync, ``os.replace``, fsync dir.

    A reader (the resumed trainer, perhaps in another region) sees the old checkpoint or the
    new one, never half of one, even when this pod is killed mid-write.
    """
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / CHECKPOINT_FILE
    with tempfile.NamedTemporaryFile(
        "w", dir=directory, prefix=f".{CHECKPOINT_FILE}.", suffix=".tmp", delete=False
    ) as handle:
        json.dump(asdict(state), handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(handle.name, target)
    directory_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(directory_fd)
    finally:
        os.close(directory_fd)
    return target


def load_checkpoint(directory: Path) -> TrainState | None:
    """The latest checkpoint, or None when there is none yet."""
    try:
        raw = json.loads((directory / CHECKPOINT_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    return TrainState(step=int(raw["step"]), loss=float(raw["loss"]))


# ---------------------------------------------------------------- the loop


@dataclass(slots=True, kw_only=True)
class Settings:
    checkpoint_dir: Path
    annotations_file: Path
    pod_name: str
    namespace: str
    total_steps: int
    step_seconds: float
    rank: int

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            checkpoint_dir=Path(os.environ.get("CHECKPOINT_DIR", "/checkpoints")),
            annotations_file=Path(os.environ.get("ANNOTATIONS_FILE", "/etc/podinfo/annotations")),
            pod_name=os.environ["POD_NAME"],
            namespace=os.environ["POD_NAMESPACE"],
            total_steps=int(os.environ.get("TOTAL_STEPS", "10000")),
            step_seconds=float(os.environ.get("STEP_SECONDS", "0.5")),
            rank=int(os.environ.get("RANK", "0")),
        )


def train_step(state: TrainState) -> None:
    """Stand-in for forward, backward and optimizer step."""
    state.step += 1
    state.loss = 10.0 * math.exp(-state.step / 2000)


def run(settings: Settings, core: client.CoreV1Api, stop: threading.Event) -> int:
    state = load_checkpoint(settings.checkpoint_dir) or TrainState()
    log.info("starting at step %d of %d", state.step, settings.total_steps)
    writer = settings.rank == 0
    last_acknowledged_at: datetime | None = None
    next_poll = time.monotonic()
    while state.step < settings.total_steps:
        if stop.wait(settings.step_seconds):
            break
        train_step(state)
        if not writer or time.monotonic() < next_poll:
            continue
        next_poll = time.monotonic() + POLL_INTERVAL_SECONDS
        requested_at = pending_request(
            read_annotations(settings.annotations_file), last_acknowledged_at
        )
        if requested_at is None:
            continue
        acknowledged_at = acknowledgement_time(datetime.now(UTC), requested_at)
        try:
            save_checkpoint(settings.checkpoint_dir, state)
            acknowledge(
                core,
                pod_name=settings.pod_name,
                namespace=settings.namespace,
                acknowledged_at=acknowledged_at,
            )
        except (OSError, ApiException, HTTPError) as error:
            # Never die over the notice: a crash here is a pod failure the Job counts. The
            # next poll tries again, and without an acknowledgement the deadline still holds.
            log.warning("could not checkpoint for the request of %s: %s", requested_at, error)
            continue
        last_acknowledged_at = acknowledged_at
        # Keep training: the steps after this checkpoint are saved again on SIGTERM if the
        # grace period allows, and lost (not corrupted) if it does not.
        log.info("checkpointed step %d for the request of %s", state.step, requested_at)
    if writer:
        save_checkpoint(settings.checkpoint_dir, state)
    if stop.is_set():
        log.info("SIGTERM: checkpointed step %d, exiting", state.step)
        return EXIT_SIGTERM
    log.info("finished %d steps", state.step)
    return 0


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    settings = Settings.from_env()
    stop = threading.Event()

    def on_sigterm(_signum: int, _frame: FrameType | None) -> None:
        # Only set a flag; the loop checkpoints between steps, never inside the handler.
        stop.set()

    signal.signal(signal.SIGTERM, on_sigterm)
    config.load_incluster_config()  # type: ignore[no-untyped-call]
    return run(settings, client.CoreV1Api(), stop)


if __name__ == "__main__":
    sys.exit(main())
