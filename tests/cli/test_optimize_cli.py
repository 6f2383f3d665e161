"""``ranopt optimize``: the JSON report of a small day-ahead run, and its input errors."""

import json
import subprocess
import sys
from typing import Any

import pytest
from typer.testing import CliRunner

from ranopt.cli.main import app
from ranopt.twin import build_twin, scenario_preset

SMALL = ["--scenario", "default", "--sites", "7", "--ues", "300", "--seed", "1"]
DOCUMENTED_KEYS = {
    "solver",
    "energy_kwh",
    "always_on_energy_kwh",
    "saving_pct",
    "served_ratio_min",
    "max_prb_load",
    "ue_thp_p5_mbps_min",
    "constraint_violations",
    "confidence",
    "solve_s",
    "actions",
}
NUM_SCENARIOS = 4


@pytest.fixture(scope="module")
def greedy_report() -> dict[str, Any]:
    args = [
        "optimize",
        *SMALL,
        "--solver",
        "greedy",
        "--scenarios",
        str(NUM_SCENARIOS),
        "--history-days",
        "7",
        "--day",
        "7",
        "--json",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    # stdout is exactly one JSON object (progress and status go to stderr)
    report = json.loads(result.stdout)
    assert isinstance(report, dict)
    return report


def test_json_has_the_documented_keys(greedy_report: dict[str, Any]):
    assert set(greedy_report) >= DOCUMENTED_KEYS
    assert greedy_report["solver"] == "greedy"
    assert greedy_report["day"] == 7


def test_json_figures_are_in_range(greedy_report: dict[str, Any]):
    r = greedy_report
    assert 0.0 < r["energy_kwh"] <= r["always_on_energy_kwh"]
    expected_saving = 100.0 * (1.0 - r["energy_kwh"] / r["always_on_energy_kwh"])
    assert r["saving_pct"] == pytest.approx(expected_saving, abs=0.01)
    assert 0.0 <= r["served_ratio_min"] <= 1.0
    assert 0.0 <= r["max_prb_load"] <= 1.0
    assert r["ue_thp_p5_mbps_min"] >= 0.0
    assert isinstance(r["constraint_violations"], int)
    assert r["constraint_violations"] >= 0
    assert r["solve_s"] >= 0.0


def test_confidence_is_a_share_of_the_scenarios(greedy_report: dict[str, Any]):
    confidence = greedy_report["confidence"]
    assert 0.0 <= confidence <= 1.0
    held = confidence * NUM_SCENARIOS
    assert held == pytest.approx(round(held), abs=1e-9)


def test_actions_are_sleep_wake_and_muting_of_capacity_cells(greedy_report: dict[str, Any]):
    twin = build_twin(scenario_preset("default", seed=1, num_sites=7, num_ues=300))
    capacity = {c.name for c in twin.cells if c.layer == "capacity"}
    actions = greedy_report["actions"]
    assert actions, "a whole day on a small network has nights to sleep in"
    state: dict[str, bool] = {}
    for a in actions:
        assert set(a) == {"cell", "t_min", "action", "value"}
        assert a["action"] in {"sleep", "wake", "mimo"}
        assert a["cell"] in capacity
        assert isinstance(a["t_min"], int)
        assert 0 <= a["t_min"] < 1440
        assert a["t_min"] % 15 == 0
        if a["action"] == "mimo":
            assert a["value"] in (64, 32, 16)  # chains in use
            assert not state.get(a["cell"], False)  # only an active cell mutes
            continue
        assert a["value"] == (None if a["action"] == "wake" else a["value"])
        if a["action"] == "sleep":
            assert a["value"] in ("light", "deep", "waking")
        if a["value"] == "waking":  # a deep run's last interval: the cell stays asleep
            assert state.get(a["cell"], False)
            continue
        # sleep and wake alternate per cell, starting from every cell on
        asleep = state.get(a["cell"], False)
        assert asleep == (a["action"] == "wake")
        state[a["cell"]] = not asleep
    assert [a["t_min"] for a in actions] == sorted(a["t_min"] for a in actions)


def test_unknown_solver_names_the_option():
    result = CliRunner().invoke(app, ["optimize", *SMALL, "--solver", "nope", "--json"])
    assert result.exit_code != 0
    assert "--solver" in result.output
    assert "nope" in result.output
    assert result.stdout.strip() == ""


def test_day_without_history_names_the_day():
    args = ["optimize", *SMALL, "--day", "3", "--history-days", "7", "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code != 0
    assert "day" in result.output
    assert "3" in result.output
    assert result.stdout.strip() == ""


@pytest.mark.slow
def test_stdout_of_a_fresh_process_is_pure_json():
    """HiGHS prints a banner from C on its first construction; it must reach neither stream.

    In a fresh process the CLI constructs HiGHS itself (``silence_highs_banner``) whatever the
    solver; the threshold rule is the quickest to run and is not covered above.
    """
    args = [*SMALL, "--solver", "threshold", "--scenarios", "2", "--history-days", "7"]
    completed = subprocess.run(  # noqa: S603 (fixed arguments, our own console script)
        [sys.executable, "-m", "ranopt.cli.main", "optimize", *args, "--day", "7", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert "HiGHS" not in completed.stderr  # nor on stderr: no banner nobody asked for
    report = json.loads(completed.stdout)
    assert set(report) >= DOCUMENTED_KEYS
    assert report["solver"] == "threshold"
    assert {"sleep_below", "coverage_below", "wake_above"} <= set(report["solver_detail"])
    assert report["confidence"] in (0.0, 0.5, 1.0)
