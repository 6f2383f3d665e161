"""Smoke test of benchmarks/confidence.py's scoring: bins, Brier score and the PNG, from plans
written by an earlier run (``--merge``); the planning itself is a benchmark."""

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "confidence.py"


def test_merge_bins_plans_scores_brier_and_draws_the_diagram(tmp_path: Path) -> None:
    # 10 plans stated 0.9 of which 6 held, 10 stated 0.6 of which 6 held, seeds 1 and 2
    rows = [
        {"seed": 1 + i % 2, "day": 14 + i, "confidence": 0.9, "held": i < 6, "total_s": 1.0}
        for i in range(10)
    ] + [
        {"seed": 1 + i % 2, "day": 24 + i, "confidence": 0.6, "held": i < 6, "total_s": 1.0}
        for i in range(10)
    ]
    plans = tmp_path / "plans.jsonl"
    plans.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "calibration.json"
    done = subprocess.run(  # noqa: S603 - our own script, fixed arguments
        [sys.executable, str(SCRIPT), "--merge", str(plans), "--out", str(out)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    result = json.loads(done.stdout)
    assert result == json.loads(out.read_text())
    bins = {b["bin"]: b for b in result["reliability"]}
    assert bins["[0.90, 0.95)"]["plans"] == 10
    assert bins["[0.90, 0.95)"]["held_share"] == 0.6
    assert bins["[0.90, 0.95)"]["gap_points"] == 30.0
    assert bins["[0.90, 0.95)"]["within_5_points"] is False
    # Wilson 95 % score interval of 6 / 10, by hand:
    # (0.6 + z²/20 ± z sqrt(0.024 + z²/400)) / (1 + z²/10) = 0.3127-0.8318
    assert bins["[0.90, 0.95)"]["held_share_95ci"] == [0.313, 0.832]
    assert bins["[0.50, 0.70)"]["within_5_points"] is True
    assert result["target_within_5_points_every_judged_bin"] is False
    # Brier: 6 x 0.1^2 + 4 x 0.9^2 per 10 at 0.9; 6 x 0.4^2 + 4 x 0.6^2 per 10 at 0.6
    expected = (6 * 0.01 + 4 * 0.81 + 6 * 0.16 + 4 * 0.36) / 20
    assert abs(result["overall"]["brier"] - expected) < 1e-4
    assert result["days"] == [14, 33]
    assert set(result["per_seed"]) == {"1", "2"}
    png = Path(result["png"])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
