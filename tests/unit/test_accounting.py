"""Receipts (wattbit.core.accounting), case by case.

Covers, as tables of hand-computed figures: one interval (energy with PUE, carbon, bill and
carbon-adjusted cost); a region change (totals are the intervals' sum, each priced at its own
region's signals); a move (transfer energy without PUE at its own signals, idle GPUs through
the downtime, redone work not charged twice); the counterfactual (cut hourly and at signal
changes, each piece at the signals in force); the signs of the savings; the method stated by
the signals' intensity; splitting and merging; the compact form (a 30-day hourly-varying run
under 100 KB of JSON, and priced again it gives the same totals); and the simulator, whose
booked figures are its receipts' totals and whose counterfactual is the agnostic run.
Skips: invariants over random inputs (tests/property/test_accounting_properties.py) and the
operator's receipts (not written yet).
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from wattbit.core.accounting import (
    Intensity,
    Interval,
    Move,
    Receipt,
    SignalPeriod,
    Signals,
    build_receipt,
    compact_receipt,
    counterfactual_intervals,
    describe_method,
    expand_runs,
    merge_equal_rates,
    price_interval,
    price_move,
    rebuild_receipt,
    signals_at,
    split_at,
    split_hourly,
    to_json,
    total,
)
from wattbit.sim.engine import Action, Engine, Start, View
from wattbit.sim.engine import Move as MoveAction
from wattbit.sim.policies import Agnostic
from wattbit.sim.scenario import parse_scenario
from wattbit.sim.traces import SignalTrace

T0 = datetime(2026, 12, 2, 0, 0, tzinfo=UTC)
PRICE_PER_TONNE = 10_000.0
"""1 JPY per 100 g."""


def signals(carbon: float, price: float, *, at: datetime = T0, source: str = "test") -> Signals:
    return Signals(carbon_g_per_kwh=carbon, price_jpy_per_kwh=price, source=source, observed_at=at)


def interval(
    region: str = "hokkaido",
    *,
    start: datetime = T0,
    hours: float = 1.0,
    gpus: int = 8,
    kw: float = 0.7,
    pue: float = 1.2,
    carbon: float = 400.0,
    price: float = 20.0,
) -> Interval:
    return Interval(
        region=region,
        start=start,
        duration_s=hours * 3600,
        gpus=gpus,
        power_kw_per_gpu=kw,
        pue=pue,
        signals=signals(carbon, price, at=start),
    )


def hourly(region: str, values: Sequence[tuple[float, float]]) -> tuple[SignalPeriod, ...]:
    return tuple(
        SignalPeriod(
            start=T0 + timedelta(hours=h), signals=signals(c, p, at=T0 + timedelta(hours=h))
        )
        for h, (c, p) in enumerate(values)
    )


# ---------------------------------------------------------------- one interval


@pytest.mark.parametrize(
    ("case", "energy_kwh", "carbon_g", "cost_jpy"),
    [
        # 8 GPUs x 0.7 kW x 1 h = 5.6 kWh IT; x PUE 1.2 = 6.72 kWh; x 400 g; x 20 JPY.
        (interval(), 6.72, 2688.0, 134.4),
        (interval(hours=0.5), 3.36, 1344.0, 67.2),
        (interval(pue=1.0, carbon=0.0), 5.6, 0.0, 112.0),
        (interval(gpus=0), 0.0, 0.0, 0.0),
        (interval(price=-1.0), 6.72, 2688.0, -6.72),  # a negative price is a credit
    ],
)
def test_one_interval(case: Interval, energy_kwh: float, carbon_g: float, cost_jpy: float) -> None:
    priced = price_interval(case, carbon_price_jpy_per_tonne=PRICE_PER_TONNE)
    assert priced.energy_kwh == pytest.approx(energy_kwh)
    assert priced.it_energy_kwh == pytest.approx(energy_kwh / case.pue)
    assert priced.carbon_g == pytest.approx(carbon_g)
    assert priced.cost_jpy == pytest.approx(cost_jpy)
    assert priced.adjusted_cost_jpy == pytest.approx(cost_jpy + carbon_g / 100)


def test_one_interval_receipt_names_its_method_and_assumptions() -> None:
    receipt = build_receipt(
        intervals=[interval()],
        counterfactual=[interval()],
        carbon_price_jpy_per_tonne=PRICE_PER_TONNE,
        assumptions=("Measured by a test.",),
    )
    assert receipt.method == "location-based, average intensity"
    assert "PUE" in receipt.assumptions[0]
    assert any("10,000 JPY per tonne" in line for line in receipt.assumptions)
    assert any("from its arrival in hokkaido" in line for line in receipt.assumptions)
    assert receipt.assumptions[-1] == "Measured by a test."
    assert receipt.totals.energy_kwh == pytest.approx(6.72)
    assert receipt.waited_s == 0.0


@pytest.mark.parametrize(
    ("kinds", "method"),
    [
        ([], "location-based, average intensity"),
        ([Intensity.AVERAGE], "location-based, average intensity"),
        ([Intensity.MARGINAL, Intensity.MARGINAL], "location-based, marginal intensity"),
        (
            [Intensity.AVERAGE, Intensity.MARGINAL],
            "location-based, marginal intensity where the source gives it, average elsewhere",
        ),
    ],
)
def test_the_method_follows_the_sources_intensity(kinds: list[Intensity], method: str) -> None:
    given = [
        Signals(carbon_g_per_kwh=1, price_jpy_per_kwh=1, source="s", observed_at=T0, intensity=k)
        for k in kinds
    ]
    assert describe_method(given) == method


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: interval(hours=-1), "duration_s"),
        (lambda: interval(pue=math.nan), "pue"),
        (lambda: interval(start=datetime(2026, 12, 2)), "timezone-aware"),  # noqa: DTZ001
        (lambda: signals(-1.0, 1.0), "carbon"),
        (lambda: signals(1.0, math.inf), "price"),
    ],
)
def test_invalid_inputs_are_rejected_with_the_field_named(make: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()


# ---------------------------------------------------------------- a region change


def test_a_region_change_prices_each_interval_at_its_own_signals() -> None:
    first = interval("hokkaido", carbon=500.0, price=10.0)
    second = interval("kyushu", start=T0 + timedelta(hours=1), pue=1.5, carbon=50.0, price=5.0)
    receipt = build_receipt(
        intervals=[first, second],
        counterfactual=[first, interval("hokkaido", start=second.start, carbon=500, price=10)],
        carbon_price_jpy_per_tonne=PRICE_PER_TONNE,
    )
    hokkaido, kyushu = receipt.intervals
    assert (hokkaido.energy_kwh, hokkaido.carbon_g) == pytest.approx((6.72, 3360.0))
    assert (kyushu.energy_kwh, kyushu.carbon_g, kyushu.cost_jpy) == pytest.approx((8.4, 420, 42))
    assert receipt.totals.energy_kwh == pytest.approx(6.72 + 8.4)
    assert receipt.totals.carbon_g == pytest.approx(3360 + 420)
    assert receipt.totals.cost_jpy == pytest.approx(67.2 + 42)
    assert receipt.totals == total(receipt.intervals)
    compact = compact_receipt(receipt)
    assert [run.region for run in compact.intervals] == ["hokkaido", "kyushu"]


# ---------------------------------------------------------------- a move


def a_move(*, idle_hours: Sequence[float] = (0.25,)) -> Move:
    at = T0 + timedelta(hours=1)
    pieces = []
    offset = 0.0
    for hours in idle_hours:
        pieces.append(
            interval("kyushu", start=at + timedelta(hours=offset), hours=hours, kw=0.1, pue=1.5)
        )
        offset += hours
    return Move(
        from_region="hokkaido",
        to_region="kyushu",
        at=at,
        checkpoint_gb=800.0,
        transfer_s=80.0,
        transfer_energy_kwh=0.8,
        signals=signals(100.0, 10.0, at=at),
        idle=tuple(pieces),
        work_redone_s=1800.0,
    )


@pytest.mark.parametrize(
    ("idle_hours", "idle_kwh"),
    [
        ((), 0.0),
        ((0.25,), 8 * 0.1 * 0.25 * 1.5),
        ((0.75, 1.0, 0.5), 8 * 0.1 * 2.25 * 1.5),  # downtime across hours, priced per hour
    ],
)
def test_a_move_costs_its_transfer_and_its_idle_gpus(
    idle_hours: Sequence[float], idle_kwh: float
) -> None:
    priced = price_move(a_move(idle_hours=idle_hours), carbon_price_jpy_per_tonne=PRICE_PER_TONNE)
    # 800 GB x 0.001 kWh/GB = 0.8 kWh of network energy, no PUE, at 100 g and 10 JPY.
    assert priced.transfer_energy_kwh == 0.8
    assert priced.idle_energy_kwh == pytest.approx(idle_kwh)
    assert priced.energy_kwh == pytest.approx(0.8 + idle_kwh)
    assert priced.carbon_g == pytest.approx(0.8 * 100 + idle_kwh * 400)
    assert priced.cost_jpy == pytest.approx(0.8 * 10 + idle_kwh * 20)
    assert priced.adjusted_cost_jpy == pytest.approx(priced.cost_jpy + priced.carbon_g / 100)
    assert priced.downtime_s == pytest.approx(sum(idle_hours) * 3600)


def test_a_receipts_totals_add_its_moves_and_not_the_redone_work_twice() -> None:
    move = a_move()
    before = interval("hokkaido")
    after = interval("kyushu", start=T0 + timedelta(hours=1.25), hours=1.5, pue=1.5)
    receipt = build_receipt(
        intervals=[before, after],
        moves=[move],
        counterfactual=[interval("hokkaido", hours=2)],
        carbon_price_jpy_per_tonne=PRICE_PER_TONNE,
    )
    move_figures = price_move(move, carbon_price_jpy_per_tonne=PRICE_PER_TONNE)
    assert receipt.moves == (move_figures,)
    assert receipt.totals.energy_kwh == pytest.approx(6.72 + 12.6 + move_figures.energy_kwh)
    assert receipt.totals == total([*receipt.intervals, *receipt.moves])
    # Redone work is the half hour of extra running after the move, already in `after`.
    assert receipt.moves[0].move.work_redone_s == 1800.0
    compact = compact_receipt(receipt)
    assert compact.moves[0].energy_kwh == move_figures.energy_kwh
    assert expand_runs(compact.moves[0].idle) == move.idle


def test_a_move_needs_two_regions() -> None:
    with pytest.raises(ValueError, match="two regions"):
        Move(
            from_region="kyushu",
            to_region="kyushu",
            at=T0,
            checkpoint_gb=0,
            transfer_s=0,
            transfer_energy_kwh=0,
            signals=signals(1, 1),
        )


# ---------------------------------------------------------------- the counterfactual


def test_the_counterfactual_runs_from_arrival_at_the_signals_in_force() -> None:
    timeline = hourly("hokkaido", [(500, 10), (400, 12), (300, 14), (200, 16)])
    # Signals change at 01:20 too: the piece from then on is priced at it.
    timeline = (
        *timeline[:2],
        SignalPeriod(start=T0 + timedelta(hours=1, minutes=20), signals=signals(350, 13)),
        *timeline[2:],
    )
    pieces = counterfactual_intervals(
        region="hokkaido",
        arrival=T0 + timedelta(minutes=30),
        work_s=2 * 3600,
        gpus=8,
        power_kw_per_gpu=0.7,
        pue=1.0,
        timeline=timeline,
    )
    assert [(p.start - T0).total_seconds() / 60 for p in pieces] == [30, 60, 80, 120]
    assert [p.duration_s / 60 for p in pieces] == [30, 20, 40, 30]
    assert [p.signals.carbon_g_per_kwh for p in pieces] == [500, 400, 350, 300]
    receipt = build_receipt(
        intervals=[], counterfactual=pieces, carbon_price_jpy_per_tonne=PRICE_PER_TONNE
    )
    kwh_per_min = 5.6 / 60
    assert receipt.counterfactual_totals.carbon_g == pytest.approx(
        kwh_per_min * (30 * 500 + 20 * 400 + 40 * 350 + 30 * 300)
    )
    assert receipt.waited_s is None


def test_signals_before_the_timeline_are_unknown() -> None:
    with pytest.raises(ValueError, match="no signals in force"):
        signals_at(hourly("x", [(1, 1)]), T0 - timedelta(seconds=1))


# ---------------------------------------------------------------- savings


@pytest.mark.parametrize(
    ("ran", "carbon_sign", "cost_sign"),
    [
        (interval(carbon=400, price=20), 0, 0),  # as the counterfactual: nothing saved
        (interval(carbon=100, price=10), 1, 1),  # greener and cheaper
        (interval(carbon=100, price=30), 1, -1),  # greener but dearer
        (interval(carbon=600, price=10), -1, 1),  # dirtier but cheaper
    ],
)
def test_savings_are_the_counterfactual_minus_the_run(
    ran: Interval, carbon_sign: int, cost_sign: int
) -> None:
    receipt = build_receipt(
        intervals=[ran], counterfactual=[interval()], carbon_price_jpy_per_tonne=PRICE_PER_TONNE
    )
    assert np.sign(receipt.savings.carbon_g_avoided) == carbon_sign
    assert np.sign(receipt.savings.cost_jpy_saved) == cost_sign
    assert receipt.savings.carbon_g_avoided == pytest.approx(
        receipt.counterfactual_totals.carbon_g - receipt.totals.carbon_g
    )


def test_waiting_shows_as_waited_seconds() -> None:
    receipt = build_receipt(
        intervals=[interval(start=T0 + timedelta(hours=3))],
        counterfactual=[interval()],
        carbon_price_jpy_per_tonne=PRICE_PER_TONNE,
    )
    assert receipt.waited_s == 3 * 3600


# ---------------------------------------------------------------- splitting and merging


def test_split_hourly_cuts_at_hour_boundaries_and_signal_changes() -> None:
    run = interval(start=T0 + timedelta(minutes=45), hours=2)
    pieces = split_hourly([run])
    assert [p.duration_s for p in pieces] == [900, 3600, 2700]
    assert pieces[1].start == T0 + timedelta(hours=1)
    timeline = hourly("hokkaido", [(500, 10), (400, 10), (300, 10)])
    priced = split_hourly([run], timelines={"hokkaido": timeline})
    assert [p.signals.carbon_g_per_kwh for p in priced] == [500, 400, 300]
    assert split_hourly([run], timelines={"kyushu": timeline}) == pieces  # other region's
    assert split_at(run, T0) == (run,)
    assert sum(p.duration_s for p in split_at(run, T0 + timedelta(hours=1))) == run.duration_s


def test_merge_joins_only_contiguous_equal_rates() -> None:
    hours = split_hourly([interval(hours=3)])
    assert merge_equal_rates(hours) == (interval(hours=3),)
    gap = (hours[0], hours[2])
    assert merge_equal_rates(gap) == gap
    dearer = (hours[0], interval(start=hours[1].start, price=21))
    assert merge_equal_rates(dearer) == dearer


# ---------------------------------------------------------------- the compact form


def month_timeline(region: str, seed: int, *, decimals: int | None) -> tuple[SignalPeriod, ...]:
    rng = random.Random(seed)
    periods = []
    for hour in range(32 * 24):
        start = T0 + timedelta(hours=hour)
        carbon = 300 + 150 * math.sin(hour / 5) + 20 * rng.random()
        price = 12 + 6 * math.cos(hour / 7) + rng.random()
        if decimals is not None:
            carbon, price = round(carbon, decimals), round(price, decimals)
        periods.append(
            SignalPeriod(
                start=start,
                signals=Signals(
                    carbon_g_per_kwh=carbon,
                    price_jpy_per_kwh=price,
                    source=f"replay:{region}/winter_weekday",
                    observed_at=start - timedelta(minutes=5),
                ),
            )
        )
    return tuple(periods)


def month_receipt(*, decimals: int | None) -> Receipt:
    """30 days of work on 16 GPUs: waits 3 h, moves after 10 days, redoes 30 min."""
    timelines = {
        "hokkaido": month_timeline("JP-HK", 1, decimals=decimals),
        "kyushu": month_timeline("JP-KY", 2, decimals=decimals),
    }
    arrival = T0 + timedelta(minutes=30)
    work_s = 30 * 86_400.0
    start = arrival + timedelta(hours=3)
    first = Interval(
        region="hokkaido",
        start=start,
        duration_s=10 * 86_400.0,
        gpus=16,
        power_kw_per_gpu=0.7,
        pue=1.3,
        signals=signals_at(timelines["hokkaido"], start),
    )
    moved_at = first.end
    idle = Interval(
        region="kyushu",
        start=moved_at,
        duration_s=600.0,
        gpus=16,
        power_kw_per_gpu=0.1,
        pue=1.2,
        signals=signals_at(timelines["kyushu"], moved_at),
    )
    second = Interval(
        region="kyushu",
        start=idle.end,
        duration_s=work_s - first.duration_s + 1800.0,
        gpus=16,
        power_kw_per_gpu=0.7,
        pue=1.2,
        signals=signals_at(timelines["kyushu"], idle.end),
    )
    move = Move(
        from_region="hokkaido",
        to_region="kyushu",
        at=moved_at,
        checkpoint_gb=400.0,
        transfer_s=80.0,
        transfer_energy_kwh=0.4,
        signals=signals_at(timelines["kyushu"], moved_at),
        idle=split_hourly([idle], timelines=timelines),
        work_redone_s=1800.0,
    )
    return build_receipt(
        intervals=split_hourly([first, second], timelines=timelines),
        moves=[move],
        counterfactual=counterfactual_intervals(
            region="hokkaido",
            arrival=arrival,
            work_s=work_s,
            gpus=16,
            power_kw_per_gpu=0.7,
            pue=1.3,
            timeline=timelines["hokkaido"],
        ),
        carbon_price_jpy_per_tonne=PRICE_PER_TONNE,
    )


@pytest.mark.parametrize("decimals", [1, None], ids=["published-precision", "full-floats"])
def test_a_30_day_hourly_receipt_serialises_under_100_kb(decimals: int | None) -> None:
    receipt = month_receipt(decimals=decimals)
    assert len(receipt.intervals) > 720
    assert len(receipt.counterfactual) > 720
    text = json.dumps(to_json(compact_receipt(receipt)))  # with spaces: the larger form
    assert len(text.encode()) < 100_000
    assert json.loads(text)["totals"]["energy_kwh"] == receipt.totals.energy_kwh


@pytest.mark.parametrize("decimals", [1, None], ids=["published-precision", "full-floats"])
def test_the_compact_form_prices_again_to_the_same_totals(decimals: int | None) -> None:
    receipt = month_receipt(decimals=decimals)
    again = rebuild_receipt(compact_receipt(receipt))
    # Equal at the sources' precision; rates rounded to 0.001 g and 0.0001 JPY otherwise.
    tolerance = 1e-12 if decimals is not None else 1e-6
    for name in ("energy_kwh", "carbon_g", "cost_jpy", "adjusted_cost_jpy"):
        assert getattr(again.totals, name) == pytest.approx(
            getattr(receipt.totals, name), rel=tolerance
        )
        assert getattr(again.counterfactual_totals, name) == pytest.approx(
            getattr(receipt.counterfactual_totals, name), rel=tolerance
        )
    assert again.method == receipt.method
    assert again.waited_s == receipt.waited_s


def test_the_compact_form_merges_equal_rate_hours() -> None:
    flat = [interval(start=T0 + timedelta(hours=h)) for h in range(24 * 30)]
    receipt = build_receipt(
        intervals=flat, counterfactual=flat, carbon_price_jpy_per_tonne=PRICE_PER_TONNE
    )
    compact = compact_receipt(receipt)
    assert [len(run.duration_s) for run in compact.intervals] == [1]
    assert compact.intervals[0].duration_s == (30 * 86_400.0,)
    assert len(json.dumps(to_json(compact))) < 5_000


# ---------------------------------------------------------------- the simulator's receipts


def sim_scenario(jobs: list[dict[str, Any]]) -> Any:
    return parse_scenario(
        {
            "name": "receipts",
            "start": "2026-12-02T00:00:00+09:00",
            "regions": [
                {"name": "home", "gpus": 16, "pue": 1.0},
                {"name": "green", "gpus": 8, "pue": 1.5},
            ],
            "links": [{"from": "home", "to": "green", "latency_ms": 0, "bandwidth_gbps": 80}],
            "signals": {"source": "csv", "csv": "unused.csv"},
            "policy": {"restart_overhead_s": 360, "checkpoint_write_gbps": 80},
            "baselines": {"forecast_horizon_hours": 8},
            "jobs": {"list": jobs},
        },
        base_dir=Path("."),
    )


def sim_trace(hours: int = 40) -> SignalTrace:
    rng = np.random.default_rng(7)
    carbon = rng.uniform(50, 600, size=(2, hours))
    return SignalTrace(
        carbon_g_per_kwh=carbon,
        price_jpy_per_kwh=rng.uniform(5, 25, size=(2, hours)),
        curtailment=np.zeros_like(carbon, dtype=bool),
    )


@dataclass
class Script:
    plan: dict[int, list[Action]]
    name: str = "script"
    seen: list[int] = field(default_factory=list)

    def act(self, view: View) -> Sequence[Action]:
        return self.plan.get(view.hour, [])


JOB = {
    "id": "j",
    "arrival_hour": 1,
    "runtime_hours": 5,
    "gpus": 8,
    "home": "home",
    "deadline_hour": 20,
    "checkpoint_gb": 8000,  # 800 s write + 800 s transfer + 360 s restart: idle across hours
}


def test_a_simulated_jobs_booked_figures_are_its_receipts_totals() -> None:
    engine = Engine(sim_scenario([JOB]), sim_trace())
    result = engine.run(Script({2: [Start("j", 0)], 3: [MoveAction("j", 1)]}))
    job = result.jobs[0]
    receipt = engine.receipt(job)
    assert job.moves == 1
    assert len(receipt.moves) == 1
    assert receipt.moves[0].downtime_s == pytest.approx(800 + 800 + 360)
    assert receipt.totals.energy_kwh == pytest.approx(job.energy_kwh, rel=1e-12)
    assert receipt.totals.carbon_g == pytest.approx(job.carbon_kg * 1000, rel=1e-12)
    assert receipt.totals.cost_jpy == pytest.approx(job.cost_jpy, rel=1e-12)
    assert receipt.waited_s == 3600.0
    assert {p.interval.region for p in receipt.intervals} == {"home", "green"}


def test_a_simulated_counterfactual_is_the_agnostic_run() -> None:
    engine = Engine(sim_scenario([JOB]), sim_trace())
    agnostic = engine.run(Agnostic()).jobs[0]
    moved = engine.run(Script({2: [Start("j", 0)], 3: [MoveAction("j", 1)]})).jobs[0]
    for job in (agnostic, moved):
        receipt = engine.receipt(job)
        assert receipt.counterfactual_totals.carbon_g == pytest.approx(agnostic.carbon_kg * 1000)
        assert receipt.counterfactual_totals.cost_jpy == pytest.approx(agnostic.cost_jpy)
    unchanged = engine.receipt(agnostic)
    assert unchanged.savings.carbon_g_avoided == pytest.approx(0.0, abs=1e-9)
    assert unchanged.savings.cost_jpy_saved == pytest.approx(0.0, abs=1e-9)
