"""Draw a simulation: signals per region over time, and where each policy ran its GPUs.

This module's one job is one PNG: carbon-adjusted rate, carbon and price per region, and for
up to three policies the GPUs in use per region, hour by hour. It needs matplotlib (the
optional ``plot`` extra) and imports it only when called.

WARNING: drawing only; it reads the outcome and writes the file it is given.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from wattbit.sim.policies import objective_rates
from wattbit.sim.run import Outcome
from wattbit.sim.scenario import Scenario

_SHOWN = ("agnostic", "wattbit", "optimum")


def plot_outcome(scenario: Scenario, outcome: Outcome, path: Path) -> None:
    """Write the PNG to `path`; raises ImportError without matplotlib."""
    import matplotlib  # noqa: PLC0415 - optional dependency, loaded on demand

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    hours = max(run.hours_simulated for run in outcome.runs)
    trace = outcome.trace
    _, unit = objective_rates(scenario, trace)
    runs = [run for run in outcome.runs if run.policy in _SHOWN]
    figure, axes = plt.subplots(
        3 + len(runs), 1, figsize=(12, 3 + 2.2 * (3 + len(runs))), sharex=True
    )
    x = np.arange(hours)
    names = scenario.region_names
    series: list[tuple[Any, Any, str]] = [
        (axes[0], trace.carbon_g_per_kwh, "carbon gCO2/kWh"),
        (axes[1], trace.price_jpy_per_kwh, "price JPY/kWh"),
        (axes[2], unit, "adjusted JPY/GPU-kWh"),
    ]
    for axis, values, label in series:
        for row, name in enumerate(names):
            axis.plot(x, values[row, :hours], label=name, linewidth=1)
        axis.set_ylabel(label)
    axes[0].legend(loc="upper right", fontsize="small", ncol=3)
    for axis, run in zip(axes[3:], runs, strict=True):
        axis.stackplot(x, run.gpus_by_region_hour[:, :hours], labels=names)
        axis.set_ylabel(f"{run.policy}\nGPUs in use")
    axes[-1].set_xlabel(f"hours from {scenario.start.isoformat()}")
    figure.suptitle(f"wattbit simulate: {scenario.name}")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
