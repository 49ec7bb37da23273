"""Receipts: what a workload's run used and cost, hour by hour, against running it unshifted.

This module's one job is the arithmetic of a receipt (issue 10), for the operator and the
simulator alike, so that a simulated receipt and a live one agree by construction:

- `price_interval` prices one stretch of running: facility energy (GPUs x power per GPU x time
  x PUE), carbon, the bill, and the carbon-adjusted cost at a given carbon price, at the signal
  values in force (each with its source and observation time);
- `price_move` prices one move: the network's transfer energy at the signals in force when it
  moves, plus the GPUs idle through its downtime (given as intervals, priced by
  `price_interval`, so downtime that crosses an hour is priced at each hour's signals);
- `build_receipt` adds them up and sets them against a counterfactual (the same work run from
  its arrival in its first eligible region, no waiting, no move, on the same signals; built by
  `counterfactual_intervals` and priced by the same function), with the savings, the method and
  the assumptions in words;
- `split_hourly` cuts intervals at every UTC hour boundary and every signal change;
  `merge_equal_rates` joins contiguous intervals whose rates are equal; `compact_receipt`
  stores a receipt as runs of contiguous intervals with their hourly figures as arrays, and
  `expand_runs` / `rebuild_receipt` turn that back into intervals and a priced receipt.

Figures are plain floats with their unit in the name: kWh, g of CO2, JPY. Time is a tz-aware
`start` plus a duration in seconds (never `end - start`, whose microsecond rounding would
change the energy of a fractional hour).

WARNING: no I/O, no clock, no Kubernetes and no signal lookup here: callers give every instant
and every signal value in force. Nothing here decides anything; it only counts what happened.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, is_dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from itertools import pairwise

from wattbit.core.model import GRAMS_PER_TONNE, SECONDS_PER_HOUR

_TIME_EPS_S = 1e-6
"""Two instants closer than this (datetime's resolution) are the same instant."""
_TICK = timedelta(microseconds=1)

ENERGY_DECIMALS = 6
"""Per-interval kWh in the compact form are rounded to 1 mWh (totals are never rounded)."""
CARBON_DECIMALS = 3
"""Per-interval grams of CO2 in the compact form are rounded to 1 mg."""
COST_DECIMALS = 4
"""Per-interval JPY in the compact form are rounded to 0.0001 JPY."""
CARBON_RATE_DECIMALS = 3
"""Carbon intensities in the compact form are rounded to 0.001 g/kWh (finer than any source
publishes; a model's full floats would otherwise double a long run's size)."""
PRICE_RATE_DECIMALS = 4
"""Prices in the compact form are rounded to 0.0001 JPY/kWh (JEPX publishes 0.01)."""
AGE_DECIMALS = 3
"""Signal ages in the compact form are rounded to 1 ms."""


class Intensity(StrEnum):
    """What a carbon value measures, as its source says."""

    AVERAGE = "average"
    """The grid's mean emissions per kWh consumed (location-based, average)."""
    MARGINAL = "marginal"
    """The emissions of the generator that answers one more kWh (location-based, marginal)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Signals:
    """The signal values in force for an interval, with where and when they were observed."""

    carbon_g_per_kwh: float
    price_jpy_per_kwh: float
    source: str
    """The provider and zone, e.g. `replay:JP-KY/spring_weekday`, `powersignal:ns/name`."""
    observed_at: datetime
    """When the source measured or published the values (tz-aware)."""
    intensity: Intensity = Intensity.AVERAGE

    def __post_init__(self) -> None:
        _require_aware(self.observed_at, "observed_at")
        if not self.carbon_g_per_kwh >= 0.0 or not math.isfinite(self.carbon_g_per_kwh):
            raise ValueError(f"carbon must be finite and >= 0 g/kWh, got {self.carbon_g_per_kwh}")
        if not math.isfinite(self.price_jpy_per_kwh):
            raise ValueError(f"price must be finite, got {self.price_jpy_per_kwh} JPY/kWh")

    def same_rates(self, other: Signals) -> bool:
        """True when `other` charges the same carbon and price, from the same kind of source."""
        return (
            self.carbon_g_per_kwh == other.carbon_g_per_kwh
            and self.price_jpy_per_kwh == other.price_jpy_per_kwh
            and self.source == other.source
            and self.intensity is other.intensity
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class SignalPeriod:
    """Signal values in force from `start` until the next period of the same timeline."""

    start: datetime
    signals: Signals

    def __post_init__(self) -> None:
        _require_aware(self.start, "start")


Timeline = Sequence[SignalPeriod]
"""One region's signal periods, sorted by `start` (callers sort; lookups bisect); the last
one stays in force."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Interval:
    """A stretch of time in one region with constant GPUs, power, PUE and signals."""

    region: str
    start: datetime
    duration_s: float
    gpus: int
    power_kw_per_gpu: float
    """Power of one GPU in this interval (busy or idle), IT side, kW."""
    pue: float
    """The site's power usage effectiveness: facility energy = IT energy x PUE."""
    signals: Signals

    def __post_init__(self) -> None:
        _require_aware(self.start, "start")
        for name, value in (
            ("duration_s", self.duration_s),
            ("gpus", self.gpus),
            ("power_kw_per_gpu", self.power_kw_per_gpu),
            ("pue", self.pue),
        ):
            if not value >= 0.0 or not math.isfinite(value):
                raise ValueError(f"interval {name} must be finite and >= 0, got {value}")

    @property
    def end(self) -> datetime:
        """The instant the interval ends (rounded to datetime's microsecond)."""
        return self.start + timedelta(seconds=self.duration_s)


@dataclass(frozen=True, slots=True, kw_only=True)
class Move:
    """A move from one region to another, with what it took beyond the running intervals."""

    from_region: str
    to_region: str
    at: datetime
    """When the move began (the checkpoint was requested or the workload suspended)."""
    checkpoint_gb: float
    transfer_s: float
    """Time the checkpoint spent on the APN link."""
    transfer_energy_kwh: float
    """The network's energy for the transfer (checkpoint GB x the link's kWh per GB); no PUE."""
    signals: Signals
    """The signals the transfer energy is priced at (the simulator: the destination's)."""
    idle: tuple[Interval, ...] = ()
    """GPUs held idle through the downtime (their idle power per GPU), one interval per hour
    and region crossed; empty when the GPUs were released meanwhile."""
    work_redone_s: float = 0.0
    """Work since the last checkpoint that had to be redone. Its energy is in the running
    intervals (the run is that much longer), never again in the move's cost."""

    def __post_init__(self) -> None:
        _require_aware(self.at, "at")
        if self.from_region == self.to_region:
            raise ValueError(f"a move needs two regions, got {self.from_region} twice")
        for name, value in (
            ("checkpoint_gb", self.checkpoint_gb),
            ("transfer_s", self.transfer_s),
            ("transfer_energy_kwh", self.transfer_energy_kwh),
            ("work_redone_s", self.work_redone_s),
        ):
            if not value >= 0.0 or not math.isfinite(value):
                raise ValueError(f"move {name} must be finite and >= 0, got {value}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Totals:
    """Energy, carbon, bill and carbon-adjusted cost of something."""

    energy_kwh: float = 0.0
    """Facility energy (IT x PUE), plus network energy for moves."""
    carbon_g: float = 0.0
    cost_jpy: float = 0.0
    """The electricity bill."""
    adjusted_cost_jpy: float = 0.0
    """The bill plus carbon at the receipt's carbon price."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PricedInterval:
    """An interval with its figures."""

    interval: Interval
    it_energy_kwh: float
    """GPUs x power per GPU x time, before PUE."""
    energy_kwh: float
    carbon_g: float
    cost_jpy: float
    adjusted_cost_jpy: float


@dataclass(frozen=True, slots=True, kw_only=True)
class PricedMove:
    """A move with its figures: transfer energy plus idle GPUs, priced."""

    move: Move
    transfer_energy_kwh: float
    idle_energy_kwh: float
    downtime_s: float
    """Time the GPUs were held idle (the idle intervals' total)."""
    energy_kwh: float
    carbon_g: float
    cost_jpy: float
    adjusted_cost_jpy: float
    idle: tuple[PricedInterval, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Savings:
    """The counterfactual minus the receipt: positive when the run did better."""

    energy_kwh: float
    carbon_g_avoided: float
    cost_jpy_saved: float
    adjusted_cost_jpy_saved: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Receipt:
    """Where a workload ran, what that took, and what running it unshifted would have."""

    carbon_price_jpy_per_tonne: float
    intervals: tuple[PricedInterval, ...]
    moves: tuple[PricedMove, ...]
    totals: Totals
    """The intervals' and the moves' figures added up."""
    counterfactual: tuple[PricedInterval, ...]
    counterfactual_totals: Totals
    savings: Savings
    waited_s: float | None
    """First interval's start minus the counterfactual's (its arrival); None if either is
    empty."""
    method: str
    assumptions: tuple[str, ...]


# ---------------------------------------------------------------- pricing


def price_interval(interval: Interval, *, carbon_price_jpy_per_tonne: float) -> PricedInterval:
    """The figures of one interval: the one arithmetic of running, everywhere."""
    it_energy_kwh = (
        interval.gpus * interval.power_kw_per_gpu * interval.duration_s / SECONDS_PER_HOUR
    )
    energy_kwh = it_energy_kwh * interval.pue
    carbon_g = energy_kwh * interval.signals.carbon_g_per_kwh
    cost_jpy = energy_kwh * interval.signals.price_jpy_per_kwh
    return PricedInterval(
        interval=interval,
        it_energy_kwh=it_energy_kwh,
        energy_kwh=energy_kwh,
        carbon_g=carbon_g,
        cost_jpy=cost_jpy,
        adjusted_cost_jpy=cost_jpy + carbon_g * carbon_price_jpy_per_tonne / GRAMS_PER_TONNE,
    )


def price_move(move: Move, *, carbon_price_jpy_per_tonne: float) -> PricedMove:
    """The figures of one move: the one arithmetic of moving, everywhere.

    The transfer energy is priced at `move.signals` (no PUE: it is the network's); the idle
    GPUs through each `move.idle` interval by `price_interval`.
    """
    idle = tuple(
        price_interval(piece, carbon_price_jpy_per_tonne=carbon_price_jpy_per_tonne)
        for piece in move.idle
    )
    transfer_carbon_g = move.transfer_energy_kwh * move.signals.carbon_g_per_kwh
    transfer_cost_jpy = move.transfer_energy_kwh * move.signals.price_jpy_per_kwh
    idle_totals = _sum(idle)
    carbon_g = transfer_carbon_g + idle_totals.carbon_g
    cost_jpy = transfer_cost_jpy + idle_totals.cost_jpy
    transfer_adjusted_jpy = (
        transfer_cost_jpy + transfer_carbon_g * carbon_price_jpy_per_tonne / GRAMS_PER_TONNE
    )
    return PricedMove(
        move=move,
        transfer_energy_kwh=move.transfer_energy_kwh,
        idle_energy_kwh=idle_totals.energy_kwh,
        downtime_s=math.fsum(piece.duration_s for piece in move.idle),
        energy_kwh=move.transfer_energy_kwh + idle_totals.energy_kwh,
        carbon_g=carbon_g,
        cost_jpy=cost_jpy,
        adjusted_cost_jpy=transfer_adjusted_jpy + idle_totals.adjusted_cost_jpy,
        idle=idle,
    )


def total(items: Iterable[PricedInterval | PricedMove]) -> Totals:
    """The figures of `items` added up (exactly rounded sums)."""
    return _sum(list(items))


def _sum(items: Sequence[PricedInterval | PricedMove]) -> Totals:
    return Totals(
        energy_kwh=math.fsum(item.energy_kwh for item in items),
        carbon_g=math.fsum(item.carbon_g for item in items),
        cost_jpy=math.fsum(item.cost_jpy for item in items),
        adjusted_cost_jpy=math.fsum(item.adjusted_cost_jpy for item in items),
    )


# ---------------------------------------------------------------- the receipt


def build_receipt(
    *,
    intervals: Sequence[Interval],
    moves: Sequence[Move] = (),
    counterfactual: Sequence[Interval],
    carbon_price_jpy_per_tonne: float,
    assumptions: Sequence[str] = (),
) -> Receipt:
    """Price a run and its counterfactual, and say how (extra `assumptions` are appended)."""
    price = carbon_price_jpy_per_tonne
    priced = tuple(price_interval(i, carbon_price_jpy_per_tonne=price) for i in intervals)
    priced_moves = tuple(price_move(m, carbon_price_jpy_per_tonne=price) for m in moves)
    baseline = tuple(price_interval(i, carbon_price_jpy_per_tonne=price) for i in counterfactual)
    totals = _sum([*priced, *priced_moves])
    baseline_totals = _sum(baseline)
    waited_s = (
        (intervals[0].start - counterfactual[0].start).total_seconds()
        if intervals and counterfactual
        else None
    )
    every_signal = [
        *(i.signals for i in intervals),
        *(m.signals for m in moves),
        *(i.signals for m in moves for i in m.idle),
        *(i.signals for i in counterfactual),
    ]
    return Receipt(
        carbon_price_jpy_per_tonne=price,
        intervals=priced,
        moves=priced_moves,
        totals=totals,
        counterfactual=baseline,
        counterfactual_totals=baseline_totals,
        savings=Savings(
            energy_kwh=baseline_totals.energy_kwh - totals.energy_kwh,
            carbon_g_avoided=baseline_totals.carbon_g - totals.carbon_g,
            cost_jpy_saved=baseline_totals.cost_jpy - totals.cost_jpy,
            adjusted_cost_jpy_saved=baseline_totals.adjusted_cost_jpy - totals.adjusted_cost_jpy,
        ),
        waited_s=waited_s,
        method=describe_method(every_signal),
        assumptions=(
            *_standard_assumptions(price, counterfactual),
            *assumptions,
        ),
    )


def describe_method(signals: Iterable[Signals]) -> str:
    """The accounting method the signals allow: average unless the source says marginal."""
    kinds = {s.intensity for s in signals}
    if kinds == {Intensity.MARGINAL}:
        return "location-based, marginal intensity"
    if Intensity.MARGINAL in kinds:
        return "location-based, marginal intensity where the source gives it, average elsewhere"
    return "location-based, average intensity"


def _standard_assumptions(
    carbon_price_jpy_per_tonne: float, counterfactual: Sequence[Interval]
) -> tuple[str, ...]:
    regions = sorted({i.region for i in counterfactual})
    where = ", ".join(regions) if regions else "no region (nothing ran)"
    return (
        "Energy is GPUs x power per GPU x time x the site's PUE; other hardware and cooling "
        "beyond PUE are not counted.",
        "Carbon and cost are energy x the carbon intensity and electricity price in force for "
        "each interval, as published by the named source at the time given; no contracts, "
        "certificates, taxes or demand charges.",
        f"The carbon-adjusted cost adds carbon at {carbon_price_jpy_per_tonne:,.0f} JPY per tonne.",
        "A move costs the network's energy for the checkpoint transfer (no PUE), priced at the "
        "signals in force when it moves, plus the GPUs held idle through its downtime; work "
        "redone after a move is in the running intervals, which are that much longer.",
        f"The counterfactual runs the same work from its arrival in {where}, with no waiting and "
        "no move, on the same signals.",
        "Average intensity attributes the grid's mean emissions to the load; it is not a claim "
        "about the emissions a shift caused or avoided at the margin.",
    )


# ---------------------------------------------------------------- splitting and merging


def signals_at(timeline: Timeline, at: datetime) -> Signals:
    """The signals in force at `at`: the last period that started at or before it."""
    # One microsecond of slack: instants rebuilt from float offsets may land a tick early.
    index = bisect_right(timeline, at + _TICK, key=_period_start)
    if index == 0:
        raise ValueError(f"no signals in force at {at.isoformat()}")
    return timeline[index - 1].signals


def _period_start(period: SignalPeriod) -> datetime:
    return period.start


def split_at(interval: Interval, at: datetime) -> tuple[Interval, ...]:
    """`interval` cut at `at` (two pieces), or unchanged when `at` is not strictly inside."""
    offset_s = (at - interval.start).total_seconds()
    if offset_s <= _TIME_EPS_S or offset_s >= interval.duration_s - _TIME_EPS_S:
        return (interval,)
    return (
        replace(interval, duration_s=offset_s),
        replace(interval, start=at, duration_s=interval.duration_s - offset_s),
    )


def split_hourly(
    intervals: Iterable[Interval], *, timelines: Mapping[str, Timeline] | None = None
) -> tuple[Interval, ...]:
    """Cut every interval at each UTC hour boundary and each signal change inside it.

    With `timelines` (region -> its signal periods), every piece of an interval in a region
    that has a timeline takes the signals in force at its start; otherwise pieces keep the
    interval's signals.
    """
    pieces: list[Interval] = []
    for interval in intervals:
        timeline = (timelines or {}).get(interval.region)
        inside: list[float] = []
        boundary = _next_hour(interval.start)
        while (offset_s := (boundary - interval.start).total_seconds()) < interval.duration_s:
            inside.append(offset_s)
            boundary += timedelta(hours=1)
        if timeline:
            first = bisect_right(timeline, interval.start, key=_period_start)
            last = bisect_right(timeline, interval.end, key=_period_start)
            inside.extend((p.start - interval.start).total_seconds() for p in timeline[first:last])
        cuts = [0.0]
        for cut in sorted(inside):
            # Cuts closer than datetime's resolution would leave slivers no instant can start.
            if cut - cuts[-1] > _TIME_EPS_S and cut < interval.duration_s - _TIME_EPS_S:
                cuts.append(cut)
        cuts.append(interval.duration_s)
        for begin_s, end_s in pairwise(cuts):
            start = (
                interval.start if begin_s == 0.0 else interval.start + timedelta(seconds=begin_s)
            )
            piece = replace(interval, start=start, duration_s=end_s - begin_s)
            if timeline is not None:
                piece = replace(piece, signals=signals_at(timeline, start))
            pieces.append(piece)
    return tuple(pieces)


def _next_hour(at: datetime) -> datetime:
    utc = at.astimezone(UTC)
    return utc.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)


def _contiguous(first: Interval, second: Interval) -> bool:
    gap_s = (second.start - first.start).total_seconds() - first.duration_s
    return abs(gap_s) <= _TIME_EPS_S


def _same_rates(first: Interval, second: Interval) -> bool:
    return (
        first.region == second.region
        and first.gpus == second.gpus
        and first.power_kw_per_gpu == second.power_kw_per_gpu
        and first.pue == second.pue
        and first.signals.same_rates(second.signals)
    )


def merge_equal_rates(intervals: Iterable[Interval]) -> tuple[Interval, ...]:
    """Join contiguous intervals that charge the same rates into one.

    A merged interval keeps its first piece's signals (so its observation time); every
    figure is unchanged, because each is linear in the duration.
    """
    merged: list[Interval] = []
    for interval in intervals:
        if merged and _contiguous(merged[-1], interval) and _same_rates(merged[-1], interval):
            last = merged[-1]
            merged[-1] = replace(last, duration_s=last.duration_s + interval.duration_s)
        else:
            merged.append(interval)
    return tuple(merged)


def counterfactual_intervals(
    *,
    region: str,
    arrival: datetime,
    work_s: float,
    gpus: int,
    power_kw_per_gpu: float,
    pue: float,
    timeline: Timeline,
) -> tuple[Interval, ...]:
    """`work_s` of running from `arrival` in `region`, on its signals, cut hourly.

    `work_s` is the work itself, without work redone after moves (the counterfactual never
    moves); a running workload's receipt uses the work done so far.
    """
    whole = Interval(
        region=region,
        start=arrival,
        duration_s=work_s,
        gpus=gpus,
        power_kw_per_gpu=power_kw_per_gpu,
        pue=pue,
        signals=signals_at(timeline, arrival),
    )
    return split_hourly([whole], timelines={region: timeline})


# ---------------------------------------------------------------- the compact form


@dataclass(frozen=True, slots=True, kw_only=True)
class CompactRun:
    """Contiguous intervals in one region with one setup and source, as parallel arrays.

    Piece i starts at `start` plus the durations before it. Signals and figures are per
    piece; contiguous pieces with equal rates are merged first.
    """

    region: str
    start: datetime
    gpus: int
    power_kw_per_gpu: float
    pue: float
    source: str
    intensity: Intensity
    duration_s: tuple[float, ...]
    carbon_g_per_kwh: tuple[float, ...]
    price_jpy_per_kwh: tuple[float, ...]
    signal_age_s: tuple[float, ...]
    """Piece start minus the signals' observation time."""
    energy_kwh: tuple[float, ...]
    carbon_g: tuple[float, ...]
    cost_jpy: tuple[float, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class CompactMove:
    """A move with its figures; its idle GPUs as runs."""

    from_region: str
    to_region: str
    at: datetime
    checkpoint_gb: float
    transfer_s: float
    transfer_energy_kwh: float
    signals: Signals
    idle: tuple[CompactRun, ...]
    work_redone_s: float
    energy_kwh: float
    carbon_g: float
    cost_jpy: float


@dataclass(frozen=True, slots=True, kw_only=True)
class CompactReceipt:
    """A receipt small enough for a status field: a 30-day hourly run stays under 100 KB."""

    method: str
    assumptions: tuple[str, ...]
    carbon_price_jpy_per_tonne: float
    totals: Totals
    counterfactual_totals: Totals
    savings: Savings
    waited_s: float | None
    intervals: tuple[CompactRun, ...]
    moves: tuple[CompactMove, ...] = field(default=())
    counterfactual: tuple[CompactRun, ...] = field(default=())


def compact_runs(
    intervals: Sequence[Interval], *, carbon_price_jpy_per_tonne: float
) -> tuple[CompactRun, ...]:
    """`intervals` merged where rates are equal, grouped into runs, figures rounded."""
    runs: list[CompactRun] = []
    group: list[Interval] = []

    def flush() -> None:
        if group:
            runs.append(_compact_run(group, carbon_price_jpy_per_tonne))
            group.clear()

    for interval in merge_equal_rates(intervals):
        if group and not (_contiguous(group[-1], interval) and _same_setup(group[-1], interval)):
            flush()
        group.append(interval)
    flush()
    return tuple(runs)


def _same_setup(first: Interval, second: Interval) -> bool:
    return (
        first.region == second.region
        and first.gpus == second.gpus
        and first.power_kw_per_gpu == second.power_kw_per_gpu
        and first.pue == second.pue
        and first.signals.source == second.signals.source
        and first.signals.intensity is second.signals.intensity
    )


def _compact_run(group: Sequence[Interval], carbon_price_jpy_per_tonne: float) -> CompactRun:
    head = group[0]
    priced = [
        price_interval(i, carbon_price_jpy_per_tonne=carbon_price_jpy_per_tonne) for i in group
    ]
    return CompactRun(
        region=head.region,
        start=head.start,
        gpus=head.gpus,
        power_kw_per_gpu=head.power_kw_per_gpu,
        pue=head.pue,
        source=head.signals.source,
        intensity=head.signals.intensity,
        duration_s=tuple(i.duration_s for i in group),
        carbon_g_per_kwh=tuple(
            round(i.signals.carbon_g_per_kwh, CARBON_RATE_DECIMALS) for i in group
        ),
        price_jpy_per_kwh=tuple(
            round(i.signals.price_jpy_per_kwh, PRICE_RATE_DECIMALS) for i in group
        ),
        signal_age_s=tuple(
            round((i.start - i.signals.observed_at).total_seconds(), AGE_DECIMALS) for i in group
        ),
        energy_kwh=tuple(round(p.energy_kwh, ENERGY_DECIMALS) for p in priced),
        carbon_g=tuple(round(p.carbon_g, CARBON_DECIMALS) for p in priced),
        cost_jpy=tuple(round(p.cost_jpy, COST_DECIMALS) for p in priced),
    )


def expand_runs(runs: Iterable[CompactRun]) -> tuple[Interval, ...]:
    """The intervals a run stores (merged ones stay merged); the figures are not read."""
    intervals: list[Interval] = []
    for run in runs:
        offset_s = 0.0
        for duration_s, carbon, price, age_s in zip(
            run.duration_s,
            run.carbon_g_per_kwh,
            run.price_jpy_per_kwh,
            run.signal_age_s,
            strict=True,
        ):
            start = run.start + timedelta(seconds=offset_s)
            intervals.append(
                Interval(
                    region=run.region,
                    start=start,
                    duration_s=duration_s,
                    gpus=run.gpus,
                    power_kw_per_gpu=run.power_kw_per_gpu,
                    pue=run.pue,
                    signals=Signals(
                        carbon_g_per_kwh=carbon,
                        price_jpy_per_kwh=price,
                        source=run.source,
                        observed_at=start - timedelta(seconds=age_s),
                        intensity=run.intensity,
                    ),
                )
            )
            offset_s += duration_s
    return tuple(intervals)


def compact_receipt(receipt: Receipt) -> CompactReceipt:
    """`receipt` in its compact form (figures per piece rounded; totals exact)."""
    price = receipt.carbon_price_jpy_per_tonne
    return CompactReceipt(
        method=receipt.method,
        assumptions=receipt.assumptions,
        carbon_price_jpy_per_tonne=price,
        totals=receipt.totals,
        counterfactual_totals=receipt.counterfactual_totals,
        savings=receipt.savings,
        waited_s=receipt.waited_s,
        intervals=compact_runs(
            [p.interval for p in receipt.intervals], carbon_price_jpy_per_tonne=price
        ),
        moves=tuple(
            CompactMove(
                from_region=p.move.from_region,
                to_region=p.move.to_region,
                at=p.move.at,
                checkpoint_gb=p.move.checkpoint_gb,
                transfer_s=p.move.transfer_s,
                transfer_energy_kwh=p.move.transfer_energy_kwh,
                signals=p.move.signals,
                idle=compact_runs(p.move.idle, carbon_price_jpy_per_tonne=price),
                work_redone_s=p.move.work_redone_s,
                energy_kwh=p.energy_kwh,
                carbon_g=p.carbon_g,
                cost_jpy=p.cost_jpy,
            )
            for p in receipt.moves
        ),
        counterfactual=compact_runs(
            [p.interval for p in receipt.counterfactual], carbon_price_jpy_per_tonne=price
        ),
    )


def rebuild_receipt(compact: CompactReceipt, *, assumptions: Sequence[str] = ()) -> Receipt:
    """Price the compact form's inputs again: the check anyone can run on a stored receipt.

    The standard assumptions are restated; pass the caller's own extra ones again.
    """
    moves = [
        Move(
            from_region=m.from_region,
            to_region=m.to_region,
            at=m.at,
            checkpoint_gb=m.checkpoint_gb,
            transfer_s=m.transfer_s,
            transfer_energy_kwh=m.transfer_energy_kwh,
            signals=m.signals,
            idle=expand_runs(m.idle),
            work_redone_s=m.work_redone_s,
        )
        for m in compact.moves
    ]
    return build_receipt(
        intervals=expand_runs(compact.intervals),
        moves=moves,
        counterfactual=expand_runs(compact.counterfactual),
        carbon_price_jpy_per_tonne=compact.carbon_price_jpy_per_tonne,
        assumptions=assumptions,
    )


JsonValue = str | int | float | bool | None | list["JsonValue"] | dict[str, "JsonValue"]


def to_json(compact: CompactReceipt) -> dict[str, JsonValue]:
    """The compact form as JSON-ready values: instants as RFC 3339, whole numbers as ints."""
    out = _json(compact)
    if not isinstance(out, dict):
        raise TypeError("a compact receipt serialises to an object")
    return out


def _json(value: object) -> JsonValue:
    result: JsonValue
    if isinstance(value, datetime):
        result = value.isoformat()
    elif isinstance(value, StrEnum):
        result = value.value
    elif isinstance(value, bool | str | int) or value is None:
        result = value
    elif isinstance(value, float):
        result = int(value) if value.is_integer() and abs(value) < 2**53 else value
    elif isinstance(value, tuple | list):
        result = [_json(item) for item in value]
    elif is_dataclass(value) and not isinstance(value, type):
        result = {f.name: _json(getattr(value, f.name)) for f in fields(value)}
    else:
        raise TypeError(f"cannot serialise {type(value).__name__}")
    return result


def _require_aware(moment: datetime, name: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {moment.isoformat()}")
