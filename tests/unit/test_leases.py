"""The Lease rule (k8s/leases.claim): who may hold it now. Pure, no I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wattbit.k8s.leases import Claim, LeaseRecord, claim

NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)


def lease(holder: str | None, renewed_ago_s: float, duration_s: float = 15) -> LeaseRecord:
    return LeaseRecord(
        holder=holder, renewed_at=NOW - timedelta(seconds=renewed_ago_s), duration_s=duration_s
    )


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        (None, Claim.ACQUIRE),
        (lease(None, 1), Claim.ACQUIRE),  # released on a graceful stop
        (lease("b", 3), Claim.STANDBY),
        (lease("b", 15), Claim.ACQUIRE),  # b stopped renewing: expired
        (lease("a", 3), Claim.RENEW),
        (lease("a", 60), Claim.RENEW),  # ours, though late: renew it
    ],
    ids=["no-lease", "released", "held-by-b", "b-expired", "ours", "ours-late"],
)
def test_claim(record: LeaseRecord | None, expected: Claim) -> None:
    assert claim(record, me="a", now=NOW) is expected


def test_a_lease_without_a_renewal_time_is_expired() -> None:
    assert LeaseRecord(holder="b", renewed_at=None, duration_s=15).expired(NOW)


@given(
    ago=st.floats(min_value=0, max_value=100),
    duration=st.floats(min_value=1, max_value=60),
)
def test_two_replicas_never_both_keep_a_live_lease(ago: float, duration: float) -> None:
    record = lease("a", ago, duration)
    claims = {me: claim(record, me=me, now=NOW) for me in ("a", "b")}
    if not record.expired(NOW):
        assert claims == {"a": Claim.RENEW, "b": Claim.STANDBY}
    else:
        # Both may write; the API server's resourceVersion check lets only one succeed.
        assert claims["b"] is Claim.ACQUIRE
