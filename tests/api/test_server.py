"""Against a real uvicorn server on 127.0.0.1 (a free port): login, writes in parallel, reads."""

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import uvicorn
from api_world import PASSWORD, World, api_settings, build_world, store_url

from ranopt.store import audit
from ranopt.store.engine import Store
from ranopt.store.schemas import TopologyIn


@pytest.fixture
def served(
    store: Store, topology_factory: Callable[..., TopologyIn]
) -> Iterator[tuple[str, World]]:
    """A uvicorn server in a thread, on a port the OS picks."""
    world = build_world(store, api_settings(store_url(store)), topology_factory)
    server = uvicorn.Server(
        uvicorn.Config(world.app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}", world
    server.should_exit = True
    thread.join(timeout=20)
    world.client.close()


def test_real_server_login_parallel_writes_and_reads(served: tuple[str, World]) -> None:
    base, world = served
    with httpx.Client(base_url=base, timeout=30) as client:
        assert client.get("/health").json() == {"status": "ok"}
        assert client.get("/ready").status_code == 200
        token = client.post(
            "/api/v2/auth/token",
            data={"username": "network_admin-user", "password": PASSWORD, "tenant": "acme"},
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        assert world.topology is not None

        def create(i: int) -> int:
            body = world.topology(1, name=f"par-{i}").model_dump(mode="json")  # type: ignore[misc]
            return client.post("/api/v2/networks", headers=headers, json=body).status_code

        with ThreadPoolExecutor(8) as pool:
            codes = list(pool.map(create, range(16)))
        assert codes == [201] * 16
        with ThreadPoolExecutor(8) as pool:
            reads = list(
                pool.map(lambda _: client.get("/api/v2/networks", headers=headers), range(40))
            )
        assert all(r.status_code == 200 and len(r.json()) == 16 for r in reads)
        assert client.get("/api/v2/networks").status_code == 401
        metrics = client.get("/metrics").text
        assert (
            'ranopt_http_requests_total{method="POST",route="/api/v2/networks",status="201"} 16.0'
            in metrics
        )
    # sixteen concurrent audited writes left an intact chain
    with world.store.transaction() as session:
        report = audit.verify_chain(session)
    assert report.ok, report
    assert report.num_entries >= 17
