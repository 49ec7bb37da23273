"""Which replica acts: leader election on a Lease (`wattbit.k8s.leases`).

Every replica serves the admission webhook (it is stateless). Only the Lease's holder runs
reconcile passes and polls the signal feeds, so one replica suspends, resumes and evicts.
A holder renews every `RETRY_PERIOD_S`; one that could not renew within `RENEW_DEADLINE_S`
stops acting before its Lease can expire and another replica takes it. A graceful stop
releases the Lease, so a standby takes over within one retry period.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from datetime import UTC, datetime, timedelta
from typing import Any

import kopf
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from wattbit.handlers.context import OperatorContext
from wattbit.k8s.leases import Claim, LeaseClient, claim

logger = logging.getLogger(__name__)

LEASE_NAME = "wattbit-operator"
RETRY_PERIOD_S = 2.0
"""How often a holder renews and a standby tries (client-go's default)."""
RENEW_DEADLINE_FRACTION = 2 / 3
"""A holder stops acting when it has not renewed for this share of the Lease's duration."""
_TASK_KEY = "wattbit-leadership"


def identity(context: OperatorContext) -> str:
    return context.config.pod_name or f"{socket.gethostname()}-{os.getpid()}"


@kopf.on.startup(id="start-leader-election")
async def start_election(*, memo: Any, **_: Any) -> None:
    context: OperatorContext | None = memo.get("wattbit")
    if context is None:  # configure has not run yet
        raise kopf.TemporaryError("waiting for the operator context", delay=0.2)
    if not context.config.leader_election:
        context.leading = True
        return
    context.leading = False
    memo[_TASK_KEY] = asyncio.create_task(elect(context), name="wattbit leader election")


@kopf.on.cleanup(id="stop-leader-election")
async def stop_election(*, memo: Any, **_: Any) -> None:
    """Stop acting, let a pass in flight finish, then release the Lease."""
    task: asyncio.Task[None] | None = memo.get(_TASK_KEY)
    context: OperatorContext | None = memo.get("wattbit")
    if task is None or context is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    if context.leading:
        context.leading = False
        async with context.pass_lock:  # a pass in its worker thread finishes first
            pass
        with contextlib.suppress(ApiException, HTTPError, OSError):
            await asyncio.to_thread(_release, context)
            logger.info("released the Lease %s", LEASE_NAME)


async def elect(context: OperatorContext) -> None:
    """Try for the Lease, or renew it, every retry period, forever."""
    config = context.config
    me = identity(context)
    deadline = timedelta(seconds=config.lease_duration_seconds * RENEW_DEADLINE_FRACTION)
    last_renewal: datetime | None = None
    while True:
        now = datetime.now(UTC)
        try:
            won = await asyncio.to_thread(_round, context, me, now)
        except (ApiException, HTTPError, OSError) as error:
            logger.warning("leader election: cannot reach the Lease: %s", error)
            won = None  # unknown: a holder keeps acting until its renew deadline
        if won:
            last_renewal = now
        leading = last_renewal is not None and datetime.now(UTC) - last_renewal < deadline
        if won is False:
            leading = False
        if leading != context.leading:
            context.leading = leading
            logger.info("%s %s", me, "leads: acting on workloads" if leading else "stands by")
            if leading:
                context.request_reconcile("leadership")
        await asyncio.sleep(RETRY_PERIOD_S)


def _leases(context: OperatorContext) -> LeaseClient:
    api = client.CoordinationV1Api(context.api)
    return LeaseClient(api, namespace=context.config.namespace, name=LEASE_NAME)


def _round(context: OperatorContext, me: str, now: datetime) -> bool:
    """One try: True when this replica holds the Lease after it."""
    leases = _leases(context)
    lease = leases.read()
    if claim(lease, me=me, now=now) is Claim.STANDBY:
        return False
    return leases.write(lease, holder=me, now=now, duration_s=context.config.lease_duration_seconds)


def _release(context: OperatorContext) -> None:
    leases = _leases(context)
    lease = leases.read()
    if lease is not None and lease.holder == identity(context):
        leases.write(
            lease,
            holder=None,
            now=datetime.now(UTC),
            duration_s=context.config.lease_duration_seconds,
        )


__all__ = ["LEASE_NAME", "elect", "identity"]
