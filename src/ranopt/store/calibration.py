"""What calibration reads from the store, and the reports it writes back (tenant-scoped).

- ``topology_records``: a network's sites and cells as topology records (cell-id order);
- ``pm_history``: per-cell counters over whole UTC days as arrays (``PmHistory``), with the
  cell states known to be applied (the loop's applied sleep masks);
- ``save_report`` / ``latest_report``: calibration reports (JSON, revision 0006).
"""

from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ranopt.calibrate.history import SECONDS_PER_DAY, PmHistory
from ranopt.store.loops import LOOP_EPOCH
from ranopt.store.networks import network_by_id
from ranopt.store.repository import NotFoundError
from ranopt.store.tables import CalibrationReport, Cell, KpiSample, LoopInterval, Site
from ranopt.twin.topology import CellRecord, SiteRecord

PM_COLUMNS = (
    "prb_used_dl",
    "prb_avail_dl",
    "prb_tot_dl_pct",
    "dl_volume_mbit",
    "ue_thp_dl_mbps",
    "rrc_conn_mean",
)


def topology_records(
    session: Session, *, tenant_id: int, network_id: int
) -> tuple[list[SiteRecord], list[CellRecord]]:
    """Return a network's sites and cells (by cell id) as the topology model reads them.

    A cell's own position and height are passed only where they differ from its site's;
    its downtilt is ``None`` where the topology did not give one.
    """
    network_by_id(session, tenant_id=tenant_id, network_id=network_id)
    sites = session.scalars(
        select(Site)
        .where(Site.tenant_id == tenant_id, Site.network_id == network_id)
        .order_by(Site.id)
    ).all()
    by_id = {s.id: s for s in sites}
    cells = session.scalars(
        select(Cell)
        .where(Cell.tenant_id == tenant_id, Cell.network_id == network_id)
        .order_by(Cell.id)
    ).all()
    site_records = [
        SiteRecord(
            name=s.name, x_m=s.x_m, y_m=s.y_m, latitude_deg=s.latitude_deg,
            longitude_deg=s.longitude_deg, height_m=s.height_m,
        )
        for s in sites
    ]  # fmt: skip
    cell_records = []
    for c in cells:
        site = by_id[c.site_id]
        apart = (c.x_m, c.y_m) != (site.x_m, site.y_m)
        cell_records.append(
            CellRecord(
                name=c.name, site=site.name, layer=c.layer, sector=c.sector,
                azimuth_deg=c.azimuth_deg, tilt_deg=c.tilt_deg, carrier_ghz=c.carrier_ghz,
                bandwidth_mhz=c.bandwidth_mhz, scs_khz=c.scs_khz, num_prb=c.num_prb,
                max_tx_power_w=c.max_tx_power_w,
                height_m=None if c.height_m == site.height_m else c.height_m,
                x_m=c.x_m if apart else None, y_m=c.y_m if apart else None,
            )
        )  # fmt: skip
    return site_records, cell_records


def pm_extent(session: Session, *, tenant_id: int, network_id: int) -> tuple[int, int, int] | None:
    """Return (first interval start, last interval start, sample count), or None when empty."""
    row = session.execute(
        select(
            func.min(KpiSample.interval_start_s),
            func.max(KpiSample.interval_start_s),
            func.count(),
        ).where(KpiSample.tenant_id == tenant_id, KpiSample.network_id == network_id)
    ).one()
    if row[0] is None:
        return None
    return int(row[0]), int(row[1]), int(row[2])


def history_window(
    session: Session, *, tenant_id: int, network_id: int, interval_s: int, max_days: int
) -> tuple[int, int]:
    """Return ``[start_s, end_s)`` on whole UTC days: the latest ``max_days`` with samples.

    The window ends at the midnight after the last sample (a day in progress counts with
    its reported part). Raises ``NotFoundError`` when the network has no samples.
    """
    extent = pm_extent(session, tenant_id=tenant_id, network_id=network_id)
    if extent is None:
        msg = f"network {network_id} has no stored samples"
        raise NotFoundError(msg)
    first_s, last_s, _ = extent
    end_s = (last_s + interval_s + SECONDS_PER_DAY - 1) // SECONDS_PER_DAY * SECONDS_PER_DAY
    start_s = max(first_s // SECONDS_PER_DAY * SECONDS_PER_DAY, end_s - max_days * SECONDS_PER_DAY)
    return start_s, end_s


def _applied_asleep(
    session: Session,
    *,
    tenant_id: int,
    network_id: int,
    start_s: int,
    interval_s: int,
    shape: tuple[int, int],
) -> np.ndarray[tuple[int, int], np.dtype[np.bool_]]:
    """Cells the loop's applied plans put to sleep, ``[N, C]`` (cell index = cell-id order).

    Loop interval ``k`` starts at ``LOOP_EPOCH + k * interval_s``; its ``asleep`` list holds
    indices into the network's cells in id order (the twin's order, in which a twin-born
    network's cells were created).
    """
    asleep = np.zeros(shape, dtype=bool)
    epoch_s = int(LOOP_EPOCH.timestamp())
    first = (start_s - epoch_s) // interval_s
    rows = session.execute(
        select(LoopInterval.interval, LoopInterval.asleep).where(
            LoopInterval.tenant_id == tenant_id,
            LoopInterval.network_id == network_id,
            LoopInterval.phase == "loop",
            LoopInterval.interval >= first,
            LoopInterval.interval < first + shape[0],
        )
    ).all()
    for interval, cells in rows:
        row = int(interval) - first
        index = [int(c) for c in cells or [] if 0 <= int(c) < shape[1]]
        asleep[row, index] = True
    return asleep


def pm_history(
    session: Session,
    *,
    tenant_id: int,
    network_id: int,
    start_s: int,
    end_s: int,
) -> PmHistory:
    """Return the network's counters over ``[start_s, end_s)`` (whole UTC days) as arrays.

    ``RRU.PrbUsedDl`` missing from a sample is derived from ``RRU.PrbTotDl`` and the PRBs
    available (or the carrier's); samples flagged ``suspect`` are left out.
    """
    network = network_by_id(session, tenant_id=tenant_id, network_id=network_id)
    interval_s = network.interval_s
    cells = session.execute(
        select(Cell.id, Cell.name, Cell.num_prb)
        .where(Cell.tenant_id == tenant_id, Cell.network_id == network_id)
        .order_by(Cell.id)
    ).all()
    if not cells:
        msg = f"network {network_id} has no cells"
        raise NotFoundError(msg)
    column_of = {int(r[0]): i for i, r in enumerate(cells)}
    num_prb = np.array([int(r[2]) for r in cells], dtype=np.int64)
    num_rows = (end_s - start_s) // interval_s
    shape = (num_rows, len(cells))
    values = {name: np.full(shape, np.nan) for name in PM_COLUMNS}
    table = KpiSample.__table__
    result = session.execute(
        select(
            KpiSample.cell_id, KpiSample.interval_start_s, *(table.c[c] for c in PM_COLUMNS)
        ).where(
            KpiSample.tenant_id == tenant_id,
            KpiSample.network_id == network_id,
            KpiSample.interval_start_s >= start_s,
            KpiSample.interval_start_s < end_s,
            KpiSample.suspect.is_(False),
        )
    )
    for chunk in result.partitions(50_000):
        data = np.array([[np.nan if v is None else float(v) for v in r] for r in chunk])
        if data.size == 0:
            continue
        col = np.array([column_of[int(c)] for c in data[:, 0]], dtype=np.int64)
        row = ((data[:, 1].astype(np.int64) - start_s) // interval_s).astype(np.int64)
        for j, name in enumerate(PM_COLUMNS):
            values[name][row, col] = data[:, 2 + j]
    prb_used = values["prb_used_dl"]
    avail = np.where(np.isfinite(values["prb_avail_dl"]), values["prb_avail_dl"], num_prb)
    from_pct = values["prb_tot_dl_pct"] / 100.0 * avail
    prb_used = np.where(np.isfinite(prb_used), prb_used, from_pct)
    applied = _applied_asleep(
        session, tenant_id=tenant_id, network_id=network_id, start_s=start_s,
        interval_s=interval_s, shape=shape,
    )  # fmt: skip
    return PmHistory(
        start_s=start_s,
        interval_s=interval_s,
        cell_names=tuple(str(r[1]) for r in cells),
        num_prb=num_prb,
        prb_used=prb_used,
        prb_avail=values["prb_avail_dl"],
        volume_mbit=values["dl_volume_mbit"],
        ue_thp_mbps=values["ue_thp_dl_mbps"],
        conn_mean=values["rrc_conn_mean"],
        applied_asleep=applied,
    )


class CalibrationReportOut(BaseModel):
    """A stored calibration report."""

    model_config = ConfigDict(frozen=True)

    id: int
    network_id: int
    created_s: int
    data_end_s: int
    days_found: float
    prb_load_wape: float | None
    report: dict[str, Any]


def save_report(
    session: Session,
    *,
    tenant_id: int,
    network_id: int,
    report: dict[str, Any],
    data_end_s: int,
    days_found: float,
    prb_load_wape: float | None,
    now_s: int,
) -> CalibrationReportOut:
    """Store a calibration report of one of the tenant's networks."""
    network_by_id(session, tenant_id=tenant_id, network_id=network_id)
    row = CalibrationReport(
        tenant_id=tenant_id, network_id=network_id, created_s=now_s, data_end_s=data_end_s,
        days_found=days_found, prb_load_wape=prb_load_wape, report=report,
    )  # fmt: skip
    session.add(row)
    session.flush()
    return CalibrationReportOut.model_validate(row, from_attributes=True)


def reports_since(
    session: Session, *, tenant_id: int, network_id: int, after_id: int
) -> list[CalibrationReportOut]:
    """Return the network's calibration reports stored after report ``after_id``, oldest first."""
    rows = session.scalars(
        select(CalibrationReport)
        .where(
            CalibrationReport.tenant_id == tenant_id,
            CalibrationReport.network_id == network_id,
            CalibrationReport.id > after_id,
        )
        .order_by(CalibrationReport.id)
    )
    return [CalibrationReportOut.model_validate(r, from_attributes=True) for r in rows]


def latest_report(
    session: Session, *, tenant_id: int, network_id: int
) -> CalibrationReportOut | None:
    """Return the newest calibration report of the tenant's network, or None."""
    network_by_id(session, tenant_id=tenant_id, network_id=network_id)
    row = session.scalars(
        select(CalibrationReport)
        .where(CalibrationReport.tenant_id == tenant_id, CalibrationReport.network_id == network_id)
        .order_by(CalibrationReport.created_s.desc(), CalibrationReport.id.desc())
        .limit(1)
    ).first()
    return None if row is None else CalibrationReportOut.model_validate(row, from_attributes=True)
