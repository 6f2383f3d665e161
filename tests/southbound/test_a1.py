"""A1-P v2: a policy's lifecycle on the emulator's near-RT RIC, its status notification on
ranopt's authenticated endpoint, schema refusals, and a RIC that answers 5xx or times out.
"""

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from emulator_world import RanWorld
from ranopt.errors import ValidationError
from ranopt.service.southbound import a1_notification_url, delete_a1_policy, put_a1_policy
from ranopt.southbound.a1 import A1Client, A1RefusedError, A1UnavailableError
from ranopt.southbound.a1_types import SLICE_SLA, TRAFFIC_STEERING, steering_policy
from ranopt.southbound.o1 import RetryPolicy
from ranopt.store import audit, runs
from ranopt.store import repository as repo
from ranopt.store import southbound as sb
from ranopt.store.engine import Store
from ranopt.store.schemas import TopologyIn
from ranopt.store.secrets import Keyring
from spec_files import SPECS, require_specs

FAST = RetryPolicy(attempts=3, backoff_s=0.01)


@pytest.fixture
def ric(ran_world: RanWorld) -> Iterator[A1Client]:
    """A client of the emulator's RIC and the network ``emulated`` pointed at it."""
    emulator = ran_world.emulator
    if not emulator.info["a1"]["policy_types"]:  # the RIC registers the O-RAN types from it
        require_specs(SPECS / "a1" / "policy-types-oran")
    o1 = emulator.info["o1"][0]
    settings = {
        "kind": "o1",
        "o1": [{"host": o1["host"], "port": o1["port"], "username": "ranopt",
                "password": emulator.password}],
        "a1": {"url": emulator.info["a1"]["url"], "token": "ric-bearer-token"},
    }  # fmt: skip
    with ran_world.server.client() as client:
        answer = client.put(f"/api/v2/networks/{ran_world.network_id}/southbound", json=settings)
    assert answer.status_code == 200, answer.text
    assert answer.json()["a1_has_token"] is True
    assert "ric-bearer-token" not in answer.text
    client = A1Client(emulator.info["a1"]["url"], retry=FAST)
    yield client
    client.close()


def _status(world: RanWorld, policy_id: str, *, until: str) -> tuple[str | None, str | None]:
    """The status ranopt recorded from the RIC's notification (waits for ``until``)."""
    deadline = time.monotonic() + 20
    while True:
        with world.server.store.transaction() as session:
            status = sb.get_policy_status(
                session, tenant_id=world.server.tenant_id, network_id=world.network_id,
                policy_type=TRAFFIC_STEERING, policy_id=policy_id,
            )  # fmt: skip
        if status is not None and status[0] == until:
            return status
        assert time.monotonic() < deadline, f"no {until} notification; ranopt holds {status}"
        time.sleep(0.05)


def test_policy_lifecycle_with_status_notifications(ran_world: RanWorld, ric: A1Client) -> None:
    server, emulator = ran_world.server, ran_world.emulator
    assert ric.policy_types() == sorted([SLICE_SLA, TRAFFIC_STEERING])
    nci = {c.name: c.nci for c in emulator.topology.cells}
    body = steering_policy(sst=1, cells_nci={nci["S001-1-cap"]: "PREFER"})
    url = a1_notification_url(server.base, network_id=ran_world.network_id,
                              policy_type=TRAFFIC_STEERING, policy_id="ts-1")  # fmt: skip
    common = {"store": server.store, "tenant_id": server.tenant_id,
              "network_id": ran_world.network_id, "keyring": server.settings.keyring(),
              "actor": "test", "retry": FAST}  # fmt: skip

    created = put_a1_policy(
        policy_type=TRAFFIC_STEERING,
        policy_id="ts-1",
        body=body,
        notification_url=url,
        now_s=1,
        **common,
    )  # type: ignore[arg-type]
    assert created is True
    assert _status(ran_world, "ts-1", until="ENFORCED") == ("ENFORCED", None)
    assert ric.status(TRAFFIC_STEERING, "ts-1") == {"enforceStatus": "ENFORCED"}
    assert ric.get_policy(TRAFFIC_STEERING, "ts-1") == body

    # an update whose cell the RIC does not serve: NOT_ENFORCED, and ranopt hears of it
    unknown = steering_policy(sst=1, cells_nci={(1 << 35) + 5: "AVOID"})
    again = put_a1_policy(
        policy_type=TRAFFIC_STEERING,
        policy_id="ts-1",
        body=unknown,
        notification_url=url,
        now_s=2,
        **common,
    )  # type: ignore[arg-type]
    assert again is False
    assert _status(ran_world, "ts-1", until="NOT_ENFORCED") == (
        "NOT_ENFORCED", "SCOPE_NOT_APPLICABLE",
    )  # fmt: skip

    delete_a1_policy(policy_type=TRAFFIC_STEERING, policy_id="ts-1", now_s=3, **common)  # type: ignore[arg-type]
    assert ric.policy_ids(TRAFFIC_STEERING) == []
    with pytest.raises(A1RefusedError) as gone:
        ric.status(TRAFFIC_STEERING, "ts-1")
    assert gone.value.status == 404

    with server.store.transaction() as session:
        notices = audit.list_entries(session, tenant_id=server.tenant_id,
                                     action="southbound.a1.status")  # fmt: skip
        recorded = sb.list_transactions(session, tenant_id=server.tenant_id,
                                        network_id=ran_world.network_id)  # fmt: skip
    prefix = server.api_key.split(".")[0]
    assert [n.detail["status"] for n in notices[:2]] == ["NOT_ENFORCED", "ENFORCED"]
    assert {n.actor for n in notices[:2]} == {f"apikey:{prefix}"}  # the RIC's credentials
    a1 = [(t.step, t.outcome) for t in recorded if t.interface == "a1"][:3]
    assert a1 == [("delete", "applied"), ("put", "applied"), ("put", "applied")]


def test_a_schema_invalid_policy_is_refused_naming_the_field(
    ran_world: RanWorld, ric: A1Client
) -> None:
    server = ran_world.server
    body = steering_policy(sst=1, cells_nci={1234: "MAYBE"})
    with pytest.raises(ValidationError, match=r"tspResources\[0\]\.preference: 'MAYBE'"):
        put_a1_policy(
            server.store, tenant_id=server.tenant_id, network_id=ran_world.network_id,
            policy_type=TRAFFIC_STEERING, policy_id="ts-bad", body=body, notification_url=None,
            keyring=server.settings.keyring(), actor="test", now_s=4, retry=FAST,
        )  # fmt: skip
    assert "ts-bad" not in ric.policy_ids(TRAFFIC_STEERING)  # nothing was sent
    with server.store.transaction() as session:
        assert sb.get_policy_status(
            session, tenant_id=server.tenant_id, network_id=ran_world.network_id,
            policy_type=TRAFFIC_STEERING, policy_id="ts-bad",
        ) is None  # fmt: skip
    # the RIC refuses it as well, naming the field, when a client skips the check
    with pytest.raises(A1RefusedError, match=r"400.*tspResources\[0\]\.preference") as refused:
        ric.put_policy(TRAFFIC_STEERING, "ts-bad", body)
    assert refused.value.status == 400


# --- a RIC that answers 5xx or does not answer ------------------------------------------


class _Ric(BaseHTTPRequestHandler):
    """Answers ``failures`` requests with 503 (or sleeps ``delay_s`` first), then 200."""

    failures = 0
    delay_s = 0.0
    requests: list[str]

    def do_GET(self) -> None:
        self.requests.append(self.path)
        if self.delay_s:
            time.sleep(self.delay_s)
        failing = len(self.requests) <= self.failures
        payload = b'{"title": "busy"}' if failing else b'{"policySchema": {}}'
        self.send_response(503 if failing else 200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *_args: object) -> None:
        return


@contextmanager
def fake_ric(failures: int, delay_s: float = 0.0) -> Iterator[tuple[str, list[str]]]:
    """A RIC on 127.0.0.1 (outside ranopt): its base URL and the requests it received."""
    requests: list[str] = []
    handler = type("Handler", (_Ric,), {"failures": failures, "delay_s": delay_s,
                                        "requests": requests})  # fmt: skip
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/A1-P/v2", requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_5xx_answers_are_retried_with_back_off() -> None:
    with fake_ric(failures=2) as (url, requests):
        client = A1Client(url, retry=FAST)
        assert client.policy_type(TRAFFIC_STEERING) == {"policySchema": {}}
        client.close()
    assert len(requests) == 3


@pytest.mark.parametrize(("failures", "delay_s", "problem"), [(99, 0.0, "HTTP 503"),
                                                             (0, 0.5, "ReadTimeout")])  # fmt: skip
def test_a_ric_that_stays_unavailable_raises_after_the_retries(
    failures: int, delay_s: float, problem: str
) -> None:
    with fake_ric(failures, delay_s) as (url, requests):
        client = A1Client(url, timeout_s=0.1, retry=FAST)
        with pytest.raises(A1UnavailableError, match=f"{url}.*after 3 attempts \\({problem}\\)"):
            client.policy_types()
        client.close()
    assert len(requests) == 3


def test_an_unavailable_ric_is_recorded_and_alerted(
    store: Store, topology_factory: Callable[..., TopologyIn]
) -> None:
    keyring = Keyring({1: bytes(range(32))})
    with fake_ric(failures=99) as (url, requests):
        with store.transaction() as session:
            tenant_id = repo.ensure_tenant(session, name="acme", now_s=0)
            net = repo.create_network(session, tenant_id=tenant_id, topology=topology_factory(1),
                                      now_s=0)  # fmt: skip
            settings = sb.SouthboundIn(kind="twin", a1=sb.A1EndpointIn(url=url), timeout_s=1.0)
            sb.set_southbound(session, tenant_id=tenant_id, network_id=net.id,
                              settings=settings, keyring=keyring, now_s=0)  # fmt: skip
        with pytest.raises(A1UnavailableError):
            put_a1_policy(
                store, tenant_id=tenant_id, network_id=net.id, policy_type=TRAFFIC_STEERING,
                policy_id="ts-1", body=steering_policy(sst=1, cells_nci={1: "SHALL"}),
                notification_url=None, keyring=keyring, actor="test", now_s=5, retry=FAST,
            )  # fmt: skip
    assert len(requests) == 3
    with store.transaction() as session:
        [alert] = runs.list_alerts(session, tenant_id=tenant_id, network_id=net.id)
        [recorded] = sb.list_transactions(session, tenant_id=tenant_id, network_id=net.id)
        status = sb.get_policy_status(session, tenant_id=tenant_id, network_id=net.id,
                                      policy_type=TRAFFIC_STEERING, policy_id="ts-1")  # fmt: skip
    assert alert.kind == "a1_unavailable"
    assert url in alert.message
    assert "HTTP 503" in alert.message
    assert (recorded.interface, recorded.outcome, recorded.step) == ("a1", "unreachable",
                                                                     "policy type")  # fmt: skip
    assert status is None  # nothing half-recorded
