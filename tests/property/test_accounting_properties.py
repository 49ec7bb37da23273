"""Hypothesis properties of receipts (`wattbit.core.accounting`).

Properties, for any intervals (regions, instants, durations up to days, GPUs, power, PUE,
carbon and prices, negative prices included) and moves:
- a receipt's totals are the sum of its intervals' and its moves' figures;
- splitting an interval at any instant, or hourly at every signal change, never changes totals;
- merging contiguous equal-rate hours never changes totals;
- energy, carbon and idle energy are never negative; the carbon-adjusted cost is the bill plus
  carbon at the carbon price;
- a run with no move and no wait is its own counterfactual: every saving is exactly 0;
- the compact form priced again gives the same totals (signals at a source's precision).
Not covered here: hand-computed figures (tests/unit/test_accounting.py).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from wattbit.core.accounting import (
    Interval,
    Move,
    PricedInterval,
    PricedMove,
    SignalPeriod,
    Signals,
    Totals,
    build_receipt,
    compact_receipt,
    merge_equal_rates,
    price_interval,
    price_move,
    rebuild_receipt,
    split_at,
    split_hourly,
    total,
)

T0 = datetime(2026, 12, 2, tzinfo=UTC)
REL = 1e-9
"""Re-adding the same figures in another order or grouping moves them by rounding only."""

PROPERTY = settings(max_examples=80, deadline=None)

instants = st.integers(min_value=0, max_value=10 * 86_400 * 1000).map(
    lambda ms: T0 + timedelta(milliseconds=ms)
)
signal_values = st.builds(
    Signals,
    carbon_g_per_kwh=st.floats(min_value=0, max_value=1200, allow_nan=False),
    price_jpy_per_kwh=st.floats(min_value=-5, max_value=200, allow_nan=False),
    source=st.sampled_from(["replay:JP-HK/winter_weekday", "electricitymaps:JP-KY"]),
    observed_at=instants,
)
intervals = st.builds(
    Interval,
    region=st.sampled_from(["hokkaido", "tokyo", "kyushu"]),
    start=instants,
    duration_s=st.floats(min_value=0, max_value=3 * 86_400, allow_nan=False),
    gpus=st.integers(min_value=0, max_value=512),
    power_kw_per_gpu=st.floats(min_value=0, max_value=1.5, allow_nan=False),
    pue=st.floats(min_value=1.0, max_value=2.0, allow_nan=False),
    signals=signal_values,
)
moves = st.builds(
    Move,
    from_region=st.just("hokkaido"),
    to_region=st.just("kyushu"),
    at=instants,
    checkpoint_gb=st.floats(min_value=0, max_value=5000, allow_nan=False),
    transfer_s=st.floats(min_value=0, max_value=3600, allow_nan=False),
    transfer_energy_kwh=st.floats(min_value=0, max_value=10, allow_nan=False),
    signals=signal_values,
    idle=st.lists(intervals, max_size=3).map(tuple),
    work_redone_s=st.floats(min_value=0, max_value=3600, allow_nan=False),
)
carbon_prices = st.floats(min_value=0, max_value=100_000, allow_nan=False)


def close(first: Totals, second: Totals) -> bool:
    scale = max(abs(first.energy_kwh), abs(first.carbon_g), abs(first.cost_jpy), 1e-9)
    return all(
        math.isclose(getattr(first, name), getattr(second, name), rel_tol=REL, abs_tol=REL * scale)
        for name in ("energy_kwh", "carbon_g", "cost_jpy", "adjusted_cost_jpy")
    )


def totals_of(pieces: list[Interval] | tuple[Interval, ...], price: float) -> Totals:
    return total(price_interval(i, carbon_price_jpy_per_tonne=price) for i in pieces)


@PROPERTY
@given(
    ran=st.lists(intervals, max_size=6),
    moved=st.lists(moves, max_size=3),
    baseline=st.lists(intervals, max_size=4),
    price=carbon_prices,
)
def test_totals_are_the_sum_of_intervals_and_moves(
    ran: list[Interval], moved: list[Move], baseline: list[Interval], price: float
) -> None:
    receipt = build_receipt(
        intervals=ran, moves=moved, counterfactual=baseline, carbon_price_jpy_per_tonne=price
    )
    figures: list[PricedInterval | PricedMove] = [
        *(price_interval(i, carbon_price_jpy_per_tonne=price) for i in ran),
        *(price_move(m, carbon_price_jpy_per_tonne=price) for m in moved),
    ]
    assert receipt.totals == Totals(
        energy_kwh=math.fsum(f.energy_kwh for f in figures),
        carbon_g=math.fsum(f.carbon_g for f in figures),
        cost_jpy=math.fsum(f.cost_jpy for f in figures),
        adjusted_cost_jpy=math.fsum(f.adjusted_cost_jpy for f in figures),
    )
    assert receipt.savings.carbon_g_avoided == (
        receipt.counterfactual_totals.carbon_g - receipt.totals.carbon_g
    )


@PROPERTY
@given(interval=intervals, fraction=st.floats(min_value=0, max_value=1), price=carbon_prices)
def test_splitting_an_interval_anywhere_keeps_its_totals(
    interval: Interval, fraction: float, price: float
) -> None:
    at = interval.start + timedelta(seconds=interval.duration_s * fraction)
    pieces = split_at(interval, at)
    assert 1 <= len(pieces) <= 2
    assert close(totals_of(pieces, price), totals_of([interval], price))


@PROPERTY
@given(
    interval=intervals,
    changes=st.lists(st.tuples(instants, signal_values), max_size=8),
    price=carbon_prices,
)
def test_splitting_hourly_keeps_totals_and_covers_the_interval(
    interval: Interval, changes: list[tuple[datetime, Signals]], price: float
) -> None:
    pieces = split_hourly([interval])
    assert close(totals_of(pieces, price), totals_of([interval], price))
    assert math.isclose(
        math.fsum(p.duration_s for p in pieces), interval.duration_s, rel_tol=1e-12, abs_tol=1e-9
    )
    for piece in pieces:  # no piece crosses an hour boundary
        hour_end = piece.start.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        assert (hour_end - piece.start).total_seconds() >= piece.duration_s - 1e-6
    # With a timeline, each piece takes the signals in force at its start.
    timeline = sorted(
        [
            SignalPeriod(start=interval.start, signals=interval.signals),
            *(SignalPeriod(start=at, signals=s) for at, s in changes if at > interval.start),
        ],
        key=lambda period: period.start,
    )
    timed = split_hourly([interval], timelines={interval.region: timeline})
    for piece in timed:
        in_force = [p for p in timeline if p.start <= piece.start + timedelta(microseconds=1)]
        assert piece.signals == in_force[-1].signals


@PROPERTY
@given(
    start=instants,
    hours=st.integers(min_value=1, max_value=72),
    rates=st.lists(st.sampled_from([(100.0, 10.0), (100.0, 12.5), (350.5, 10.0)]), min_size=1),
    gpus=st.integers(min_value=1, max_value=64),
    price=carbon_prices,
)
def test_merging_equal_rate_hours_keeps_totals(
    start: datetime,
    hours: int,
    rates: list[tuple[float, float]],
    gpus: int,
    price: float,
) -> None:
    run = Interval(
        region="tokyo",
        start=start,
        duration_s=hours * 3600.0,
        gpus=gpus,
        power_kw_per_gpu=0.7,
        pue=1.3,
        signals=Signals(carbon_g_per_kwh=0, price_jpy_per_kwh=0, source="s", observed_at=start),
    )
    pieces = [
        Interval(
            region=p.region,
            start=p.start,
            duration_s=p.duration_s,
            gpus=p.gpus,
            power_kw_per_gpu=p.power_kw_per_gpu,
            pue=p.pue,
            signals=Signals(
                carbon_g_per_kwh=rates[n % len(rates)][0],
                price_jpy_per_kwh=rates[n % len(rates)][1],
                source="s",
                observed_at=p.start,
            ),
        )
        for n, p in enumerate(split_hourly([run]))
    ]
    merged = merge_equal_rates(pieces)
    assert len(merged) <= len(pieces)
    assert close(totals_of(merged, price), totals_of(pieces, price))
    for first, second in pairwise(merged):
        assert not first.signals.same_rates(second.signals)


@PROPERTY
@given(interval=intervals, move=moves, price=carbon_prices)
def test_energy_and_carbon_are_never_negative(interval: Interval, move: Move, price: float) -> None:
    priced = price_interval(interval, carbon_price_jpy_per_tonne=price)
    assert priced.energy_kwh >= 0.0
    assert priced.it_energy_kwh >= 0.0
    assert priced.carbon_g >= 0.0
    assert math.isclose(
        priced.adjusted_cost_jpy,
        priced.cost_jpy + priced.carbon_g * price / 1e6,
        rel_tol=1e-12,
        abs_tol=1e-9,
    )
    moving = price_move(move, carbon_price_jpy_per_tonne=price)
    assert moving.energy_kwh >= 0.0
    assert moving.idle_energy_kwh >= 0.0
    assert moving.carbon_g >= 0.0


@PROPERTY
@given(ran=st.lists(intervals, max_size=8), price=carbon_prices)
def test_no_move_and_no_wait_is_its_own_counterfactual(ran: list[Interval], price: float) -> None:
    receipt = build_receipt(intervals=ran, counterfactual=ran, carbon_price_jpy_per_tonne=price)
    assert receipt.totals == receipt.counterfactual_totals
    assert receipt.savings.energy_kwh == 0.0
    assert receipt.savings.carbon_g_avoided == 0.0
    assert receipt.savings.cost_jpy_saved == 0.0
    assert receipt.savings.adjusted_cost_jpy_saved == 0.0
    assert receipt.waited_s in (None, 0.0)


@PROPERTY
@given(
    start=instants,
    hours=st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=900).map(lambda c: c / 2),  # 0.5 g steps
            st.integers(min_value=1, max_value=5000).map(lambda p: p / 100),  # 0.01 JPY steps
        ),
        min_size=1,
        max_size=48,
    ),
    price=carbon_prices,
)
def test_the_compact_form_prices_again_to_the_same_totals(
    start: datetime, hours: list[tuple[float, float]], price: float
) -> None:
    ran = [
        Interval(
            region="kyushu",
            start=start + timedelta(hours=n),
            duration_s=3600.0,
            gpus=16,
            power_kw_per_gpu=0.7,
            pue=1.2,
            signals=Signals(
                carbon_g_per_kwh=carbon,
                price_jpy_per_kwh=jpy,
                source="jepx",
                observed_at=start + timedelta(hours=n),
            ),
        )
        for n, (carbon, jpy) in enumerate(hours)
    ]
    receipt = build_receipt(intervals=ran, counterfactual=ran, carbon_price_jpy_per_tonne=price)
    again = rebuild_receipt(compact_receipt(receipt))
    assert close(again.totals, receipt.totals)
    assert close(again.counterfactual_totals, receipt.counterfactual_totals)
