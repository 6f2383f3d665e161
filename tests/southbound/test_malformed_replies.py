"""Malformed O1 replies: a clear error naming endpoint and element, nothing half-written."""

from collections.abc import Callable
from typing import Any

import pytest
from fake_netconf import CAPABILITIES, PASSWORD, USER, fake_peer
from pydantic import SecretStr
from sqlalchemy import func, select

from emulator_world import RanWorld
from ranopt.service.southbound import discover
from ranopt.southbound.nrm import ENERGY_SAVING_CONTROL, parse_dn
from ranopt.southbound.o1 import O1Endpoint, O1Session, RetryPolicy
from ranopt.southbound.o1_xml import Edit, MalformedReplyError
from ranopt.store import repository as repo
from ranopt.store import southbound as sb
from ranopt.store.engine import Store
from ranopt.store.schemas import TopologyIn
from ranopt.store.secrets import Keyring
from ranopt.store.tables import AuditEntry, Cell, O1ElementRow, Site

ME = "urn:3gpp:sa5:_3gpp-common-managed-element"
DU = "urn:3gpp:sa5:_3gpp-nr-nrm-gnbdufunction"
CELL = "urn:3gpp:sa5:_3gpp-nr-nrm-nrcelldu"
CUCP = "urn:3gpp:sa5:_3gpp-nr-nrm-gnbcucpfunction"
CU = "urn:3gpp:sa5:_3gpp-nr-nrm-nrcellcu"
REL = "urn:3gpp:sa5:_3gpp-nr-nrm-nrcellrelation"
NOT_XML = f'<data><ManagedElement xmlns="{ME}"><id>gNB-X</id><attributes><userLabel>X'


def _cell(attributes: str) -> str:
    return (f'<data><ManagedElement xmlns="{ME}"><id>gNB-X</id><GNBDUFunction xmlns="{DU}">'
            f'<id>1</id><NRCellDU xmlns="{CELL}"><id>2</id><attributes>{attributes}'
            "</attributes></NRCellDU></GNBDUFunction></ManagedElement></data>")  # fmt: skip


RELATION_WITHOUT_TARGET = (
    f'<data><ManagedElement xmlns="{ME}"><id>gNB-X</id><GNBCUCPFunction xmlns="{CUCP}">'
    f'<id>1</id><NRCellCU xmlns="{CU}"><id>2</id><attributes><cellLocalId>2</cellLocalId>'
    f'</attributes><NRCellRelation xmlns="{REL}"><id>7</id><attributes/></NRCellRelation>'
    f'</NRCellCU></GNBCUCPFunction><GNBDUFunction xmlns="{DU}"><id>1</id>'
    f'<NRCellDU xmlns="{CELL}"><id>2</id><attributes><cellLocalId>2</cellLocalId></attributes>'
    "</NRCellDU></GNBDUFunction></ManagedElement></data>"
)  # fmt: skip
BROKEN: dict[str, tuple[str, str]] = {  # reply body, what the error must say
    "not XML": (NOT_XML, "get: reply is not well-formed XML"),
    "not a number": (_cell("<cellLocalId>two</cellLocalId>"),
                     "ManagedElement=gNB-X,GNBDUFunction=1,NRCellDU=2: NRCellDU.attributes/"
                     "cellLocalId: 'two' is not an integer"),
    "not an enum value": (
        _cell("<cellLocalId>2</cellLocalId><administrativeState>HALF</administrativeState>"),
        "NRCellDU=2: NRCellDU.administrativeState: 'HALF' is not a value of its YANG type",
    ),
    "no cellLocalId": (_cell("<userLabel>c</userLabel>"),
                       "NRCellDU=2: NRCellDU.cellLocalId is missing"),
    "relation without target": (RELATION_WITHOUT_TARGET,
                                "NRCellRelation=7: NRCellRelation.adjacentNRCellRef is missing"),
    "another model": ('<data><interfaces xmlns="urn:ietf:params:xml:ns:yang:ietf-interfaces"/>'
                      "</data>", "reply holds no ManagedElement"),
}  # fmt: skip


def _endpoint(port: int) -> O1Endpoint:
    return O1Endpoint("127.0.0.1", port, USER, SecretStr(PASSWORD), timeout_s=5.0,
                      retry=RetryPolicy(attempts=1))  # fmt: skip


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_broken_reply_names_endpoint_and_object(case: str) -> None:
    body, expected = BROKEN[case]
    with (
        fake_peer(get=body) as peer,
        O1Session(_endpoint(peer.port)) as session,
        pytest.raises(MalformedReplyError) as caught,
    ):
        session.read_elements()
    assert str(caught.value).startswith(f"127.0.0.1:{peer.port}")
    assert expected in str(caught.value)


def test_a_broken_read_back_rolls_the_element_back() -> None:
    path = parse_dn("ManagedElement=gNB-X,GNBCUCPFunction=1,NRCellCU=2,CESManagementFunction=1")
    edit = Edit(path[1], ENERGY_SAVING_CONTROL, "toBeEnergySaving")
    with fake_peer(get_config=NOT_XML) as peer, O1Session(_endpoint(peer.port)) as session:
        outcome = session.transaction("gNB-X", [edit])
    assert outcome.outcome == "rolled_back"
    assert outcome.step == "read back"
    assert f"127.0.0.1:{peer.port} ManagedElement=gNB-X: read back" in (outcome.error or "")
    # the confirmed commit was cancelled and the candidate reset; no confirming commit
    assert peer.operations == ["lock", "edit-config", "validate", "commit", "get-config",
                               "cancel-commit", "discard-changes", "unlock",
                               "close-session"]  # fmt: skip


def test_a_device_without_rollback_on_error_is_refused_before_any_edit() -> None:
    path = parse_dn("ManagedElement=gNB-X,GNBCUCPFunction=1,NRCellCU=2,CESManagementFunction=1")
    edit = Edit(path[1], ENERGY_SAVING_CONTROL, "toBeEnergySaving")
    lacking = tuple(c for c in CAPABILITIES if "rollback-on-error" not in c)
    with fake_peer(lacking) as peer, O1Session(_endpoint(peer.port)) as session:
        outcome = session.transaction("gNB-X", [edit])
    assert outcome.outcome == "rolled_back"
    assert outcome.step == "edit-config"
    assert ":rollback-on-error" in (outcome.error or "")
    assert peer.operations == ["close-session"]  # nothing sent but the goodbye


def _counts(store: Store, tenant_id: int) -> dict[str, int]:
    with store.transaction() as session:
        return {
            table.__tablename__: session.scalar(
                select(func.count()).select_from(table).where(table.tenant_id == tenant_id)
            ) or 0
            for table in (Site, Cell, O1ElementRow, AuditEntry)
        }  # fmt: skip


def test_discovery_with_one_broken_endpoint_writes_nothing(
    store: Store, topology_factory: Callable[..., TopologyIn], ran_world: RanWorld
) -> None:
    emulator = ran_world.emulator
    good = next(e for e in emulator.info["o1"] if e["elements"] == ["gNB-S000"])
    keyring = Keyring({1: bytes(range(32))})
    with store.transaction() as session:
        tenant_id = repo.ensure_tenant(session, name="acme", now_s=0)
        net = repo.create_network(session, tenant_id=tenant_id, topology=topology_factory(1),
                                  now_s=0)  # fmt: skip
    before = _counts(store, tenant_id)
    body, _ = BROKEN["not a number"]
    with fake_peer(get=body) as peer:
        endpoints: list[dict[str, Any]] = [
            {"host": "127.0.0.1", "port": good["port"], "username": "ranopt",
             "password": emulator.password},
            {"host": "127.0.0.1", "port": peer.port, "username": USER, "password": PASSWORD},
        ]  # fmt: skip
        with store.transaction() as session:
            settings = sb.SouthboundIn.model_validate({"kind": "o1", "o1": endpoints})
            sb.set_southbound(session, tenant_id=tenant_id, network_id=net.id, keyring=keyring,
                              settings=settings, now_s=1)  # fmt: skip
        written = _counts(store, tenant_id)
        with pytest.raises(MalformedReplyError, match=f"127.0.0.1:{peer.port} ManagedElement="):
            discover(store, tenant_id=tenant_id, network_id=net.id, keyring=keyring,
                     supplement=None, now_s=2, actor="test")  # fmt: skip
    assert _counts(store, tenant_id) == written == before


def test_discovery_through_the_api_answers_502_naming_endpoint_and_element(
    ran_world: RanWorld, topology_factory: Callable[..., TopologyIn]
) -> None:
    body, expected = BROKEN["not an enum value"]
    topology = topology_factory(1, name="broken-peer")
    with ran_world.server.client() as client, fake_peer(get=body) as peer:
        network_id = client.post("/api/v2/networks", json=topology.model_dump(mode="json")).json()[
            "id"
        ]
        settings = {"kind": "o1", "o1": [{"host": "127.0.0.1", "port": peer.port,
                                          "username": USER, "password": PASSWORD}]}  # fmt: skip
        assert client.put(f"/api/v2/networks/{network_id}/southbound", json=settings).is_success
        answer = client.post(f"/api/v2/networks/{network_id}/discover")
        cells = client.get(f"/api/v2/networks/{network_id}/cells").json()
    assert answer.status_code == 502, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert f"127.0.0.1:{peer.port} ManagedElement=gNB-X" in answer.json()["detail"]
    assert expected in answer.json()["detail"]
    assert sorted(c["dn"] for c in cells) == sorted(c.dn for c in topology.cells)
