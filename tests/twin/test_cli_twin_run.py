"""Smoke test of ``ranopt twin run`` through Typer's test runner."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ranopt.cli.main import app

SMALL_RUN = ["twin", "run", "--scenario", "default", "--seed", "1", "--hours", "2"]
SMALL_RUN += ["--sites", "7", "--ues", "300"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def json_run() -> dict[str, object]:
    result = CliRunner().invoke(app, [*SMALL_RUN, "--json"])
    assert result.exit_code == 0, result.output
    parsed: dict[str, object] = json.loads(result.stdout)
    return parsed


def test_json_keys_and_sizes(json_run: dict[str, object]) -> None:
    assert {"cells", "ues", "intervals", "energy_kwh"} <= json_run.keys()
    assert json_run["cells"] == 42
    assert json_run["ues"] == 300
    intervals = json_run["intervals"]
    assert isinstance(intervals, list)
    assert len(intervals) == 8  # 2 h of 15-min intervals
    keys = {"t_min", "offered_mbps", "served_mbps", "power_w", "prb_load_p50", "prb_load_p95"}
    for row in intervals:
        # the documented keys, plus the per-layer PRB load percentiles
        assert set(row) == keys | {
            "capacity_prb_load_p50",
            "capacity_prb_load_p95",
            "coverage_prb_load_p95",
        }
        assert 0.0 <= row["capacity_prb_load_p50"] <= row["capacity_prb_load_p95"] <= 1.0
        assert 0.0 <= row["prb_load_p50"] <= row["prb_load_p95"] <= 1.0
        assert 0.0 < row["served_mbps"] <= row["offered_mbps"]
        assert row["power_w"] > 0.0
    assert [row["t_min"] for row in intervals] == list(range(0, 120, 15))


def test_energy_is_the_sum_of_interval_power(json_run: dict[str, object]) -> None:
    intervals = json_run["intervals"]
    assert isinstance(intervals, list)
    energy_kwh = sum(row["power_w"] * 0.25 / 1000.0 for row in intervals)
    # power_w is rounded to 0.1 W (8 x 0.05 W x 0.25 h) and energy_kwh to 1 Wh
    assert json_run["energy_kwh"] == pytest.approx(energy_kwh, abs=1e-3)


def test_table_run_writes_png(tmp_path: Path) -> None:
    plot = tmp_path / "out" / "day.png"
    result = CliRunner().invoke(app, [*SMALL_RUN, "--plot", str(plot)])
    assert result.exit_code == 0, result.output
    assert "energy" in result.stdout
    assert plot.read_bytes()[:8] == PNG_MAGIC
    # the table is printed whole when piped (rich would lay it out at 80 columns): every
    # header word and every column, nothing cut with an ellipsis
    assert "…" not in result.stdout
    rows = [line for line in result.stdout.splitlines() if line.startswith("│ 0")]
    assert len(rows) == 2  # 00:00 and 01:00
    assert all(row.count("│") == 11 for row in rows)  # hour + 9 figures, 11 rules
    for word in ("offered", "served", "capacity", "coverage", "power", "Mbit/s"):
        assert word in result.stdout


def test_bad_site_count_is_a_usage_error() -> None:
    result = CliRunner().invoke(app, [*SMALL_RUN[:-4], "--sites", "8", "--json"])
    assert result.exit_code == 2
    assert "8" in result.output
