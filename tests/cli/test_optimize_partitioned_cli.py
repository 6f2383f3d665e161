"""``ranopt optimize --partition-cells N``: the day-ahead plan by clusters, from the CLI."""

import json
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from ranopt.cli.main import app
from ranopt.cli.optimize import kpi_fields
from ranopt.optimize.day_ahead import DayAheadConfig, prepare_day_ahead
from ranopt.optimize.energy import EnergyConfig
from ranopt.optimize.evaluate import EnergyConstraints
from ranopt.optimize.partitioned import plan_partitioned
from ranopt.service.partitioned import MIN_PARTITION_CELLS
from ranopt.twin import build_twin, scenario_preset
from ranopt.twin.partition import partition_network

# one site (6 cells, 3 sectors) in clusters of at most 3: a sector (2 cells) per cluster, each
# bordered by the others, and a plan the robust repair on forecast scenarios changes (a whole
# day planned twice: ~2 s each)
SEED, DAY, MAX_CELLS, SITES, UES = 1, 2, 3, 1, 120
SMALL = ["--scenario", "default", "--sites", str(SITES), "--ues", str(UES), "--seed", str(SEED)]
RUN = [*SMALL, "--day", str(DAY), "--history-days", "2", "--scenarios", "1"]


def _invoke(*extra: str) -> Any:
    return CliRunner().invoke(app, ["optimize", *RUN, *extra])


def test_cli_plan_by_clusters_gets_the_robust_repair_of_the_whole_network_plan():
    """The CLI's plan by clusters is ``plan_with_solver``'s: clusters first, then the repair."""
    result = _invoke("--solver", "greedy", "--partition-cells", str(MAX_CELLS), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    # the first plan made directly: same twin, forecast inputs, partition and Generator state
    # (``plan_with_solver`` hands its Generator to the first plan before drawing scenarios)
    twin = build_twin(scenario_preset("default", seed=SEED, num_sites=SITES, num_ues=UES))
    config = DayAheadConfig(history_days=2, confidence_scenarios=1)
    inputs = prepare_day_ahead(twin, SEED, DAY, config)
    partition = partition_network(twin, MAX_CELLS)
    rng = np.random.default_rng(np.random.SeedSequence([SEED, DAY, 0xC0F]))
    first = plan_partitioned(
        twin, inputs.planning_demand_mbps, "greedy", partition, limits=EnergyConstraints(),
        config=EnergyConfig(), rng=rng,
    )  # fmt: skip
    assert first.plan.expected is not None
    summary = report["partition"]
    assert summary["clusters"] == partition.num_clusters >= 2
    assert summary["cells"] == twin.num_cells
    assert summary["largest_cluster_cells"] <= MAX_CELLS
    assert summary["border_cells"] == sum(int(g.size) for g in partition.guards)
    assert summary["executor"] == "in-process"
    assert summary["cells_woken_in_clusters"] == first.cluster_cells_woken
    assert summary["cells_woken_by_whole_network_check"] == first.cells_woken
    changed = summary["cell_intervals_changed_by_whole_network_check"]
    assert changed == first.changed_cell_intervals
    assert summary["partition_cpu_s"] >= 0.0
    # then the robust repair on the forecast scenarios: it woke cells the first plan, checked
    # on the planning demand alone, had asleep, and the plan keeps every limit
    detail = report["solver_detail"]
    assert detail["clusters"] == partition.num_clusters
    assert detail["robust_scenarios"] == DayAheadConfig.robust_scenarios
    assert detail["cells_woken_by_scenarios"] > 0
    assert report["planned"]["constraint_violations"] == 0
    assert 0 < report["planned"]["saving_pct"] < first.plan.expected.saving_pct
    assert report["planned"] != kpi_fields(first.plan.expected)


def test_cluster_cap_below_the_minimum_names_the_option():
    result = _invoke("--partition-cells", str(MIN_PARTITION_CELLS - 1), "--json")
    assert result.exit_code != 0
    assert "--partition-cells" in result.output
    assert result.stdout.strip() == ""


@pytest.mark.parametrize(
    "extra", [("--solver", "threshold"), ("--objective", "load-balance")], ids=["threshold", "qos"]
)
def test_plan_by_clusters_is_refused_where_it_does_not_apply(extra: tuple[str, str]):
    result = _invoke(*extra, "--partition-cells", str(MAX_CELLS), "--json")
    assert result.exit_code != 0
    assert "--partition-cells" in result.output
    assert result.stdout.strip() == ""
