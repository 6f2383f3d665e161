"""Smoke test of ``benchmarks/twin.py --quick``: it runs and prints the documented JSON."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "twin.py"


@pytest.mark.slow
def test_quick_benchmark_prints_json() -> None:
    proc = subprocess.run(  # noqa: S603 - fixed interpreter and script path, no user input
        [sys.executable, str(BENCHMARK), "--quick"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["quick"] is True
    assert set(report["scenarios"]) == {"default"}
    default = report["scenarios"]["default"]
    assert (default["num_sites"], default["num_cells"], default["num_ues"]) == (19, 114, 4000)
    assert default["num_ue_slots"] > default["num_ues"]  # commuters are at home and at work
    assert default["top_k"] is None
    assert default["converged"] is True
    assert default["iterations"] >= 1
    for key in ("setup_s", "eval_ms_median", "eval_peak_tracemalloc_mib", "maxrss_mib"):
        assert default[key] > 0
    assert default["dense_baseline"]["mode"] == "preset_is_dense"
    assert default["sparse_variant"]["top_k"] == 24
    assert default["sparse_over_dense_time"] > 0
    # the target verdicts are booleans where measured, null where not run; no timing asserted
    assert isinstance(report["checks"]["default_eval_ms_le_5"], bool)
    assert report["checks"]["large_eval_ms_le_1000"] is None
    assert report["targets"]["default_eval_ms_max"] == 5.0
