"""What the compute benchmarks share: one measurement per fresh, single-threaded interpreter.

A child process gives each measurement its own peak memory (``ru_maxrss``) and keeps BLAS
from waking threads that the shared 2-core machine does not have (docs/benchmarks.md).
"""

import json
import os
import subprocess
import sys
from typing import Any

# one BLAS / OpenMP thread: numbers that do not depend on how many cores happen to be free
SINGLE_THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "VECLIB_MAXIMUM_THREADS": "1",
}


def run_child(
    script: str, spec: dict[str, Any], timeout_s: float, *, show_stderr: bool = False
) -> dict[str, Any]:
    """Run ``script --child SPEC`` single-threaded; return the JSON it prints, or its error.

    ``show_stderr`` lets the child's progress reach this terminal instead of the error text.
    """
    proc = subprocess.run(
        [sys.executable, script, "--child", json.dumps(spec)],
        stdout=subprocess.PIPE,
        stderr=None if show_stderr else subprocess.PIPE,
        text=True,
        env={**os.environ, **SINGLE_THREAD_ENV},
        timeout=timeout_s,
        check=False,
    )
    if proc.returncode != 0:
        tail = "" if show_stderr else f": {proc.stderr.strip()[-2000:]}"
        return {"error": f"exit {proc.returncode}{tail}"}
    result: dict[str, Any] = json.loads(proc.stdout)
    return result
