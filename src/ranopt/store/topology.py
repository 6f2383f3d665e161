"""Refreshing a registered network's sites and cells from a newer topology (O1 discovery)."""

from collections.abc import Sequence

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from ranopt.store.repository import renew_kpi_generation, site_positions_m
from ranopt.store.schemas import TopologyIn
from ranopt.store.tables import Cell, Site
from ranopt.twin.topology import implied_origin_deg, project_to_plane_m

_CELL_FIELDS = ("name", "cu_dn", "nci", "layer", "sector", "azimuth_deg", "carrier_ghz",
                "bandwidth_mhz", "scs_khz", "num_prb", "max_tx_power_w", "tilt_deg")  # fmt: skip


def refresh_topology(
    session: Session,
    *,
    tenant_id: int,
    network_id: int,
    topology: TopologyIn,
    keep: Sequence[str] = (),
) -> tuple[list[str], list[str], list[str]]:
    """Add new sites and cells and update changed ones (matched by DN).

    ``keep`` names the cell fields a stored cell keeps (what ``topology`` only guessed, such as
    the azimuth O1 does not carry). Return the cell names added, updated, and stored but
    absent from ``topology`` (kept: their history stays).
    """
    sites = {
        s.name: s
        for s in session.scalars(
            select(Site).where(Site.tenant_id == tenant_id, Site.network_id == network_id)
        )
    }
    positions = _positions_m(topology, list(sites.values()))
    for site_spec in topology.sites:
        site = sites.get(site_spec.name)
        if site is None:
            site = Site(tenant_id=tenant_id, network_id=network_id, name=site_spec.name)
            session.add(site)
            sites[site_spec.name] = site
        site.x_m, site.y_m = positions[site_spec.name]
        site.height_m = site_spec.height_m
        site.latitude_deg = site_spec.latitude_deg
        site.longitude_deg = site_spec.longitude_deg
    session.flush()
    cells = {
        c.dn: c
        for c in session.scalars(
            select(Cell).where(Cell.tenant_id == tenant_id, Cell.network_id == network_id)
        )
    }
    added, updated = [], []
    for spec in topology.cells:
        site = sites[spec.site]
        cell = cells.pop(spec.dn, None)
        fields = _CELL_FIELDS if cell is None else [f for f in _CELL_FIELDS if f not in keep]
        values = {f: getattr(spec, f) for f in fields}
        values |= {
            "site_id": site.id,
            "x_m": site.x_m if spec.x_m is None else spec.x_m,
            "y_m": site.y_m if spec.y_m is None else spec.y_m,
            "height_m": site.height_m if spec.height_m is None else spec.height_m,
        }
        if cell is None:
            session.add(Cell(tenant_id=tenant_id, network_id=network_id, dn=spec.dn, **values))
            added.append(spec.name)
            continue
        if any(getattr(cell, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(cell, k, v)
            updated.append(spec.name)
    session.flush()
    if added or updated:  # series over "every cell" may now name other cells
        renew_kpi_generation(session, network_id=network_id)
    return added, updated, sorted(c.name for c in cells.values())


def _positions_m(topology: TopologyIn, stored: list[Site]) -> dict[str, tuple[float, float]]:
    """Each site's x/y: as given, or projected from WGS 84 in the network's stored frame.

    A network whose stored sites carry both x/y and latitude/longitude keeps that frame; a
    new one is framed about the file's centroid (``site_positions_m``).
    """
    if all(s.x_m is not None and s.y_m is not None for s in topology.sites):
        return {s.name: (float(s.x_m or 0.0), float(s.y_m or 0.0)) for s in topology.sites}
    placed = [s for s in stored if s.latitude_deg is not None and s.longitude_deg is not None]
    if not placed:
        return site_positions_m(topology)
    origin = implied_origin_deg(
        np.array([s.latitude_deg for s in placed], dtype=np.float64),
        np.array([s.longitude_deg for s in placed], dtype=np.float64),
        np.array([s.x_m for s in placed]),
        np.array([s.y_m for s in placed]),
    )
    lat = np.array([float(s.latitude_deg or 0.0) for s in topology.sites])
    lon = np.array([float(s.longitude_deg or 0.0) for s in topology.sites])
    x_m, y_m = project_to_plane_m(lat, lon, origin)
    return {s.name: (float(x), float(y)) for s, x, y in zip(topology.sites, x_m, y_m, strict=True)}
