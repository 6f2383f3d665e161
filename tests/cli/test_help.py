"""``ranopt --help`` lists every command without importing what the commands need."""

import subprocess
import sys

import pytest

from ranopt.cli.main import COMMANDS, load_command

HEAVY = {
    "numpy", "scipy", "sqlalchemy", "highspy", "matplotlib", "pyarrow", "fastapi", "uvicorn",
    "alembic", "psycopg", "pydantic", "dimod", "dwave", "cryptography", "argon2", "httpx",
    "asyncssh", "ncclient", "jsonschema",
}  # fmt: skip
PROBE = """
import sys
from ranopt.cli.main import app
try:
    app(["--help"])
except SystemExit:
    pass
print(",".join(sorted({m.split(".")[0] for m in sys.modules})), file=sys.stderr)
"""


def test_help_imports_no_numeric_database_or_web_library() -> None:
    run = subprocess.run(  # noqa: S603 - this interpreter, fixed code
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120, check=True
    )
    imported = set(run.stderr.strip().splitlines()[-1].split(","))
    assert imported & HEAVY == set()
    for name in COMMANDS:
        assert f" {name} " in run.stdout


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_the_help_line_is_the_command_s_own(name: str) -> None:
    """The line ``--help`` shows without importing is the one the command itself declares."""
    command = load_command(name)
    assert (command.help or "").strip().splitlines()[0] == COMMANDS[name][2]
