"""Property-based: schemathesis drives every operation of the running server's OpenAPI.

Authenticated as a network_admin; every answer must be no 5xx and conform to the schema.
"""

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
import uvicorn
from api_world import World, api_settings, build_world
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from ranopt.store.engine import open_store

EXAMPLES_PER_OPERATION = 15


@pytest.fixture
def fuzz_target(tmp_path: Path) -> Iterator[tuple[str, World]]:
    store = open_store(f"sqlite:///{tmp_path / 'fuzz.db'}")
    world = build_world(store, api_settings(f"sqlite:///{tmp_path / 'fuzz.db'}"))
    server = uvicorn.Server(
        uvicorn.Config(world.app, host="127.0.0.1", port=0, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}", world
    server.should_exit = True
    thread.join(timeout=20)
    world.client.close()
    store.dispose()


def test_no_server_errors_and_conforming_answers(fuzz_target: tuple[str, World]) -> None:
    base, world = fuzz_target
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    headers = world.headers("acme", "network_admin")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 30

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def check(case: schemathesis.Case) -> None:
            case.call_and_validate(
                base_url=base,
                headers=headers,
                checks=[not_a_server_error, response_schema_conformance],
            )

        check()
