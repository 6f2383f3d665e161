"""Smoke test of benchmarks/forecast.py without the optional libraries (the comparison itself
is a benchmark: ``make bench``)."""

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "forecast.py"


def test_benchmark_runs_and_reports_every_horizon() -> None:
    done = subprocess.run(  # noqa: S603 - our own script, fixed arguments
        [sys.executable, str(SCRIPT), "--quick", "--models", ""],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    result = json.loads(done.stdout)
    for horizon in ("day_ahead", "nowcast"):
        scores = result["scores"]["default"][horizon]["all"]
        assert {"ranopt", "ranopt_uncalibrated", "naive_weekly"} <= set(scores)
        mine = scores["ranopt"]
        assert 0.0 < mine["wape"] < scores["naive_weekly"]["wape"]
        assert 0.5 < mine["coverage_90"] <= 1.0
        assert mine["coverage_80"] < mine["coverage_90"]
        assert mine["pinball_scaled"] > 0.0
        assert result["targets"][horizon]["wape"] == mine["wape"]
    assert len(result["scores"]["default"]["nowcast"]["all"]["ranopt"]["wape_by_step"]) == 4
    assert result["timing"]["ranopt"]["day_ahead"]["fit_s_per_1000_series"] > 0.0
