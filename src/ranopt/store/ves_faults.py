"""VES fault events as the network's alarms: one deduplicated ``ves_fault`` alert per alarm.

A CRITICAL or MAJOR event raises the alarm (``alarmCondition`` on the cell its
``alarmInterfaceA`` or ``sourceName`` names): an open alert (kind ``ves_fault``, the cell's id,
``since_s`` the event's time, the event's fields in ``detail``), refreshed, never duplicated,
when the RAN repeats it. A NORMAL event clears it: the alert gets ``cleared_s`` (the event's
time) and is resolved by the system. MINOR and WARNING events are counted, not stored. The
closed loop reads the open alarms as outage evidence (``raised_cells``).
"""

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ranopt.ingest.batch import CellLookup, ProblemList
from ranopt.ingest.ves import VesFault
from ranopt.store.kpi_watch import utc
from ranopt.store.tables import Alert, Cell

KIND = "ves_fault"
RESOLVER = "system"


def alert_key(network_id: int, cell_id: int, condition: str) -> str:
    """Return the dedup key: one open alarm per network, cell and ``alarmCondition``."""
    return f"ves:{network_id}:{cell_id}:{condition}"[:200]


@dataclass(frozen=True)
class FaultCounts:
    """What a batch of fault events did."""

    raised: int = 0  # alarms opened or refreshed
    cleared: int = 0  # open alarms a NORMAL event cleared
    ignored: int = 0  # MINOR / WARNING events, and NORMAL ones with no open alarm


def resolve_cells(
    faults: Sequence[VesFault], cells: CellLookup, problems: ProblemList
) -> list[int | None]:
    """Return each fault's cell id; an unknown cell becomes a problem naming the field."""
    out: list[int | None] = []
    for fault in faults:
        cell_id = cells.resolve(fault.key, "any")
        if cell_id is None:
            problems.add(fault.ref, fault.key_field, cells.why_unknown(fault.key))
        out.append(cell_id)
    return out


def lock_alarm_keys(session: Session, *, tenant_id: int, keys: set[str]) -> None:
    """Hold the alarm keys until the transaction ends, so that writers raise them in turn.

    Two writers raising the same alarm at once (two VES requests, two replicas) would both
    find no open alarm and both insert it: the second would fail on the unique open-alert
    index. With the lock the second waits, then finds the first's row and refreshes it.
    PostgreSQL: a transaction-scoped advisory lock per key (sorted: no deadlock); SQLite:
    the database's write lock, taken by a write before the alarms are read (its reads
    before a write see the newest commit).
    """
    if not keys:
        return
    if session.get_bind().dialect.name == "postgresql":
        for key in sorted(keys):
            lock = func.pg_advisory_xact_lock(func.hashtextextended(key, tenant_id))
            session.execute(select(lock))
        return
    session.execute(
        update(Alert)
        .where(Alert.tenant_id == tenant_id, Alert.dedup_key.in_(sorted(keys)),
               Alert.cleared_s.is_(None))
        .values(updated_s=Alert.updated_s)
        .execution_options(synchronize_session=False)
    )  # fmt: skip


def record_faults(
    session: Session,
    *,
    tenant_id: int,
    network_id: int,
    faults: Sequence[VesFault],
    cell_ids: Sequence[int],
    now_s: int,
) -> FaultCounts:
    """Raise or clear each fault's alarm in the caller's transaction, in event order."""
    query = select(Cell.id, Cell.name).where(
        Cell.tenant_id == tenant_id, Cell.network_id == network_id
    )
    names = dict(session.execute(query).tuples().all())
    lock_alarm_keys(session, tenant_id=tenant_id,
                    keys={alert_key(network_id, c, f.alarm_condition)
                          for f, c in zip(faults, cell_ids, strict=True)})  # fmt: skip
    raised = cleared = ignored = 0
    for fault, cell_id in sorted(zip(faults, cell_ids, strict=True), key=lambda p: p[0].time_s):
        key = alert_key(network_id, cell_id, fault.alarm_condition)
        row = session.scalars(
            select(Alert).where(
                Alert.tenant_id == tenant_id, Alert.dedup_key == key, Alert.cleared_s.is_(None)
            )
        ).one_or_none()
        name = names.get(cell_id, f"cell {cell_id}")
        if fault.raises:
            raised += 1
            if row is not None:  # the RAN repeats a raised alarm: refresh, never duplicate
                row.updated_s = now_s
                continue
            session.add(Alert(
                tenant_id=tenant_id, network_id=network_id, created_s=now_s,
                severity=fault.severity.lower(), kind=KIND, cell_id=cell_id, dedup_key=key,
                message=(f"{name}: VES fault {fault.alarm_condition} ({fault.severity}): "
                         f"{fault.specific_problem}; since {utc(fault.time_s)}"),
                since_s=fault.time_s, network_time_s=fault.time_s, updated_s=now_s,
                detail={"cell": name, "alarmCondition": fault.alarm_condition,
                        "eventSeverity": fault.severity,
                        "specificProblem": fault.specific_problem, "source": fault.key},
            ))  # fmt: skip
            session.flush()
        elif fault.clears and row is not None and fault.time_s >= (row.since_s or 0):
            cleared += 1
            row.cleared_s, row.updated_s = fault.time_s, now_s
            row.resolved_by, row.resolved_s = RESOLVER, now_s
            row.resolution = f"cleared by a NORMAL VES fault event at {utc(fault.time_s)}"
            row.message = f"{row.message}. Cleared at {utc(fault.time_s)}"
            row.detail = {**(row.detail or {}), "cleared_at_s": fault.time_s}
        else:
            ignored += 1
    session.flush()
    return FaultCounts(raised=raised, cleared=cleared, ignored=ignored)


def raised_cells(session: Session, *, tenant_id: int, network_id: int) -> dict[int, int]:
    """Return the cells with a raised VES alarm: cell id -> when the oldest one was raised.

    An alarm a person resolved (``POST …/alerts/{id}/resolve``) no longer counts.
    """
    query = select(Alert.cell_id, Alert.since_s).where(
        Alert.tenant_id == tenant_id, Alert.network_id == network_id, Alert.kind == KIND,
        Alert.cleared_s.is_(None), Alert.resolved_s.is_(None), Alert.cell_id.is_not(None),
    )  # fmt: skip
    rows = session.execute(query).tuples()
    out: dict[int, int] = {}
    for cell_id, since_s in rows:
        if cell_id is not None:
            out[cell_id] = min(out.get(cell_id, since_s or 0), since_s or 0)
    return out
