"""The audit log: every write and auth event, hash-chained, tamper and deletion detected."""

from api_world import World
from sqlalchemy import delete, func, select, update
from typer.testing import CliRunner

from ranopt.cli.main import app as cli
from ranopt.store import audit
from ranopt.store.tables import AuditEntry


def _writes(world: World) -> None:
    admin = world.headers("acme", "network_admin")
    assert world.topology is not None
    topology = world.topology(1, name="audited").model_dump(mode="json")
    assert world.client.post("/api/v2/networks", headers=admin, json=topology).status_code == 201
    made = world.client.post(
        "/api/v2/api-keys", headers=admin, json={"name": "k", "role": "viewer"}
    )
    assert made.status_code == 201
    bad = world.client.post(
        "/api/v2/auth/token", data={"username": "x", "password": "y", "tenant": "acme"}
    )
    assert bad.status_code == 401


def _cli_env(world: World) -> dict[str, str]:
    return {"RANOPT_DATABASE_URL": world.store.engine.url.render_as_string(hide_password=False)}


def test_writes_and_auth_events_are_audited_and_chained(world: World) -> None:
    _writes(world)
    analyst = world.headers("acme", "security_analyst")
    entries = world.client.get("/api/v2/audit", headers=analyst).json()
    actions = [e["action"] for e in entries]
    assert "network.create" in actions
    assert "api_key.create" in actions
    assert "auth.login" in actions
    with world.store.transaction() as session:
        assert audit.verify_chain(session).ok
    # the other tenant sees none of it
    globex = world.client.get("/api/v2/audit", headers=world.headers("globex", "security_analyst"))
    assert globex.json() == []
    result = CliRunner().invoke(cli, ["audit", "verify"], env=_cli_env(world))
    assert result.exit_code == 0, result.output
    assert "intact" in result.output


def test_edited_entry_is_detected(world: World) -> None:
    _writes(world)
    with world.store.transaction() as session:
        target = session.scalar(
            select(func.min(AuditEntry.id)).where(AuditEntry.action == "network.create")
        )
        session.execute(update(AuditEntry).where(AuditEntry.id == target).values(actor="user:999"))
    with world.store.transaction() as session:
        report = audit.verify_chain(session)
    assert not report.ok
    assert report.bad_entry_id == target
    assert "hash" in (report.problem or "")
    result = CliRunner().invoke(cli, ["audit", "verify"], env=_cli_env(world))
    assert result.exit_code == 1
    assert f"entry {target}" in result.output


def test_deleted_entry_is_detected(world: World) -> None:
    _writes(world)
    with world.store.transaction() as session:
        ids = list(session.scalars(select(AuditEntry.id).order_by(AuditEntry.id)))
        session.execute(delete(AuditEntry).where(AuditEntry.id == ids[1]))
    with world.store.transaction() as session:
        report = audit.verify_chain(session)
    assert not report.ok
    assert report.bad_entry_id == ids[2]
    assert "deleted" in (report.problem or "")


def test_deleted_last_entry_is_detected(world: World) -> None:
    _writes(world)
    with world.store.transaction() as session:
        last = session.scalar(select(func.max(AuditEntry.id)))
        session.execute(delete(AuditEntry).where(AuditEntry.id == last))
    with world.store.transaction() as session:
        report = audit.verify_chain(session)
    assert not report.ok
    assert report.bad_entry_id == last


def test_rewritten_chain_tail_is_detected(world: World) -> None:
    """Recomputing an edited entry's own hash still breaks its successor's link."""
    _writes(world)
    with world.store.transaction() as session:
        row = session.scalars(select(AuditEntry).order_by(AuditEntry.id).limit(1)).one()
        row.actor = "user:999"
        row.hash = audit.entry_hash(
            entry_id=row.id, ts_s=row.ts_s, tenant_id=row.tenant_id, actor=row.actor,
            action=row.action, target=row.target, outcome=row.outcome,
            detail=dict(row.detail), prev_hash=row.prev_hash,
        )  # fmt: skip
        first = row.id
    with world.store.transaction() as session:
        report = audit.verify_chain(session)
    assert not report.ok
    assert report.bad_entry_id is not None
    assert report.bad_entry_id > first
