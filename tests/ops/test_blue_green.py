"""Blue-green: the previous release keeps working while the new one migrates the schema.

The previous release is the code before the commit that added the newest migration, taken
from git (``git archive``) into a temporary folder. It starts against its own schema, the new
code migrates the database to its head (expand: only additions) while the old one runs, and
the old code's read and write paths still answer. From revision 0008 on, code also starts
against a newer schema whose migrations declared it compatible (``schema_compatibility``).
"""

import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from sqlalchemy import text

from ranopt.store.engine import (
    StoreError,
    alembic_config,
    head_revision,
    make_engine,
    open_store,
    runs_against,
    upgrade,
)
from ranopt.store.pgcluster import PostgresCluster

ROOT = Path(__file__).resolve().parents[2]

# Runs in the previous release's code: start on an empty database (its own migrations), make a
# tenant, a user token and a network; wait for the new code's upgrade; then read and write.
OLD_RELEASE = r"""
import json, sys, time
from fastapi.testclient import TestClient
from ranopt.api.app import create_app
from ranopt.api.settings import Settings
from ranopt.store import accounts
from ranopt.store.engine import current_revision, open_store
from ranopt.store.schemas import CellIn, NetworkIn, SiteIn, TopologyIn

url = sys.argv[1]
settings = Settings(database_url=url, argon2_time_cost=1, argon2_memory_kib=1024)
store = open_store(url)
app = create_app(settings, store=store)
services = app.state.services
with store.transaction() as session:
    tenant = accounts.create_tenant(session, name="blue", now_s=0)
    user = accounts.create_user(session, tenant_id=tenant.id, username="admin",
        password_hash=services.hasher.hash("correct horse battery"), role="network_admin",
        now_s=0)
token, _ = services.tokens.issue(subject=f"user:{user.id}", tenant_id=tenant.id,
    role="network_admin", amr=("pwd",), now_s=int(time.time()))
auth = {"Authorization": f"Bearer {token}"}

def topology(name):
    me = "DC=bg,SubNetwork=x,ManagedElement=gNB-A"
    return TopologyIn(network=NetworkIn(name=name, interval_s=900, dn_prefix="DC=bg,SubNetwork=x"),
        sites=[SiteIn(name="A", x_m=0.0, y_m=0.0, height_m=25.0)],
        cells=[CellIn(name="A-1", site="A", dn=f"{me},GNBDUFunction=1,NRCellDU=1",
            cu_dn=f"{me},GNBCUCPFunction=1,NRCellCU=1", nci=16385, layer="coverage", sector=0,
            azimuth_deg=30.0, carrier_ghz=2.1, bandwidth_mhz=20.0, scs_khz=15, num_prb=106,
            max_tx_power_w=80.0)]).model_dump(mode="json")

with TestClient(app) as client:
    made = client.post("/api/v2/networks", headers=auth, json=topology("before"))
    assert made.status_code == 201, made.text
    print(json.dumps({"revision": current_revision(store.engine)}), flush=True)
    sys.stdin.readline()  # the new release migrates now
    net = made.json()["id"]
    answers = {
        "list networks": client.get("/api/v2/networks", headers=auth).status_code,
        "read network": client.get(f"/api/v2/networks/{net}", headers=auth).status_code,
        "create network": client.post("/api/v2/networks", headers=auth,
                                      json=topology("after")).status_code,
        "ingest": client.post(f"/api/v2/networks/{net}/telemetry", headers=auth, json={
            "records": [{"cell": "A-1", "interval_start_s": 1748736000,
                         "counters": {"RRU.PrbUsedDl": 12.0}}]}).status_code,
        "kpi series": client.get(f"/api/v2/networks/{net}/kpis/series", headers=auth, params={
            "start_s": 1748736000, "end_s": 1748739600}).status_code,
        "optimizations": client.get("/api/v2/optimizations", headers=auth).status_code,
        "alerts": client.get(f"/api/v2/networks/{net}/alerts", headers=auth).status_code,
    }
    print(json.dumps({"revision": current_revision(store.engine), "answers": answers}),
          flush=True)
"""


def _git(*args: str) -> str:
    git = shutil.which("git")
    if git is None:
        pytest.skip("git is not installed: cannot check out the previous release")
    result = subprocess.run(  # noqa: S603 - the system's git, our own arguments
        [git, "-C", str(ROOT), *args], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        pytest.skip(f"no git history here ({result.stderr.strip()[:100]}): cannot check out the "
                    "previous release")  # fmt: skip
    return result.stdout.strip()


def _previous_release(into: Path) -> Path:
    """Extract ``src/`` of the commit before the one that added the newest migration."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config()).get_revision(head_revision())
    assert script is not None
    assert script.path is not None
    relative = Path(script.path).resolve().relative_to(ROOT)
    # on main's first-parent line: the merge that brought it, whose first parent is the
    # release before (a branch's own parent may predate other merged migrations)
    added = _git(
        "log", "--first-parent", "--diff-filter=A", "--format=%H", "-1", "--", str(relative)
    )
    if not added:
        pytest.skip(f"{relative} is not committed yet: no previous release to compare with")
    archive = into / "previous.tar"
    _git("archive", "--format=tar", "-o", str(archive), f"{added}^", "src")
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    return into / "src"


def test_the_previous_release_runs_against_the_new_schema(
    pg_cluster: PostgresCluster, tmp_path: Path
) -> None:
    old_src = _previous_release(tmp_path)
    url = pg_cluster.create_database("ranopt_blue_green")
    env = {**os.environ, "PYTHONPATH": str(old_src), "RANOPT_DATA_DIR": str(tmp_path)}
    old = subprocess.Popen(  # noqa: S603 - the previous release's code, our own script
        [sys.executable, "-c", OLD_RELEASE, url], env=env, cwd=tmp_path,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert old.stdout is not None
    assert old.stdin is not None
    try:
        started = old.stdout.readline()
        assert started, old.stderr.read() if old.stderr else ""
        old_revision = json.loads(started)["revision"]
        assert old_revision != head_revision()
        engine = make_engine(url)
        upgrade(engine)  # the new release migrates while the old one serves
        engine.dispose()
        old.stdin.write("go\n")
        old.stdin.flush()
        out, err = old.communicate(timeout=120)
    finally:
        if old.poll() is None:
            old.kill()
            old.communicate()
    assert old.returncode == 0, err[-3000:]
    result = json.loads(out.strip().splitlines()[-1])
    assert result["revision"] == head_revision()
    assert result["answers"] == {
        "list networks": 200, "read network": 200, "create network": 201, "ingest": 201,
        "kpi series": 200, "optimizations": 200, "alerts": 200,
    }  # fmt: skip
    store = open_store(url)  # and the new code reads what the old one wrote
    with store.engine.connect() as conn:
        names = set(conn.execute(text("SELECT name FROM networks")).scalars())
    store.dispose()
    assert names == {"before", "after"}


def test_code_starts_against_a_newer_schema_only_when_declared_compatible(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'newer.db'}"
    open_store(url).dispose()
    engine = make_engine(url)
    with engine.begin() as conn:  # a release after this one migrated: revision "9999"
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(StoreError, match="newer than this code"):
        open_store(url)
    assert not runs_against(engine, "9999")
    with engine.begin() as conn:  # its migration was expand-only: this code stays compatible
        conn.execute(
            text("INSERT INTO schema_compatibility VALUES ('9999', :head)"),
            {"head": head_revision()},
        )
    assert runs_against(engine, "9999")
    open_store(url).dispose()
    with engine.begin() as conn:  # a contract migration: only code from 9999 on
        conn.execute(text("UPDATE schema_compatibility SET oldest_compatible = '9999'"))
    with pytest.raises(StoreError, match="not declared compatible"):
        open_store(url)
    engine.dispose()
