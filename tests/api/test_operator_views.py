"""What an operator sees and decides: waiting plans, passed windows, runs pages, alert triage."""

import uuid
from typing import Any

from api_world import World

from ranopt.store import audit, loops, runs
from ranopt.store import repository as repo
from ranopt.store.runs import LOOP_EPOCH_S

STEP_S = 900  # the test networks' (and the twin loop's) 15-minute interval


def _network(world: World, *, loop_at: int | None = None) -> int:
    """A one-site network of acme; with ``loop_at``, a closed loop whose clock stands there."""
    assert world.topology is not None
    topology = world.topology(num_sites=1, name=f"net-{uuid.uuid4().hex[:8]}")
    tenant_id = world.tenant_ids["acme"]
    with world.store.transaction() as session:
        net = repo.create_network(session, tenant_id=tenant_id, topology=topology, now_s=0)
        if loop_at is not None:
            loops.configure_loop(
                session, tenant_id=tenant_id, network_id=net.id, enabled=False,
                auto_apply=False, confidence_threshold=0.9, solver="greedy",
                horizon_intervals=4, now_s=0,
            )  # fmt: skip
            row = loops.LoopIntervalRow(
                interval=loop_at - 1, phase="loop", offered_mbps=1.0, served_mbps=1.0,
                power_w=1.0, always_on_served_mbps=1.0, always_on_power_w=2.0, violations=0,
                switching_breaks=0, home_demand_mbps=[1.0], asleep=[], failed=[], tick_s=0.1,
            )  # fmt: skip
            loops.record_interval(
                session, tenant_id=tenant_id, network_id=net.id, row=row, live=None, now_s=0
            )
    return net.id


def _plan(window: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "interval_min": 15, "num_intervals": 4, "t0_min": 0, "confidence": 0.95,
        "actions": [{"cell": "S000-1-cap", "t_min": 0, "action": "sleep", "value": None}],
        "window": window, **extra,
    }  # fmt: skip


def _run(
    world: World,
    network_id: int,
    plan: dict[str, Any] | None,
    *,
    objective: str = "energy",
    by: str = "user:1",
    error: str | None = None,
) -> int:
    tenant_id = world.tenant_ids["acme"]
    with world.store.transaction() as session:
        run = runs.create_run(
            session, tenant_id=tenant_id, network_id=network_id, objective=objective,
            solver="greedy", horizon_min=60, request={}, created_by=by, now_s=0,
        )  # fmt: skip
        runs.finish_run(
            session, tenant_id=tenant_id, run_id=run.id, now_s=1, plan=plan,
            confidence=None if error else 0.95, saving_pct=None if error else 12.0, error=error,
        )  # fmt: skip
    return run.id


def test_a_waiting_plan_awaits_approval_and_a_passed_window_is_refused(world: World) -> None:
    admin = world.headers("acme", "network_admin")
    network_id = _network(world, loop_at=12)  # the loop's next interval: 12
    passed = _run(world, network_id, _plan({"first_interval": 5, "asleep": [[0]] * 4}))
    under_way = _run(world, network_id, _plan({"first_interval": 10, "asleep": [[0]] * 4}))
    ahead = _run(world, network_id, _plan({"first_interval": 12, "asleep": [[0]] * 4}))
    run = world.client.get(f"/api/v2/optimizations/{ahead}", headers=admin).json()
    assert run["status"] == "awaiting_approval"
    assert run["window_start_s"] == LOOP_EPOCH_S + 12 * STEP_S
    assert run["window_end_s"] == LOOP_EPOCH_S + 16 * STEP_S

    refused = world.client.post(f"/api/v2/optimizations/{passed}/apply", headers=admin)
    assert refused.status_code == 409, refused.text
    assert refused.json()["field"] == "run_id"
    assert "2026-01-05 01:15 UTC to 2026-01-05 02:15 UTC) has passed" in refused.json()["detail"]
    assert "the network is at 2026-01-05 03:00 UTC" in refused.json()["detail"]
    assert world.client.get(f"/api/v2/optimizations/{passed}", headers=admin).json()["status"] == (
        "awaiting_approval"
    )  # nothing changed
    # a window under way applies its remaining intervals; one ahead applies whole
    for run_id in (under_way, ahead):
        applied = world.client.post(f"/api/v2/optimizations/{run_id}/apply", headers=admin)
        assert applied.status_code == 200, applied.text
        assert applied.json()["status"] == "applied"
    again = world.client.post(f"/api/v2/optimizations/{ahead}/apply", headers=admin)
    assert again.status_code == 409
    assert "only a run awaiting approval" in again.json()["detail"]
    # a passed plan can still be rejected (taken off the list)
    rejected = world.client.post(f"/api/v2/optimizations/{passed}/reject", headers=admin)
    assert rejected.status_code == 200
    assert rejected.json()["status"] == "rejected"


def test_a_plan_for_the_telemetry_passes_with_newer_counters(world: World) -> None:
    admin = world.headers("acme", "network_admin")
    network_id = _network(world)
    t0 = 1_767_225_600
    run_id = _run(world, network_id, _plan({"start_s": t0, "asleep": [[0]] * 4}))
    # counters up to the window's start: it lies ahead
    for t_s in (t0 - STEP_S, t0 + 3 * STEP_S):
        stored = world.client.post(
            f"/api/v2/networks/{network_id}/telemetry", headers=admin,
            json={"records": [{"cell": "S000-1-cov", "interval_start_s": t_s,
                               "counters": {"RRU.PrbUsedDl": 10.0}}]},
        )  # fmt: skip
        assert stored.status_code == 201, stored.text
    # the network has now reported the window's last interval: the window has passed
    refused = world.client.post(f"/api/v2/optimizations/{run_id}/apply", headers=admin)
    assert refused.status_code == 409
    assert "has passed" in refused.json()["detail"]


def test_a_compensation_for_a_repaired_cell_is_refused(world: World) -> None:
    admin = world.headers("acme", "network_admin")
    network_id = _network(world, loop_at=20)
    with world.store.transaction() as session:
        fault = loops.request_fault(
            session, tenant_id=world.tenant_ids["acme"], network_id=network_id, cell_index=0,
            cell_name="S000-1-cov", by="test", at=0.0,
        )  # fmt: skip
    plan = _plan({"first_interval": 3, "asleep": [[]]}, compensation={"fault_id": fault.id})
    run_id = _run(world, network_id, plan, objective="compensation")
    cleared = world.client.delete(f"/api/v2/networks/{network_id}/faults/{fault.id}", headers=admin)
    assert cleared.status_code == 200
    refused = world.client.post(f"/api/v2/optimizations/{run_id}/apply", headers=admin)
    assert refused.status_code == 409
    assert f"compensates fault {fault.id}, which has been cleared" in refused.json()["detail"]


def test_the_runs_list_filters_pages_and_counts(world: World) -> None:
    viewer = world.headers("acme", "viewer")
    network_id = _network(world, loop_at=1)
    window = {"first_interval": 1, "asleep": [[0]] * 4}
    made = [
        _run(world, network_id, _plan(window), by=loops.LOOP_ACTOR),
        _run(world, network_id, None, error="solver failed"),
        _run(world, network_id, _plan(window), objective="load-balance"),
        _run(world, network_id, _plan(window), by=loops.LOOP_ACTOR),
        _run(world, network_id, _plan(window)),
    ]
    url = "/api/v2/optimizations"

    def ids(**params: Any) -> tuple[list[int], int]:
        answer = world.client.get(url, headers=viewer, params={"network_id": network_id, **params})
        assert answer.status_code == 200, answer.text
        return [r["id"] for r in answer.json()], int(answer.headers["x-total-count"])

    assert ids() == (made[::-1], 5)
    assert ids(status="failed") == ([made[1]], 1)
    assert ids(status="awaiting_approval")[1] == 4
    assert ids(objective="load-balance") == ([made[2]], 1)
    assert ids(source="loop") == ([made[3], made[0]], 2)
    assert ids(source="person", status="awaiting_approval") == ([made[4], made[2]], 2)
    # pages of two, newest first: each page starts below the previous page's last id
    first, total = ids(limit=2)
    second, _ = ids(limit=2, before_id=first[-1])
    third, _ = ids(limit=2, before_id=second[-1])
    assert (first + second + third, total) == (made[::-1], 5)
    for bad in ({"status": "succeeded"}, {"limit": 1001}, {"source": "robot"}, {"before_id": 0}):
        refused = world.client.get(url, headers=viewer, params=bad)
        assert refused.status_code == 422, bad
        assert refused.json()["field"] in {f"query.{name}" for name in bad}


def test_alerts_name_their_network_and_network_time_and_are_triaged(world: World) -> None:
    admin = world.headers("acme", "network_admin")
    network_id = _network(world, loop_at=1700)
    tenant_id = world.tenant_ids["acme"]
    with world.store.transaction() as session:
        alert_id = runs.add_alert(
            session, tenant_id=tenant_id, network_id=network_id, severity="warning",
            kind="low_confidence", message="run 7: plan confidence 0.5", now_s=100,
        )  # fmt: skip
    base = f"/api/v2/networks/{network_id}/alerts"
    (alert,) = world.client.get(base, headers=world.headers("acme", "viewer")).json()
    assert alert["network_name"].startswith("net-")
    assert alert["network_time_s"] == LOOP_EPOCH_S + 1699 * STEP_S  # its newest interval
    assert alert["status"] == "open"
    # a viewer and a security analyst read alerts but do not triage them
    for role in ("viewer", "security_analyst"):
        denied = world.client.post(
            f"{base}/{alert_id}/acknowledge", headers=world.headers("acme", role)
        )
        assert denied.status_code == 403
    acked = world.client.post(f"{base}/{alert_id}/acknowledge", headers=admin)
    assert acked.status_code == 200, acked.text
    user = world.user_ids["acme", "network_admin"]
    assert (acked.json()["status"], acked.json()["acknowledged_by"]) == (
        "acknowledged",
        f"user:{user}",
    )
    twice = world.client.post(f"{base}/{alert_id}/acknowledge", headers=admin)
    assert twice.status_code == 409
    assert "already acknowledged" in twice.json()["detail"]
    resolved = world.client.post(f"{base}/{alert_id}/resolve", headers=admin)
    assert resolved.json()["status"] == "resolved"
    assert world.client.post(f"{base}/{alert_id}/resolve", headers=admin).status_code == 409
    assert world.client.get(base, headers=admin, params={"status": "open"}).json() == []
    assert [
        a["id"] for a in world.client.get(base, headers=admin, params={"status": "resolved"}).json()
    ] == [alert_id]
    other = world.client.post(
        f"{base}/{alert_id}/resolve", headers=world.headers("globex", "network_admin")
    )
    assert other.status_code == 404
    with world.store.transaction() as session:
        entries = audit.list_entries(
            session, tenant_id=tenant_id, limit=10, before_id=None, action=None
        )
    actions = [(e.action, e.target) for e in entries]
    assert ("alert.acknowledge", f"alert:{alert_id}") in actions
    assert ("alert.resolve", f"alert:{alert_id}") in actions


def test_clearing_a_fault_resolves_its_outage_alert(world: World) -> None:
    admin = world.headers("acme", "network_admin")
    network_id = _network(world, loop_at=50)
    tenant_id = world.tenant_ids["acme"]
    with world.store.transaction() as session:
        fault = loops.request_fault(
            session, tenant_id=tenant_id, network_id=network_id, cell_index=0,
            cell_name="S000-1-cov", by="test", at=10.0,
        )  # fmt: skip
        for message in (
            "S000-1-cov failed (no counters) in interval 49; compensation recovers 80 %",
            "S000-1-cov-b failed (no counters) in interval 49; compensation recovers 80 %",
        ):
            runs.add_alert(
                session, tenant_id=tenant_id, network_id=network_id, severity="critical",
                kind="cell_outage", message=message, now_s=20,
            )  # fmt: skip
    cleared = world.client.delete(f"/api/v2/networks/{network_id}/faults/{fault.id}", headers=admin)
    assert cleared.status_code == 200
    other, mine = world.client.get(f"/api/v2/networks/{network_id}/alerts", headers=admin).json()
    assert mine["status"] == "resolved"
    assert mine["resolved_by"] == "system"
    assert mine["resolution"] == f"fault {fault.id} cleared: S000-1-cov is back in service"
    assert other["status"] == "open"  # another cell's outage stays open
