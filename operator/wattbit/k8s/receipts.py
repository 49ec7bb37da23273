"""What a pass sees of a workload, for its receipt: the adapter between records and the ledger.

`book` reads the workload, its record and the regions' signals, advances the ledger kept in
`status.receipt` (`wattbit.core.ledger`), and returns the record's new status when the receipt
changed (an interval closed, a move completed, the counterfactual's signals changed), else
None. Nothing here writes; the reconcile pass does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from wattbit.api.v1alpha1.receipt import ReceiptStatus
from wattbit.api.v1alpha1.workloadplacement import (
    AccountingTotals,
    BaselineTotals,
    MigrationStatus,
    PlacementRecord,
    SavingTotals,
    WorkloadPlacementStatus,
)
from wattbit.core.accounting import Interval, Move, Signals, price_interval
from wattbit.core.ledger import Ledger, Look, Setup, Stint, advance
from wattbit.core.migration import MovePhase
from wattbit.core.model import GRAMS_PER_KG, LinkSnapshot, RegionSnapshot
from wattbit.core.signals import SignalReading
from wattbit.k8s.snapshots import Managed, Stage

BOOKED_STAGES = frozenset({Stage.PENDING, Stage.RUNNING, Stage.MOVING, Stage.FINISHED})


@dataclass(frozen=True, slots=True, kw_only=True)
class Booking:
    """A record's new status and the intervals this look closed (for the metrics)."""

    status: WorkloadPlacementStatus
    closed: tuple[Interval, ...]
    finished: bool


class LedgerCache:
    """Ledgers read back from records, kept between passes.

    Reading a 30-day receipt back into a ledger takes ~20 ms and comparing two stored
    receipts ~0.1 ms, so a pass over a thousand long runs re-reads only the records that
    changed."""

    def __init__(self) -> None:
        self._by_record: dict[tuple[str, str], tuple[ReceiptStatus, Ledger]] = {}

    def ledger(self, key: tuple[str, str], stored: ReceiptStatus) -> Ledger:
        hit = self._by_record.get(key)
        if hit is not None and (hit[0] is stored or hit[0] == stored):
            # Keep the index's copy, an equal one read back from the watch: holding the one
            # this process wrote kept two copies of every receipt alive (~8 KB each).
            self._by_record[key] = (stored, hit[1])
            return hit[1]
        ledger = stored.to_ledger()
        self._by_record[key] = (stored, ledger)
        return ledger

    def keep(self, key: tuple[str, str], stored: ReceiptStatus, ledger: Ledger) -> None:
        self._by_record[key] = (stored, ledger)

    def retain(self, keys: Iterable[tuple[str, str]]) -> None:
        """Forget every record but `keys` (the records of this pass)."""
        alive = set(keys)
        for key in [k for k in self._by_record if k not in alive]:
            del self._by_record[key]


def signals_of(reading: SignalReading | None) -> Signals | None:
    """A region's signals in force, as the receipt states them; None without both values."""
    if reading is None or reading.carbon_g_per_kwh is None or reading.price_jpy_per_kwh is None:
        return None
    return Signals(
        carbon_g_per_kwh=reading.carbon_g_per_kwh,
        price_jpy_per_kwh=reading.price_jpy_per_kwh,
        source=reading.source,
        observed_at=reading.observed_at,
    )


def book(
    managed: Managed,
    *,
    now: datetime,
    regions: Mapping[str, RegionSnapshot],
    signals: Mapping[str, Signals | None],
    links: Sequence[LinkSnapshot],
    carbon_price_jpy_per_tonne: float,
    cache: LedgerCache | None = None,
) -> Booking | None:
    """The record with its receipt advanced to `now`, or None when nothing changed."""
    status = managed.record
    hints = managed.hints
    if status is None or hints is None or managed.stage not in BOOKED_STAGES:
        return None
    stored = status.receipt
    if stored is not None and stored.finished_at is not None:
        return None
    key = (managed.obj.namespace, managed.record_name)
    if stored is None:
        ledger = Ledger(arrival=managed.obj.created_at)
    elif cache is not None:
        ledger = cache.ledger(key, stored)
    else:
        ledger = stored.to_ledger()
    look = _look(managed, ledger, now=now, regions=regions, signals=signals, links=links)
    if look is None:
        return None
    advanced = advance(ledger, look)
    if advanced == ledger:
        return None
    receipt = ReceiptStatus.from_ledger(
        advanced, carbon_price_jpy_per_tonne=carbon_price_jpy_per_tonne
    )
    new = status.model_copy()
    new.receipt = receipt
    new.totals = AccountingTotals(
        energy_kwh=receipt.totals.energy_kwh,
        carbon_kg=receipt.totals.carbon_grams / GRAMS_PER_KG,
        cost_jpy=receipt.totals.cost_jpy,
    )
    setup = advanced.counterfactual.setup if advanced.counterfactual else None
    new.baseline = BaselineTotals(
        region=setup.region if setup else None,
        energy_kwh=receipt.counterfactual_totals.energy_kwh,
        carbon_kg=receipt.counterfactual_totals.carbon_grams / GRAMS_PER_KG,
        cost_jpy=receipt.counterfactual_totals.cost_jpy,
    )
    new.savings = SavingTotals(
        carbon_kg=receipt.savings.carbon_grams_avoided / GRAMS_PER_KG,
        cost_jpy=receipt.savings.cost_jpy_saved,
    )
    new.history = stints(advanced.intervals)
    if cache is not None:
        cache.keep(key, receipt, advanced)
    closed = advanced.intervals[len(ledger.intervals) :]
    return Booking(status=new, closed=closed, finished=advanced.finished_at is not None)


def stints(intervals: Iterable[Interval]) -> list[PlacementRecord]:
    """One entry per stretch in one region (contiguous or not: a move ends a stretch)."""
    out: list[PlacementRecord] = []
    for interval in intervals:
        priced = price_interval(interval, carbon_price_jpy_per_tonne=0.0)
        energy, carbon_kg, cost = priced.energy_kwh, priced.carbon_g / GRAMS_PER_KG, priced.cost_jpy
        last = out[-1] if out else None
        if last is not None and last.region == interval.region and last.ended_at is not None:
            gap_s = (interval.start - last.ended_at).total_seconds()
            if abs(gap_s) < 1.0:
                last.ended_at = interval.end
                last.energy_kwh += energy
                last.carbon_kg += carbon_kg
                last.cost_jpy += cost
                continue
        out.append(
            PlacementRecord(
                region=interval.region,
                started_at=interval.start,
                ended_at=interval.end,
                energy_kwh=energy,
                carbon_kg=carbon_kg,
                cost_jpy=cost,
            )
        )
    return out


# ---------------------------------------------------------------- looking


def _look(
    managed: Managed,
    ledger: Ledger,
    *,
    now: datetime,
    regions: Mapping[str, RegionSnapshot],
    signals: Mapping[str, Signals | None],
    links: Sequence[LinkSnapshot],
) -> Look | None:
    """What the pass sees; None when the signals it needs are unknown (booked later)."""
    obj, status, hints = managed.obj, managed.record, managed.hints
    assert status is not None  # noqa: S101 - book checked it
    assert hints is not None  # noqa: S101 - book checked it
    migration = status.migration
    running: Stint | None = None
    region = obj.placed_region
    if not obj.finished and not obj.suspended and region:
        if region not in regions:
            return None
        in_force = signals.get(region)
        if in_force is None:
            return None  # the stint goes on at the signals it has; closed when they are back
        running = Stint(
            setup=Setup(
                region=region,
                gpus=hints.gpus,
                power_kw_per_gpu=hints.power_kw_per_gpu,
                pue=regions[region].pue,
            ),
            start=_running_since(obj.released_at or obj.created_at, migration, ledger, now),
            signals=in_force,
        )
    stopped_at = migration.suspended_at if migration is not None and obj.suspended else None
    counterfactual_setup = None
    counterfactual_signals = None
    if ledger.counterfactual is None:
        first = _first_eligible(status)
        if first is not None and first in regions:
            counterfactual_setup = Setup(
                region=first,
                gpus=hints.gpus,
                power_kw_per_gpu=hints.power_kw_per_gpu,
                pue=regions[first].pue,
            )
    where = (
        ledger.counterfactual.setup.region
        if ledger.counterfactual is not None
        else (counterfactual_setup.region if counterfactual_setup else None)
    )
    if where is not None:
        counterfactual_signals = signals.get(where)
    return Look(
        now=now,
        running=running,
        stopped_at=stopped_at,
        finished=obj.finished,
        moves=_completed_move(migration, hints.checkpoint_size_gb, signals, links),
        counterfactual_setup=counterfactual_setup,
        counterfactual_signals=counterfactual_signals,
    )


def _running_since(
    released_at: datetime, migration: MigrationStatus | None, ledger: Ledger, now: datetime
) -> datetime:
    """When it started running where it is: resumed after its last move, else released."""
    since = released_at
    if migration is not None:
        resumed = [e.at for e in migration.history if e.phase is MovePhase.RESUMED]
        if resumed:
            since = max(since, resumed[-1])
    return min(since, now)


def _first_eligible(status: WorkloadPlacementStatus) -> str | None:
    eligible = sorted(c.region for c in status.candidates if c.eligible)
    if eligible:
        return eligible[0]
    return status.region


def _completed_move(
    migration: MigrationStatus | None,
    checkpoint_gb: float,
    signals: Mapping[str, Signals | None],
    links: Sequence[LinkSnapshot],
) -> tuple[Move, ...]:
    if migration is None or migration.phase is not MovePhase.RUNNING:
        return ()
    arrived = signals.get(migration.to_region)
    if arrived is None:
        return ()
    link = next(
        (
            candidate
            for candidate in links
            if {candidate.from_region, candidate.to_region}
            == {migration.from_region, migration.to_region}
        ),
        None,
    )
    return (
        Move(
            from_region=migration.from_region,
            to_region=migration.to_region,
            at=migration.started_at,
            checkpoint_gb=checkpoint_gb,
            transfer_s=link.transfer_s(checkpoint_gb) if link else 0.0,
            transfer_energy_kwh=checkpoint_gb * link.energy_kwh_per_gb if link else 0.0,
            signals=arrived,
            work_redone_s=_work_redone_s(migration),
        ),
    )


def _work_redone_s(migration: MigrationStatus) -> float:
    """Work lost to the move: from the checkpoint to the suspension (the whole notice when
    the checkpoint was never acknowledged)."""
    suspended = migration.suspended_at
    if suspended is None:
        return 0.0
    at = {entry.phase: entry.at for entry in migration.history}
    checkpoint = at.get(MovePhase.CHECKPOINT_ACKNOWLEDGED) or at.get(MovePhase.CHECKPOINT_REQUESTED)
    if checkpoint is None:
        return 0.0
    return max(0.0, (suspended - checkpoint).total_seconds())


__all__ = ["BOOKED_STAGES", "Booking", "LedgerCache", "book", "signals_of", "stints"]
