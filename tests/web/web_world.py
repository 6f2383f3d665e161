"""What the dashboard tests share: the served world's names and the browser's flags."""

from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TENANT = "acme"
PASSWORD = "correct horse battery staple"  # noqa: S105 - test users only
ROLES = ("network_admin", "viewer", "security_analyst")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
WAIT_MS = 30_000  # generous upper bound for a 2-core CI machine, never a timing assertion


@dataclass
class Dashboard:
    """The served app: base URL, the twin network, and two runs whose plans await approval."""

    base: str
    network_id: int
    num_cells: int
    run_to_approve: int
    run_left_open: int
    tokens: dict[str, str] = field(default_factory=dict)

    def username(self, role: str) -> str:
        return f"{role}-user"
