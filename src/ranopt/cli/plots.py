"""PNG plots of twin runs (matplotlib, headless)."""

from pathlib import Path

import matplotlib as mpl

mpl.use("Agg")

import matplotlib.pyplot as plt

from ranopt.twin.network import IntArray
from ranopt.twin.simulate import IntervalKpis


def plot_day(kpis: IntervalKpis, layer: IntArray, title: str, path: Path) -> Path:
    """Write offered/served traffic, PRB load percentiles and power over the run to ``path``."""
    hours = kpis.t_min / 60.0
    capacity = layer == 1
    fig, axes = plt.subplots(3, 1, figsize=(10, 9), sharex=True, constrained_layout=True)
    ax_traffic, ax_load, ax_power = axes
    ax_traffic.plot(hours, kpis.network_offered_mbps / 1e3, label="offered")
    ax_traffic.plot(hours, kpis.network_served_mbps / 1e3, "--", label="served")
    ax_traffic.set_ylabel("DL traffic (Gbit/s)")
    ax_traffic.legend(loc="upper left")
    for q, cells, label, style in (
        (50, capacity, "capacity cells p50", "-"),
        (95, capacity, "capacity cells p95", "--"),
        (100, capacity, "capacity cells max", ":"),
        (95, ~capacity, "coverage cells p95", "-."),
    ):
        values = kpis.load_percentile(q, cells) * 100.0
        ax_load.plot(hours, values, style, label=label)
    ax_load.set_ylabel("PRB load (%)")
    ax_load.set_ylim(0, 105)
    ax_load.legend(loc="upper left")
    ax_power.plot(hours, kpis.network_power_w / 1e3, color="tab:red")
    ax_power.set_ylabel("RAN power (kW)")
    ax_power.set_xlabel("time (h)")
    ax_power.set_xlim(hours[0], hours[-1] + kpis.interval_min / 60.0)
    fig.suptitle(title)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
