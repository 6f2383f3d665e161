"""Dashboard load times in Debian's chromium against the 271-site network (1 626 cells).

Set-up: a SQLite file store with one tenant, a network_admin and a security_analyst, the
``large`` twin preset exported as a network (271 sites, about 25 s to build the twin), and
its closed loop run for its history and two night intervals (real plans, runs and live
state, no stubs); the app runs in a uvicorn thread.

For each view (login, networks, map, charts, runs, one run's detail, alerts, audit) a fresh
tab loads ``/ui/#/...`` twice: cold (browser cache cleared) and warm (reload). Per load it reads the
Navigation Timing entry (DOMContentLoaded, load), the paint entries (first paint, first
contentful paint) and the ``ready:<view>`` mark the app sets once the view shows its data
(for the map: every cell drawn, ``#cell-count`` = 1 626, styled from the loop's ``/live``;
``map_update_ms`` is the in-page restyle of all cells).
Targets: first paint <= 1 s, every view ready < 2 s. Prints one JSON object.

    python benchmarks/dashboard.py [--scenario large]
"""

import argparse
import json
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from playwright.sync_api import BrowserContext, Page, sync_playwright

from ranopt.api.app import create_app
from ranopt.api.deps import Services
from ranopt.api.settings import Settings
from ranopt.ingest.export import twin_topology
from ranopt.service.loop import NetworkLoop
from ranopt.store import accounts, loops, runs
from ranopt.store import repository as repo
from ranopt.store.engine import Store, open_store
from ranopt.twin import build_twin, scenario_preset

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
PASSWORD = "benchmark-password-1"
FIRST_PAINT_TARGET_MS = 1000.0
VIEW_TARGET_MS = 2000.0
ADMIN_VIEWS = ("networks", "map", "charts", "runs", "run")
ANALYST_VIEWS = ("alerts", "audit")


def seed(store: Store, services: Services, scenario: str) -> dict[str, Any]:
    """Tenant, users, the twin network and its closed loop run for two intervals."""
    started = time.perf_counter()
    twin = build_twin(scenario_preset(scenario, seed=0))
    topology = twin_topology(twin, f"{scenario}-twin")
    now = int(time.time())
    with store.transaction() as session:
        tenant_id = accounts.create_tenant(session, name="bench", now_s=now).id
        for role in ("network_admin", "security_analyst"):
            accounts.create_user(
                session, tenant_id=tenant_id, username=role,
                password_hash=services.hasher.hash(PASSWORD), role=role, now_s=now,
            )  # fmt: skip
        net = repo.create_network(session, tenant_id=tenant_id, topology=topology, now_s=now)
        runs.bind_twin(
            session, tenant_id=tenant_id, network_id=net.id, scenario=scenario, seed=0,
            num_sites=twin.scenario.num_sites, num_ues=twin.num_ues,
        )  # fmt: skip
        loops.configure_loop(
            session, tenant_id=tenant_id, network_id=net.id, enabled=False, auto_apply=True,
            confidence_threshold=0.9, solver="greedy", horizon_intervals=4, now_s=now,
        )  # fmt: skip
    setup_s = time.perf_counter() - started
    # the real loop: its history, then two night intervals (the second runs the first plan)
    loop = NetworkLoop(
        store, tenant_id=tenant_id, network_id=net.id, twin=twin, seed=0, clock=time.time
    )
    started = time.perf_counter()
    loop.step()
    history_s = time.perf_counter() - started
    step_s = []
    for _ in range(2):
        started = time.perf_counter()
        loop.step()
        step_s.append(round(time.perf_counter() - started, 1))
    live = loop.settings().live or {}
    states = [c["state"] for c in live.get("cells", [])]
    with store.transaction() as session:  # the newest plan: the run detail view shows it
        newest = runs.list_runs(session, tenant_id=tenant_id, network_id=net.id, limit=1)
    return {
        "network_id": net.id, "run_id": newest[0].id if newest else None,
        "num_sites": len(topology.sites), "num_cells": net.num_cells,
        "setup_s": round(setup_s, 1), "loop_history_s": round(history_s, 1),
        "loop_step_s": step_s, "cells_asleep": states.count("asleep"),
    }  # fmt: skip


def serve(app: Any) -> tuple[uvicorn.Server, threading.Thread, str]:
    """The app on 127.0.0.1, a free port, in a thread."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    return server, thread, f"http://127.0.0.1:{port}"


def token(base: str, username: str) -> str:
    """Log in through the API."""
    answer = httpx.post(
        f"{base}/api/v2/auth/token",
        data={"username": username, "password": PASSWORD, "tenant": "bench"},
        timeout=60,
    )
    answer.raise_for_status()
    access: str = answer.json()["access_token"]
    return access


TIMINGS_JS = """(view) => {
    const nav = performance.getEntriesByType('navigation')[0];
    const paint = Object.fromEntries(
        performance.getEntriesByType('paint').map((p) => [p.name, p.startTime]));
    const ready = performance.getEntriesByName(`ready:${view}`)[0];
    const update = performance.getEntriesByName('map:update');
    return {
        first_paint_ms: paint['first-paint'] ?? null,
        first_contentful_paint_ms: paint['first-contentful-paint'] ?? null,
        dom_content_loaded_ms: nav.domContentLoadedEventEnd,
        load_ms: nav.loadEventEnd,
        ready_ms: ready ? ready.startTime : null,
        transfer_kb: Math.round(performance.getEntriesByType('resource')
            .reduce((s, r) => s + r.transferSize, nav.transferSize) / 1024),
        map_update_ms: update.length ? update[update.length - 1].duration : null,
        cells_drawn: Number(document.getElementById('cell-count').textContent),
    };
}"""


def round_all(values: dict[str, Any]) -> dict[str, Any]:
    """Round the float timings to 0.1 ms."""
    return {k: round(v, 1) if isinstance(v, float) else v for k, v in values.items()}


def load_view(
    context: BrowserContext,
    base: str,
    bearer: str | None,
    view: str,
    world: dict[str, Any],
) -> dict[str, Any]:
    """Load one view cold, then warm; return both timings."""
    page: Page = context.new_page()
    if bearer:
        page.add_init_script(f"sessionStorage.setItem('ranopt.token', {json.dumps(bearer)})")
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.clearBrowserCache")
    network_id = world["network_id"]
    hash_ = {
        "login": "#/login", "networks": "#/networks",
        "run": f"#/n/{network_id}/runs/{world['run_id']}",
    }.get(view, f"#/n/{network_id}/{view}")  # fmt: skip
    result = {}
    for kind in ("cold", "warm"):
        if kind == "cold":
            page.goto(f"{base}/ui/{hash_}")
        else:
            page.reload()
        page.wait_for_selector(f"body[data-ready={view}]", timeout=60_000)
        result[kind] = round_all(page.evaluate(TIMINGS_JS, view))
    page.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="large", choices=["default", "medium", "large"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db_url = f"sqlite:///{Path(tmp) / 'dashboard.db'}"
        store = open_store(db_url)
        settings = Settings(database_url=db_url, argon2_time_cost=1, argon2_memory_kib=1024,
                            rate_limit="100000/minute")  # fmt: skip
        app = create_app(settings, store=store)
        world = seed(store, app.state.services, args.scenario)
        server, thread, base = serve(app)
        tokens = {role: token(base, role) for role in ("network_admin", "security_analyst")}
        views: dict[str, Any] = {}
        with sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                str(Path(tmp) / "profile"), executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                headless=True, viewport={"width": 1280, "height": 800},
            )  # fmt: skip
            views["login"] = load_view(context, base, None, "login", world)
            for view in ADMIN_VIEWS:
                views[view] = load_view(context, base, tokens["network_admin"], view, world)
            for view in ANALYST_VIEWS:
                views[view] = load_view(context, base, tokens["security_analyst"], view, world)
            context.close()
        server.should_exit = True
        thread.join(timeout=20)
        store.dispose()
    loads = [t for v in views.values() for t in v.values()]
    worst_first_paint = max(t["first_paint_ms"] or 0.0 for t in loads)
    worst_ready = max(max(t["ready_ms"] or 0.0, t["load_ms"]) for t in loads)
    print(json.dumps({
        "benchmark": "dashboard", "browser": "debian chromium (headless)",
        "scenario": args.scenario, **world,
        "views": views,
        "worst_first_paint_ms": round(worst_first_paint, 1),
        "worst_view_ready_ms": round(worst_ready, 1),
        "targets": {"first_paint_ms": FIRST_PAINT_TARGET_MS, "view_ready_ms": VIEW_TARGET_MS},
        "meets_targets": worst_first_paint <= FIRST_PAINT_TARGET_MS
        and worst_ready < VIEW_TARGET_MS,
        "map_all_cells_drawn": views["map"]["cold"]["cells_drawn"] == world["num_cells"],
    }, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
