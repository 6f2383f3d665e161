"""``ranopt optimize --objective load-balance|slicing|compensate``: JSON figures from the twin."""

import json
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from ranopt.cli.main import app
from ranopt.twin import CellState, build_twin, evaluate_snapshot, scenario_preset
from ranopt.twin.traffic import busy_interval, day_rng, realised_demand_mbps

SMALL = ["--sites", "7", "--ues", "500", "--seed", "1", "--day", "0", "--scenarios", "3"]
FIGURES = {"max_prb_load", "ue_thp_p5_mbps", "served_ratio", "sla_violations"}


def run(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(app, ["optimize", *args, *SMALL, "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert isinstance(report, dict)
    return report


def check_common(report: dict[str, Any]) -> None:
    assert {"solver", "before", "after", "confidence", "solve_s", "actions"} <= set(report)
    assert set(report["before"]) >= FIGURES
    assert set(report["after"]) >= FIGURES
    assert set(report["after"]["sla_violations"]) == {"eMBB", "URLLC", "mMTC"}
    assert 0.0 <= report["confidence"] <= 1.0
    assert report["solve_s"] > 0


@pytest.mark.parametrize("solver", ["exact", "local"])
def test_load_balance_report(solver: str):
    report = run("--objective", "load-balance", "--scenario", "hotspot", "--solver", solver)
    check_common(report)
    assert report["solver"] == solver
    assert report["after"]["max_prb_demand"] < report["before"]["max_prb_demand"]
    assert report["ues_losing_service"] == 0
    # replay the final offsets in a fresh twin: the "after" figure is the twin's
    twin = build_twin(scenario_preset("hotspot", seed=1, num_sites=7, num_ues=500))
    cio = np.zeros(twin.num_cells)
    for action in report["actions"]:
        cio[twin.cell_names.index(action["cell"])] = action["value"]
    t = busy_interval(twin.traffic, 0)
    demand = realised_demand_mbps(twin.traffic, 0, day_rng(1, 0))[t]
    state = CellState(active=np.ones(twin.num_cells, dtype=bool), cio_db=cio)
    snap = evaluate_snapshot(twin, state, demand)
    assert float(snap.demand_load.max()) == pytest.approx(
        report["after"]["max_prb_demand"], abs=2e-3
    )


def test_load_balance_defaults_to_exact_on_small_networks():
    report = run("--objective", "load-balance", "--scenario", "hotspot")
    assert report["solver"] == "exact"


def test_slicing_report():
    report = run("--objective", "slicing", "--slicing-step", "16")
    check_common(report)
    assert report["intervals"] == 6
    assert report["after_violations_outside_short_cells"] == 0
    assert report["before_violations_outside_short_cells"] > 0
    assert all(a["action"] == "slice_share" for a in report["actions"])


@pytest.mark.parametrize("cell", ["S000-1-cap", "3"])
def test_compensate_report(cell: str):
    report = run("--objective", "compensate", "--failed-cell", cell)
    check_common(report)
    assert report["failed_cell"] == "S000-1-cap"
    assert report["recovered_ratio_after"] >= report["recovered_ratio_before"]


def test_compensate_needs_a_failed_cell():
    result = CliRunner().invoke(app, ["optimize", "--objective", "compensate", *SMALL])
    assert result.exit_code != 0
    assert "--failed-cell" in result.output


def test_unknown_cell_and_solver_are_rejected():
    bad_cell = CliRunner().invoke(
        app, ["optimize", "--objective", "compensate", "--failed-cell", "S999-9-cap", *SMALL]
    )
    assert bad_cell.exit_code != 0
    bad_solver = CliRunner().invoke(
        app, ["optimize", "--objective", "slicing", "--solver", "exact", *SMALL]
    )
    assert bad_solver.exit_code != 0
