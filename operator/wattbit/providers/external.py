"""The external provider: signals from `PowerSignal` objects that anyone may write.

This module's one job is to pick, from PowerSignals the caller already read (a kopf index) and
converted to plain `ExternalSignal` values, the newest one that is valid at `now` and carries an
observation, and to turn it into a `SignalReading`. Curtailment and demand-response events of
every valid signal become windows. Expired signals (`validUntil <= now`) and signals not yet
valid are ignored and reported by name, so the handler can set their `Expired` condition and
post an Event.

A PowerSignal asserts its values for its whole validity window, so `observed_at` of the reading
is `now` while it is valid; expiry, not `maxAge`, ends it.

WARNING: no I/O and no Kubernetes: the caller lists and parses the objects. Values are range
checked like any feed's, so one writer cannot make a region "infinitely green".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from wattbit.api.v1alpha1.powersignal import PowerSignal, SignalValues
from wattbit.core.signals import (
    ForecastPoint,
    ProblemReason,
    SignalReading,
    SignalWindow,
    WindowKind,
    validate_reading,
)
from wattbit.providers.base import DEFAULT_MAX_SKEW_SECONDS, ProviderError


@dataclass(frozen=True, slots=True, kw_only=True)
class ExternalValues:
    """Values at one time; None is unknown."""

    carbon_g_per_kwh: float | None = None
    price_jpy_per_kwh: float | None = None
    renewable_percent: float | None = None
    curtailment: bool | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ExternalSignal:
    """One PowerSignal, as plain values."""

    namespace: str
    name: str
    valid_from: datetime
    valid_until: datetime
    region: str | None = None
    grid_area: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    observation: ExternalValues | None = None
    forecast: tuple[tuple[datetime, ExternalValues], ...] = ()
    windows: tuple[SignalWindow, ...] = ()

    @property
    def key(self) -> str:
        """`namespace/name`."""
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True, slots=True, kw_only=True)
class ExternalSelection:
    """The outcome of choosing among PowerSignals for one region."""

    reading: SignalReading | None
    chosen: str | None = None
    expired: tuple[str, ...] = ()
    not_yet_valid: tuple[str, ...] = ()
    rejected: tuple[tuple[str, str], ...] = ()
    """(`namespace/name`, why) for valid signals whose values failed the range checks."""


def from_power_signal(resource: PowerSignal, *, namespace: str, name: str) -> ExternalSignal:
    """Convert a parsed `PowerSignal` into an `ExternalSignal`."""
    spec = resource.spec

    def values(raw: SignalValues) -> ExternalValues:
        return ExternalValues(
            carbon_g_per_kwh=None
            if raw.carbon_grams_per_kwh is None
            else float(raw.carbon_grams_per_kwh),
            price_jpy_per_kwh=raw.price_value(),
            renewable_percent=None
            if raw.renewable_percent is None
            else float(raw.renewable_percent),
            curtailment=raw.curtailment,
        )

    return ExternalSignal(
        namespace=namespace,
        name=name,
        valid_from=spec.valid_from,
        valid_until=spec.valid_until,
        region=spec.region,
        grid_area=spec.grid_area,
        labels={str(k): str(v) for k, v in (resource.metadata.get("labels") or {}).items()},
        observation=None if spec.observation is None else values(spec.observation),
        forecast=tuple((point.start, values(point)) for point in spec.forecast),
        windows=tuple(
            SignalWindow(kind=WindowKind(event.type.value), start=event.start, end=event.end)
            for event in spec.events
        ),
    )


def considered(
    signal: ExternalSignal,
    *,
    region: str,
    grid_area: str,
    namespaces: frozenset[str] | None,
    label_filter: Callable[[Mapping[str, str]], bool] | None,
) -> bool:
    """Whether a Region looks at this PowerSignal at all: by its labels when the Region has a
    `signalSelector` (whatever region it names), else by its region or grid area; and only
    from the Region's namespaces when it lists some."""
    if namespaces is not None and signal.namespace not in namespaces:
        return False
    if label_filter is not None:
        return label_filter(signal.labels)
    return _applies(signal, region=region, grid_area=grid_area)


def _applies(signal: ExternalSignal, *, region: str, grid_area: str) -> bool:
    return signal.region == region or (signal.region is None and signal.grid_area == grid_area)


def _reading(signal: ExternalSignal, observation: ExternalValues, now: datetime) -> SignalReading:
    return SignalReading(
        carbon_g_per_kwh=observation.carbon_g_per_kwh,
        price_jpy_per_kwh=observation.price_jpy_per_kwh,
        renewable_percent=observation.renewable_percent,
        curtailment=observation.curtailment,
        observed_at=now,
        source=f"powersignal:{signal.key}",
        forecast=tuple(
            ForecastPoint(
                start=start,
                carbon_g_per_kwh=values.carbon_g_per_kwh,
                price_jpy_per_kwh=values.price_jpy_per_kwh,
            )
            for start, values in sorted(signal.forecast, key=lambda pair: pair[0])
        ),
        windows=signal.windows,
    )


def select_external(
    signals: Iterable[ExternalSignal],
    *,
    region: str,
    grid_area: str,
    now: datetime,
    namespaces: frozenset[str] | None = None,
    label_filter: Callable[[Mapping[str, str]], bool] | None = None,
    max_skew_seconds: float = DEFAULT_MAX_SKEW_SECONDS,
) -> ExternalSelection:
    """The newest valid PowerSignal for `region` (or its grid area), with what was ignored.

    "Newest" is the latest `validFrom`, ties broken by name. Windows come from every valid
    signal, the values and forecast from the chosen one only.
    """
    expired: list[str] = []
    pending: list[str] = []
    rejected: list[tuple[str, str]] = []
    valid: list[ExternalSignal] = []
    for signal in signals:
        if not considered(
            signal,
            region=region,
            grid_area=grid_area,
            namespaces=namespaces,
            label_filter=label_filter,
        ):
            continue
        if signal.valid_until <= now:
            expired.append(signal.key)
        elif signal.valid_from > now:
            pending.append(signal.key)
        else:
            valid.append(signal)
    valid.sort(key=lambda s: (s.valid_from, s.key), reverse=True)
    windows = tuple(
        dict.fromkeys(window for signal in valid for window in signal.windows)  # de-duplicated
    )
    for signal in valid:
        if signal.observation is None:
            continue
        reading = _reading(signal, signal.observation, now)
        problems = validate_reading(reading, now, max_skew_seconds)
        if problems:
            rejected.append((signal.key, "; ".join(p.message for p in problems[:3])))
            continue
        return ExternalSelection(
            reading=replace(reading, windows=windows),
            chosen=signal.key,
            expired=tuple(sorted(expired)),
            not_yet_valid=tuple(sorted(pending)),
            rejected=tuple(rejected),
        )
    return ExternalSelection(
        reading=None,
        expired=tuple(sorted(expired)),
        not_yet_valid=tuple(sorted(pending)),
        rejected=tuple(rejected),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class ExternalProvider:
    """`SignalProvider` over `select_external`, for uniform refresh wiring."""

    region: str
    grid_area: str
    signals: Callable[[], Iterable[ExternalSignal]]
    """Returns the current PowerSignals (the caller's index); called once per fetch."""
    namespaces: frozenset[str] | None = None
    label_filter: Callable[[Mapping[str, str]], bool] | None = None
    max_skew_seconds: float = DEFAULT_MAX_SKEW_SECONDS
    name: str = "external"

    def select(self, now: datetime) -> ExternalSelection:
        """The full selection, including expired and rejected signals, for reporting."""
        return select_external(
            self.signals(),
            region=self.region,
            grid_area=self.grid_area,
            now=now,
            namespaces=self.namespaces,
            label_filter=self.label_filter,
            max_skew_seconds=self.max_skew_seconds,
        )

    def fetch(self, now: datetime) -> SignalReading:
        """The chosen reading; Expired if only expired signals exist, else NoData/OutOfRange."""
        selection = self.select(now)
        if selection.reading is not None:
            return selection.reading
        if selection.rejected:
            key, why = selection.rejected[0]
            raise ProviderError(ProblemReason.OUT_OF_RANGE, f"powersignal {key}: {why}")
        if selection.expired:
            shown = ", ".join(selection.expired[:5])
            raise ProviderError(
                ProblemReason.EXPIRED, f"every PowerSignal for {self.region} has expired: {shown}"
            )
        raise ProviderError(
            ProblemReason.NO_DATA, f"no valid PowerSignal with an observation for {self.region}"
        )
