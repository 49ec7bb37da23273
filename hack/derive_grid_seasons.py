"""Derive the summer, autumn and weekend profiles of the embedded Japan-grid dataset.

    .venv/bin/python hack/derive_grid_seasons.py          # rewrite the derived blocks in place
    .venv/bin/python hack/derive_grid_seasons.py --check  # exit 1 if the file is out of date

Input: the spring and winter weekday profiles in ``operator/wattbit/data/japan_grid.yaml``
(observed JEPX prices, TSO-derived carbon) and the facts of the project's research note
``japan-grid.md`` written out below with their sections. Output: for every area,
``summer_weekday`` and ``autumn_weekday``, and a ``*_weekend`` profile for each of the four
seasons, written after the area's ``winter_weekday`` between marker comments. Every figure is a
DERIVED ESTIMATE by the rules below; ``operator/wattbit/data/README.md`` states them for
readers of the data. The script is deterministic, so ``--check`` proves that the shipped
figures are what the stated rules give.

Carbon (production-based, as in japan-grid.md §8.1). An hour's generation is split into a
fossil share f and a clean share 1 - f, with f = direct intensity / the area's fossil direct
factor (clean sources emit nothing directly; the factor is the §8.2 factors weighted by the
area's §1.3(b) fossil mix). Generation changes by a factor d per hour; clean output (nuclear,
hydro, solar, wind, biomass) is held, the area's own fossil mix meets the change pro rata, and
fossil is never cut below 30% of its reference value (the excess clean output is curtailed):
the §8.2 winter transform, done on shares. Lifecycle intensity moves by the change in direct
intensity times the fossil lifecycle/direct ratio.

Price. Summer: the spring system shape with its solar trough half filled (cooling load), an
evening peak at the §2.4 Jul-Aug figures, added hour by hour to each area's spring profile and
shifted to the area's Jul-Aug mean (§2.3) on weekdays. Autumn (Sep-Nov, a shoulder): the
hourly mean of the area's spring, summer and winter weekdays, shifted to its Sep-Nov mean.
Weekends: floor probability p -> 1 - (1 - p)^3.5 (fitted to the §2.4 weekend medians), the
off-floor price scaled down so the weekend/weekday mean ratio matches §2.3/§8.4.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any, Final

import yaml

ROOT: Final = Path(__file__).resolve().parents[1]
DATASET: Final = ROOT / "operator" / "wattbit" / "data" / "japan_grid.yaml"
BEGIN: Final = "    # --- derived by hack/derive_grid_seasons.py: do not edit by hand ---"
END: Final = "    # --- end of derived profiles ---"
HOURS: Final = range(24)
FLOOR_JPY: Final = 0.01

# --------------------------------------------------------------------- facts, with sources

# §8.2: emission factors, lifecycle (CRIEPI via denki-carbon) and direct (IPCC 2014).
LIFECYCLE: Final = {"coal": 943.0, "lng": 474.0, "oil": 738.0, "other": 500.0}
DIRECT: Final = {"coal": 760.0, "lng": 370.0, "oil": 406.0, "other": 575.0}

# §1.3(b): spring weekday generation inside the area, fossil shares in %.
FOSSIL_MIX: Final = {
    "JP-HKD": {"coal": 28.1, "lng": 13.3, "oil": 11.5, "other": 4.9},
    "JP-TH": {"coal": 33.9, "lng": 21.7, "oil": 0.0, "other": 3.7},
    "JP-TK": {"coal": 18.1, "lng": 52.0, "oil": 1.1, "other": 5.3},
    "JP-CB": {"coal": 29.2, "lng": 38.9, "oil": 0.0, "other": 3.4},
    "JP-HR": {"coal": 41.3, "lng": 6.2, "oil": 0.0, "other": 3.7},
    "JP-KN": {"coal": 9.3, "lng": 27.0, "oil": 0.0, "other": 4.0},
    "JP-CG": {"coal": 49.9, "lng": 9.2, "oil": 0.8, "other": 5.8},
    "JP-SK": {"coal": 36.6, "lng": 5.9, "oil": 0.0, "other": 3.5},
    "JP-KY": {"coal": 21.7, "lng": 6.1, "oil": 0.6, "other": 3.9},
    "JP-ON": {"coal": 57.8, "lng": 23.0, "oil": 10.0, "other": 0.0},
}

# §2.3: FY2025 monthly mean area prices, JPY/kWh, all days.
MONTHLY_PRICE: Final = {  # Apr May Jun Jul Aug Sep Oct Nov Dec Jan Feb
    "JP-HKD": (9.95, 8.50, 9.37, 13.11, 13.55, 12.14, 12.89, 11.17, 11.90, 13.63, 11.13),
    "JP-TH": (10.36, 9.80, 11.05, 13.00, 12.67, 11.33, 12.08, 10.79, 10.61, 11.84, 10.99),
    "JP-TK": (11.45, 11.19, 12.96, 13.88, 13.21, 12.92, 13.06, 11.84, 11.17, 12.07, 11.17),
    "JP-CB": (9.83, 8.49, 11.04, 13.83, 12.61, 11.96, 11.68, 11.22, 10.56, 11.67, 10.76),
    "JP-HR": (9.57, 7.86, 10.68, 13.37, 11.41, 11.26, 11.27, 10.75, 10.21, 10.79, 10.48),
    "JP-KN": (9.44, 7.86, 10.68, 13.37, 11.41, 11.26, 11.27, 9.59, 10.18, 10.49, 10.11),
    "JP-CG": (9.37, 7.84, 9.41, 11.71, 10.44, 10.57, 11.12, 9.56, 10.13, 10.47, 10.09),
    "JP-SK": (8.76, 7.56, 9.20, 9.60, 8.70, 9.62, 9.28, 8.73, 9.91, 8.91, 7.99),
    "JP-KY": (8.52, 7.34, 9.37, 11.38, 10.38, 10.54, 10.74, 9.18, 9.96, 10.33, 9.61),
}
APR_MAY, JUL_AUG, SEP_NOV, DEC_FEB = (0, 1), (3, 4), (5, 6, 7), (8, 9, 10)

# §2.3: share of all half-hours at the 0.01 floor, %, for the areas the note gives.
MONTHLY_FLOOR: Final = {  # Apr May Jun Jul Aug Sep Oct Nov
    "JP-KY": (17.5, 15.4, 6.2, 0.0, 0.0, 0.0, 2.1, 6.0),
    "JP-SK": (10.0, 9.6, 5.8, 2.5, 2.6, 2.0, 1.9, 4.4),
    "JP-HKD": (7.9, 10.4, 5.6, 0.0, 0.0, 3.4, 1.8, 0.2),
}
FLOOR_PROXY: Final = {"JP-TH": "JP-HKD"}
"""Tohoku has spring floor probabilities but no monthly floor share in the note: assumption,
it follows Hokkaido (the same eastern price group, §2.5)."""

# §8.4: the system's spring weekday hourly means, JPY/kWh.
SYSTEM_SPRING: Final = (10.4, 10.0, 10.2, 10.7, 11.0, 11.1, 10.3, 8.9, 8.7, 8.2, 6.3, 5.5,
                        3.6, 6.4, 7.8, 9.4, 11.3, 12.8, 14.1, 13.6, 12.9, 12.3, 11.9,
                        11.1)  # fmt: skip
# §2.4: Jul-Aug weekdays have a single evening peak at 17:00-18:00 (system 20-21) and 20-24
# across 16:00-18:59; assumption: 16:00 at 19, 17:00 at 21, 18:00 at 20.5, and the climb
# begins at 15:00 (14).
SUMMER_EVENING_PEAK: Final = {15: 14.0, 16: 19.0, 17: 21.0, 18: 20.5}

# Weekend/holiday to weekday mean price: §2.3 monthly means (all days) with §8.4 weekday means
# and the day counts of §2.4/§8.2 (Apr-May: 39 weekdays of 61 days; Dec-Feb: 57 of 90).
# Spring (61 x 9.37 - 39 x 9.9) / 22 = 8.43 -> 0.85; winter (90 x 10.78 - 57 x 11.5) / 33 =
# 9.53 -> 0.83. Summer and autumn have no published weekend figure: assumption, their mean.
WEEKEND_PRICE_RATIO: Final = {"spring": 0.85, "summer": 0.84, "autumn": 0.84, "winter": 0.83}
WEEKEND_NIGHT_PRICE_FACTOR: Final = 0.92
"""Assumption: nights (22:00-05:59) fall less than days; day hours get the factor that meets
the ratio above."""
WEEKEND_FLOOR_EXPONENT: Final = 3.5
"""p -> 1 - (1 - p)^3.5: the smallest exponent that puts the median at the floor in every hour
§2.4 gives for spring weekends (Kyushu 09:00-14:59, Shikoku 10:00-13:59) and nowhere else
in those two areas."""

# Generation to spring (or to the season's weekday) ratio by JST hour.
SUMMER_GENERATION: Final = (1.15,) * 7 + (1.2,) * 3 + (1.3,) * 8 + (1.25,) * 4 + (1.2,) * 2
"""Assumption (the note gives national ratios for winter only, 1.20-1.44 by hour, §8.2):
summer cooling load raises generation 15% at night, 30% at 10:00-17:59."""
WEEKEND_GENERATION: Final = (0.95,) * 7 + (0.9,) * 2 + (0.825,) * 8 + (0.9,) * 5 + (0.95,) * 2
"""§8.5: on weekends demand falls about 15-20% at midday while solar stays the same
(0.825 at 09:00-16:59); assumption: 10% at 07:00-08:59 and 17:00-21:59, 5% at night."""
REABSORBED_CURTAILMENT: Final = 0.08
"""Assumption: in summer the solar curtailed in an area's spring curtailment hours is used
first (about 1.1 GW of Kyushu's spring noon, §8.2): clean output +8% of generation there."""
FOSSIL_FLOOR: Final = 0.3
"""§8.2: fossil output is not cut below 30% of its reference value; the excess is curtailed."""


# --------------------------------------------------------------------- carbon


def _fossil_factors(area: str) -> tuple[float, float]:
    mix = FOSSIL_MIX[area]
    total = sum(mix.values())
    lifecycle = sum(share * LIFECYCLE[fuel] for fuel, share in mix.items()) / total
    direct = sum(share * DIRECT[fuel] for fuel, share in mix.items()) / total
    return lifecycle, direct


def transform_carbon(
    area: str,
    carbon: list[float],
    direct: list[float],
    generation: tuple[float, ...],
    extra_clean: dict[int, float] | None = None,
) -> tuple[list[int], list[int]]:
    """Carbon after scaling generation by `generation[h]` (solar unchanged): see the docstring."""
    lifecycle_f, direct_f = _fossil_factors(area)
    fossil = [min(1.0, max(0.0, direct[h] / direct_f)) for h in HOURS]
    new_carbon: list[int] = []
    new_direct: list[int] = []
    for h in HOURS:
        clean = 1.0 - fossil[h] + (extra_clean or {}).get(h, 0.0)
        # Clean output is held; fossil meets the change, never below 30% of its value.
        new_fossil = max(FOSSIL_FLOOR * fossil[h], generation[h] - clean)
        share = new_fossil / (new_fossil + min(clean, generation[h] - new_fossil))
        new_direct_h = direct_f * share
        new_direct.append(round(new_direct_h))
        new_carbon.append(round(carbon[h] + (new_direct_h - direct[h]) * lifecycle_f / direct_f))
    return new_carbon, new_direct


# --------------------------------------------------------------------- price


def _weekday_factor(area: str, spring: list[float], winter: list[float]) -> float:
    """Weekday mean over all-days mean: the mean of the spring and winter ratios."""
    months = MONTHLY_PRICE[area]
    spring_ratio = _mean(spring) / _mean([months[m] for m in APR_MAY])
    winter_ratio = _mean(winter) / _mean([months[m] for m in DEC_FEB])
    return (spring_ratio + winter_ratio) / 2


def _season_target(area: str, months: tuple[int, ...], factor: float) -> float:
    return factor * _mean([MONTHLY_PRICE[area][m] for m in months])


def summer_system_shape() -> list[float]:
    night = _mean(list(SYSTEM_SPRING[:6]))
    shape = [
        SUMMER_EVENING_PEAK.get(h, SYSTEM_SPRING[h] + 0.5 * max(0.0, night - SYSTEM_SPRING[h]))
        for h in range(19)
    ]
    peak = shape[18]
    shape += [peak - (peak - night) * (h - 18) / 6 for h in range(19, 24)]
    return shape


def _shift_to_mean(values: list[float], target: float) -> list[float]:
    shift = target - _mean(values)
    return [max(FLOOR_JPY, v + shift) for v in values]


def summer_price(area: str, spring: list[float], winter: list[float]) -> list[float]:
    shape = summer_system_shape()
    lifted = [spring[h] + shape[h] - SYSTEM_SPRING[h] for h in HOURS]
    target = _season_target(area, JUL_AUG, _weekday_factor(area, spring, winter))
    return _shift_to_mean(lifted, target)


def autumn_price(
    area: str, spring: list[float], summer: list[float], winter: list[float]
) -> list[float]:
    blend = [(spring[h] + summer[h] + winter[h]) / 3 for h in HOURS]
    target = _season_target(area, SEP_NOV, _weekday_factor(area, spring, winter))
    return _shift_to_mean(blend, target)


def season_floor(area: str, spring_floor: list[float] | None, months: tuple[int, ...]) -> Any:
    """Spring weekday floor probabilities scaled by the season's monthly floor share."""
    if spring_floor is None:
        return None
    shares = MONTHLY_FLOOR[FLOOR_PROXY.get(area, area)]
    ratio = _mean([shares[m] for m in months]) / _mean([shares[m] for m in APR_MAY])
    scaled = [p * ratio for p in spring_floor]
    return scaled if any(p >= 0.005 for p in scaled) else None


def weekend_floor(floor: list[float] | None) -> list[float] | None:
    if floor is None:
        return None
    return [1.0 - (1.0 - p) ** WEEKEND_FLOOR_EXPONENT for p in floor]


def _is_night(hour: int) -> bool:
    return hour >= 22 or hour <= 5


def weekend_price(price: list[float], floor: list[float] | None, day_factor: float) -> list[float]:
    """Off-floor means scaled (nights by the fixed factor, days by `day_factor`), floor
    probabilities raised, recombined into hourly means."""
    weekday_floor = floor or [0.0] * 24
    weekend = weekend_floor(floor) or [0.0] * 24
    out = []
    for h in HOURS:
        p, q = weekday_floor[h], weekend[h]
        off_floor = (price[h] - p * FLOOR_JPY) / (1.0 - p)
        factor = WEEKEND_NIGHT_PRICE_FACTOR if _is_night(h) else day_factor
        out.append(q * FLOOR_JPY + (1.0 - q) * off_floor * factor)
    return out


def weekend_day_factor(
    weekdays: list[tuple[list[float], list[float] | None]], ratio: float
) -> float:
    """The day factor that gives the market areas a mean weekend/weekday ratio of `ratio`."""

    def mean_ratio(factor: float) -> float:
        return _mean(
            [_mean(weekend_price(price, floor, factor)) / _mean(price) for price, floor in weekdays]
        )

    low, high = 0.3, 1.2
    for _ in range(60):
        mid = (low + high) / 2
        low, high = (mid, high) if mean_ratio(mid) < ratio else (low, mid)
    return (low + high) / 2


# --------------------------------------------------------------------- assembly


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def _round_price(values: list[float]) -> list[float]:
    return [round(max(FLOOR_JPY, v), 1) if v >= 0.05 else FLOOR_JPY for v in values]


def _round_floor(values: list[float] | None) -> list[float] | None:
    if values is None:
        return None
    return [round(min(1.0, max(0.0, v)), 2) for v in values]


def derive(document: dict[str, Any]) -> dict[str, dict[str, dict[str, Any]]]:
    """Every area's six derived profiles, as plain YAML-ready values."""
    areas: dict[str, Any] = document["areas"]
    weekdays: dict[str, dict[str, dict[str, Any]]] = {}
    for area, raw in areas.items():
        spring, winter = raw["spring_weekday"], raw["winter_weekday"]
        summer_c, summer_d = transform_carbon(
            area,
            spring["carbon"],
            spring["carbon_direct"],
            SUMMER_GENERATION,
            dict.fromkeys(spring.get("curtailment_hours", []), REABSORBED_CURTAILMENT),
        )
        autumn_c = [
            round((spring["carbon"][h] + summer_c[h] + winter["carbon"][h]) / 3) for h in HOURS
        ]
        autumn_d = [
            round((spring["carbon_direct"][h] + summer_d[h] + winter["carbon_direct"][h]) / 3)
            for h in HOURS
        ]
        summer: dict[str, Any] = {"carbon": summer_c, "carbon_direct": summer_d, "price": None}
        autumn: dict[str, Any] = {"carbon": autumn_c, "carbon_direct": autumn_d, "price": None}
        if spring["price"] is not None:
            summer_p = summer_price(area, spring["price"], winter["price"])
            summer["price"] = _round_price(summer_p)
            autumn["price"] = _round_price(
                autumn_price(area, spring["price"], summer_p, winter["price"])
            )
        spring_floor = spring.get("floor_probability")
        summer["floor_probability"] = _round_floor(season_floor(area, spring_floor, JUL_AUG))
        autumn["floor_probability"] = _round_floor(season_floor(area, spring_floor, SEP_NOV))
        weekdays[area] = {"spring": spring, "summer": summer, "autumn": autumn, "winter": winter}

    factors = {
        season: weekend_day_factor(
            [
                (seasons[season]["price"], seasons[season].get("floor_probability"))
                for seasons in weekdays.values()
                if seasons[season]["price"] is not None
            ],
            WEEKEND_PRICE_RATIO[season],
        )
        for season in WEEKEND_PRICE_RATIO
    }
    derived: dict[str, dict[str, dict[str, Any]]] = {}
    for area, seasons in weekdays.items():
        out: dict[str, dict[str, Any]] = {
            "summer_weekday": seasons["summer"],
            "autumn_weekday": seasons["autumn"],
        }
        for season in ("spring", "summer", "autumn", "winter"):
            weekday = seasons[season]
            carbon, direct = transform_carbon(
                area, weekday["carbon"], weekday["carbon_direct"], WEEKEND_GENERATION
            )
            floor = weekday.get("floor_probability")
            weekend: dict[str, Any] = {"carbon": carbon, "carbon_direct": direct, "price": None}
            if weekday["price"] is not None:
                weekend["price"] = _round_price(
                    weekend_price(weekday["price"], floor, factors[season])
                )
            weekend["floor_probability"] = _round_floor(weekend_floor(floor))
            hours = set(weekday.get("curtailment_hours", []))
            hours |= {h for h, p in enumerate(weekend["floor_probability"] or []) if p >= 0.5}
            weekend["curtailment_hours"] = sorted(hours)
            out[f"{season}_weekend"] = weekend
        derived[area] = out
    return derived


_COMMENTS: Final = {
    "summer_weekday": "Jul-Aug weekday: spring carbon with generation x1.15-1.30 (cooling); "
    "price: spring + the summer-minus-spring system shape, at the Jul-Aug mean (§2.3, §2.4)",
    "autumn_weekday": "Sep-Nov weekday: hourly mean of spring, summer and winter weekdays; "
    "price shifted to the Sep-Nov mean (§2.3)",
    "spring_weekend": "weekend/holiday rule applied to spring_weekday (§2.4, §8.5)",
    "summer_weekend": "weekend/holiday rule applied to summer_weekday (§8.5)",
    "autumn_weekend": "weekend/holiday rule applied to autumn_weekday (§8.5)",
    "winter_weekend": "weekend/holiday rule applied to winter_weekday (§2.3, §8.5)",
}


def _flow(values: list[Any]) -> str:
    return "[" + ", ".join(str(v) for v in values) + "]"


def render(derived: dict[str, dict[str, dict[str, Any]]], area: str) -> list[str]:
    lines = [BEGIN]
    for name, profile in derived[area].items():
        lines.append(f"    # DERIVED ESTIMATE. {_COMMENTS[name]}; method: README.md")
        lines.append(f"    {name}:")
        lines.append(f"      carbon: {_flow(profile['carbon'])}")
        lines.append(f"      carbon_direct: {_flow(profile['carbon_direct'])}")
        price = profile["price"]
        lines.append(f"      price: {'null' if price is None else _flow(price)}")
        if profile.get("floor_probability") is not None:
            lines.append(f"      floor_probability: {_flow(profile['floor_probability'])}")
        if profile.get("curtailment_hours"):
            lines.append(f"      curtailment_hours: {_flow(profile['curtailment_hours'])}")
    lines.append(END)
    return lines


def rewrite(text: str) -> str:
    """The dataset text with every area's derived block replaced (or added)."""
    without = re.sub(
        rf"^{re.escape(BEGIN)}\n.*?^{re.escape(END)}\n", "", text, flags=re.MULTILINE | re.DOTALL
    )
    derived = derive(yaml.safe_load(without))
    lines = without.splitlines()
    out: list[str] = []
    area: str | None = None
    for line in lines:
        match = re.match(r"^  (JP-[A-Z]+):$", line)
        if match:
            if area is not None:
                out.extend(render(derived, area))
            area = match.group(1)
        out.append(line)
    if area is not None:
        out.extend(render(derived, area))
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is stale")
    args = parser.parse_args(argv)
    text = DATASET.read_text(encoding="utf-8")
    new = rewrite(text)
    if args.check:
        if new != text:
            print(f"{DATASET}: derived profiles are out of date; run {__file__}")
            return 1
        return 0
    if new != text:
        DATASET.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
