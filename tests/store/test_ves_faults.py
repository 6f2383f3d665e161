"""VES fault alarms in the store: raised once per cell and condition, cleared by NORMAL only."""

import threading
import time

from ranopt.ingest.ves import VesFault
from ranopt.store import repository as repo
from ranopt.store import runs, ves_faults
from ranopt.store.engine import Store
from ranopt.store.schemas import TopologyIn

T0 = 1_767_571_200  # 2026-01-05T00:00:00Z


def _fault(severity: str, t_s: int, condition: str = "vswrHigh") -> VesFault:
    return VesFault(key="S000-1-cov", key_field="faultFields.alarmInterfaceA",
                    alarm_condition=condition, severity=severity,
                    specific_problem="antenna VSWR above 3.0", time_s=t_s, ref="event")  # fmt: skip


def test_alarms_raise_refresh_and_clear(store: Store, three_site_topology: TopologyIn) -> None:
    with store.transaction() as s:
        tid = repo.ensure_tenant(s, name="default", now_s=T0)
        net = repo.create_network(s, tenant_id=tid, topology=three_site_topology, now_s=T0)
        cell = repo.network_cells(s, tenant_id=tid, network_id=net.id)[0].id

    def record(*faults: VesFault) -> ves_faults.FaultCounts:
        with store.transaction() as s:
            return ves_faults.record_faults(s, tenant_id=tid, network_id=net.id, faults=faults,
                                            cell_ids=[cell] * len(faults), now_s=T0)  # fmt: skip

    def raised() -> dict[int, int]:
        with store.transaction() as s:
            return ves_faults.raised_cells(s, tenant_id=tid, network_id=net.id)

    # a NORMAL with nothing raised and a MINOR change nothing
    assert record(_fault("NORMAL", T0), _fault("MINOR", T0)).ignored == 2
    assert raised() == {}
    # raised, then repeated (and a MAJOR of another condition): one alarm per condition
    counts = record(_fault("CRITICAL", T0), _fault("CRITICAL", T0 + 60), _fault("MAJOR", T0, "x"))
    assert (counts.raised, counts.cleared) == (3, 0)
    assert raised() == {cell: T0}
    with store.transaction() as s:
        alarms = [a for a in runs.list_alerts(s, tenant_id=tid) if a.kind == "ves_fault"]
    assert sorted(a.severity for a in alarms) == ["critical", "major"]
    # a NORMAL older than the alarm does not clear it; a newer one does, per condition
    assert record(_fault("NORMAL", T0 - 900)).cleared == 0
    assert record(_fault("NORMAL", T0 + 900)).cleared == 1
    assert raised() == {cell: T0}  # condition "x" is still raised
    # a person resolving the alert ends its evidence too
    with store.transaction() as s:
        (left,) = [a for a in runs.list_alerts(s, tenant_id=tid, status="open")
                   if a.kind == "ves_fault"]  # fmt: skip
        runs.resolve_alert(s, tenant_id=tid, network_id=net.id, alert_id=left.id, by="noc",
                           now_s=T0)  # fmt: skip
    assert raised() == {}
    with store.transaction() as s:
        done = [a for a in runs.list_alerts(s, tenant_id=tid) if a.kind == "ves_fault"]
    assert [(a.cleared_s, a.resolved_by) for a in done if a.severity == "critical"] == [
        (T0 + 900, "system")]  # fmt: skip


def test_two_writers_raising_the_same_alarm_at_once(
    store: Store, three_site_topology: TopologyIn
) -> None:
    """The second writer waits for the first (its alarm key's lock) and refreshes its alarm.

    Without the lock both find no open alarm and both insert: the second fails on the unique
    open-alert index once the first commits.
    """
    with store.transaction() as s:
        tid = repo.ensure_tenant(s, name="default", now_s=T0)
        net = repo.create_network(s, tenant_id=tid, topology=three_site_topology, now_s=T0)
        cell = repo.network_cells(s, tenant_id=tid, network_id=net.id)[0].id
    first_wrote = threading.Event()
    errors: list[BaseException] = []

    def write(*, first: bool) -> None:
        try:
            if not first:
                assert first_wrote.wait(10)
            with store.transaction() as s:
                ves_faults.record_faults(s, tenant_id=tid, network_id=net.id,
                                         faults=[_fault("CRITICAL", T0)], cell_ids=[cell],
                                         now_s=T0 + (0 if first else 1))  # fmt: skip
                if first:  # inserted, not committed: the other writer starts now
                    first_wrote.set()
                    time.sleep(0.5)
        except BaseException as exc:  # reported by the test below
            errors.append(exc)

    threads = [threading.Thread(target=write, kwargs={"first": f}) for f in (True, False)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    with store.transaction() as s:
        alarms = [a for a in runs.list_alerts(s, tenant_id=tid) if a.kind == "ves_fault"]
    assert len(alarms) == 1, alarms
