"""Networks, sites and cells of the caller's tenant; topology import; twin-backed networks.

A twin network of up to ``RANOPT_SYNC_MAX_TWIN_UES`` UEs is built in the request (201); a
larger one (the 271-site preset takes over a minute of CPU) is a job: 202 with
``Location: /api/v2/jobs/{id}``, whose result names the new network.
"""

from typing import Any

from fastapi import APIRouter, Response, status
from sqlalchemy.orm import Session

from ranopt.api.deps import Principal, Reader, ServicesDep, SessionDep, Writer, now_s, record
from ranopt.api.errors import ProblemError, problem_responses
from ranopt.api.routes import jobs
from ranopt.api.schemas import Accepted, IdPath, TwinNetworkCreate
from ranopt.ingest.export import twin_topology
from ranopt.service.optimize import cached_twin
from ranopt.store import jobs as job_store
from ranopt.store import networks as nets
from ranopt.store import repository as repo
from ranopt.store import runs
from ranopt.store.engine import Store
from ranopt.store.networks import CellOut, SiteOut
from ranopt.store.schemas import NetworkOut, TopologyIn

router = APIRouter(prefix="/api/v2/networks", tags=["networks"])


@router.get("")
def list_networks(principal: Reader, session: SessionDep) -> list[NetworkOut]:
    """List the tenant's networks."""
    return repo.list_networks(session, tenant_id=principal.tenant_id)


@router.post("", status_code=status.HTTP_201_CREATED, responses=problem_responses(409))
def import_topology(body: TopologyIn, principal: Writer, session: SessionDep) -> NetworkOut:
    """Create a network from a topology document (``ranopt-topology/1``)."""
    net = repo.create_network(session, tenant_id=principal.tenant_id, topology=body, now_s=now_s())
    record(session, principal, action="network.create", target=f"network:{net.id}",
           detail={"name": net.name, "num_cells": net.num_cells})  # fmt: skip
    return net


def _create_twin_network(
    session: Session, principal: Principal, body: TwinNetworkCreate
) -> NetworkOut:
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


@router.post(
    "/from-twin", status_code=status.HTTP_201_CREATED,
    responses={
        202: {"model": Accepted, "description": "a large twin: built as a job; poll status_url"},
        **problem_responses(409, 429),
    },
)  # fmt: skip
def create_from_twin(body: TwinNetworkCreate, principal: Writer, services: ServicesDep) -> Any:
    """Create a network exported from a twin scenario; the twin is its planning model."""
    store = services.store
    if body.num_ues <= services.settings.sync_max_twin_ues:
        with store.transaction() as session:
            return _create_twin_network(session, principal, body)
    if body.name is not None:
        with store.transaction() as session:
            if repo.network_exists(session, tenant_id=principal.tenant_id, name=body.name):
                raise ProblemError(
                    409, f"body.name: network {body.name!r} already exists", field="body.name"
                )
    jobs.check_capacity(services)
    with store.transaction() as session:
        job = job_store.create_job(
            session, tenant_id=principal.tenant_id, kind="network.from_twin",
            request=body.model_dump(mode="json"), created_by=principal.subject, now_s=now_s(),
        )  # fmt: skip
        record(session, principal, action="job.queue", target=f"job:{job.id}",
               detail={"kind": job.kind})  # fmt: skip

    def build(job_store_: Store) -> dict[str, Any]:
        with job_store_.transaction() as session:
            net = _create_twin_network(session, principal, body)
        return {"network_id": net.id, "network_url": f"/api/v2/networks/{net.id}"}

    return jobs.submit(services, principal, job, build)


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
