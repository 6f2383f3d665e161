"""Run the twin over intervals: a sequence of snapshots summarised as KPI time series."""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ranopt.twin.model import Twin
from ranopt.twin.snapshot import CellState, Snapshot, evaluate_snapshot
from ranopt.twin.units import FloatArray

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

LOW_THROUGHPUT_MBPS = 1.0  # "UEs below 1 Mbit/s" in the hourly table


@dataclass(frozen=True, eq=False)
class IntervalKpis:
    """Per-interval, per-cell KPIs of a run, arrays ``[num_intervals, num_cells]``.

    Names follow TS 28.552: ``prb_load`` is RRU.PrbUsedDl / RRU.PrbAvailDl (0-1),
    ``ue_thp_mbps`` DRB.UEThpDl, ``num_ues`` RRC.ConnMean, ``power_w`` PEE.AvgPower.
    """

    interval_min: int
    t_min: IntArray  # [T] start of each interval, minutes from the run's start
    active: BoolArray
    prb_load: FloatArray
    offered_mbps: FloatArray
    served_mbps: FloatArray
    num_ues: IntArray
    ue_thp_mbps: FloatArray
    power_w: FloatArray
    network_offered_mbps: FloatArray  # [T] incl. UEs without coverage
    network_served_mbps: FloatArray  # [T]
    ue_thp_p5_mbps: FloatArray  # [T] 5th percentile over UEs with demand
    ue_thp_p50_mbps: FloatArray  # [T]
    ues_below_1mbps: IntArray  # [T] UEs with demand whose throughput is below 1 Mbit/s
    ues_uncovered: IntArray  # [T] UEs without a suitable active cell
    converged: BoolArray  # [T] load fixed point converged

    @property
    def num_intervals(self) -> int:
        """Number of intervals."""
        return int(self.t_min.shape[0])

    @property
    def energy_kwh(self) -> FloatArray:
        """PEE.Energy per interval and cell, kWh ``[T, C]``."""
        return self.power_w * (self.interval_min / 60.0) / 1000.0

    @property
    def network_power_w(self) -> FloatArray:
        """Network supply power per interval, W ``[T]``."""
        return np.asarray(self.power_w.sum(axis=1), dtype=np.float64)

    @property
    def total_energy_kwh(self) -> float:
        """Network energy of the whole run, kWh."""
        return float(self.energy_kwh.sum())

    def load_percentile(self, q: float, cells: BoolArray | None = None) -> FloatArray:
        """Percentile ``q`` of PRB load (0-1) over the active cells (of a subset), ``[T]``.

        0 in an interval where no selected cell is active.
        """
        active = self.active if cells is None else self.active & cells[None, :]
        rows = [
            float(np.percentile(load[on], q)) if on.any() else 0.0
            for load, on in zip(self.prb_load, active, strict=True)
        ]
        return np.asarray(rows, dtype=np.float64)

    @property
    def served_ratio(self) -> FloatArray:
        """Served over offered traffic per interval ``[T]``."""
        offered = self.network_offered_mbps
        return np.divide(
            self.network_served_mbps, offered, out=np.ones_like(offered), where=offered > 0
        )


def iter_snapshots(
    twin: Twin,
    demand_mbps: FloatArray,
    states: CellState | Sequence[CellState],
) -> Iterator[Snapshot]:
    """Evaluate each interval in turn; ``demand_mbps`` is ``[T, num_ues]``.

    ``states`` is one state for every interval or one per interval. Each fixed point starts
    from the previous interval's loads.
    """
    previous_load: FloatArray | None = None
    for t in range(demand_mbps.shape[0]):
        state = states if isinstance(states, CellState) else states[t]
        snapshot = evaluate_snapshot(twin, state, demand_mbps[t], initial_load=previous_load)
        previous_load = snapshot.prb_load
        yield snapshot


def collect_kpis(snapshots: Sequence[Snapshot], interval_min: int, t0_min: int = 0) -> IntervalKpis:
    """Stack snapshots into per-interval KPI arrays."""
    thp_p5 = []
    thp_p50 = []
    below = []
    for s in snapshots:
        thp = s.ue_thp_mbps[s.demand_mbps > 0]
        thp_p5.append(float(np.percentile(thp, 5)) if thp.size else 0.0)
        thp_p50.append(float(np.percentile(thp, 50)) if thp.size else 0.0)
        below.append(int((thp < LOW_THROUGHPUT_MBPS).sum()))
    num_t = len(snapshots)
    return IntervalKpis(
        interval_min=interval_min,
        t_min=t0_min + interval_min * np.arange(num_t, dtype=np.int64),
        active=np.stack([s.active for s in snapshots]),
        prb_load=np.stack([s.prb_load for s in snapshots]),
        offered_mbps=np.stack([s.cell_offered_mbps for s in snapshots]),
        served_mbps=np.stack([s.cell_served_mbps for s in snapshots]),
        num_ues=np.stack([s.cell_num_ues for s in snapshots]),
        ue_thp_mbps=np.stack([s.cell_ue_thp_mbps for s in snapshots]),
        power_w=np.stack([s.power_w for s in snapshots]),
        network_offered_mbps=np.array([s.offered_mbps for s in snapshots]),
        network_served_mbps=np.array([s.served_mbps_total for s in snapshots]),
        ue_thp_p5_mbps=np.array(thp_p5),
        ue_thp_p50_mbps=np.array(thp_p50),
        ues_below_1mbps=np.array(below, dtype=np.int64),
        ues_uncovered=np.array([int((~s.covered).sum()) for s in snapshots], dtype=np.int64),
        converged=np.array([s.converged for s in snapshots]),
    )


def simulate(
    twin: Twin,
    demand_mbps: FloatArray,
    states: CellState | Sequence[CellState],
    t0_min: int = 0,
) -> IntervalKpis:
    """Evaluate every interval and return the KPI time series."""
    snapshots = list(iter_snapshots(twin, demand_mbps, states))
    return collect_kpis(snapshots, twin.scenario.interval_min, t0_min)
