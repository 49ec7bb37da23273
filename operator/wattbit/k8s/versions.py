"""Which Kubernetes versions wattbit supports, and the check against the API server's.

The oldest supported minor is the oldest in upstream support (1.35 on 2026-12-07). Below it,
the chart's ValidatingAdmissionPolicy names Job fields (`managedBy`, `successPolicy`) that
older API servers do not know, so every operator write would be refused.
"""

from __future__ import annotations

import re

from kubernetes import client

OLDEST_SUPPORTED = (1, 35)
"""The oldest (major, minor) wattbit runs on; the newest tested is 1.36 (README)."""

_VERSION = re.compile(r"^v?(\d+)\.(\d+)")


class UnsupportedKubernetes(RuntimeError):
    """The API server is older than `OLDEST_SUPPORTED`, or its version cannot be read."""


def check_supported(git_version: str) -> tuple[int, int]:
    """(major, minor) of a `/version` gitVersion such as `v1.35.4-eks-1a2b`; raise
    `UnsupportedKubernetes` naming the version when it is too old or unreadable."""
    match = _VERSION.match(git_version.strip())
    if match is None:
        raise UnsupportedKubernetes(f"cannot read the Kubernetes version {git_version!r}")
    found = (int(match.group(1)), int(match.group(2)))
    if found < OLDEST_SUPPORTED:
        oldest = ".".join(map(str, OLDEST_SUPPORTED))
        raise UnsupportedKubernetes(
            f"wattbit needs Kubernetes >= {oldest}; this cluster runs {git_version}"
        )
    return found


def server_version(api: client.ApiClient) -> str:
    """The API server's gitVersion (GET /version)."""
    info = client.VersionApi(api).get_code()
    return str(info.git_version)
