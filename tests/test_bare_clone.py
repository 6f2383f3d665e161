"""A clone without ``../shared`` beside it: the spec-reading tests skip with a reason.

Runs pytest in a child process with ``RANOPT_TEST_SPECS`` pointed at a missing folder: no
failure, no error, every spec test skipped with a one-line reason. Under CI (``CI`` set) the
same tests fail instead, because CI always has the specs and there they must run.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
SPEC_READERS = ["ingest/test_pm_xml.py", "ingest/test_ves.py"]


def _pytest(tmp_path: Path, *files: str, ci: bool) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["RANOPT_TEST_SPECS"] = str(tmp_path / "no-shared" / "specs")
    if ci:
        env["CI"] = "true"
    return subprocess.run(  # noqa: S603 - this interpreter's pytest, fixed arguments
        [sys.executable, "-m", "pytest", "-q", "-rs", "-x", "-p", "no:cacheprovider",
         *(str(TESTS / f) for f in files)],
        cwd=TESTS.parent, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


@pytest.mark.slow
def test_without_the_specs_they_skip_with_a_reason(tmp_path: Path) -> None:
    run = _pytest(tmp_path, *SPEC_READERS, ci=False)
    assert run.returncode == 0, run.stdout + run.stderr
    summary = run.stdout.strip().splitlines()[-1]
    assert "failed" not in summary
    assert "error" not in summary
    assert re.search(r"\d+ passed, \d+ skipped", summary), summary
    reasons = [line for line in run.stdout.splitlines() if line.startswith("SKIPPED")]
    assert reasons
    assert all("absent: the specs are read in place from ../shared" in r for r in reasons)


@pytest.mark.slow
def test_under_ci_missing_specs_fail(tmp_path: Path) -> None:
    run = _pytest(tmp_path, SPEC_READERS[0], ci=True)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "(CI always has them)" in run.stdout
