"""``POST`` / ``GET /api/v2/networks/{id}/calibration`` on a real database (both backends)."""

from api_world import World

from pm_history import write_history
from ranopt.store import repository as repo


def _network(world: World, days: float) -> int:
    assert world.topology is not None
    with world.store.transaction() as session:
        net = repo.create_network(
            session, tenant_id=world.tenant_ids["acme"], topology=world.topology(num_sites=1),
            now_s=0,
        )  # fmt: skip
    if days:
        write_history(world.store, tenant_id=world.tenant_ids["acme"], network_id=net.id, days=days)
    return net.id


def test_calibration_runs_stores_and_reads_back(world: World) -> None:
    network_id = _network(world, days=8)
    admin = world.headers("acme", "network_admin")
    url = f"/api/v2/networks/{network_id}/calibration"
    assert world.client.get(url, headers=admin).status_code == 404
    response = world.client.post(url, headers=admin)
    assert response.status_code == 200, response.text
    stored = response.json()
    assert stored["network_id"] == network_id
    assert stored["days_found"] == 8.0
    report = stored["report"]
    assert stored["prb_load_wape"] == report["heldout"]["observed_demand"]["prb_load_wape"]
    assert report["heldout_days"] == ["2026-01-12"]
    assert report["days_needed"] == 7.0
    latest = world.client.get(url, headers=world.headers("acme", "viewer"))
    assert latest.status_code == 200
    assert latest.json()["id"] == stored["id"]
    # another tenant cannot read it, nor calibrate the network
    other = world.headers("globex", "network_admin")
    assert world.client.get(url, headers=other).status_code == 404
    assert world.client.post(url, headers=other).status_code == 404
    audit = world.client.get("/api/v2/audit", headers=world.headers("acme", "security_analyst"))
    assert any(e["action"] == "network.calibrate" for e in audit.json())


def test_calibration_without_enough_telemetry_is_a_409_naming_it(world: World) -> None:
    network_id = _network(world, days=3.2)
    response = world.client.post(
        f"/api/v2/networks/{network_id}/calibration", headers=world.headers("acme", "network_admin")
    )
    assert response.status_code == 409
    problem = response.json()
    assert problem["field"] == "network_id"
    assert "7 days of PM history needed, 3.2 found" in problem["detail"]
    assert problem["needed_days"] == 7.0
