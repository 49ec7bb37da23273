"""PowerSignal status: say whether each signal is in use, pending, expired or rejected.

Regions read PowerSignals through the ``power_signals`` index (see regions.py);
this timer only reports on each signal: the ``Accepted`` and ``Expired``
conditions, the Regions it feeds, and one Warning Event when it expires, is
rejected or matches no Region, so that an ignored signal never goes unnoticed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import kopf

from wattbit.api.conditions import find_condition, set_status_condition
from wattbit.api.v1alpha1.powersignal import PowerSignalStatus
from wattbit.api.v1alpha1.region import RegionSpec
from wattbit.api.v1alpha1.signals import ExternalSignals, ProviderKind
from wattbit.handlers.context import leads
from wattbit.handlers.indexes import ALL
from wattbit.providers.external import ExternalProvider, ExternalSignal, considered
from wattbit.providers.registry import external_provider

REPORT_INTERVAL_SECONDS = 10.0


@kopf.timer(
    "wattbit.io",
    "v1alpha1",
    "powersignals",
    id="report-power-signal",
    interval=REPORT_INTERVAL_SECONDS,
    initial_delay=0.5,
)
def report_power_signal(
    *,
    namespace: str | None,
    name: str,
    body: kopf.Body,
    status: kopf.Status,
    patch: kopf.Patch,
    memo: Any,
    **kwargs: Any,
) -> None:
    if not leads(memo):
        return  # the Lease's holder reports; two replicas would race on the same status
    regions: kopf.Index[str, Any] = kwargs["regions"]
    power_signals: kopf.Index[str, Any] = kwargs["power_signals"]
    now = datetime.now(UTC)
    key = f"{namespace}/{name}"
    signals: list[ExternalSignal] = list(power_signals.get(ALL, ()))
    ours = [s for s in signals if s.key == key]
    previous = PowerSignalStatus.model_validate(dict(status))
    new_status = previous.model_copy(deep=True)
    new_status.observed_generation = body.metadata.get("generation")

    fed: list[str] = []
    state, reason, message = "Pending", "NotYetValid", "not yet valid"
    if ours:
        signal = ours[0]
        if signal.valid_until <= now:
            state, reason = "Expired", "Expired"
            message = f"expired at {signal.valid_until.isoformat()}; ignored by every Region"
        elif signal.valid_from > now:
            message = f"valid from {signal.valid_from.isoformat()}; not used before then"
        else:
            state, reason, message, fed = _usage(signal, signals, regions, now)

    set_status_condition(
        new_status, now, "Accepted", state == "Accepted", reason=reason, message=message
    )
    set_status_condition(
        new_status, now, "Expired", state == "Expired", reason=reason, message=message
    )
    new_status.regions = sorted(fed)

    before = find_condition(previous.conditions, "Accepted")
    # NoMatchingRegion too: a signal no Region reads is most often a typo in its target.
    warned = state in ("Expired", "Rejected") or reason == "NoMatchingRegion"
    if warned and (before is None or before.reason != reason):
        kopf.warn(body, reason=reason, message=f"PowerSignal {key}: {message}")

    dumped = new_status.model_dump(by_alias=True, mode="json", exclude_none=True)
    if dumped != dict(status):
        patch["status"] = dumped


def _usage(
    signal: ExternalSignal,
    signals: list[ExternalSignal],
    regions: kopf.Index[str, Any],
    now: datetime,
) -> tuple[str, str, str, list[str]]:
    """Whether a valid signal feeds any Region: (state, reason, message, regions fed)."""
    fed: list[str] = []
    superseded: list[str] = []
    rejected: str | None = None
    for region_name, store in regions.items():
        for entry in store:
            spec = RegionSpec.model_validate(entry["spec"])
            if spec.signals.provider != ProviderKind.EXTERNAL:
                continue  # only Regions whose provider is `external` read PowerSignals
            # The same selection the Region's provider makes, filters included.
            provider = external_provider(
                spec.signals.external or ExternalSignals(),
                region_name,
                spec.grid_area,
                lambda: signals,
            )
            selection = provider.select(now)
            if signal.key not in selection.expired + selection.not_yet_valid and not (
                selection.chosen == signal.key
                or any(k == signal.key for k, _ in selection.rejected)
                or _considered(signal, region_name, spec.grid_area, provider)
            ):
                continue
            if selection.chosen == signal.key:
                fed.append(region_name)
            elif any(k == signal.key for k, _ in selection.rejected):
                rejected = next(why for k, why in selection.rejected if k == signal.key)
            else:
                superseded.append(region_name)
    if rejected is not None:
        return "Rejected", "OutOfRange", f"values rejected: {rejected}", fed
    if fed:
        return "Accepted", "SignalsReceived", f"feeds {', '.join(sorted(fed))}", fed
    if superseded:
        return (
            "Accepted",
            "Superseded",
            f"valid, but a newer PowerSignal feeds {', '.join(sorted(superseded))}",
            fed,
        )
    return (
        "Accepted",
        "NoMatchingRegion",
        "valid, but no Region with provider external matches its region, gridArea or filters",
        fed,
    )


def _considered(
    signal: ExternalSignal, region: str, grid_area: str, provider: ExternalProvider
) -> bool:
    """Whether the Region's provider looks at this signal at all (target and filters)."""
    return considered(
        signal,
        region=region,
        grid_area=grid_area,
        namespaces=provider.namespaces,
        label_filter=provider.label_filter,
    )
