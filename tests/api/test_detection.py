"""Detection through the API: the request log, security findings with evidence, KPI anomalies."""

import time

import numpy as np
from api_world import World
from sqlalchemy import select

from pm_history import kpi_batch, write_history
from ranopt.api.request_log import route_permissions, security_scan
from ranopt.store import repository as repo
from ranopt.store import security_watch
from ranopt.store.request_log import RequestLogWriter
from ranopt.store.tables import RequestLogEntry
from ranopt.twin import CellState, simulate
from ranopt.twin.traffic import demand_for_intervals


def _writer(world: World) -> RequestLogWriter:
    writer: RequestLogWriter = world.app.state.request_log
    return writer


def test_requests_are_logged_by_route_template_caller_and_status(world: World) -> None:
    client = world.client
    with world.store.transaction() as session:
        net = repo.create_network(
            session, tenant_id=world.tenant_ids["acme"], topology=world.topology(1), now_s=0
        )  # type: ignore[misc]
    assert (
        client.get("/api/v2/networks", headers=world.headers("acme", "viewer")).status_code == 200
    )
    assert client.get(f"/api/v2/networks/{net.id}/cells?x=secret",
                      headers=world.headers("acme", "viewer")).status_code == 200  # fmt: skip
    assert (
        client.get("/api/v2/networks", headers={"Authorization": "Bearer nope"}).status_code == 401
    )
    assert client.get("/health").status_code == 200
    _writer(world).flush()
    with world.store.transaction() as session:
        rows = list(session.scalars(select(RequestLogEntry).order_by(RequestLogEntry.id)))
        session.expunge_all()
    viewer = f"user:{world.user_ids['acme', 'viewer']}"
    assert [(r.principal, r.method, r.route, r.status) for r in rows] == [
        (viewer, "GET", "/api/v2/networks", 200),
        (viewer, "GET", "/api/v2/networks/{network_id}/cells", 200),
        ("-", "GET", "/api/v2/networks", 401),
    ]
    assert rows[1].network_id == net.id
    assert rows[0].tenant_id == world.tenant_ids["acme"]
    assert rows[2].tenant_id is None
    assert rows[0].via == "jwt"
    assert rows[0].client == "testclient"
    # the analyst reads its tenant's log; the other tenant's analyst sees none of it
    mine = client.get(
        "/api/v2/security/requests", headers=world.headers("acme", "security_analyst")
    )
    assert [r["route"] for r in mine.json()][:2] == [
        "/api/v2/networks/{network_id}/cells", "/api/v2/networks",
    ]  # fmt: skip
    theirs = client.get(
        "/api/v2/security/requests", headers=world.headers("globex", "security_analyst")
    )
    assert all(r["principal"] != viewer for r in theirs.json())


def test_route_permissions_come_from_the_routes_own_guards(world: World) -> None:
    table = route_permissions(world.app.router.routes)
    assert table["GET /api/v2/networks"] == "read"
    assert table["POST /api/v2/users"] == "write"
    assert table["POST /api/v2/optimizations/{run_id}/apply"] == "execute"
    assert table["GET /api/v2/security/alerts"] == "investigate"
    assert table["POST /api/v2/auth/token"] == "none"


def test_brute_force_on_the_login_is_a_finding_with_its_audit_evidence(world: World) -> None:
    client = world.client
    for _ in range(12):
        answer = client.post("/api/v2/auth/token", data={
            "username": "viewer-user", "password": "wrong-password", "tenant": "acme"})  # fmt: skip
        assert answer.status_code in (401, 429)
    world.services.failures.flush_all()  # the window's summary row (the server does it in 60 s)
    raised = security_scan(world.store, _writer(world), world.app.router.routes)
    assert raised >= 1
    analyst = world.headers("acme", "security_analyst")
    findings = client.get("/api/v2/security/alerts?active=true", headers=analyst).json()
    [brute] = [f for f in findings if f["kind"] == "brute_force"]
    assert "12 rejected credentials from testclient" in brute["message"]
    assert "user:acme/viewer-user" in brute["message"]
    assert brute["cleared_s"] is None
    evidence = brute["detail"]["evidence"]["audit"]
    # per window: the first failure at once and the rest as one summary row, in the tenant's
    # chain for wrong passwords and in the platform chain (0) for the throttled attempts,
    # which name no tenant but an account of this one
    assert {e["chain"] for e in evidence} == {0, world.tenant_ids["acme"]}
    assert len(evidence) == 4
    one = client.get(f"/api/v2/security/alerts/{brute['id']}", headers=analyst)
    assert one.status_code == 200
    entries = one.json()["audit_entries"]
    assert {e["action"] for e in entries} == {"auth.login"}
    assert {e["outcome"] for e in entries} == {"failure"}
    assert sum(e["detail"]["count"] for e in entries) == 12
    # the tenant's alert list shows it too; a viewer may not investigate; globex sees nothing
    assert any(a["kind"] == "brute_force" for a in client.get(
        "/api/v2/alerts", headers=analyst).json())  # fmt: skip
    assert (
        client.get("/api/v2/security/alerts", headers=world.headers("acme", "viewer")).status_code
        == 403
    )
    other = world.headers("globex", "security_analyst")
    assert client.get("/api/v2/security/alerts", headers=other).json() == []
    assert client.get(f"/api/v2/security/alerts/{brute['id']}", headers=other).status_code == 404
    # a second scan with nothing new raises nothing more
    assert security_scan(world.store, _writer(world), world.app.router.routes) == 0


def test_kpi_anomalies_of_a_network_for_every_role(world: World) -> None:
    tid = world.tenant_ids["acme"]
    with world.store.transaction() as session:
        net = repo.create_network(session, tenant_id=tid, topology=world.topology(3), now_s=0)  # type: ignore[misc]
        cell_ids = [c.id for c in repo.network_cells(session, tenant_id=tid, network_id=net.id)]
    truth = write_history(world.store, tenant_id=tid, network_id=net.id, days=2, num_ues=120)
    first = 2 * 96
    demand = demand_for_intervals(truth.traffic, 11, 0, first + 2)[first:]
    kpis = simulate(truth, demand, CellState.all_on(truth.num_cells))
    batch = kpi_batch(truth, kpis, cell_ids, 1_767_571_200 + 900 * first)
    used, avail = batch.values["prb_used_dl"], batch.values["prb_avail_dl"]
    used[4] = min(avail[4] + 30.0, 275.0)  # cell 4 reports more PRBs used than available
    with world.store.transaction() as session:
        repo.upsert_samples(session, tenant_id=tid, network_id=net.id, batch=batch)
    viewer = world.headers("acme", "viewer")
    anomalies = world.client.get(f"/api/v2/networks/{net.id}/anomalies?active=true", headers=viewer)
    assert anomalies.status_code == 200
    [found] = anomalies.json()
    assert found["kind"] == "counter_out_of_range"
    assert found["cell_id"] == cell_ids[4]
    assert found["detail"]["counter"] == "RRU.PrbUsedDl"
    assert np.isclose(found["detail"]["observed"], used[4])
    alerts = world.client.get(f"/api/v2/networks/{net.id}/alerts", headers=viewer).json()
    assert [a["id"] for a in alerts if a["kind"] == "counter_out_of_range"] == [found["id"]]
    other = world.headers("globex", "viewer")
    assert (
        world.client.get(f"/api/v2/networks/{net.id}/anomalies", headers=other).status_code == 404
    )


DAY = 86_400
HABIT_ROUTES = ("/api/v2/networks/{network_id}", "/api/v2/networks/{network_id}/kpis/series",
                "/api/v2/networks")  # fmt: skip
PROBED_ROUTES = ("/api/v2/users", "/api/v2/api-keys", "/api/v2/secrets")


def _logged(world: World, principal: str, rows: list[tuple[int, int, str]]) -> None:
    """Write ``(ts_s, tenant_id, route)`` GET requests of ``principal`` to the request log."""
    with world.store.transaction() as session:
        session.add_all(
            RequestLogEntry(ts_s=ts, tenant_id=tenant, principal=principal, via="jwt",
                            method="GET", route=route, network_id=None, status=200,
                            client="10.0.0.5")
            for ts, tenant, route in rows
        )  # fmt: skip


def _scan_raised(world: World, now_s: int) -> list[tuple[str, int | None]]:
    with world.store.transaction() as session:
        found = security_watch.scan(
            session, now_s=now_s, route_permission=route_permissions(world.app.router.routes)
        )
    return sorted((f.kind, f.tenant_id) for f in found if f.raised)


def test_a_benign_triage_releases_the_held_habits_of_its_finding(world: World) -> None:
    """An acme viewer calls three routes it never used and acts in globex, on two days. acme's
    analyst judges the routes benign: they are habit the next day. globex's analyst judges the
    other tenant malicious: it is raised again."""
    acme, globex = world.tenant_ids["acme"], world.tenant_ids["globex"]
    who = f"user:{world.user_ids['acme', 'viewer']}"
    base = (int(time.time()) // DAY - 8) * DAY
    _logged(world, who, [(base + d * DAY + h * 3600 + 60 * m, acme, route)
                         for d in range(6) for h in range(8, 17)
                         for m, route in enumerate(HABIT_ROUTES)])  # fmt: skip
    assert _scan_raised(world, base + 6 * DAY) == []
    raised = []
    for day in (6, 7):
        t = base + day * DAY + 10 * 3600
        _logged(world, who, [(t + 60 * i, acme, r) for i, r in enumerate(PROBED_ROUTES)]
                + [(t + 300, globex, "/api/v2/networks")])  # fmt: skip
        raised.append(_scan_raised(world, t + 400))
        if day == 7:
            break
        # the findings close after an hour without evidence; the triage comes later
        assert _scan_raised(world, t + 2 * 3600) == []
        analyst = world.headers("acme", "security_analyst")
        [route] = world.client.get("/api/v2/security/alerts", headers=analyst).json()
        assert route["kind"] == "new_route"
        answer = world.client.post(f"/api/v2/security/alerts/{route['id']}/triage",
                                   json={"verdict": "benign", "note": "new dashboard"},
                                   headers=analyst)  # fmt: skip
        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == "resolved"
        assert answer.json()["resolution"] == "benign: new dashboard"
        released = answer.json()["detail"]["triage"]["released"]
        assert sorted(r["item"] for r in released) == sorted(
            f"route:GET {r}" for r in PROBED_ROUTES
        )
        assert {r["principal"] for r in released} == {who}
        again = world.client.post(f"/api/v2/security/alerts/{route['id']}/triage",
                                  json={"verdict": "malicious"}, headers=analyst)  # fmt: skip
        assert again.status_code == 409
        theirs = world.headers("globex", "security_analyst")
        [tenant] = world.client.get("/api/v2/security/alerts", headers=theirs).json()
        assert tenant["kind"] == "new_tenant"
        url = f"/api/v2/security/alerts/{tenant['id']}/triage"
        assert (
            world.client.post(url, json={"verdict": "benign"}, headers=analyst).status_code == 404
        )
        viewer = world.headers("globex", "viewer")
        assert world.client.post(url, json={"verdict": "benign"}, headers=viewer).status_code == 403
        bad = world.client.post(url, json={"verdict": "fine"}, headers=theirs)
        assert bad.status_code == 422
        assert bad.json()["field"] == "body.verdict"
        answer = world.client.post(url, json={"verdict": "malicious"}, headers=theirs)
        assert answer.status_code == 200
        assert answer.json()["detail"]["triage"]["released"] == []
    assert raised == [[("new_route", acme), ("new_tenant", globex)], [("new_tenant", globex)]]
