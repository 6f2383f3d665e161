"""The network digital twin: a pure numpy 3GPP system-level model (no I/O, seeded randomness)."""

from ranopt.twin.model import Twin, build_twin
from ranopt.twin.scenario import PRESETS, Scenario, scenario_preset
from ranopt.twin.simulate import IntervalKpis, collect_kpis, iter_snapshots, simulate
from ranopt.twin.snapshot import CellState, Snapshot, evaluate_snapshot

__all__ = [
    "PRESETS",
    "CellState",
    "IntervalKpis",
    "Scenario",
    "Snapshot",
    "Twin",
    "build_twin",
    "collect_kpis",
    "evaluate_snapshot",
    "iter_snapshots",
    "scenario_preset",
    "simulate",
]
