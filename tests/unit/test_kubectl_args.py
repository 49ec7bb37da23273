"""`wattbit.kubectl.args` and `main`'s exit codes, with no cluster.

Matrix:
- global flags before and after the command; defaults when absent; ``-o`` values;
- bad usage raises UsageError (exit 2) with one line: no command, an unknown command, flag or
  ``-o`` value, a missing required flag, ``-A`` with ``-n`` or with a per-object command,
  ``--csv`` with ``-o``, non-positive ``--gpus``;
- workload references: ``job/NAME``, ``pod/NAME``, kubectl's other spellings, bare names,
  an unknown kind, an invalid name;
- `main`: exit 2 and one ``error:`` line on stderr for bad usage (no traceback), exit 2 for a
  context missing from the kubeconfig, exit 1 for a NotFoundError from a command.
Skipped on purpose: reading a live cluster (tests/integration/test_kubectl.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from wattbit.kubectl import main as main_module
from wattbit.kubectl.args import Output, WorkloadRef, parse, parse_workload_ref
from wattbit.kubectl.errors import NotFoundError, PluginError, UsageError


def test_global_flags_before_or_after_the_command() -> None:
    before = parse(["-n", "ml", "--context", "c", "-o", "json", "regions"])
    after = parse(["regions", "-n", "ml", "--context", "c", "-o", "json"])
    for args in (before, after):
        assert (args.namespace, args.context, args.output) == ("ml", "c", Output.JSON)


def test_defaults_when_no_flag_is_given() -> None:
    args = parse(["list"])
    assert args.namespace is None
    assert args.all_namespaces is False
    assert args.output is None
    assert args.kubeconfig is None
    assert args.for_region is None


def test_plan_flags() -> None:
    args = parse(["plan", "--gpus", "8", "--duration", "2h", "--deadline", "36h", "-n", "ml"])
    assert (args.gpus, args.duration, args.deadline, args.parallelism) == (8, "2h", "36h", 1)


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        ([], "COMMAND"),
        (["frobnicate"], "invalid choice"),
        (["regions", "--bogus"], "unrecognized arguments: --bogus"),
        (["regions", "-o", "xml"], "invalid choice: 'xml'"),
        (["plan", "--duration", "1h"], "--gpus"),
        (["plan", "--gpus", "0", "--duration", "1h"], "must be at least 1"),
        (["plan", "--gpus", "two", "--duration", "1h"], "not a whole number"),
        (["list", "-A", "-n", "ml"], "cannot be used together"),
        (["explain", "-A", "train"], "does not apply to explain"),
        (["receipt", "train", "--csv", "-o", "json"], "--csv and -o"),
        (["explain"], "WORKLOAD"),
        (["explain", "deployment/x"], "not a Job, Pod, JobSet or TrainJob"),
        (["explain", "job/Bad_Name"], "not a valid object name"),
    ],
)
def test_bad_usage_is_one_line_naming_the_mistake(argv: list[str], fragment: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse(argv)
    assert fragment in caught.value.message
    assert "\n" not in caught.value.message
    assert caught.value.exit_code == 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("train", WorkloadRef(kind=None, name="train")),
        ("job/train", WorkloadRef(kind="Job", name="train")),
        ("jobs.batch/train", WorkloadRef(kind="Job", name="train")),
        ("pod/train-0", WorkloadRef(kind="Pod", name="train-0")),
        ("po/x.y", WorkloadRef(kind="Pod", name="x.y")),
        ("Job/train", WorkloadRef(kind="Job", name="train")),
        ("jobset/pretrain", WorkloadRef(kind="JobSet", name="pretrain")),
        ("jobsets.jobset.x-k8s.io/pretrain", WorkloadRef(kind="JobSet", name="pretrain")),
        ("trainjob/finetune", WorkloadRef(kind="TrainJob", name="finetune")),
    ],
)
def test_workload_references(text: str, expected: WorkloadRef) -> None:
    assert parse_workload_ref(text) == expected


def test_exit_codes_of_the_error_classes() -> None:
    assert PluginError("x").exit_code == 1
    assert NotFoundError("x").exit_code == 1
    assert UsageError("x").exit_code == 2


def test_main_bad_usage_exits_2_with_one_error_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main_module.main(["regions", "--bogus"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("error: unrecognized arguments: --bogus")
    assert captured.err.count("\n") == 1


KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: here, context: {cluster: c, user: u, namespace: ml}}]
current-context: here
"""


def test_main_unknown_context_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "config"
    config.write_text(KUBECONFIG)
    code = main_module.main(["--kubeconfig", str(config), "--context", "nope", "regions"])
    assert code == 2
    assert capsys.readouterr().err == 'error: context "nope" does not exist in the kubeconfig\n'


def test_main_context_namespace_and_not_found_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config"
    config.write_text(KUBECONFIG)
    seen: list[str] = []

    def dispatch(args: object, reader: object, now: object) -> object:
        seen.append(getattr(args, "namespace", ""))
        raise NotFoundError('job or pod "x" not found in namespace "ml"')

    monkeypatch.setattr(main_module, "dispatch", dispatch)
    assert main_module.main(["--kubeconfig", str(config), "explain", "x"]) == 1
    assert seen == ["ml"]  # the context's namespace, as kubectl's default
    assert capsys.readouterr().err == 'error: job or pod "x" not found in namespace "ml"\n'


def test_main_unreachable_server_is_one_line_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config"
    config.write_text(KUBECONFIG)
    monkeypatch.setattr("wattbit.kubectl.cluster.REQUEST_TIMEOUT_SECONDS", 2.0)
    assert main_module.main(["--kubeconfig", str(config), "regions"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: cannot reach the API server at https://127.0.0.1:1")
    assert err.count("\n") == 1
