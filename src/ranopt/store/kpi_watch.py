"""The KPI detectors' hook on every sample write: judge new samples, raise and clear alerts.

``observe_samples`` runs inside the transaction that writes a batch (``repository.
upsert_samples``: the telemetry API, the VES listener, ``ranopt ingest`` and the closed loop
all write through it), so the detector state, the alerts and the samples commit together. It
loads the network's detector state (locked: two writers of one network take turns), builds
the interval blocks the pure detectors (``ranopt.detect.kpi``) judge, with the cell states the
applied plans give and the neighbourhood from the network's relations or geometry, and turns
the conditions raised and cleared into deduplicated alerts.
"""

import io
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from ranopt.counters import COUNTER_COLUMNS
from ranopt.detect.kpi import (
    KINDS,
    SEVERITY,
    KpiBlock,
    KpiDetectorConfig,
    KpiState,
    KpiTransition,
    align_state,
    new_state,
    observe,
)
from ranopt.detect.neighbours import cell_context, geometric_pairs
from ranopt.store.loops import LOOP_ACTOR, LOOP_EPOCH
from ranopt.store.runs import AlertOut, alerts_page
from ranopt.store.samples import BoolArray, IntArray, SampleBatch
from ranopt.store.tables import (
    Alert,
    Cell,
    DetectorState,
    KpiSample,
    Network,
    O1ElementRow,
    OptimizationRun,
)

CHUNK_INTERVALS = 96  # intervals judged per block (bounds memory on bulk loads)
APPLIED_RUNS_READ = 400  # newest applied energy plans read for the cell states
CONFIG = KpiDetectorConfig()


def state_key(network_id: int) -> str:
    """Return the ``detector_states`` key of a network's KPI detectors."""
    return f"kpi:{network_id}"


def alert_key(network_id: int, cell_id: int, kind: str) -> str:
    """Return the dedup key: one open alert per network, cell and kind."""
    return f"kpi:{network_id}:{cell_id}:{kind}"


def utc(epoch_s: int) -> str:
    """Return ``2026-01-05 10:15 UTC``."""
    return datetime.fromtimestamp(epoch_s, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def encode_state(state: KpiState) -> bytes:
    """Return the state as an ``.npz`` archive (arrays only, no pickles)."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **state.arrays())  # type: ignore[arg-type]
    return buffer.getvalue()


def decode_state(blob: bytes) -> KpiState:
    """Read a state written by ``encode_state``."""
    with np.load(io.BytesIO(blob), allow_pickle=False) as archive:
        return KpiState.from_arrays({name: archive[name] for name in archive.files})


def observe_samples(
    session: Session,
    *,
    tenant_id: int,
    network_id: int,
    batch: SampleBatch,
    now_s: int | None = None,
) -> list[KpiTransition]:
    """Judge the batch's new samples in the caller's transaction; return what changed."""
    if len(batch) == 0:
        return []
    now = int(time.time()) if now_s is None else now_s
    interval_s = session.scalar(select(Network.interval_s).where(Network.id == network_id))
    cells = session.execute(
        select(Cell.id, Cell.name, Cell.num_prb, Cell.site_id, Cell.x_m, Cell.y_m, Cell.cu_dn)
        .where(Cell.tenant_id == tenant_id, Cell.network_id == network_id)
        .order_by(Cell.id)
    ).all()
    if interval_s is None or not cells:
        return []
    cell_ids = np.array([c[0] for c in cells], dtype=np.int64)
    row = session.scalars(
        select(DetectorState).where(DetectorState.key == state_key(network_id)).with_for_update()
    ).one_or_none()
    state = new_state(cell_ids, CONFIG) if row is None else decode_state(row.blob)
    state = align_state(state, cell_ids, CONFIG)
    # [N] each sample's cell position; samples of cells judged at or after their interval
    # only serve as context
    position = np.searchsorted(cell_ids, batch.cell_id)
    fresh = batch.interval_start_s > state.last_s[position]
    if not fresh.any():
        return []
    times = np.unique(batch.interval_start_s[fresh])
    context = cell_context(
        cell_ids, np.array([c[2] for c in cells], dtype=np.float64), int(interval_s),
        _neighbour_pairs(session, network_id, cells),
    )  # fmt: skip
    names = {int(c[0]): str(c[1]) for c in cells}
    transitions: list[KpiTransition] = []
    for first in range(0, times.size, CHUNK_INTERVALS):
        chunk = times[first : first + CHUNK_INTERVALS]
        block = _block(session, batch, position, chunk, cell_ids, tenant_id, network_id)
        asleep = planned_asleep(
            session, tenant_id=tenant_id, network_id=network_id, times=chunk,
            cell_ids=cell_ids, names=names, interval_s=int(interval_s),
        )  # fmt: skip
        block = KpiBlock(block.interval_start_s, block.values, block.reported, asleep)
        state, found = observe(state, block, context, CONFIG)
        transitions.extend(found)
    if row is None:
        session.add(
            DetectorState(
                key=state_key(network_id), tenant_id=tenant_id, network_id=network_id,
                updated_s=now, blob=encode_state(state),
            )
        )  # fmt: skip
    else:
        row.blob = encode_state(state)
        row.updated_s = now
    _write_alerts(session, tenant_id, network_id, transitions, names, now)
    session.flush()
    return transitions


def _block(
    session: Session,
    batch: SampleBatch,
    position: IntArray,
    times: IntArray,
    cell_ids: IntArray,
    tenant_id: int,
    network_id: int,
) -> KpiBlock:
    """Return the batch's samples of ``times``; cells it lacks are read from the store."""
    num_t, num_c = times.size, cell_ids.size
    values = np.full((num_t, num_c, len(COUNTER_COLUMNS)), np.nan)
    reported = np.zeros((num_t, num_c), dtype=bool)
    in_chunk = np.isin(batch.interval_start_s, times)
    rows = np.searchsorted(times, batch.interval_start_s[in_chunk])
    cols = position[in_chunk]
    for k, name in enumerate(COUNTER_COLUMNS):
        column = batch.values.get(name)
        if column is not None:
            values[rows, cols, k] = column[in_chunk]
    reported[rows, cols] = True
    partial = times[~reported.all(axis=1)]
    if partial.size:  # the rest of a partial interval (one PM file per gNB) from the store
        stored = session.execute(
            select(KpiSample.interval_start_s, KpiSample.cell_id,
                   *(KpiSample.__table__.c[c] for c in COUNTER_COLUMNS))
            .where(
                KpiSample.tenant_id == tenant_id,
                KpiSample.network_id == network_id,
                KpiSample.interval_start_s.in_(partial.tolist()),
            )
        ).all()  # fmt: skip
        for t, cell_id, *counters in stored:
            i = int(np.searchsorted(times, t))
            j = int(np.searchsorted(cell_ids, cell_id))
            if j < num_c and cell_ids[j] == cell_id and not reported[i, j]:
                values[i, j] = [np.nan if v is None else float(v) for v in counters]
                reported[i, j] = True
    return KpiBlock(times, values, reported, np.zeros_like(reported))


def _neighbour_pairs(session: Session, network_id: int, cells: Sequence[Any]) -> IntArray:
    """Neighbour pairs from the discovered NRCellRelations, else from the sites' geometry."""
    by_cu = {}
    for i, c in enumerate(cells):
        if c[6]:
            by_cu[_local(str(c[6]))] = i
    pairs: list[tuple[int, int]] = []
    if by_cu:
        details = session.scalars(
            select(O1ElementRow.detail).where(O1ElementRow.network_id == network_id)
        )
        for detail in details:
            for relation_dn, adjacent_dn in (detail or {}).get("relations", []):
                source = _local(str(relation_dn).rsplit(",NRCellRelation=", 1)[0])
                target = _local(str(adjacent_dn))
                if source in by_cu and target in by_cu:
                    pairs.append((by_cu[source], by_cu[target]))
                    pairs.append((by_cu[target], by_cu[source]))
    if pairs:
        return np.array(pairs, dtype=np.int64)
    return geometric_pairs(
        np.array([c[3] for c in cells], dtype=np.int64),
        np.array([c[4] for c in cells], dtype=np.float64),
        np.array([c[5] for c in cells], dtype=np.float64),
    )


def _local(dn: str) -> str:
    """Return a DN's part from ``ManagedElement=`` on (how relations and cells name a cell)."""
    at = dn.find("ManagedElement=")
    return dn[at:] if at >= 0 else dn


def planned_asleep(
    session: Session,
    *,
    tenant_id: int,
    network_id: int,
    times: IntArray,
    cell_ids: IntArray,
    names: dict[int, str],
    interval_s: int,
) -> BoolArray:
    """Cells the applied energy plans put to sleep in each interval, ``[T, C]``.

    Each applied plan's window (``window.start_s`` of a planned run, or the loop's
    ``window.first_interval`` from its epoch) lists the cells asleep per interval by index;
    the plan's own sleep actions name the cell of each index. Newer plans override older ones
    where their windows overlap (as the loop applies them).
    """
    asleep = np.zeros((times.size, cell_ids.size), dtype=bool)
    runs = session.execute(
        select(OptimizationRun.plan, OptimizationRun.created_by)
        .where(
            OptimizationRun.tenant_id == tenant_id,
            OptimizationRun.network_id == network_id,
            OptimizationRun.status == "applied",
            OptimizationRun.objective == "energy",
        )
        .order_by(OptimizationRun.id.desc())
        .limit(APPLIED_RUNS_READ)
    ).all()
    if not runs:
        return asleep
    id_of_name = {name: cell_id for cell_id, name in names.items()}
    column = {int(c): j for j, c in enumerate(cell_ids)}
    for plan, created_by in reversed(runs):  # oldest first: newer windows win
        window = (plan or {}).get("window") or {}
        if "start_s" in window:
            start_s = int(window["start_s"])
        elif "first_interval" in window and created_by == LOOP_ACTOR:
            start_s = int(LOOP_EPOCH.timestamp()) + int(window["first_interval"]) * interval_s
        else:
            continue
        index_to_id = {
            int(a["cell_index"]): id_of_name[a["cell"]]
            for a in (plan or {}).get("actions", [])
            if "cell_index" in a and a.get("cell") in id_of_name
        }
        for offset, cells in enumerate(window.get("asleep", [])):
            t = start_s + offset * interval_s
            i = int(np.searchsorted(times, t))
            if i >= times.size or times[i] != t:
                continue
            asleep[i] = False
            for index in cells:
                cell_id = index_to_id.get(int(index))
                if cell_id is None and 0 <= int(index) < cell_ids.size:
                    cell_id = int(cell_ids[int(index)])  # the model's cells in id order
                if cell_id in column:
                    asleep[i, column[cell_id]] = True
    return asleep


def _write_alerts(
    session: Session,
    tenant_id: int,
    network_id: int,
    transitions: list[KpiTransition],
    names: dict[int, str],
    now_s: int,
) -> None:
    """Open an alert per raised condition (one per key), close it when the condition ends."""
    for tr in transitions:
        key = alert_key(network_id, tr.cell_id, tr.kind)
        open_row = session.scalars(
            select(Alert).where(
                Alert.tenant_id == tenant_id, Alert.dedup_key == key, Alert.cleared_s.is_(None)
            )
        ).one_or_none()
        name = names.get(tr.cell_id, f"cell {tr.cell_id}")
        if tr.raised:
            message = f"{name}: {tr.reason}; since {utc(tr.since_s)}"
            detail = {
                "counter": tr.counter, "expected": _finite(tr.expected),
                "observed": _finite(tr.observed), "since_s": tr.since_s, "raised_at_s": tr.at_s,
                "cell": name,
            }  # fmt: skip
            if open_row is None:
                session.add(
                    Alert(
                        tenant_id=tenant_id, network_id=network_id, created_s=now_s,
                        severity=SEVERITY[tr.kind], kind=tr.kind, message=message,
                        cell_id=tr.cell_id, dedup_key=key, since_s=tr.since_s,
                        network_time_s=tr.since_s,
                        updated_s=now_s, detail=detail,
                    )
                )  # fmt: skip
                session.flush()
            else:  # the condition is already open (state reset): refresh, never duplicate
                open_row.updated_s = now_s
        elif open_row is not None:
            open_row.cleared_s = tr.at_s
            open_row.updated_s = now_s
            open_row.message = f"{open_row.message}. Cleared ({tr.reason}) at {utc(tr.at_s)}"
            open_row.detail = {**(open_row.detail or {}), "cleared_at_s": tr.at_s,
                               "cleared_because": tr.reason}  # fmt: skip


def _finite(value: float | None) -> float | None:
    return None if value is None or not np.isfinite(value) else round(float(value), 6)


def list_anomalies(
    session: Session,
    *,
    tenant_id: int,
    network_id: int,
    active: bool | None = None,
    limit: int = 100,
) -> list[AlertOut]:
    """Return the network's KPI anomaly alerts, newest first (``active``: open or cleared)."""
    query = select(Alert).where(
        Alert.tenant_id == tenant_id, Alert.network_id == network_id, Alert.kind.in_(KINDS)
    )
    return alerts_page(session, query, active=active, limit=limit)
