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
from ranopt.twin.partition import coupling_matrix, partition_cells

# one site (6 cells) in clusters of at most 3: three clusters, each bordered by the others,
# and a stitched plan the whole-network check changes (a whole day planned twice: ~2 s each)
SEED, DAY, MAX_CELLS, SITES, UES = 1, 2, 3, 1, 120
SMALL = ["--scenario", "default", "--sites", str(SITES), "--ues", str(UES), "--seed", str(SEED)]
RUN = [*SMALL, "--day", str(DAY), "--history-days", "2", "--scenarios", "1"]


def _invoke(*extra: str) -> Any:
    return CliRunner().invoke(app, ["optimize", *RUN, *extra])


def test_cli_plan_by_clusters_is_plan_partitioned_with_the_same_seed():
    result = _invoke("--solver", "greedy", "--partition-cells", str(MAX_CELLS), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    # the same plan made directly: same twin, forecast inputs, partition and Generator state
    twin = build_twin(scenario_preset("default", seed=SEED, num_sites=SITES, num_ues=UES))
    config = DayAheadConfig(history_days=2, confidence_scenarios=1)
    inputs = prepare_day_ahead(twin, SEED, DAY, config)
    partition = partition_cells(coupling_matrix(twin), MAX_CELLS)
    rng = np.random.default_rng(np.random.SeedSequence([SEED, DAY, 0xC0F]))
    direct = plan_partitioned(
        twin, inputs.planning_demand_mbps, "greedy", partition, limits=EnergyConstraints(),
        config=EnergyConfig(), rng=rng,
    )  # fmt: skip
    assert direct.plan.expected is not None
    assert report["planned"] == kpi_fields(direct.plan.expected)
    assert report["planned"]["constraint_violations"] == 0
    assert report["planned"]["saving_pct"] > 0
    assert len(report["actions"]) == len(direct.plan.actions)
    summary = report["partition"]
    assert summary["clusters"] == partition.num_clusters >= 2
    assert summary["cells"] == twin.num_cells
    assert summary["largest_cluster_cells"] <= MAX_CELLS + MAX_CELLS // 10
    assert summary["border_cells"] == sum(int(g.size) for g in partition.guards)
    assert summary["executor"] == "in-process"
    assert summary["cells_woken_by_whole_network_check"] == direct.cells_woken
    changed = summary["cell_intervals_changed_by_whole_network_check"]
    assert changed == direct.changed_cell_intervals > 0
    assert summary["partition_cpu_s"] >= 0.0
    assert report["solver_detail"]["clusters"] == partition.num_clusters


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
