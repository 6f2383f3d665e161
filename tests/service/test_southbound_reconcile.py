"""A restarted O1 loop takes up the network's open faults from the store (``_reconcile``).

A real SQLite store, no network: the evidence is what the store holds (the newest counters,
a raised VES alarm), so no O1 read is needed; the end-to-end restart through a real
``ranopt emulate`` is ``test_southbound_loop.py``'s fourth test.
"""

from pathlib import Path

from ranopt.ingest.ves import VesFault
from ranopt.service import stages
from ranopt.service.southbound_loop import SouthboundLoop
from ranopt.store import loops, runs, ves_faults
from ranopt.store import repository as repo
from ranopt.store.engine import Store, open_store
from ranopt.store.schemas import TopologyIn
from ranopt.store.secrets import Keyring
from ranopt.store.tables import KpiSample

T0 = 1_767_571_200 + 40 * 900  # 2026-01-05 10:00 UTC: the newest interval's start
OUT, BACK = 0, 6  # cell indices: still out at the restart; back while the loop was down


def _compensated(store: Store, tid: int, net: int, cell: int, name: str) -> tuple[int, int]:
    """An outage of ``cell`` detected and compensated (waking cell + 3) before the restart."""
    fault = stages.open_outage(store, tenant_id=tid, network_id=net, cell=cell, name=name,
                               interval=30, at=T0 - 3600)  # fmt: skip
    plan = {"objective": "compensation", "interval_min": 15,
            "compensation": {"failed_cell": name, "woken": [cell + 3], "cio_db": {},
                             "recovered_ratio": 1.0, "unaided_ratio": 0.5}}  # fmt: skip
    comp = stages.Compensation(cell=cell, woken=frozenset({cell + 3}), cio_db={},
                               confidence=1.0, recovered_ratio=1.0, unaided_ratio=0.5,
                               plan=plan)  # fmt: skip
    run = stages.record_compensation(store, tenant_id=tid, network_id=net, comp=comp,
                                     fault_id=fault, first_interval=32, apply=True,
                                     now_s=T0 - 3600)  # fmt: skip
    return fault, run


def test_a_restart_holds_what_is_still_out_and_clears_what_came_back(
    tmp_path: Path, three_site_topology: TopologyIn
) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'ranopt.db'}")
    with store.transaction() as s:
        tid = repo.ensure_tenant(s, name="acme", now_s=0)
        net = repo.create_network(s, tenant_id=tid, topology=three_site_topology, now_s=0).id
        loops.configure_loop(s, tenant_id=tid, network_id=net, enabled=True, auto_apply=True,
                             confidence_threshold=0.9, solver="greedy", horizon_intervals=4,
                             now_s=0)  # fmt: skip
        cells = sorted(repo.network_cells(s, tenant_id=tid, network_id=net), key=lambda c: c.id)
        # the newest interval: every cell reported but OUT, whose VES alarm is raised
        s.add_all(KpiSample(network_id=net, tenant_id=tid, cell_id=c.id, interval_start_s=T0,
                            prb_used_dl=10.0, prb_avail_dl=100.0, pee_avg_power_w=300.0)
                  for i, c in enumerate(cells) if i != OUT)  # fmt: skip
        ves_faults.record_faults(s, tenant_id=tid, network_id=net, cell_ids=[cells[OUT].id],
                                 faults=[VesFault(key=cells[OUT].name, key_field="sourceName",
                                                  alarm_condition="cellOutOfService",
                                                  severity="CRITICAL", specific_problem="down",
                                                  time_s=T0 - 3600, ref="event")],
                                 now_s=T0)  # fmt: skip
    out_fault, out_run = _compensated(store, tid, net, OUT, cells[OUT].name)
    back_fault, back_run = _compensated(store, tid, net, BACK, cells[BACK].name)
    loop = SouthboundLoop(store, tenant_id=tid, network_id=net, keyring=Keyring({1: bytes(32)}),
                          clock=lambda: float(T0 + 900))  # fmt: skip
    assert loop._reconcile(loop.settings(), T0)
    # still out: its fault and compensation held again, nothing planned twice
    assert loop._fault_ids == {OUT: out_fault}
    held = loop._outages[OUT]
    assert held is not None
    assert held.woken == frozenset({OUT + 3})
    assert {out_run, back_run} <= loop._taken
    state = loop._with_outages(stages.CellsState(asleep={OUT + 3: "light", BACK + 3: "light"}))
    assert state.asleep == {BACK + 3: "light"}  # the cell BACK's compensation woke is released
    with store.transaction() as s:
        faults = {f.id: f for f in loops.faults(s, tenant_id=tid, network_id=net)}
        alerts = [a.message for a in runs.list_alerts(s, tenant_id=tid)]
    assert faults[out_fault].status == "compensated"
    assert faults[back_fault].status == "cleared"
    assert any(m.startswith(f"{cells[BACK].name}: back in service when the loop started "
                            "(it reports") for m in alerts), alerts  # fmt: skip
    # a second start finds only the fault still open
    again = SouthboundLoop(store, tenant_id=tid, network_id=net, keyring=Keyring({1: bytes(32)}),
                           clock=lambda: float(T0 + 900))  # fmt: skip
    assert again._reconcile(again.settings(), T0)
    assert again._fault_ids == {OUT: out_fault}
    store.dispose()
