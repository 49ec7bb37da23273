"""A live workload's ledger, advanced one look at a time: the operator's side of receipts.

The reconcile loop looks at every workload on each pass. `advance` turns what it sees (where
the workload runs now and on which signals, whether it stopped, a move that completed) into
closed intervals that `wattbit.core.accounting` prices, so a live receipt and a simulated one
share one arithmetic. Pure: no clock, no I/O; the caller passes `now`.

Rules:
- the stint in progress (`Ledger.open`) is closed at every UTC hour, when its region, GPUs,
  power or PUE change, when the workload stops, and when its signals change: at the new
  reading's observation time (the moment the new values came into force), clamped to the
  stint;
- the counterfactual (the same work from its arrival in one region, no wait, no move) grows by
  the work the closed intervals did, on that region's signals as they were observed; signals
  seen beyond the counterfactual's end wait in `Counterfactual.ahead` until the work reaches
  them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from wattbit.core.accounting import (
    CARBON_RATE_DECIMALS,
    PRICE_RATE_DECIMALS,
    Interval,
    Move,
    Receipt,
    SignalPeriod,
    Signals,
    build_receipt,
    signals_at,
    split_hourly,
)

_EPS_S = 1e-6


@dataclass(frozen=True, slots=True, kw_only=True)
class Setup:
    """Where and how a workload draws power: constant through an interval."""

    region: str
    gpus: int
    power_kw_per_gpu: float
    pue: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Stint:
    """Running in `setup` since `start`, on `signals` (not yet closed)."""

    setup: Setup
    start: datetime
    signals: Signals


@dataclass(frozen=True, slots=True, kw_only=True)
class Counterfactual:
    """The same work from arrival in one region, grown as the real run does its work."""

    setup: Setup
    intervals: tuple[Interval, ...] = ()
    ahead: tuple[SignalPeriod, ...] = ()
    """Signals observed in the counterfactual's region that its work has not reached yet;
    the first is in force at the intervals' end."""

    @property
    def work_s(self) -> float:
        return math.fsum(i.duration_s for i in self.intervals)


@dataclass(frozen=True, slots=True, kw_only=True)
class Ledger:
    """What a workload's record keeps between passes."""

    arrival: datetime
    intervals: tuple[Interval, ...] = ()
    """Closed running intervals, in time order."""
    moves: tuple[Move, ...] = ()
    open: Stint | None = None
    counterfactual: Counterfactual | None = None
    finished_at: datetime | None = None

    @property
    def work_s(self) -> float:
        """Useful work the closed intervals did: their time less work redone after moves."""
        ran = math.fsum(i.duration_s for i in self.intervals)
        return max(0.0, ran - math.fsum(m.work_redone_s for m in self.moves))


@dataclass(frozen=True, slots=True, kw_only=True)
class Look:
    """What one pass sees of a workload."""

    now: datetime
    running: Stint | None = None
    """Where it runs now and the signals in force there; `start` is when it started running
    there, when known (release, resumption), else `now`. None: not running."""
    stopped_at: datetime | None = None
    """When it stopped running, when known (suspension, completion)."""
    finished: bool = False
    moves: tuple[Move, ...] = ()
    """Completed moves; each is booked once (by its `at`)."""
    counterfactual_setup: Setup | None = None
    """The counterfactual's region and setup; read once, at the first look that has it."""
    counterfactual_signals: Signals | None = None
    """The signals in force in the counterfactual's region now."""


def advance(ledger: Ledger, look: Look) -> Ledger:
    """The ledger after `look`; unchanged once finished."""
    if ledger.finished_at is not None:
        return ledger
    now = look.now
    booked = {m.at for m in ledger.moves}
    moves = ledger.moves + tuple(m for m in look.moves if m.at not in booked)
    closed = list(ledger.intervals)
    running = None if look.finished else look.running
    stint = ledger.open
    if stint is not None:
        end = _stint_end(stint, running, look.stopped_at, now)
        if end is not None:
            closed.extend(_pieces(stint, end))
            same_setup = running is not None and running.setup == stint.setup
            stint = None
            if running is not None:
                # New signals start where the old ones ended; a new place when it started.
                start = end if same_setup else max(end, running.start)
                stint = replace(running, start=min(start, now))
    elif running is not None:
        last_end = closed[-1].end if closed else ledger.arrival
        stint = replace(running, start=min(max(running.start, last_end), now))
    if stint is not None:
        hour = _hour_floor(now)
        if hour > stint.start:
            closed.extend(_pieces(stint, hour))
            stint = replace(stint, start=hour)
    finished_at = None
    if look.finished:
        last_end = closed[-1].end if closed else ledger.arrival
        finished_at = min(max(look.stopped_at or now, last_end), now)
    counterfactual = ledger.counterfactual
    if counterfactual is None and look.counterfactual_setup is not None:
        counterfactual = Counterfactual(setup=look.counterfactual_setup)
    new = Ledger(
        arrival=ledger.arrival,
        intervals=tuple(closed),
        moves=moves,
        open=stint,
        counterfactual=counterfactual,
        finished_at=finished_at,
    )
    if counterfactual is not None:
        if look.counterfactual_signals is not None and not look.finished:
            counterfactual = _observe(counterfactual, look.counterfactual_signals, new, now)
        counterfactual = _grow(counterfactual, ledger.arrival, new.work_s)
        new = replace(new, counterfactual=counterfactual)
    return new


def receipt(
    ledger: Ledger, *, carbon_price_jpy_per_tonne: float, assumptions: Sequence[str] = ()
) -> Receipt:
    """The ledger's closed intervals and moves priced against its counterfactual."""
    counterfactual = ledger.counterfactual.intervals if ledger.counterfactual else ()
    return build_receipt(
        intervals=ledger.intervals,
        moves=ledger.moves,
        counterfactual=counterfactual,
        carbon_price_jpy_per_tonne=carbon_price_jpy_per_tonne,
        assumptions=assumptions,
    )


# ---------------------------------------------------------------- stints


def _stint_end(
    stint: Stint, running: Stint | None, stopped_at: datetime | None, now: datetime
) -> datetime | None:
    """When the stint ended, or None while it goes on."""
    if running is None:
        end = stopped_at or now
    elif running.setup != stint.setup:
        end = stopped_at if stopped_at is not None else running.start
    elif not running.signals.same_rates(stint.signals):
        end = running.signals.observed_at
    else:
        return None
    return min(max(end, stint.start), now)


def _pieces(stint: Stint, end: datetime) -> tuple[Interval, ...]:
    """The stint from its start to `end`, cut at every UTC hour."""
    duration_s = (end - stint.start).total_seconds()
    if duration_s <= _EPS_S:
        return ()
    setup = stint.setup
    whole = Interval(
        region=setup.region,
        start=stint.start,
        duration_s=duration_s,
        gpus=setup.gpus,
        power_kw_per_gpu=setup.power_kw_per_gpu,
        pue=setup.pue,
        signals=as_stored(stint.signals),
    )
    return split_hourly([whole])


def as_stored(signals: Signals) -> Signals:
    """`signals` at the precision a receipt stores, so that a closed interval priced now and
    the same interval read back from the record give the same figures."""
    return replace(
        signals,
        carbon_g_per_kwh=round(signals.carbon_g_per_kwh, CARBON_RATE_DECIMALS),
        price_jpy_per_kwh=round(signals.price_jpy_per_kwh, PRICE_RATE_DECIMALS),
    )


def _hour_floor(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


# ---------------------------------------------------------------- the counterfactual


def _observe(
    counterfactual: Counterfactual, signals: Signals, ledger: Ledger, now: datetime
) -> Counterfactual:
    """Note the counterfactual region's signals in force now, if they changed."""
    known = counterfactual.ahead[-1] if counterfactual.ahead else None
    last_signals = (
        known.signals
        if known
        else (counterfactual.intervals[-1].signals if counterfactual.intervals else None)
    )
    if last_signals is not None and last_signals.same_rates(signals):
        return counterfactual
    if known is None and not counterfactual.intervals:
        start = ledger.arrival  # the first values seen stand for the arrival
    else:
        floor = known.start if known else counterfactual.intervals[-1].end
        start = min(max(signals.observed_at, floor), now)
    period = SignalPeriod(start=start, signals=signals)
    ahead = [p for p in counterfactual.ahead if p.start < start] + [period]
    return replace(counterfactual, ahead=tuple(ahead))


def _grow(counterfactual: Counterfactual, arrival: datetime, work_s: float) -> Counterfactual:
    """The counterfactual with `work_s` of work in all, as far as signals are known."""
    done_s = counterfactual.work_s
    more_s = work_s - done_s
    if more_s <= _EPS_S or not counterfactual.ahead:
        return counterfactual
    setup = counterfactual.setup
    start = counterfactual.intervals[-1].end if counterfactual.intervals else arrival
    if counterfactual.ahead[0].start > start:
        # Signals first seen after the arrival stand for the time before.
        first = replace(counterfactual.ahead[0], start=start)
        timeline = (first, *counterfactual.ahead[1:])
    else:
        timeline = counterfactual.ahead
    piece = Interval(
        region=setup.region,
        start=start,
        duration_s=more_s,
        gpus=setup.gpus,
        power_kw_per_gpu=setup.power_kw_per_gpu,
        pue=setup.pue,
        signals=signals_at(timeline, start),
    )
    grown = tuple(
        replace(i, signals=as_stored(i.signals))
        for i in split_hourly([piece], timelines={setup.region: timeline})
    )
    end = start + timedelta(seconds=more_s)
    in_force = [p for p in timeline if p.start <= end]
    later = [p for p in timeline if p.start > end]
    ahead = ([in_force[-1]] if in_force else []) + later
    return replace(counterfactual, intervals=counterfactual.intervals + grown, ahead=tuple(ahead))


__all__ = [
    "Counterfactual",
    "Ledger",
    "Look",
    "Setup",
    "Stint",
    "advance",
    "as_stored",
    "receipt",
]
