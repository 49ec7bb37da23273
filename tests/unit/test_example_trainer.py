"""The example trainer's pure parts (examples/trainer/trainer.py).

Covers: the downward-API annotations format (Go-quoted values: escaped quotes,
backslashes, newlines, ``\\xNN`` bytes, ``\\u`` escapes, unparsable lines skipped, a
missing file); the pending-request rule (no request, a request answered by an
acknowledgement in memory or on the pod, a newer request, a malformed time); the
acknowledgement time (never before the request, whole seconds); the checkpoint's
atomic save and load round trip; the acknowledgement is a merge patch of one annotation.

Skipped on purpose: the training loop and SIGTERM handling, which need a pod (the
example's README shows how to run it). The file is imported by path, so the examples
directory never goes on sys.path.
"""

from __future__ import annotations

import importlib.util
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

TRAINER_PATH = Path(__file__).resolve().parents[2] / "examples" / "trainer" / "trainer.py"


def _load_trainer() -> ModuleType:
    name = "wattbit_example_trainer"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, TRAINER_PATH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # dataclasses look their module up in sys.modules while the class body is processed.
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


trainer = _load_trainer()

REQUESTED = "wattbit.io/checkpoint-requested-at"
ACKNOWLEDGED = "wattbit.io/checkpoint-acknowledged-at"
T0 = datetime(2026, 12, 2, 3, 0, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(T0.timestamp() + seconds, tz=UTC)


# ---------------------------------------------------------------- the annotations file


def test_parses_the_downward_api_format() -> None:
    # As the kubelet writes it: keys sorted, one key="value" per line, no final newline.
    text = (
        'kubectl.kubernetes.io/last-applied-configuration="{\\"kind\\":\\"Job\\"}\\n"\n'
        'note="line one\\nline two\\ttab \\\\ backslash"\n'
        'wattbit.io/checkpoint-deadline="2026-12-02T03:02:00Z"\n'
        'wattbit.io/checkpoint-requested-at="2026-12-02T03:00:00Z"'
    )
    assert trainer.parse_annotations(text) == {
        "kubectl.kubernetes.io/last-applied-configuration": '{"kind":"Job"}\n',
        "note": "line one\nline two\ttab \\ backslash",
        "wattbit.io/checkpoint-deadline": "2026-12-02T03:02:00Z",
        "wattbit.io/checkpoint-requested-at": "2026-12-02T03:00:00Z",
    }


@pytest.mark.parametrize(
    ("quoted", "value"),
    [
        ('""', ""),
        ('"a=b"', "a=b"),
        ('"\\x01\\x7f"', "\x01\x7f"),
        ('"\\u00a0\\U0001f600"', "\u00a0\U0001f600"),
        ('"日本"', "日本"),
        ('"\\xe6\\x97\\xa5"', "日"),  # \x escapes are bytes, decoded together
        ('"\\101"', "A"),
    ],
)
def test_unquotes_go_string_literals(quoted: str, value: str) -> None:
    assert trainer.unquote_go_string(quoted) == value


@pytest.mark.parametrize("quoted", ['"open', "no quotes", '"a"b"', '"\\q"', '"\\x4"', '"\\"'])
def test_rejects_malformed_literals(quoted: str) -> None:
    with pytest.raises(ValueError, match=r"."):
        trainer.unquote_go_string(quoted)


def test_skips_lines_that_do_not_parse() -> None:
    text = 'good="yes"\nno-equals-sign\nbad="unterminated\n="no key"'
    assert trainer.parse_annotations(text) == {"good": "yes"}


def test_a_missing_file_means_no_annotations(tmp_path: Path) -> None:
    assert trainer.read_annotations(tmp_path / "absent") == {}


# ---------------------------------------------------------------- the pending-request rule


def test_no_request_is_not_pending() -> None:
    assert trainer.pending_request({}, None) is None
    assert trainer.pending_request({ACKNOWLEDGED: "2026-12-02T03:00:00Z"}, None) is None


def test_a_request_without_acknowledgement_is_pending() -> None:
    annotations = {REQUESTED: "2026-12-02T03:00:00Z"}
    assert trainer.pending_request(annotations, None) == T0


@pytest.mark.parametrize("ack_offset", [0, 5])
def test_a_request_at_or_before_the_last_acknowledgement_is_answered(ack_offset: int) -> None:
    annotations = {REQUESTED: "2026-12-02T03:00:00Z"}
    assert trainer.pending_request(annotations, at(ack_offset)) is None


def test_the_acknowledgement_on_the_pod_counts_after_a_restart() -> None:
    annotations = {REQUESTED: "2026-12-02T03:00:00Z", ACKNOWLEDGED: "2026-12-02T03:00:07Z"}
    assert trainer.pending_request(annotations, None) is None


def test_a_newer_request_is_pending_again() -> None:
    annotations = {REQUESTED: "2026-12-02T04:00:00+00:00", ACKNOWLEDGED: "2026-12-02T03:00:07Z"}
    assert trainer.pending_request(annotations, at(7)) == at(3600)


@pytest.mark.parametrize("value", ["", "yesterday", "2026-12-02T03:00:00"])
def test_a_malformed_or_zoneless_request_is_ignored(value: str) -> None:
    assert trainer.pending_request({REQUESTED: value}, None) is None


def test_acknowledgement_time_is_never_before_the_request() -> None:
    # This pod's clock lags the operator's by 3 s: acknowledge at the request itself.
    assert trainer.acknowledgement_time(at(-3), at(0)) == T0
    # Sub-second times round up, so the whole-second string still compares >= the request.
    assert trainer.acknowledgement_time(at(1.25), at(0)) == at(2)
    assert trainer.acknowledgement_time(at(-1), at(0.5)) == at(1)


# ---------------------------------------------------------------- the checkpoint


def test_checkpoint_round_trip(tmp_path: Path) -> None:
    directory = tmp_path / "ckpt"
    assert trainer.load_checkpoint(directory) is None
    first = trainer.TrainState(step=41, loss=1.5)
    path = trainer.save_checkpoint(directory, first)
    assert path == directory / "checkpoint.json"
    assert trainer.load_checkpoint(directory) == first
    trainer.save_checkpoint(directory, trainer.TrainState(step=42, loss=1.25))
    assert trainer.load_checkpoint(directory) == trainer.TrainState(step=42, loss=1.25)
    # Replaced in place: no temporary file is left beside it.
    assert sorted(p.name for p in directory.iterdir()) == ["checkpoint.json"]


def test_training_resumes_from_the_loaded_step(tmp_path: Path) -> None:
    trainer.save_checkpoint(tmp_path, trainer.TrainState(step=100, loss=3.0))
    state = trainer.load_checkpoint(tmp_path)
    trainer.train_step(state)
    assert state.step == 101


# ---------------------------------------------------------------- the acknowledgement


class RecordingCoreApi:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def patch_namespaced_pod(self, **kwargs: Any) -> None:
        self.calls.append(kwargs)


def test_acknowledgement_is_a_merge_patch_of_one_annotation() -> None:
    assert trainer.acknowledgement_patch(at(7)) == {
        "metadata": {"annotations": {ACKNOWLEDGED: "2026-12-02T03:00:07Z"}}
    }
    core = RecordingCoreApi()
    trainer.acknowledge(core, pod_name="train-abc12", namespace="ml-team", acknowledged_at=at(7))
    assert core.calls == [
        {
            "name": "train-abc12",
            "namespace": "ml-team",
            "body": {"metadata": {"annotations": {ACKNOWLEDGED: "2026-12-02T03:00:07Z"}}},
            "_content_type": "application/merge-patch+json",
        }
    ]
