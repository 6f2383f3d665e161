"""Networks, sites and cells of the caller's tenant; topology import; twin-backed networks."""

from fastapi import APIRouter, Response, status

from ranopt.api.deps import Reader, SessionDep, Writer, now_s, record
from ranopt.api.schemas import IdPath, TwinNetworkCreate
from ranopt.ingest.export import twin_topology
from ranopt.service.optimize import cached_twin
from ranopt.store import networks as nets
from ranopt.store import repository as repo
from ranopt.store import runs
from ranopt.store.networks import CellOut, SiteOut
from ranopt.store.schemas import NetworkOut, TopologyIn

router = APIRouter(prefix="/api/v2/networks", tags=["networks"])


@router.get("")
def list_networks(principal: Reader, session: SessionDep) -> list[NetworkOut]:
    """List the tenant's networks."""
    return repo.list_networks(session, tenant_id=principal.tenant_id)


@router.post("", status_code=status.HTTP_201_CREATED)
def import_topology(body: TopologyIn, principal: Writer, session: SessionDep) -> NetworkOut:
    """Create a network from a topology document (``ranopt-topology/1``)."""
    net = repo.create_network(session, tenant_id=principal.tenant_id, topology=body, now_s=now_s())
    record(session, principal, action="network.create", target=f"network:{net.id}",
           detail={"name": net.name, "num_cells": net.num_cells})  # fmt: skip
    return net


@router.post("/from-twin", status_code=status.HTTP_201_CREATED)
def create_from_twin(body: TwinNetworkCreate, principal: Writer, session: SessionDep) -> NetworkOut:
    """Create a network exported from a twin scenario; the twin is its planning model."""
    twin = cached_twin(body.scenario, body.seed, body.num_sites, body.num_ues)
    topology = twin_topology(twin, body.name)
    net = repo.create_network(
        session, tenant_id=principal.tenant_id, topology=topology, now_s=now_s()
    )
    runs.bind_twin(
        session, tenant_id=principal.tenant_id, network_id=net.id, scenario=body.scenario,
        seed=body.seed, num_sites=body.num_sites, num_ues=body.num_ues,
    )  # fmt: skip
    record(session, principal, action="network.create", target=f"network:{net.id}",
           detail={"name": net.name, "twin": body.scenario, "seed": body.seed})  # fmt: skip
    return net


@router.get("/{network_id}")
def get_network(network_id: IdPath, principal: Reader, session: SessionDep) -> NetworkOut:
    """Return one network."""
    return nets.network_by_id(session, tenant_id=principal.tenant_id, network_id=network_id)


@router.delete("/{network_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_network(network_id: IdPath, principal: Writer, session: SessionDep) -> Response:
    """Delete a network with its sites, cells, samples and runs."""
    nets.delete_network(session, tenant_id=principal.tenant_id, network_id=network_id)
    record(session, principal, action="network.delete", target=f"network:{network_id}")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{network_id}/sites")
def list_sites(network_id: IdPath, principal: Reader, session: SessionDep) -> list[SiteOut]:
    """List the network's sites."""
    return nets.list_sites(session, tenant_id=principal.tenant_id, network_id=network_id)


@router.get("/{network_id}/cells")
def list_cells(network_id: IdPath, principal: Reader, session: SessionDep) -> list[CellOut]:
    """List the network's cells."""
    return nets.list_cells(session, tenant_id=principal.tenant_id, network_id=network_id)


@router.get("/{network_id}/cells/{cell_id}")
def get_cell(
    network_id: IdPath, cell_id: IdPath, principal: Reader, session: SessionDep
) -> CellOut:
    """Return one cell."""
    return nets.get_cell(
        session, tenant_id=principal.tenant_id, network_id=network_id, cell_id=cell_id
    )
