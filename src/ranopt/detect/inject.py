"""Anomalies injected into a network's counters, to measure the detectors against known truth.

Counters are arrays ``[T, C, K]`` in ``ranopt.counters.COUNTER_COLUMNS`` order (NaN: absent).
Each injector changes one cell over a window of intervals ``[start, stop)`` the way the fault
shows in the counters a RAN reports; a sleeping cell's neighbours come from the caller (the
twin run with the cell unable to serve, ``ranopt.twin.fault.with_failed_cells``), since only
the twin knows where its users go.
"""

from dataclasses import dataclass

import numpy as np

from ranopt.counters import COUNTER_COLUMNS
from ranopt.detect.kpi import (
    ENERGY,
    JOULES_PER_KWH,
    OFFERED,
    POWER,
    PRB_AVAIL,
    PRB_TOT_PCT,
    PRB_USED,
    RRC,
    THP,
    VOLUME,
    BoolArray,
    FloatArray,
)
from ranopt.twin.link import SHANNON_ATTENUATION, SPECTRAL_EFFICIENCY_MAX
from ranopt.twin.model import Twin
from ranopt.twin.simulate import IntervalKpis
from ranopt.twin.units import db_to_lin


@dataclass(frozen=True)
class Injection:
    """One injected anomaly: which cell, which kind, over which intervals, how strong."""

    kind: str  # a ``ranopt.detect.kpi.KINDS`` name
    cell: int  # cell index
    start: int  # first interval index
    stop: int  # one past the last
    magnitude: float = 0.0  # throughput factor, interference rise in dB, rule number


def twin_counters(twin: Twin, kpis: IntervalKpis) -> FloatArray:
    """Return a twin run's TS 28.552 counters ``[T, C, K]`` as the twin export reports them.

    A cell without UEs reports no ``DRB.UEThpDl`` (NaN): the counter averages over UEs.
    """
    interval_s = kpis.interval_min * 60
    num_prb = twin.arrays.num_prb.astype(np.float64)
    by_column = {
        "prb_used_dl": kpis.prb_load * num_prb,
        "prb_avail_dl": kpis.active * num_prb,
        "prb_tot_dl_pct": 100.0 * kpis.prb_load,
        "ue_thp_dl_mbps": np.where(kpis.num_ues > 0, kpis.ue_thp_mbps, np.nan),
        "rrc_conn_mean": kpis.num_ues.astype(np.float64),
        "pee_avg_power_w": kpis.power_w,
        "pee_energy_kwh": kpis.energy_kwh,
        "dl_volume_mbit": kpis.served_mbps * interval_s,
        "offered_dl_volume_mbit": kpis.offered_mbps * interval_s,
    }
    return np.stack([by_column[c] for c in COUNTER_COLUMNS], axis=-1)


def _energy_kwh(power_w: FloatArray, interval_s: int) -> FloatArray:
    return np.asarray(power_w * interval_s / JOULES_PER_KWH, dtype=np.float64)


def sleeping_cell(
    values: FloatArray, neighbours_run: FloatArray, cell: int, start: int, stop: int,
    idle_power_w: float, interval_s: int,
) -> None:  # fmt: skip
    """Cell ``cell`` stays up (PRBs available, idle power) but serves no one (in place).

    ``neighbours_run`` ``[stop - start, C, K]`` are every cell's counters of the window from
    the twin run in which the cell could not serve; they replace the window, then the cell's
    own sample becomes the sleeping cell's: no UE, no volume, no throughput reported.
    """
    window = values[start:stop]
    window[:] = neighbours_run
    own = window[:, cell]
    own[:, PRB_AVAIL] = values[max(start - 1, 0), cell, PRB_AVAIL]
    own[:, [PRB_USED, PRB_TOT_PCT, RRC, VOLUME, OFFERED]] = 0.0
    own[:, THP] = np.nan  # DRB.UEThpDl has no sample without UEs
    own[:, POWER] = idle_power_w
    own[:, ENERGY] = _energy_kwh(own[:, POWER], interval_s)


def throughput_collapse(
    values: FloatArray, cell: int, start: int, stop: int, factor: float
) -> None:
    """Cap the cell's rate (a transport bottleneck) at ``factor`` of its peak (in place).

    Served volume is capped at ``factor`` of the cell's largest interval volume before the
    window, PRB use falls with it (less data to schedule), each UE's throughput falls by
    ``factor``; the users and what they ask for are unchanged.
    """
    window = values[start:stop, cell]
    peak = np.nanmax(values[:start, cell, VOLUME]) if start > 0 else np.nanmax(window[:, VOLUME])
    served = np.minimum(window[:, VOLUME], factor * peak)
    with np.errstate(invalid="ignore", divide="ignore"):
        kept = np.where(window[:, VOLUME] > 0, served / window[:, VOLUME], 1.0)
    window[:, VOLUME] = served
    window[:, PRB_USED] *= kept
    window[:, PRB_TOT_PCT] *= kept
    window[:, THP] *= factor


def interference_rise(
    values: FloatArray, cell: int, start: int, stop: int, rise_db: float,
    prb_bandwidth_hz: float, interval_s: int, ramp_intervals: int = 8, layers: int = 1,
) -> None:  # fmt: skip
    """External interference at the cell rising to ``rise_db`` over ``ramp_intervals`` (in place).

    The cell's mean SINR is read back from its spectral efficiency through the attenuated
    Shannon mapping the twin uses (TR 36.942 Annex A.2, ``alpha log2(1 + SINR)``); the
    interference-plus-noise rise divides it, the same volume then needs proportionally more
    PRBs (capped at the available ones, the rest is not served) and each UE's throughput
    falls by the efficiency ratio. A MIMO cell's PRBs carry ``layers`` streams: the mapping
    is inverted per layer, below the per-layer cap (TS 38.214 256QAM), so a cell running at
    the cap is taken to sit just at it.
    """
    window = values[start:stop, cell]
    n = window.shape[0]
    rise = rise_db * np.minimum(1.0, (np.arange(n) + 1.0) / ramp_intervals)  # [n] dB
    with np.errstate(invalid="ignore", divide="ignore"):
        se = window[:, VOLUME] * 1e6 / (window[:, PRB_USED] * prb_bandwidth_hz * interval_s)
        per_layer = np.minimum(se / max(layers, 1), SPECTRAL_EFFICIENCY_MAX)
        # TR 36.942 Annex A.2 inverted: SINR = 2^(SE / alpha) - 1
        sinr = np.exp2(per_layer / SHANNON_ATTENUATION) - 1.0
        se_new = SHANNON_ATTENUATION * np.log2(1.0 + sinr / db_to_lin(rise))
        ratio = np.where(per_layer > 0, se_new / per_layer, 1.0)
        needed = window[:, PRB_USED] / ratio
    avail = window[:, PRB_AVAIL]
    used = np.minimum(needed, avail)
    with np.errstate(invalid="ignore", divide="ignore"):
        served_share = np.where(needed > 0, used / needed, 1.0)
    ok = np.isfinite(ratio) & (window[:, PRB_USED] > 0)
    window[ok, VOLUME] *= served_share[ok]
    window[ok, PRB_TOT_PCT] *= used[ok] / window[ok, PRB_USED]
    window[ok, PRB_USED] = used[ok]
    window[ok, THP] *= ratio[ok] * served_share[ok]


def frozen_counters(values: FloatArray, cell: int, start: int, stop: int) -> None:
    """Repeat the cell's last sample before the window over the window (in place)."""
    values[start:stop, cell] = values[max(start - 1, 0), cell]


OUT_OF_RANGE_RULES = 5


def out_of_range(
    values: FloatArray, cell: int, start: int, stop: int, rule: int, num_prb: float,
    interval_s: int,
) -> None:  # fmt: skip
    """Make a counter contradict the others or the cell, by ``rule`` (0-4, in place).

    0: PRBs used above those available; 1: more PRBs available than the cell has; 2: total
    PRB usage below the data PRB usage; 3: served above offered volume; 4: energy not
    power x interval. Every value stays within its counter's own range (ingestion accepts it).
    """
    window = values[start:stop, cell]
    if rule == 0:
        window[:, PRB_USED] = np.minimum(window[:, PRB_AVAIL] * 1.2 + 2.0, 275.0)
    elif rule == 1:
        window[:, PRB_AVAIL] = np.minimum(num_prb * 1.5 + 2.0, 275.0)
    elif rule == 2:
        window[:, PRB_TOT_PCT] = np.maximum(window[:, PRB_TOT_PCT] * 0.3 - 10.0, 0.0)
        window[:, PRB_USED] = np.maximum(window[:, PRB_USED], 0.3 * window[:, PRB_AVAIL])
    elif rule == 3:
        window[:, VOLUME] = window[:, OFFERED] * 1.5 + 10.0
    else:
        window[:, ENERGY] = _energy_kwh(window[:, POWER], interval_s) * 3.0 + 0.01


def missing_counters(
    values: FloatArray, reported: BoolArray, cell: int, start: int, stop: int
) -> None:
    """Drop the cell's samples in the window (in place)."""
    values[start:stop, cell] = np.nan
    reported[start:stop, cell] = False
