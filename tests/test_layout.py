"""Repository layout rules that no linter checks.

Matrix:
- ``operator/`` is a source root, never a package: ``operator/__init__.py`` would shadow the
  standard library's ``operator`` module (style.md, "The ``operator/`` name");
- ``crds/`` equals a fresh generation from ``wattbit.api`` (azimuth's golden test), so a
  model change without ``hack/gen-crds.sh`` fails here with that hint.

Skipped: the chart's copy of the CRDs (hack/verify.sh diffs it).
"""

from __future__ import annotations

import difflib
from pathlib import Path

from wattbit.api import crdgen

ROOT = Path(__file__).resolve().parent.parent


def test_operator_dir_is_not_a_package() -> None:
    assert (ROOT / "operator" / "wattbit" / "__init__.py").is_file()
    assert not (ROOT / "operator" / "__init__.py").exists(), (
        "operator/__init__.py would shadow the standard library's operator module; delete it"
    )


def test_crds_are_up_to_date() -> None:
    rendered = crdgen.render_all()
    stale = crdgen.stale_files(ROOT / "crds", rendered)
    diffs: list[str] = []
    for name in stale:
        path = ROOT / "crds" / name
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        diffs.extend(
            difflib.unified_diff(
                current.splitlines(),
                rendered.get(name, "").splitlines(),
                f"crds/{name}",
                "generated",
                lineterm="",
                n=1,
            )
        )
    assert not stale, "crds/ is out of date; run hack/gen-crds.sh\n" + "\n".join(diffs[:60])
