"""The audit log: per-tenant hash chains, signed checkpoints, tampering and truncation found."""

import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from api_world import World
from fastapi.testclient import TestClient
from sqlalchemy import delete, func, select, update
from typer.testing import CliRunner

from ranopt.cli.main import app as cli
from ranopt.store import audit, checkpoints
from ranopt.store.engine import upgrade
from ranopt.store.tables import AuditChainHead, AuditEntry


def _writes(world: World, tenant: str = "acme") -> None:
    admin = world.headers(tenant, "network_admin")
    assert world.topology is not None
    name = f"audited-{tenant}-{uuid.uuid4().hex[:6]}"
    topology = world.topology(1, name=name).model_dump(mode="json")
    assert world.client.post("/api/v2/networks", headers=admin, json=topology).status_code == 201
    made = world.client.post(
        "/api/v2/api-keys", headers=admin, json={"name": "k", "role": "viewer"}
    )
    assert made.status_code == 201
    bad = world.client.post(
        "/api/v2/auth/token", data={"username": "x", "password": "y", "tenant": tenant}
    )
    assert bad.status_code == 401
    forged = {"Authorization": "Bearer not-a-token"}  # a rejected credential of no tenant
    assert world.client.get("/api/v2/networks", headers=forged).status_code == 401


def _cli_env(world: World, tmp_path: Path) -> dict[str, str]:
    return {
        "RANOPT_DATABASE_URL": world.store.engine.url.render_as_string(hide_password=False),
        "RANOPT_AUDIT_KEY_FILE": str(tmp_path / "keys" / "audit.key"),
        "RANOPT_AUDIT_CHECKPOINT_DIR": str(tmp_path / "checkpoints"),
    }


def _acme_chain(world: World) -> int:
    return audit.chain_of(world.tenant_ids["acme"])


def _verify(world: World, anchors: list[audit.Anchor] | None = None) -> audit.ChainReport:
    with world.store.transaction() as session:
        return audit.verify_chain(session, anchors=anchors or [])


def test_writes_and_auth_events_are_audited_in_per_tenant_chains(world: World) -> None:
    _writes(world, "acme")
    analyst = world.headers("acme", "security_analyst")
    entries = world.client.get("/api/v2/audit", headers=analyst).json()
    actions = [e["action"] for e in entries]
    assert {"network.create", "api_key.create", "auth.login"} <= set(actions)
    # acme's entries are numbered 1..n in its own chain, newest first
    assert [e["id"] for e in entries] == list(range(len(entries), 0, -1))
    assert entries[-1]["prev_hash"] == audit.GENESIS_HASH
    assert _verify(world).ok
    # globex sees none of it, and its own activity does not move acme's numbers
    globex = world.headers("globex", "security_analyst")
    assert world.client.get("/api/v2/audit", headers=globex).json() == []
    _writes(world, "globex")
    globex_entries = world.client.get("/api/v2/audit", headers=globex).json()
    assert [e["id"] for e in globex_entries] == list(range(len(globex_entries), 0, -1))
    again = world.client.get("/api/v2/audit", headers=analyst).json()
    assert [e["id"] for e in again][-len(entries) :] == [e["id"] for e in entries]
    assert again[-len(entries) :] == entries  # same ids, same hashes
    report = _verify(world)
    assert report.ok
    assert report.num_chains == 3  # acme, globex, platform (anonymous rejections)


def test_edited_entry_is_detected(world: World, tmp_path: Path) -> None:
    _writes(world)
    with world.store.transaction() as session:
        target = session.scalar(
            select(func.min(AuditEntry.seq)).where(AuditEntry.action == "network.create")
        )
        session.execute(
            update(AuditEntry)
            .where(AuditEntry.chain == _acme_chain(world), AuditEntry.seq == target)
            .values(actor="user:999")
        )
    report = _verify(world)
    assert not report.ok
    assert (report.bad_chain, report.bad_seq) == (_acme_chain(world), target)
    assert "hash" in (report.problem or "")
    result = CliRunner().invoke(cli, ["audit", "verify"], env=_cli_env(world, tmp_path))
    assert result.exit_code == 1
    assert f"entry {target} of the tenant {_acme_chain(world)} chain" in result.output


def test_deleted_entry_leaves_a_gap(world: World) -> None:
    _writes(world)
    chain = _acme_chain(world)
    with world.store.transaction() as session:
        session.execute(delete(AuditEntry).where(AuditEntry.chain == chain, AuditEntry.seq == 2))
    report = _verify(world)
    assert not report.ok
    assert report.bad_seq == 2
    assert "deleted" in (report.problem or "")


def test_deleted_last_entry_is_detected_against_the_head(world: World) -> None:
    _writes(world)
    chain = _acme_chain(world)
    with world.store.transaction() as session:
        last = session.scalar(select(func.max(AuditEntry.seq)).where(AuditEntry.chain == chain))
        session.execute(delete(AuditEntry).where(AuditEntry.chain == chain, AuditEntry.seq == last))
    report = _verify(world)
    assert not report.ok
    assert report.bad_seq == last
    assert "head" in (report.problem or "")


def test_rewritten_entry_breaks_its_successor(world: World) -> None:
    """Recomputing an edited entry's own hash still breaks the next entry's link."""
    _writes(world)
    chain = _acme_chain(world)
    with world.store.transaction() as session:
        row = session.scalars(
            select(AuditEntry).where(AuditEntry.chain == chain, AuditEntry.seq == 1)
        ).one()
        row.actor = "user:999"
        row.hash = audit.entry_hash(
            chain=row.chain, seq=row.seq, ts_s=row.ts_s, tenant_id=row.tenant_id,
            actor=row.actor, action=row.action, target=row.target, outcome=row.outcome,
            detail=dict(row.detail), prev_hash=row.prev_hash,
        )  # fmt: skip
    report = _verify(world)
    assert not report.ok
    assert report.bad_seq == 2


def _truncate_and_repoint(world: World, keep: int) -> None:
    """Delete a chain's newest entries and point its head at the last one kept."""
    chain = _acme_chain(world)
    with world.store.transaction() as session:
        session.execute(delete(AuditEntry).where(AuditEntry.chain == chain, AuditEntry.seq > keep))
        kept = session.scalars(
            select(AuditEntry).where(AuditEntry.chain == chain, AuditEntry.seq == keep)
        ).one()
        session.execute(
            update(AuditChainHead)
            .where(AuditChainHead.chain == chain)
            .values(last_seq=keep, last_hash=kept.hash)
        )


def _rehash_without(world: World, seq: int) -> None:
    """Delete one entry, renumber and re-hash every later one, repoint the head."""
    chain = _acme_chain(world)
    with world.store.transaction() as session:
        session.execute(delete(AuditEntry).where(AuditEntry.chain == chain, AuditEntry.seq == seq))
        rows = session.scalars(
            select(AuditEntry).where(AuditEntry.chain == chain).order_by(AuditEntry.seq)
        ).all()
        prev = audit.GENESIS_HASH
        for n, row in enumerate(rows, start=1):
            row.seq, row.prev_hash = n, prev
            row.hash = prev = audit.entry_hash(
                chain=chain, seq=n, ts_s=row.ts_s, tenant_id=row.tenant_id, actor=row.actor,
                action=row.action, target=row.target, outcome=row.outcome,
                detail=dict(row.detail), prev_hash=row.prev_hash,
            )  # fmt: skip
            session.flush()
        session.execute(
            update(AuditChainHead)
            .where(AuditChainHead.chain == chain)
            .values(last_seq=len(rows), last_hash=prev)
        )


@pytest.mark.parametrize("attack", ["truncate", "rehash"])
def test_signed_checkpoints_catch_truncation_and_rewriting(
    world: World, tmp_path: Path, attack: str
) -> None:
    runner = CliRunner()
    env = _cli_env(world, tmp_path)
    made = runner.invoke(cli, ["audit", "keygen"], env=env)
    assert made.exit_code == 0, made.output
    key_file = Path(env["RANOPT_AUDIT_KEY_FILE"])
    assert key_file.stat().st_mode & 0o777 == 0o600
    _writes(world)
    signed = runner.invoke(cli, ["audit", "checkpoint"], env=env)
    assert signed.exit_code == 0, signed.output
    _writes(world)  # more entries after the checkpoint
    ok = runner.invoke(cli, ["audit", "verify"], env=env)
    assert ok.exit_code == 0, ok.output
    assert "1 signed checkpoints agree" in ok.output
    if attack == "truncate":
        _truncate_and_repoint(world, keep=2)
    else:
        _rehash_without(world, seq=2)
    # the chain alone looks intact: whoever edited it was careful
    assert _verify(world).ok
    result = runner.invoke(cli, ["audit", "verify"], env=env)
    assert result.exit_code == 1, result.output
    assert "BROKEN" in result.output
    expected = "the chain ends at entry 2" if attack == "truncate" else "was rewritten"
    assert expected in result.output


def test_a_forged_checkpoint_does_not_verify(world: World, tmp_path: Path) -> None:
    env = _cli_env(world, tmp_path)
    key_file = Path(env["RANOPT_AUDIT_KEY_FILE"])
    checkpoints.generate_key(key_file)
    _writes(world)
    with world.store.transaction() as session:
        made = checkpoints.write_checkpoint(
            session, key_file=key_file, directory=Path(env["RANOPT_AUDIT_CHECKPOINT_DIR"])
        )
    text = made.path.read_text()
    made.path.write_text(text.replace('"seq": ', '"seq": 1', 1))
    result = CliRunner().invoke(cli, ["audit", "verify"], env=env)
    assert result.exit_code == 1
    assert "signature does not verify" in result.output


def test_migration_0004_rechains_existing_entries(world: World) -> None:
    """Down to 0003 (one global chain), entries added there, up again: per-tenant chains."""
    _writes(world, "acme")
    _writes(world, "globex")
    with world.store.transaction() as session:
        before = session.scalar(select(func.count()).select_from(AuditEntry))
    upgrade_to = world.store.engine
    from alembic import command

    from ranopt.store.engine import alembic_config

    config = alembic_config()
    with upgrade_to.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0003")
    upgrade(upgrade_to)
    report = _verify(world)
    assert report.ok, report
    assert report.num_entries == before
    analyst = world.headers("acme", "security_analyst")
    entries = world.client.get("/api/v2/audit", headers=analyst).json()
    assert [e["id"] for e in entries] == list(range(len(entries), 0, -1))
    _writes(world, "acme")  # appending after the migration continues the chain
    assert _verify(world).ok


def test_the_server_signs_checkpoints_on_a_schedule(
    world_factory: Callable[..., World], tmp_path: Path
) -> None:
    key_file = tmp_path / "audit.key"
    folder = tmp_path / "checkpoints"
    checkpoints.generate_key(key_file)
    world = world_factory(
        audit_key_file=key_file, audit_checkpoint_dir=folder, audit_checkpoint_interval_s=0.2
    )
    _writes(world)
    with TestClient(world.app):  # runs the app's lifespan: its housekeeping task
        deadline = time.monotonic() + 20
        while not list(folder.glob("checkpoint-*.json")):
            assert time.monotonic() < deadline, "no checkpoint written"
            time.sleep(0.05)
    (made,) = checkpoints.read_checkpoints(folder, checkpoints.load_public_key(key_file))[:1]
    assert made.heads[_acme_chain(world)][0] >= 3
