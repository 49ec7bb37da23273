"""The operator image, built daemonlessly by hack/build-image.sh and checked from the outside.

Covered:
- the OCI config: user ``65532:65532``, entrypoint ``python -m wattbit`` (the chart's
  command starts the same way), ``PYTHONDONTWRITEBYTECODE=1``, the venv first on ``PATH``;
- the root filesystem: no compiler, linker, make or pip anywhere on ``PATH``, and no pip or
  setuptools in the venv;
- ``python -m wattbit --help`` run from the unpacked rootfs as user 65532 on a read-only
  root, as the chart runs it (``runAsUser: 65532``, ``readOnlyRootFilesystem: true``).

Not covered, on purpose: the Dockerfile itself (no container engine here; it follows the
same steps, see hack/build-image.sh), and starting the operator against a cluster from the
image (the rest of tests/integration runs the same package from the venv).

Needs root (debootstrap, chroot, a mount namespace) and Debian's mirror. The first build
takes about a minute and a half on 2 cores, later ones about 35 s (the base rootfs is cached
under ~/.cache/wattbit/image).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.integration.kube import REPO_ROOT

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not hasattr(os, "geteuid") or os.geteuid() != 0,
        reason="building the image needs root (debootstrap, chroot)",
    ),
]

BUILD_TIMEOUT_SECONDS = 900
BUILD_TOOLS = ("gcc", "cc", "c++", "g++", "clang", "ld", "as", "make", "pip", "pip3")


def _blob(layout: Path, digest: str) -> dict[str, Any]:
    algorithm, _, hex_digest = digest.partition(":")
    data: dict[str, Any] = json.loads((layout / "blobs" / algorithm / hex_digest).read_text())
    return data


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """Build the image into a fresh directory; return the OCI layout and the tag."""
    out = tmp_path_factory.mktemp("image")
    result = subprocess.run(
        ["bash", str(REPO_ROOT / "hack" / "build-image.sh")],
        env={**os.environ, "WATTBIT_IMAGE_DIR": str(out)},
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_SECONDS,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    reference = result.stdout.strip().splitlines()[-1]
    tag = reference.rpartition(":")[2]
    return out / "oci", tag


@pytest.fixture(scope="module")
def config(image: tuple[Path, str]) -> dict[str, Any]:
    layout, tag = image
    index = json.loads((layout / "index.json").read_text())
    (manifest_ref,) = [
        m
        for m in index["manifests"]
        if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag
    ]
    manifest = _blob(layout, manifest_ref["digest"])
    return _blob(layout, manifest["config"]["digest"])


@pytest.fixture(scope="module")
def rootfs(image: tuple[Path, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    layout, tag = image
    bundle = tmp_path_factory.mktemp("bundle") / "bundle"
    subprocess.run(
        ["umoci", "unpack", "--image", f"{layout}:{tag}", str(bundle)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return bundle / "rootfs"


def _chart_command() -> list[str]:
    """The container command in the chart's Deployment, up to its first templated line."""
    lines = (REPO_ROOT / "charts/wattbit/templates/deployment.yaml").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "command:")
    command: list[str] = []
    for line in lines[start + 1 :]:
        item = line.strip()
        if not item.startswith("- ") or "{{" in item:
            break
        command.append(item[2:])
    return command


def test_config_runs_wattbit_as_65532(config: dict[str, Any]) -> None:
    cfg = config["config"]
    assert cfg["User"] == "65532:65532"
    assert cfg["Entrypoint"] == ["python", "-m", "wattbit"]
    assert _chart_command()[:3] == cfg["Entrypoint"]
    env = dict(item.split("=", 1) for item in cfg["Env"])
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env["PATH"].split(":")[0] == "/opt/venv/bin"
    assert config["os"] == "linux"


def test_rootfs_has_no_build_tools(config: dict[str, Any], rootfs: Path) -> None:
    path = dict(item.split("=", 1) for item in config["config"]["Env"])["PATH"]
    found = [
        f"{directory}/{tool}"
        for directory in path.split(":")
        for tool in BUILD_TOOLS
        if (rootfs / directory.lstrip("/") / tool).exists()
    ]
    assert found == []
    site_packages = list((rootfs / "opt/venv/lib").glob("python3*/site-packages"))
    assert len(site_packages) == 1
    installed = {p.name.split("-")[0].lower() for p in site_packages[0].glob("*.dist-info")}
    assert "wattbit" in installed
    assert installed.isdisjoint({"pip", "setuptools", "wheel"})
    assert not (rootfs / "usr/lib/python3/dist-packages/pip").exists()


def test_help_runs_as_65532_on_a_read_only_root(config: dict[str, Any], rootfs: Path) -> None:
    cfg = config["config"]
    user = cfg["User"]
    argv = [*cfg["Entrypoint"], "--help"]
    # A private mount namespace: the rootfs is bound onto itself read-only, then entered as
    # the image's user with only the image's environment.
    script = (
        'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && '
        'root="$1" user="$2" && shift 2 && '
        'exec chroot --userspec="$user" "$root" /usr/bin/env -i "$@"'
    )
    unshare = shutil.which("unshare")
    assert unshare is not None
    result = subprocess.run(
        [unshare, "--mount", "sh", "-c", script, "sh", str(rootfs), user, *cfg["Env"], *argv],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "usage: python -m wattbit" in result.stdout
    assert "--standalone" in result.stdout
    assert "--liveness" in result.stdout
