"""``ranopt admin reset-password`` and the CLI's "did you mean" for cell names."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from ranopt.api.security import password_hasher, verify_password
from ranopt.api.settings import Settings
from ranopt.cli.main import app
from ranopt.store import accounts, audit
from ranopt.store.engine import open_store


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    monkeypatch.setenv("RANOPT_DATABASE_URL", f"sqlite:///{tmp_path / 'ranopt.db'}")
    monkeypatch.setenv("RANOPT_DATA_DIR", str(tmp_path / "data"))
    # cheap argon2 for the test (production keeps the defaults)
    monkeypatch.setenv("RANOPT_ARGON2_TIME_COST", "1")
    monkeypatch.setenv("RANOPT_ARGON2_MEMORY_KIB", "64")
    return CliRunner()


def _stored_hash(username: str) -> str:
    store = open_store(Settings().database_url)
    with store.transaction() as s:
        tenant = accounts.get_tenant(s, name="acme")
        creds = accounts.user_credentials(s, tenant_id=tenant.id, username=username)
        assert creds is not None
    store.dispose()
    return creds.password_hash


def test_a_forgotten_admin_password_is_reset_once_and_audited(cli: CliRunner) -> None:
    assert cli.invoke(app, ["admin", "create-tenant", "acme"]).exit_code == 0
    made = cli.invoke(app, ["admin", "create-user", "acme", "admin", "--role", "network_admin"])
    assert made.exit_code == 0, made.output
    old = made.output.split("password (shown once): ")[1].strip()
    result = cli.invoke(app, ["admin", "reset-password", "acme", "admin"])
    assert result.exit_code == 0, result.output
    new = result.output.split("password (shown once): ")[1].strip()
    hasher = password_hasher(Settings())
    assert new != old
    assert verify_password(hasher, _stored_hash("admin"), new)
    assert not verify_password(hasher, _stored_hash("admin"), old)
    # from stdin: nothing printed back; too short is refused and changes nothing
    chosen = "a-long-chosen-passphrase"
    result = cli.invoke(
        app, ["admin", "reset-password", "acme", "admin", "--password-stdin"], input=chosen + "\n"
    )
    assert result.exit_code == 0, result.output
    assert chosen not in result.output
    assert verify_password(hasher, _stored_hash("admin"), chosen)
    result = cli.invoke(
        app, ["admin", "reset-password", "acme", "admin", "--password-stdin"], input="short\n"
    )
    assert result.exit_code == 2
    assert verify_password(hasher, _stored_hash("admin"), chosen)
    # a mistyped user name is answered with the near one
    result = cli.invoke(app, ["admin", "reset-password", "acme", "admni"])
    assert result.exit_code == 1
    assert "no user 'admni' in tenant 'acme'; did you mean 'admin'?" in result.output
    store = open_store(Settings().database_url)
    with store.transaction() as s:
        tenant = accounts.get_tenant(s, name="acme")
        entries = audit.list_entries(s, tenant_id=tenant.id)
        report = audit.verify_chain(s)
    store.dispose()
    resets = [e for e in entries if e.action == "user.password.reset"]
    assert len(resets) == 2
    assert all(e.actor == "cli:admin" for e in resets)
    assert all(new not in str(e.detail) and chosen not in str(e.detail) for e in resets)
    assert report.ok


def test_a_mistyped_cell_name_gets_a_suggestion() -> None:
    args = ["optimize", "--scenario", "default", "--sites", "7", "--ues", "300", "--seed", "1"]
    args += ["--objective", "compensate", "--failed-cell", "S001-2-cpa", "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code != 0
    assert "did you mean 'S001-2-cap'" in result.output
