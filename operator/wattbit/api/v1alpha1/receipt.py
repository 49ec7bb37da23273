"""A workload's receipt on the wire: `WorkloadPlacement.status.receipt`.

The compact form of `wattbit.core.accounting.CompactReceipt` in camelCase, plus what the
operator carries between passes (`wattbit.core.ledger`: the stint in progress and the
counterfactual's signals not yet reached). `to_ledger` and `from_ledger` convert; the figures
are always computed by the core, never here.

Data definitions and conversions only: no API calls.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import timedelta
from typing import Annotated, Final

from pydantic import AfterValidator, Field

from wattbit.api.schema import MicroTimestamp as Timestamp
from wattbit.api.v1alpha1.common import RegionName, WattbitModel
from wattbit.core.accounting import (
    CompactMove,
    CompactReceipt,
    CompactRun,
    Intensity,
    Interval,
    Move,
    Savings,
    SignalPeriod,
    Signals,
    Totals,
    compact_receipt,
    compact_runs,
    expand_runs,
    split_hourly,
)
from wattbit.core.ledger import Counterfactual, Ledger, Setup, Stint
from wattbit.core.ledger import receipt as price_ledger

ASSUMPTION_LIVE = (
    "Intervals are closed at every UTC hour, on every region change and when the signals "
    "change (at the new reading's observation time); the stint in progress (`open`) is not "
    "in the totals until it closes."
)
ASSUMPTION_FIRST_ELIGIBLE = (
    "The counterfactual's region is the first eligible region, in name order, when the "
    "workload arrived; signals are those the operator observed there."
)
ASSUMPTION_REDONE = (
    "A move whose checkpoint was not acknowledged counts the work since the checkpoint "
    "notice as redone (it is not in the counterfactual's work)."
)
LIVE_ASSUMPTIONS = (ASSUMPTION_LIVE, ASSUMPTION_FIRST_ELIGIBLE, ASSUMPTION_REDONE)

MAX_PIECES: Final = 100_000
"""Pieces in one run: a year of hourly pieces, each hour split a few times by signals."""
MAX_RUNS: Final = 10_000
MAX_MOVES: Final = 1_000

Source = Annotated[str, Field(max_length=512)]
Text = Annotated[str, Field(max_length=4096)]
SharedText = Annotated[str, Field(max_length=4096), AfterValidator(sys.intern)]
"""Text that every receipt repeats (the method, the assumptions): one copy in memory, not one
per record held in the operator's index (~1.7 KiB a record)."""
Pieces = Annotated[list[float], Field(max_length=MAX_PIECES)]


class SignalsRecord(WattbitModel):
    """Signal values in force, with their source and observation time."""

    carbon_grams_per_kwh: float
    price_jpy_per_kwh: float
    source: Source
    observed_at: Timestamp
    intensity: Intensity = Intensity.AVERAGE

    @classmethod
    def of(cls, signals: Signals) -> SignalsRecord:
        return cls(
            carbon_grams_per_kwh=signals.carbon_g_per_kwh,
            price_jpy_per_kwh=signals.price_jpy_per_kwh,
            source=signals.source,
            observed_at=signals.observed_at,
            intensity=signals.intensity,
        )

    def core(self) -> Signals:
        return Signals(
            carbon_g_per_kwh=self.carbon_grams_per_kwh,
            price_jpy_per_kwh=self.price_jpy_per_kwh,
            source=self.source,
            observed_at=self.observed_at,
            intensity=self.intensity,
        )


class SetupRecord(WattbitModel):
    """Where and how a workload draws power."""

    region: RegionName
    gpus: int
    power_kw_per_gpu: float
    """IT power of one GPU, kW."""
    pue: float

    @classmethod
    def of(cls, setup: Setup) -> SetupRecord:
        return cls(
            region=setup.region,
            gpus=setup.gpus,
            power_kw_per_gpu=setup.power_kw_per_gpu,
            pue=setup.pue,
        )

    def core(self) -> Setup:
        return Setup(
            region=self.region,
            gpus=self.gpus,
            power_kw_per_gpu=self.power_kw_per_gpu,
            pue=self.pue,
        )


class RunRecord(SetupRecord):
    """Contiguous intervals in one region with one setup and source, as parallel arrays.

    Piece i starts at `start` plus the durations before it; energy = GPUs x power x
    duration / 3600 x PUE, carbon = energy x carbon rate, cost = energy x price."""

    start: Timestamp
    source: Source
    intensity: Intensity = Intensity.AVERAGE
    duration_seconds: Pieces
    carbon_grams_per_kwh: Pieces
    price_jpy_per_kwh: Pieces
    signal_age_seconds: Pieces
    """Piece start minus the signals' observation time."""
    energy_kwh: Pieces
    carbon_grams: Pieces
    cost_jpy: Pieces

    @classmethod
    def of_run(cls, run: CompactRun) -> RunRecord:
        return cls(
            region=run.region,
            gpus=run.gpus,
            power_kw_per_gpu=run.power_kw_per_gpu,
            pue=run.pue,
            start=run.start,
            source=run.source,
            intensity=run.intensity,
            duration_seconds=list(run.duration_s),
            carbon_grams_per_kwh=list(run.carbon_g_per_kwh),
            price_jpy_per_kwh=list(run.price_jpy_per_kwh),
            signal_age_seconds=list(run.signal_age_s),
            energy_kwh=list(run.energy_kwh),
            carbon_grams=list(run.carbon_g),
            cost_jpy=list(run.cost_jpy),
        )

    def run(self) -> CompactRun:
        return CompactRun(
            region=self.region,
            start=self.start,
            gpus=self.gpus,
            power_kw_per_gpu=self.power_kw_per_gpu,
            pue=self.pue,
            source=self.source,
            intensity=self.intensity,
            duration_s=tuple(self.duration_seconds),
            carbon_g_per_kwh=tuple(self.carbon_grams_per_kwh),
            price_jpy_per_kwh=tuple(self.price_jpy_per_kwh),
            signal_age_s=tuple(self.signal_age_seconds),
            energy_kwh=tuple(self.energy_kwh),
            carbon_g=tuple(self.carbon_grams),
            cost_jpy=tuple(self.cost_jpy),
        )


class MoveRecord(WattbitModel):
    """A completed move with its own cost: checkpoint transfer and GPUs held idle."""

    from_region: RegionName
    to_region: RegionName
    at: Timestamp
    """When the move began."""
    checkpoint_gigabytes: float
    transfer_seconds: float
    transfer_energy_kwh: float
    """The network's energy for the transfer (no PUE)."""
    signals: SignalsRecord
    """The signals the transfer is priced at (the destination's, when it moved)."""
    idle: Annotated[list[RunRecord], Field(max_length=MAX_RUNS)] = Field(default_factory=list)
    work_redone_seconds: float = 0.0
    energy_kwh: float
    carbon_grams: float
    cost_jpy: float

    @classmethod
    def of_move(cls, move: CompactMove) -> MoveRecord:
        return cls(
            from_region=move.from_region,
            to_region=move.to_region,
            at=move.at,
            checkpoint_gigabytes=move.checkpoint_gb,
            transfer_seconds=move.transfer_s,
            transfer_energy_kwh=move.transfer_energy_kwh,
            signals=SignalsRecord.of(move.signals),
            idle=[RunRecord.of_run(r) for r in move.idle],
            work_redone_seconds=move.work_redone_s,
            energy_kwh=move.energy_kwh,
            carbon_grams=move.carbon_g,
            cost_jpy=move.cost_jpy,
        )

    def compact_move(self) -> CompactMove:
        return CompactMove(
            from_region=self.from_region,
            to_region=self.to_region,
            at=self.at,
            checkpoint_gb=self.checkpoint_gigabytes,
            transfer_s=self.transfer_seconds,
            transfer_energy_kwh=self.transfer_energy_kwh,
            signals=self.signals.core(),
            idle=tuple(r.run() for r in self.idle),
            work_redone_s=self.work_redone_seconds,
            energy_kwh=self.energy_kwh,
            carbon_g=self.carbon_grams,
            cost_jpy=self.cost_jpy,
        )

    def move(self) -> Move:
        stored = self.compact_move()
        return Move(
            from_region=stored.from_region,
            to_region=stored.to_region,
            at=stored.at,
            checkpoint_gb=stored.checkpoint_gb,
            transfer_s=stored.transfer_s,
            transfer_energy_kwh=stored.transfer_energy_kwh,
            signals=stored.signals,
            idle=expand_runs(stored.idle),
            work_redone_s=stored.work_redone_s,
        )


class TotalsRecord(WattbitModel):
    """Energy, carbon, bill and carbon-adjusted cost (exact sums, never rounded)."""

    energy_kwh: float = 0.0
    carbon_grams: float = 0.0
    cost_jpy: float = 0.0
    adjusted_cost_jpy: float = 0.0
    """The bill plus carbon at the receipt's carbon price."""

    @classmethod
    def of(cls, totals: Totals) -> TotalsRecord:
        return cls(
            energy_kwh=totals.energy_kwh,
            carbon_grams=totals.carbon_g,
            cost_jpy=totals.cost_jpy,
            adjusted_cost_jpy=totals.adjusted_cost_jpy,
        )

    def core(self) -> Totals:
        return Totals(
            energy_kwh=self.energy_kwh,
            carbon_g=self.carbon_grams,
            cost_jpy=self.cost_jpy,
            adjusted_cost_jpy=self.adjusted_cost_jpy,
        )


class SavingsRecord(WattbitModel):
    """The counterfactual minus the run: positive when the run did better."""

    energy_kwh: float = 0.0
    carbon_grams_avoided: float = 0.0
    cost_jpy_saved: float = 0.0
    adjusted_cost_jpy_saved: float = 0.0


class PeriodRecord(WattbitModel):
    """Signals in force from `start` until the next period."""

    start: Timestamp
    signals: SignalsRecord


class StintRecord(WattbitModel):
    """Running since `start` in one setup on one set of signals: not yet in the totals."""

    setup: SetupRecord
    start: Timestamp
    signals: SignalsRecord


class ReceiptStatus(WattbitModel):
    """Where a workload ran hour by hour, what that took, and what it would have taken
    unshifted. Recompute it from `intervals`, `moves` and `counterfactual` alone
    (`docs/receipts.md`)."""

    method: SharedText
    """The carbon accounting method, e.g. location-based, average intensity."""
    assumptions: Annotated[list[SharedText], Field(max_length=32)] = Field(default_factory=list)
    carbon_price_jpy_per_tonne: float
    arrival: Timestamp
    """When the workload was submitted: the counterfactual starts here."""
    finished_at: Timestamp | None = None
    totals: TotalsRecord
    counterfactual_totals: TotalsRecord
    savings: SavingsRecord
    waited_seconds: float | None = None
    """First interval's start minus the arrival."""
    intervals: Annotated[list[RunRecord], Field(max_length=MAX_RUNS)] = Field(default_factory=list)
    moves: Annotated[list[MoveRecord], Field(max_length=MAX_MOVES)] = Field(default_factory=list)
    counterfactual: Annotated[list[RunRecord], Field(max_length=MAX_RUNS)] = Field(
        default_factory=list
    )
    counterfactual_setup: SetupRecord | None = None
    counterfactual_ahead: Annotated[list[PeriodRecord], Field(max_length=MAX_PIECES)] = Field(
        default_factory=list
    )
    """Signals seen in the counterfactual's region that its work has not reached yet."""
    open: StintRecord | None = None

    @classmethod
    def from_ledger(cls, ledger: Ledger, *, carbon_price_jpy_per_tonne: float) -> ReceiptStatus:
        priced = price_ledger(
            ledger,
            carbon_price_jpy_per_tonne=carbon_price_jpy_per_tonne,
            assumptions=LIVE_ASSUMPTIONS,
        )
        compact = compact_receipt(priced)
        counterfactual = ledger.counterfactual
        stint = ledger.open
        return cls(
            method=compact.method,
            assumptions=list(compact.assumptions),
            carbon_price_jpy_per_tonne=carbon_price_jpy_per_tonne,
            arrival=ledger.arrival,
            finished_at=ledger.finished_at,
            totals=TotalsRecord.of(compact.totals),
            counterfactual_totals=TotalsRecord.of(compact.counterfactual_totals),
            savings=_savings(compact.savings),
            waited_seconds=compact.waited_s,
            intervals=[RunRecord.of_run(r) for r in compact.intervals],
            moves=[MoveRecord.of_move(m) for m in compact.moves],
            counterfactual=[RunRecord.of_run(r) for r in compact.counterfactual],
            counterfactual_setup=(
                SetupRecord.of(counterfactual.setup) if counterfactual is not None else None
            ),
            counterfactual_ahead=[
                PeriodRecord(start=p.start, signals=SignalsRecord.of(p.signals))
                for p in (counterfactual.ahead if counterfactual else ())
            ],
            open=(
                None
                if stint is None
                else StintRecord(
                    setup=SetupRecord.of(stint.setup),
                    start=stint.start,
                    signals=SignalsRecord.of(stint.signals),
                )
            ),
        )

    def to_ledger(self) -> Ledger:
        """The ledger the operator carries on from (intervals as stored, merged and rounded)."""
        setup = self.counterfactual_setup
        return Ledger(
            arrival=self.arrival,
            intervals=expand_runs(r.run() for r in self.intervals),
            moves=tuple(m.move() for m in self.moves),
            open=(
                None
                if self.open is None
                else Stint(
                    setup=self.open.setup.core(),
                    start=self.open.start,
                    signals=self.open.signals.core(),
                )
            ),
            counterfactual=(
                None
                if setup is None
                else Counterfactual(
                    setup=setup.core(),
                    intervals=expand_runs(r.run() for r in self.counterfactual),
                    ahead=tuple(
                        SignalPeriod(start=p.start, signals=p.signals.core())
                        for p in self.counterfactual_ahead
                    ),
                )
            ),
            finished_at=self.finished_at,
        )

    def compact(self) -> CompactReceipt:
        """The stored receipt as the core's compact form (for `rebuild_receipt`)."""
        return CompactReceipt(
            method=self.method,
            assumptions=tuple(self.assumptions),
            carbon_price_jpy_per_tonne=self.carbon_price_jpy_per_tonne,
            totals=self.totals.core(),
            counterfactual_totals=self.counterfactual_totals.core(),
            savings=Savings(
                energy_kwh=self.savings.energy_kwh,
                carbon_g_avoided=self.savings.carbon_grams_avoided,
                cost_jpy_saved=self.savings.cost_jpy_saved,
                adjusted_cost_jpy_saved=self.savings.adjusted_cost_jpy_saved,
            ),
            waited_s=self.waited_seconds,
            intervals=tuple(r.run() for r in self.intervals),
            moves=tuple(m.compact_move() for m in self.moves),
            counterfactual=tuple(r.run() for r in self.counterfactual),
        )

    def open_until(self, until: Timestamp) -> Sequence[RunRecord]:
        """The stint in progress priced up to `until`, cut hourly (for readers who want the
        figures so far; the operator adds it to the totals when it closes)."""
        stint = self.open
        if stint is None or until <= stint.start:
            return []
        setup = stint.setup
        whole = Interval(
            region=setup.region,
            start=stint.start,
            duration_s=(until - stint.start) / timedelta(seconds=1),
            gpus=setup.gpus,
            power_kw_per_gpu=setup.power_kw_per_gpu,
            pue=setup.pue,
            signals=stint.signals.core(),
        )
        return [
            RunRecord.of_run(r)
            for r in compact_runs(
                split_hourly([whole]), carbon_price_jpy_per_tonne=self.carbon_price_jpy_per_tonne
            )
        ]


def _savings(savings: Savings) -> SavingsRecord:
    return SavingsRecord(
        energy_kwh=savings.energy_kwh,
        carbon_grams_avoided=savings.carbon_g_avoided,
        cost_jpy_saved=savings.cost_jpy_saved,
        adjusted_cost_jpy_saved=savings.adjusted_cost_jpy_saved,
    )


__all__ = [
    "LIVE_ASSUMPTIONS",
    "MoveRecord",
    "PeriodRecord",
    "ReceiptStatus",
    "RunRecord",
    "SavingsRecord",
    "SetupRecord",
    "SignalsRecord",
    "StintRecord",
    "TotalsRecord",
]
