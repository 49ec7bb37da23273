"""Serve the batch kinds (JobSet, TrainJob, Kueue) as soon as their CRDs are installed.

kopf re-reads a group's resources from the API's discovery on each CRD event of that group.
When discovery lags the CRD's last event (measured here: Kubeflow Trainer's CRDs installed
while the operator ran, `trainjobs` still absent from /apis when the group's last event
arrived), kopf leaves the resource unserved until the next CRD event of the group, which after
a one-time install may be never: its watches and its admission webhooks (a TrainJob created
then is not held) wait for an operator restart. This task re-reads, every
`RESCAN_SECONDS`, the groups of the resources wattbit serves that kopf has not resolved, the
same way kopf does on a CRD event. A group whose CRDs are not installed costs one GET.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from typing import Any

import kopf
from kopf._cogs.clients import scanning
from kopf._cogs.structs.references import Insights, Resource
from kopf._core.reactor import observation

logger = logging.getLogger(__name__)

INSIGHTS = Insights()
"""kopf's view of what it serves, handed to `kopf.run` (wattbit.__main__) so that this module
can see which resources are still unresolved."""

RESCAN_SECONDS = 20.0
SERVED: frozenset[tuple[str, str]] = frozenset(
    {
        ("jobset.x-k8s.io", "jobsets"),
        ("trainer.kubeflow.org", "trainjobs"),
        ("trainer.kubeflow.org", "clustertrainingruntimes"),
        ("trainer.kubeflow.org", "trainingruntimes"),
        ("kueue.x-k8s.io", "workloads"),
        ("kueue.x-k8s.io", "admissionchecks"),
    }
)
"""(group, plural) of the optional kinds wattbit serves when their CRDs exist."""


def unresolved(resolved: Iterable[Resource]) -> dict[str, set[str]]:
    """Group -> the plurals wattbit serves in it that kopf does not (yet) serve."""
    known = {(resource.group, resource.plural) for resource in resolved}
    missing: dict[str, set[str]] = {}
    for group, plural in SERVED:
        if (group, plural) not in known:
            missing.setdefault(group, set()).add(plural)
    return missing


async def rescan_forever(settings: kopf.OperatorSettings) -> None:
    """Re-read unresolved groups until the process stops; a failed read is retried later."""
    while True:
        await asyncio.sleep(RESCAN_SECONDS)
        resolved = INSIGHTS.watched_resources | INSIGHTS.webhook_resources
        for group, plurals in sorted(unresolved(resolved).items()):
            try:
                await _rescan(group, plurals, settings)
            except Exception as error:  # noqa: BLE001 - a failed read is retried next round
                logger.debug("re-reading the resources of %s failed: %s", group, error)


async def _rescan(group: str, plurals: set[str], settings: kopf.OperatorSettings) -> None:
    resources = await scanning.scan_resources(groups={group}, settings=settings, logger=logger)
    if not any(resource.plural in plurals for resource in resources):
        return  # not installed (or still not discovered): nothing new, and nothing to log
    logger.info("serving %s now that the API lists %s", group, ", ".join(sorted(plurals)))
    # What kopf does on a CRD event of the group (kopf._core.reactor.observation).
    async with INSIGHTS.revised:
        observation.revise_resources(
            resources=resources,
            insights=INSIGHTS,
            registry=kopf.get_default_registry(),
            group=group,
        )
        await INSIGHTS.backbone.fill(resources=resources)
        INSIGHTS.revised.notify_all()


_TASK_KEY = "wattbit-rescan"


@kopf.on.startup(id="start-rescan-batch-kinds")
async def start_rescan(*, settings: kopf.OperatorSettings, memo: Any, **_: Any) -> None:
    memo[_TASK_KEY] = asyncio.create_task(rescan_forever(settings), name="wattbit rescan")


@kopf.on.cleanup(id="stop-rescan-batch-kinds")
async def stop_rescan(*, memo: Any, **_: Any) -> None:
    task: asyncio.Task[None] | None = memo.get(_TASK_KEY)
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
