"""PNG plots of twin runs (matplotlib, headless)."""

from pathlib import Path

import matplotlib as mpl

mpl.use("Agg")

import matplotlib.pyplot as plt
import numpy as np

from ranopt.twin.simulate import IntervalKpis


def plot_day(kpis: IntervalKpis, title: str, path: Path) -> Path:
    """Write offered/served traffic, PRB load percentiles and power over the run to ``path``."""
    hours = kpis.t_min / 60.0
    load_pct = np.where(kpis.active, kpis.prb_load, np.nan) * 100.0
    fig, axes = plt.subplots(3, 1, figsize=(10, 9), sharex=True, constrained_layout=True)
    ax_traffic, ax_load, ax_power = axes
    ax_traffic.plot(hours, kpis.network_offered_mbps / 1e3, label="offered")
    ax_traffic.plot(hours, kpis.network_served_mbps / 1e3, "--", label="served")
    ax_traffic.set_ylabel("DL traffic (Gbit/s)")
    ax_traffic.legend(loc="upper left")
    for q, style in ((50, "-"), (95, "--"), (100, ":")):
        ax_load.plot(hours, np.nanpercentile(load_pct, q, axis=1), style, label=f"p{q} of cells")
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
