"""The closed-loop routes: configure, live state, KPIs, energy, faults; errors name the field."""

from api_world import World

from ranopt.service.loop import LoopConfig, NetworkLoop
from ranopt.service.optimize import cached_twin

FAST = LoopConfig(robust_scenarios=2, confidence_scenarios=4, compensation_scenarios=2)


def _twin_network(world: World, name: str = "looped") -> int:
    created = world.client.post(
        "/api/v2/networks/from-twin", headers=world.headers("acme", "network_admin"),
        json={"name": name, "num_sites": 1, "num_ues": 60},
    )  # fmt: skip
    assert created.status_code == 201, created.text
    network_id: int = created.json()["id"]
    return network_id


def test_loop_settings_validation_and_live_state(world: World) -> None:
    admin = world.headers("acme", "network_admin")
    viewer = world.headers("acme", "viewer")
    network_id = _twin_network(world)
    base = f"/api/v2/networks/{network_id}"
    missing = world.client.get(f"{base}/loop", headers=viewer)
    assert missing.status_code == 404
    bad = world.client.put(f"{base}/loop", headers=admin, json={"confidence_threshold": 1.5})
    assert bad.status_code == 422
    assert "confidence_threshold" in bad.json()["detail"]
    unknown_solver = world.client.put(f"{base}/loop", headers=admin, json={"solver": "magic"})
    assert unknown_solver.status_code == 422
    assert "solver" in unknown_solver.json()["detail"]
    made = world.client.put(
        f"{base}/loop", headers=admin, json={"enabled": False, "confidence_threshold": 0.8}
    )
    assert made.status_code == 200, made.text
    assert made.json()["confidence_threshold"] == 0.8
    assert world.client.get(f"{base}/live", headers=viewer).status_code == 404  # not run yet
    # the loop runs its history and two intervals (the runner would, with the loop enabled)
    loop = NetworkLoop(
        world.store, tenant_id=world.tenant_ids["acme"], network_id=network_id,
        twin=cached_twin("default", 0, 1, 60), seed=0, config=FAST, clock=lambda: 1.0e9,
    )  # fmt: skip
    for _ in range(3):
        loop.step()
    live = world.client.get(f"{base}/live", headers=viewer).json()
    assert live["day"] == 14
    assert live["minute_of_day"] == 15
    assert len(live["cells"]) == 6
    # network time: the loop's epoch plus the interval (day 14, 00:15 = 2026-01-19 00:15 UTC)
    assert live["start_s"] == 1_768_781_700
    settings = world.client.get(f"{base}/loop", headers=viewer, params={"live": "false"}).json()
    assert (settings["live"], settings["epoch_s"]) == (None, 1_767_571_200)
    kpis = world.client.get(f"{base}/loop/kpis", headers=viewer, params={"limit": 10}).json()
    assert [k["minute_of_day"] for k in kpis] == [0, 15]
    assert [k["start_s"] for k in kpis] == [1_768_780_800, 1_768_781_700]
    assert all(k["always_on_energy_kwh"] > 0 for k in kpis)
    energy = world.client.get(f"{base}/loop/energy", headers=viewer).json()
    assert energy["today"]["intervals"] == 2
    total = sum(k["always_on_energy_kwh"] for k in kpis)
    assert abs(energy["today"]["always_on_kwh"] - total) < 1e-9
    # another tenant sees none of it
    other = world.client.get(f"{base}/live", headers=world.headers("globex", "viewer"))
    assert other.status_code == 404


def test_fault_requests_name_the_bad_field(world: World) -> None:
    admin = world.headers("acme", "network_admin")
    network_id = _twin_network(world)
    base = f"/api/v2/networks/{network_id}"
    world.client.put(f"{base}/loop", headers=admin, json={"enabled": False})
    nope = world.client.post(f"{base}/faults", headers=admin, json={"cell": "no-such-cell"})
    assert nope.status_code == 422
    assert nope.json()["field"] == "cell"
    extra = world.client.post(f"{base}/faults", headers=admin, json={"cell": "x", "when": 3})
    assert extra.status_code == 422
    name = cached_twin("default", 0, 1, 60).cell_names[0]
    made = world.client.post(f"{base}/faults", headers=admin, json={"cell": name})
    assert made.status_code == 202, made.text
    assert made.json()["status"] == "requested"
    twice = world.client.post(f"{base}/faults", headers=admin, json={"cell": name})
    assert twice.status_code == 422
    assert "already has an open fault" in twice.json()["detail"]
    elsewhere = _twin_network(world, "elsewhere")
    wrong_network = world.client.delete(
        f"/api/v2/networks/{elsewhere}/faults/{made.json()['id']}", headers=admin
    )
    assert wrong_network.status_code == 404  # a fault of another network is not this one's
    cleared = world.client.delete(f"{base}/faults/{made.json()['id']}", headers=admin)
    assert cleared.status_code == 200
    assert cleared.json()["status"] == "cleared"
    again = world.client.delete(f"{base}/faults/{made.json()['id']}", headers=admin)
    assert again.status_code == 409
    assert again.json()["field"] == "fault_id"
    listed = world.client.get(f"{base}/faults", headers=world.headers("acme", "viewer")).json()
    assert [f["status"] for f in listed] == ["cleared"]
