"""The emulated network's managed elements: one gNB (ManagedElement) per twin site.

Built once from the twin and its exported topology (``ranopt-topology/1``, the same DNs and
NR cell identities the PM files carry): cells with their carrier, power and identity,
neighbour relations, site positions in WGS 84 (an equirectangular projection of the twin's
metres around ``origin``), and the configuration the emulator starts from.
"""

from dataclasses import dataclass

import numpy as np

from ranopt.emulate.datastore import Config
from ranopt.ingest.export import GNB_ID_BITS, STANDARD_SST, twin_topology
from ranopt.southbound.nrm import (
    ADMINISTRATIVE_STATE,
    CELL_INDIVIDUAL_OFFSET,
    CONFIGURED_MAX_TX_POWER,
    ENERGY_SAVING_CONTROL,
    RRM_DEDICATED_RATIO,
    RRM_MAX_RATIO,
    RRM_MIN_RATIO,
    ObjectPath,
    mhz_to_arfcn,
    parse_dn,
    rrm_policy_id,
)
from ranopt.store.schemas import SiteIn, TopologyIn
from ranopt.twin.elements import SLICES
from ranopt.twin.model import Twin
from ranopt.twin.topology import plane_to_wgs84_deg, project_to_plane_m

DEFAULT_ORIGIN = (48.8566, 2.3522)  # lat, lon of site S000 (degrees)
NEIGHBOUR_SITES = 3  # co-layer relations toward the cells of the nearest sites
PLMN = ("001", "01")  # TS 23.003 test PLMN (MCC 001, MNC 01)
MAX_PCI = 1008  # TS 38.211 clause 7.4.2.1: 1008 physical cell identities


@dataclass(frozen=True)
class EmulatedCell:
    """One cell: twin index, name, NRM objects and radio identity."""

    index: int
    name: str
    element: str
    local_id: int
    nci: int
    pci: int
    layer: str
    arfcn_dl: int
    bandwidth_mhz: int
    scs_khz: int
    max_tx_power_mw: int
    dn: str
    relations: tuple[tuple[str, int, str], ...]  # (relation id, target index, target CU DN)

    @property
    def du_path(self) -> ObjectPath:
        """``ManagedElement=..,GNBDUFunction=1,NRCellDU=k``."""
        return ObjectPath(
            (
                ("ManagedElement", self.element),
                ("GNBDUFunction", "1"),
                ("NRCellDU", str(self.local_id)),
            )
        )

    @property
    def cu_path(self) -> ObjectPath:
        """``ManagedElement=..,GNBCUCPFunction=1,NRCellCU=k``."""
        return ObjectPath(
            (("ManagedElement", self.element), ("GNBCUCPFunction", "1"),
             ("NRCellCU", str(self.local_id)))
        )  # fmt: skip

    @property
    def ces_path(self) -> ObjectPath:
        """The cell's CESManagementFunction."""
        return self.cu_path.child("CESManagementFunction", "1")

    @property
    def carrier_path(self) -> ObjectPath:
        """The cell's NRSectorCarrier."""
        return ObjectPath(
            (("ManagedElement", self.element), ("GNBDUFunction", "1"),
             ("NRSectorCarrier", str(self.local_id)))
        )  # fmt: skip

    def relation_path(self, relation_id: str) -> ObjectPath:
        """One of its NRCellRelations."""
        return self.cu_path.child("NRCellRelation", relation_id)

    def rrm_path(self, sst: int) -> ObjectPath:
        """Its RRMPolicyRatio for slice ``sst``."""
        return ObjectPath((("RRMPolicyRatio", rrm_policy_id(self.element, self.local_id, sst)),))


@dataclass(frozen=True)
class EmulatedElement:
    """One gNB: id, site, gNB id and position, and its cells."""

    id: str
    site: str
    gnb_id: int
    latitude_deg: float
    longitude_deg: float
    height_m: float
    cells: tuple[EmulatedCell, ...]


@dataclass(frozen=True)
class EmulatedTopology:
    """Every element, the exported topology file, and the DN prefix."""

    elements: tuple[EmulatedElement, ...]
    topology: TopologyIn
    dn_prefix: str

    @property
    def cells(self) -> tuple[EmulatedCell, ...]:
        """Every cell in twin order."""
        cells = [c for e in self.elements for c in e.cells]
        return tuple(sorted(cells, key=lambda c: c.index))

    def initial_config(self) -> Config:
        """Every cell on, unlocked, all chains, CIO 0 dB, one PRB pool (min 0, max 100 %)."""
        config: Config = {}
        for cell in self.cells:
            config[(cell.ces_path.local_dn, ENERGY_SAVING_CONTROL.key)] = "toBeNotEnergySaving"
            config[(cell.du_path.local_dn, ADMINISTRATIVE_STATE.key)] = "UNLOCKED"
            config[(cell.carrier_path.local_dn, CONFIGURED_MAX_TX_POWER.key)] = str(
                cell.max_tx_power_mw
            )
            for rel_id, _, _ in cell.relations:
                config[(cell.relation_path(rel_id).local_dn, CELL_INDIVIDUAL_OFFSET.key)] = "0"
            for sst in slice_ssts():
                dn = cell.rrm_path(sst).local_dn
                config[(dn, RRM_MIN_RATIO.key)] = "0"
                config[(dn, RRM_MAX_RATIO.key)] = "100"
                config[(dn, RRM_DEDICATED_RATIO.key)] = "0"
        return config

    def objects_of(self, element_ids: set[str] | None = None) -> frozenset[str]:
        """Local DNs of the objects of some elements (all when None)."""
        out: set[str] = set()
        for element in self.elements:
            if element_ids is not None and element.id not in element_ids:
                continue
            out.add(f"ManagedElement={element.id}")
            for cell in element.cells:
                out.update({cell.du_path.local_dn, cell.cu_path.local_dn, cell.ces_path.local_dn,
                            cell.carrier_path.local_dn})  # fmt: skip
                out.update(cell.relation_path(r).local_dn for r, _, _ in cell.relations)
                out.update(cell.rrm_path(sst).local_dn for sst in slice_ssts())
        return frozenset(out)


def slice_ssts() -> tuple[int, ...]:
    """Return the SST of each twin slice, in ``SLICES`` order (TS 23.501 Table 5.15.2.2-1)."""
    return tuple(STANDARD_SST[name] for name in SLICES)


def xy_to_latlon(x_m: float, y_m: float, origin: tuple[float, float]) -> tuple[float, float]:
    """Local east/north metres to WGS 84 degrees (``ranopt.twin.topology``'s projection)."""
    lat, lon = plane_to_wgs84_deg(np.asarray(x_m), np.asarray(y_m), origin)
    return float(lat), float(lon)


def latlon_to_xy(lat: float, lon: float, origin: tuple[float, float]) -> tuple[float, float]:
    """Inverse of ``xy_to_latlon``."""
    x_m, y_m = project_to_plane_m(np.asarray(lat), np.asarray(lon), origin)
    return float(x_m), float(y_m)


def build_topology(
    twin: Twin, name: str, origin: tuple[float, float] = DEFAULT_ORIGIN
) -> EmulatedTopology:
    """Group the twin's cells into one ManagedElement per site, with relations and positions."""
    topo = twin_topology(twin, name)
    site_xy = np.array([(s.x_m, s.y_m) for s in twin.sites])  # [S, 2]
    latlon = [xy_to_latlon(float(x), float(y), origin) for x, y in site_xy]
    sites = [
        SiteIn(name=s.name, x_m=s.x_m, y_m=s.y_m, height_m=s.height_m,
               latitude_deg=round(lat, 4), longitude_deg=round(lon, 4))
        for s, (lat, lon) in zip(topo.sites, latlon, strict=True)
    ]  # fmt: skip
    topo = topo.model_copy(update={"sites": sites})
    # [S, S] site distances; each site's nearest others
    dist = np.hypot(*(site_xy[:, None, :] - site_xy[None, :, :]).transpose(2, 0, 1))
    nearest = np.argsort(dist, axis=1)[:, 1 : NEIGHBOUR_SITES + 1]
    by_site: dict[int, list[int]] = {}
    for index, cell in enumerate(twin.cells):
        by_site.setdefault(cell.site, []).append(index)
    cells_in = {c.name: c for c in topo.cells}
    emulated: dict[int, EmulatedCell] = {}
    for index, cell in enumerate(twin.cells):
        spec = cells_in[cell.name]
        _, path = parse_dn(spec.dn)
        targets = [c for c in by_site[cell.site] if c != index]
        for other in nearest[cell.site]:
            targets += [c for c in by_site[int(other)] if twin.cells[c].layer == cell.layer]
        relations = tuple(
            (str(k + 1), t, parse_dn(cells_in[twin.cells[t].name].cu_dn or "")[1].local_dn)
            for k, t in enumerate(targets)
        )
        emulated[index] = EmulatedCell(
            index=index, name=cell.name, element=path.rdns[0][1], local_id=int(path.rdns[-1][1]),
            nci=int(spec.nci or 0), pci=index % MAX_PCI, layer=cell.layer,
            arfcn_dl=mhz_to_arfcn(cell.carrier_ghz * 1000.0),
            bandwidth_mhz=int(cell.bandwidth_mhz), scs_khz=int(cell.scs_khz),
            max_tx_power_mw=round(cell.power.max_tx_power_w * 1000.0), dn=spec.dn,
            relations=relations,
        )  # fmt: skip
    elements = []
    for s, site in enumerate(twin.sites):
        cells = tuple(emulated[i] for i in by_site.get(s, []))
        if not cells:
            continue
        lat, lon = sites[s].latitude_deg, sites[s].longitude_deg
        elements.append(
            EmulatedElement(
                id=cells[0].element,
                site=site.name,
                gnb_id=s + 1,
                latitude_deg=float(lat or 0.0),
                longitude_deg=float(lon or 0.0),
                height_m=site.height_m,
                cells=cells,
            )
        )
    return EmulatedTopology(tuple(elements), topo, topo.network.dn_prefix)


__all__ = ["GNB_ID_BITS", "EmulatedCell", "EmulatedElement", "EmulatedTopology", "build_topology"]
