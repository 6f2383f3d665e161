"""Reading and deleting a tenant's networks, sites and cells by id (keyword-only, scoped)."""

from pydantic import BaseModel, ConfigDict
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ranopt.store.repository import NotFoundError, get_network, renew_kpi_generation
from ranopt.store.schemas import NetworkOut
from ranopt.store.tables import Cell, Network, Site


class SiteOut(BaseModel):
    """A stored site."""

    model_config = ConfigDict(frozen=True)

    id: int
    network_id: int
    name: str
    x_m: float
    y_m: float
    height_m: float
    latitude_deg: float | None
    longitude_deg: float | None


class CellOut(BaseModel):
    """A stored cell."""

    model_config = ConfigDict(frozen=True)

    id: int
    network_id: int
    site_id: int
    name: str
    dn: str
    nci: int | None
    layer: str
    sector: int
    azimuth_deg: float
    carrier_ghz: float
    bandwidth_mhz: float
    num_prb: int
    max_tx_power_w: float
    tilt_deg: float | None = None


def network_by_id(session: Session, *, tenant_id: int, network_id: int) -> NetworkOut:
    """Return the tenant's network with this id, or raise ``NotFoundError``."""
    name = session.scalar(
        select(Network.name).where(Network.tenant_id == tenant_id, Network.id == network_id)
    )
    if name is None:
        msg = f"no network {network_id} for this tenant"
        raise NotFoundError(msg)
    return get_network(session, tenant_id=tenant_id, name=name)


def delete_network(session: Session, *, tenant_id: int, network_id: int) -> None:
    """Delete the tenant's network and everything under it."""
    network_by_id(session, tenant_id=tenant_id, network_id=network_id)
    session.execute(delete(Network).where(Network.tenant_id == tenant_id, Network.id == network_id))
    renew_kpi_generation(session, network_id=network_id)


def list_sites(session: Session, *, tenant_id: int, network_id: int) -> list[SiteOut]:
    """Return the sites of one of the tenant's networks."""
    network_by_id(session, tenant_id=tenant_id, network_id=network_id)
    rows = session.scalars(
        select(Site)
        .where(Site.tenant_id == tenant_id, Site.network_id == network_id)
        .order_by(Site.name)
    )
    return [
        SiteOut(
            id=r.id,
            network_id=r.network_id,
            name=r.name,
            x_m=r.x_m,
            y_m=r.y_m,
            height_m=r.height_m,
            latitude_deg=r.latitude_deg,
            longitude_deg=r.longitude_deg,
        )
        for r in rows
    ]


def _cell_out(r: Cell) -> CellOut:
    return CellOut(
        id=r.id,
        network_id=r.network_id,
        site_id=r.site_id,
        name=r.name,
        dn=r.dn,
        nci=r.nci,
        layer=r.layer,
        sector=r.sector,
        azimuth_deg=r.azimuth_deg,
        carrier_ghz=r.carrier_ghz,
        bandwidth_mhz=r.bandwidth_mhz,
        num_prb=r.num_prb,
        max_tx_power_w=r.max_tx_power_w,
        tilt_deg=r.tilt_deg,
    )


def list_cells(session: Session, *, tenant_id: int, network_id: int) -> list[CellOut]:
    """Return the cells of one of the tenant's networks, by id."""
    network_by_id(session, tenant_id=tenant_id, network_id=network_id)
    rows = session.scalars(
        select(Cell)
        .where(Cell.tenant_id == tenant_id, Cell.network_id == network_id)
        .order_by(Cell.id)
    )
    return [_cell_out(r) for r in rows]


def get_cell(session: Session, *, tenant_id: int, network_id: int, cell_id: int) -> CellOut:
    """Return one cell of one of the tenant's networks."""
    row = session.scalar(
        select(Cell).where(
            Cell.tenant_id == tenant_id, Cell.network_id == network_id, Cell.id == cell_id
        )
    )
    if row is None:
        msg = f"no cell {cell_id} in network {network_id} of this tenant"
        raise NotFoundError(msg)
    return _cell_out(row)


def owned_cell_ids(
    session: Session, *, tenant_id: int, network_id: int, cell_ids: list[int] | None = None
) -> list[int]:
    """Return ``cell_ids`` (default: every cell) of the tenant's network, checked in one query.

    Raises ``NotFoundError`` naming the network or the first cell that is not the tenant's.
    """
    query = select(Cell.id).where(Cell.tenant_id == tenant_id, Cell.network_id == network_id)
    if cell_ids is not None:
        query = query.where(Cell.id.in_(cell_ids))
    found = set(session.scalars(query))
    if not found:
        network_by_id(session, tenant_id=tenant_id, network_id=network_id)  # 404 if not ours
    if cell_ids is None:
        return sorted(found)
    stray = [c for c in cell_ids if c not in found]
    if stray:
        msg = f"cell_id: no cell {stray[0]} in network {network_id}"
        raise NotFoundError(msg)
    return list(dict.fromkeys(cell_ids))
