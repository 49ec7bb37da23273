"""The supported-version check on the API server's gitVersion."""

from __future__ import annotations

import pytest

from wattbit.k8s.versions import OLDEST_SUPPORTED, UnsupportedKubernetes, check_supported


@pytest.mark.parametrize(
    ("git_version", "expected"),
    [
        ("v1.35.0", (1, 35)),
        ("v1.36.3", (1, 36)),
        ("v1.37.2-eks-1a2b3c", (1, 37)),
        ("v1.35.4-gke.1200", (1, 35)),
        ("1.40.0", (1, 40)),
        ("v2.0.0", (2, 0)),
    ],
)
def test_supported_versions_pass(git_version: str, expected: tuple[int, int]) -> None:
    assert check_supported(git_version) == expected


@pytest.mark.parametrize("git_version", ["v1.34.13", "v1.20.0", "v0.99.0"])
def test_older_versions_are_refused_naming_both(git_version: str) -> None:
    with pytest.raises(UnsupportedKubernetes) as raised:
        check_supported(git_version)
    oldest = ".".join(map(str, OLDEST_SUPPORTED))
    assert str(raised.value) == (
        f"wattbit needs Kubernetes >= {oldest}; this cluster runs {git_version}"
    )


@pytest.mark.parametrize("git_version", ["", "master", "x1.2"])
def test_unreadable_versions_are_refused(git_version: str) -> None:
    with pytest.raises(UnsupportedKubernetes, match="cannot read the Kubernetes version"):
        check_supported(git_version)
