"""Where the third-party specs are read in place, and what a test does when they are absent.

They live in ``shared/specs`` inside the checkout or ``../shared/specs`` beside it;
``RANOPT_TEST_SPECS`` points elsewhere (a missing folder shows what a bare clone sees). A test
that needs them skips with a one-line reason when they are absent, except under CI (``CI``
set), which always has them: there a missing folder fails the test.
"""

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _specs_dir() -> Path:
    forced = os.environ.get("RANOPT_TEST_SPECS")
    if forced:
        return Path(forced)
    candidates = (ROOT / "shared" / "specs", ROOT.parent / "shared" / "specs")
    return next((p for p in candidates if p.is_dir()), candidates[1])


SPECS = _specs_dir()


def require_specs(path: Path | None = None) -> Path:
    """Return ``path`` (default: the specs folder); skip the test, or fail under CI, without it."""
    target = SPECS if path is None else path
    if target.exists():
        return target
    reason = f"{target} absent: the specs are read in place from ../shared beside the checkout"
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI always has them)")
    pytest.skip(reason)
