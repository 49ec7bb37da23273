"""The live ledger: intervals closed hourly, on signal and region changes and on stopping;
the counterfactual grown by the work done; the stored form reads back to the same ledger."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from wattbit.api.v1alpha1.receipt import ReceiptStatus
from wattbit.core.accounting import Move, Signals, rebuild_receipt
from wattbit.core.ledger import Ledger, Look, Setup, Stint, advance, as_stored, receipt

T0 = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
A = Setup(region="hokkaido", gpus=8, power_kw_per_gpu=0.7, pue=1.2)
B = Setup(region="kyushu", gpus=8, power_kw_per_gpu=0.7, pue=1.1)


def sig(carbon: float, price: float, at: datetime, source: str = "test") -> Signals:
    return Signals(carbon_g_per_kwh=carbon, price_jpy_per_kwh=price, source=source, observed_at=at)


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def kwh(setup: Setup, seconds: float) -> float:
    return setup.gpus * setup.power_kw_per_gpu * seconds / 3600.0 * setup.pue


def run_in(setup: Setup, since: datetime, signals: Signals) -> Stint:
    return Stint(setup=setup, start=since, signals=signals)


def test_a_run_is_closed_at_each_signal_change_at_the_new_readings_observation_time() -> None:
    s1 = sig(400.0, 20.0, T0)
    s2 = sig(100.0, 5.0, T0 + minutes(20))
    ledger = Ledger(arrival=T0)
    ledger = advance(ledger, Look(now=T0 + minutes(5), running=run_in(A, T0 + minutes(5), s1)))
    assert ledger.open is not None
    assert ledger.intervals == ()
    # seen 40 s after it was observed: the change counts from its observation time
    ledger = advance(
        ledger, Look(now=T0 + minutes(20) + timedelta(seconds=40), running=run_in(A, T0, s2))
    )
    assert [i.duration_s for i in ledger.intervals] == [15 * 60.0]
    assert ledger.open is not None
    assert ledger.open.start == T0 + minutes(20)
    ledger = advance(ledger, Look(now=T0 + minutes(50), finished=True, stopped_at=T0 + minutes(50)))
    assert [i.duration_s for i in ledger.intervals] == [15 * 60.0, 30 * 60.0]
    assert ledger.finished_at == T0 + minutes(50)
    priced = receipt(ledger, carbon_price_jpy_per_tonne=10_000.0)
    expected_g = kwh(A, 900) * 400.0 + kwh(A, 1800) * 100.0
    assert priced.totals.carbon_g == pytest.approx(expected_g, rel=1e-12)
    assert priced.totals.cost_jpy == pytest.approx(kwh(A, 900) * 20.0 + kwh(A, 1800) * 5.0)


def test_a_run_is_cut_at_every_utc_hour_even_when_nothing_changes() -> None:
    s1 = sig(300.0, 10.0, T0)
    ledger = advance(
        Ledger(arrival=T0), Look(now=T0 + minutes(30), running=run_in(A, T0 + minutes(30), s1))
    )
    ledger = advance(ledger, Look(now=T0 + minutes(150), running=run_in(A, T0, s1)))
    assert [(i.start, i.duration_s) for i in ledger.intervals] == [
        (T0 + minutes(30), 1800.0),
        (T0 + minutes(60), 3600.0),
    ]
    assert ledger.open is not None
    assert ledger.open.start == T0 + minutes(120)


def test_nothing_changes_when_nothing_happened_even_after_reading_the_record_back() -> None:
    s1 = sig(300.123456789, 10.987654321, T0)
    look = Look(
        now=T0 + minutes(70),
        running=run_in(A, T0, s1),
        counterfactual_setup=A,
        counterfactual_signals=s1,
    )
    ledger = advance(Ledger(arrival=T0), look)
    assert ledger.intervals  # the 10:00-11:00 hour closed
    assert advance(ledger, replace(look, now=T0 + minutes(71))) == ledger
    stored = ReceiptStatus.from_ledger(ledger, carbon_price_jpy_per_tonne=10_000.0)
    back = ReceiptStatus.model_validate(stored.model_dump(by_alias=True, mode="json")).to_ledger()
    assert advance(back, replace(look, now=T0 + minutes(72))) == back


def test_a_move_closes_the_source_stint_at_suspension_and_opens_at_resumption() -> None:
    s_a, s_b = sig(500.0, 20.0, T0), sig(50.0, 3.0, T0)
    ledger = advance(Ledger(arrival=T0), Look(now=T0, running=run_in(A, T0, s_a)))
    ledger = advance(ledger, Look(now=T0 + minutes(12), stopped_at=T0 + minutes(10)))
    assert [i.duration_s for i in ledger.intervals] == [600.0]
    assert ledger.open is None
    move = Move(
        from_region="hokkaido",
        to_region="kyushu",
        at=T0 + minutes(9),
        checkpoint_gb=100.0,
        transfer_s=80.0,
        transfer_energy_kwh=0.1,
        signals=s_b,
        work_redone_s=60.0,
    )
    ledger = advance(
        ledger, Look(now=T0 + minutes(16), running=run_in(B, T0 + minutes(15), s_b), moves=(move,))
    )
    ledger = advance(ledger, Look(now=T0 + minutes(25), running=run_in(B, T0, s_b), moves=(move,)))
    assert len(ledger.moves) == 1  # booked once
    ledger = advance(ledger, Look(now=T0 + minutes(25), finished=True))
    assert [(i.region, i.duration_s) for i in ledger.intervals] == [
        ("hokkaido", 600.0),
        ("kyushu", 600.0),
    ]
    assert ledger.work_s == pytest.approx(1140.0)


def test_the_counterfactual_runs_from_arrival_on_the_signals_seen_there() -> None:
    cheap, dear = sig(50.0, 3.0, T0), sig(600.0, 30.0, T0)
    later = sig(700.0, 40.0, T0 + minutes(30))
    ledger = Ledger(arrival=T0)
    # waits 60 min (the counterfactual region turns dearer meanwhile), then runs 30 min
    ledger = advance(
        ledger, Look(now=T0 + minutes(1), counterfactual_setup=A, counterfactual_signals=dear)
    )
    ledger = advance(ledger, Look(now=T0 + minutes(31), counterfactual_signals=later))
    ledger = advance(
        ledger,
        Look(
            now=T0 + minutes(60),
            running=run_in(B, T0 + minutes(60), cheap),
            counterfactual_signals=later,
        ),
    )
    ledger = advance(
        ledger, Look(now=T0 + minutes(90), finished=True, counterfactual_signals=later)
    )
    counterfactual = ledger.counterfactual
    assert counterfactual is not None
    assert [
        (i.start, i.duration_s, i.signals.carbon_g_per_kwh) for i in counterfactual.intervals
    ] == [(T0, 1800.0, 600.0)]
    priced = receipt(ledger, carbon_price_jpy_per_tonne=10_000.0)
    assert priced.waited_s == pytest.approx(3600.0)
    assert priced.counterfactual_totals.carbon_g == pytest.approx(kwh(A, 1800) * 600.0)
    assert priced.savings.carbon_g_avoided == pytest.approx(kwh(A, 1800) * 600 - kwh(B, 1800) * 50)


def test_the_counterfactual_takes_later_signals_when_its_work_reaches_them() -> None:
    first, second = sig(600.0, 30.0, T0), sig(200.0, 10.0, T0 + minutes(20))
    ledger = advance(
        Ledger(arrival=T0),
        Look(
            now=T0,
            running=run_in(A, T0, first),
            counterfactual_setup=A,
            counterfactual_signals=first,
        ),
    )
    ledger = advance(
        ledger,
        Look(now=T0 + minutes(20), running=run_in(A, T0, second), counterfactual_signals=second),
    )
    ledger = advance(ledger, Look(now=T0 + minutes(40), finished=True))
    assert ledger.counterfactual is not None
    got = [(i.duration_s, i.signals.carbon_g_per_kwh) for i in ledger.counterfactual.intervals]
    assert got == [(1200.0, 600.0), (1200.0, 200.0)]
    priced = receipt(ledger, carbon_price_jpy_per_tonne=0.0)
    assert priced.savings.carbon_g_avoided == pytest.approx(0.0, abs=1e-9)


def test_a_finished_ledger_never_changes() -> None:
    ledger = advance(Ledger(arrival=T0), Look(now=T0, finished=True))
    assert (
        advance(ledger, Look(now=T0 + minutes(5), running=run_in(A, T0, sig(1, 1, T0)))) == ledger
    )


def thirty_days() -> Ledger:
    """A 30-day run on hourly-varying signals with a 3-hour wait and one move."""
    ledger = Ledger(arrival=T0)
    setup = A
    for hour in range(30 * 24 + 3):
        now = T0 + timedelta(hours=hour, minutes=1)
        carbon = 300.0 + 200.0 * math.sin(hour / 3.7) + hour % 7 * 0.123456
        price = 12.0 + 6.0 * math.cos(hour / 5.1) + hour % 5 * 0.0123456
        signals = sig(carbon, price, T0 + timedelta(hours=hour), source="replay:JP-HK/winter")
        if hour == 400:
            setup = B
        running = run_in(setup, now, signals) if hour >= 3 else None
        ledger = advance(
            ledger,
            Look(
                now=now,
                running=running,
                counterfactual_setup=A,
                counterfactual_signals=signals,
            ),
        )
    return ledger


def test_a_thirty_day_record_stays_under_100_kb_and_reads_back_unchanged() -> None:
    ledger = thirty_days()
    stored = ReceiptStatus.from_ledger(ledger, carbon_price_jpy_per_tonne=10_000.0)
    wire = stored.model_dump(by_alias=True, mode="json", exclude_none=True)
    size = len(json.dumps(wire, separators=(",", ":")))
    assert size < 100_000, size
    back = ReceiptStatus.model_validate(wire)
    again = back.to_ledger()
    assert again.open == ledger.open
    restored = ReceiptStatus.from_ledger(again, carbon_price_jpy_per_tonne=10_000.0)
    assert restored.intervals == back.intervals
    assert restored.counterfactual == back.counterfactual
    assert restored.moves == back.moves
    # merged intervals add up in another order: the same sums to the last bits
    assert restored.savings.carbon_grams_avoided == pytest.approx(
        back.savings.carbon_grams_avoided, rel=1e-12
    )


def test_a_stored_receipt_rebuilds_to_its_own_totals() -> None:
    stored = ReceiptStatus.from_ledger(thirty_days(), carbon_price_jpy_per_tonne=10_000.0)
    rebuilt = rebuild_receipt(stored.compact())
    assert rebuilt.totals.carbon_g == pytest.approx(stored.totals.carbon_grams, rel=1e-9)
    assert rebuilt.counterfactual_totals.cost_jpy == pytest.approx(
        stored.counterfactual_totals.cost_jpy, rel=1e-9
    )


def test_stored_rates_are_rounded_once() -> None:
    signals = sig(123.456789, 9.87654321, T0)
    assert as_stored(as_stored(signals)) == as_stored(signals)


def test_receipts_read_back_share_one_copy_of_their_method_and_assumptions() -> None:
    stored = ReceiptStatus.from_ledger(thirty_days(), carbon_price_jpy_per_tonne=10_000.0)
    wire = json.dumps(stored.model_dump(by_alias=True, mode="json"))
    first, second = (ReceiptStatus.model_validate_json(wire) for _ in range(2))
    assert first.assumptions == stored.assumptions
    assert first.method is second.method
    assert all(a is b for a, b in zip(first.assumptions, second.assumptions, strict=True))
