"""Export a twin run as a realistic PM data set: wide Parquet KPIs and a topology file.

The Parquet table has one row per cell and interval (time-major), columns ``time``
(interval start, UTC), ``cell`` (name) and one column per counter named as in TS 28.552,
each with its unit in the field metadata (``unit``) so that ``ranopt ingest`` reads it back
without guessing. ``FILE.topology.json`` beside it (format in ``ranopt.store.schemas``) names
every cell by name, DN and NR cell identity, so ``ranopt network create`` can register it.
"""

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ranopt.store.schemas import CellIn, NetworkIn, SiteIn, SliceIn, TopologyIn
from ranopt.twin.elements import SLICES
from ranopt.twin.model import Twin
from ranopt.twin.simulate import IntervalKpis

DEFAULT_EPOCH = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday, 00:00 UTC
KPI_FORMAT = "ranopt-kpi-wide/1"
GNB_ID_BITS = 22  # NCI = gNB id (22 bits) + local cell id (14 bits), TS 38.300 clause 8.2
# TS 23.501 Table 5.15.2.2-1 standardised slice/service types
STANDARD_SST = {"eMBB": 1, "URLLC": 2, "mMTC": 3}


def network_name(twin: Twin) -> str:
    """Return the exported network's default name, e.g. ``large-s0``."""
    return f"{twin.scenario.name}-s{twin.scenario.seed}"


def twin_topology(twin: Twin, name: str | None = None) -> TopologyIn:
    """Return the twin's network in the topology file format."""
    net_name = name or network_name(twin)
    prefix = f"DC=ranopt.twin,SubNetwork={net_name}"
    sites = [SiteIn(name=s.name, x_m=s.x_m, y_m=s.y_m, height_m=s.height_m) for s in twin.sites]
    cells = []
    local_ids: dict[int, int] = {}
    for cell in twin.cells:
        local_id = local_ids.get(cell.site, 0) + 1  # cells of a site numbered from 1
        local_ids[cell.site] = local_id
        site = twin.sites[cell.site]
        element = f"{prefix},ManagedElement=gNB-{site.name}"
        cells.append(
            CellIn(
                name=cell.name,
                site=site.name,
                dn=f"{element},GNBDUFunction=1,NRCellDU={local_id}",
                cu_dn=f"{element},GNBCUCPFunction=1,NRCellCU={local_id}",
                nci=((cell.site + 1) << (36 - GNB_ID_BITS)) | local_id,
                layer=cell.layer,
                sector=cell.sector,
                azimuth_deg=cell.azimuth_deg % 360.0,
                carrier_ghz=cell.carrier_ghz,
                bandwidth_mhz=cell.bandwidth_mhz,
                scs_khz=cell.scs_khz,
                num_prb=cell.num_prb,
                max_tx_power_w=cell.power.max_tx_power_w,
                tilt_deg=cell.total_tilt_deg,
            )
        )
    return TopologyIn(
        network=NetworkIn(
            name=net_name, interval_s=twin.scenario.interval_min * 60, dn_prefix=prefix
        ),
        sites=sites,
        cells=cells,
        slices=[SliceIn(name=s, sst=STANDARD_SST[s]) for s in SLICES if s in STANDARD_SST],
    )


def kpi_table(twin: Twin, kpis: IntervalKpis, *, epoch: datetime = DEFAULT_EPOCH) -> pa.Table:
    """Return the run's per-cell KPIs as a wide table (rows time-major: ``[T * C]``)."""
    num_t, num_c = kpis.prb_load.shape
    interval_s = kpis.interval_min * 60
    num_prb = np.array([c.num_prb for c in twin.cells], dtype=np.float64)  # [C]
    # [T] interval starts, epoch seconds
    start_s = int(epoch.timestamp()) + kpis.t_min.astype(np.int64) * 60
    active = kpis.active.astype(np.float64)  # [T, C]
    columns: list[tuple[str, str, np.ndarray[tuple[int, ...], np.dtype[np.float64]]]] = [
        ("RRU.PrbUsedDl", "PRB", kpis.prb_load * num_prb),
        ("RRU.PrbAvailDl", "PRB", active * num_prb),
        ("RRU.PrbTotDl", "%", 100.0 * kpis.prb_load),
        ("DRB.UEThpDl", "Mbit/s", kpis.ue_thp_mbps),
        ("RRC.ConnMean", "UE", kpis.num_ues.astype(np.float64)),
        ("PEE.AvgPower", "W", kpis.power_w),
        ("PEE.Energy", "kWh", kpis.energy_kwh),
        ("DRB.PdcpSduVolumeDL", "Mbit", kpis.served_mbps * interval_s),
        ("VS.OfferedVolumeDl", "Mbit", kpis.offered_mbps * interval_s),
    ]
    names = pa.array(twin.cell_names, pa.string())
    cell = pa.DictionaryArray.from_arrays(pa.array(np.tile(np.arange(num_c), num_t)), names)
    fields = [
        pa.field("time", pa.timestamp("s", tz="UTC")),
        pa.field("cell", cell.type),
    ]
    arrays: list[pa.Array] = [
        pa.array(np.repeat(start_s, num_c), pa.timestamp("s", tz="UTC")),
        cell,
    ]
    for name, unit, values in columns:
        fields.append(pa.field(name, pa.float64(), metadata={"unit": unit}))
        arrays.append(pa.array(np.ascontiguousarray(values, dtype=np.float64).reshape(-1)))
    meta = {
        "format": KPI_FORMAT,
        "network": network_name(twin),
        "interval_s": interval_s,
        "epoch": epoch.isoformat(),
        "scenario": twin.scenario.name,
        "seed": twin.scenario.seed,
    }
    schema = pa.schema(fields, metadata={"ranopt": json.dumps(meta)})
    return pa.Table.from_arrays(arrays, schema=schema)


def topology_path(path: Path) -> Path:
    """Return where the topology of an export goes: ``run.parquet`` -> ``run.topology.json``."""
    return path.with_suffix(".topology.json")


def export_twin_run(
    path: Path, twin: Twin, kpis: IntervalKpis, *, epoch: datetime = DEFAULT_EPOCH
) -> tuple[Path, Path]:
    """Write the run's KPIs to ``path`` (Parquet) and its topology beside it; return both."""
    if epoch.tzinfo is None:
        msg = "epoch needs a time zone"
        raise ValueError(msg)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(kpi_table(twin, kpis, epoch=epoch), path, compression="zstd")
    topo = topology_path(path)
    topo.write_text(twin_topology(twin).model_dump_json(indent=1, exclude_none=True) + "\n")
    return path, topo
