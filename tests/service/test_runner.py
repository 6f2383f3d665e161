"""The loop runner survives its own failures: logged, alerted, retried with back-off."""

from pathlib import Path

from prometheus_client import CollectorRegistry
from sqlalchemy import text
from test_loop import FAST, make_bench

from ranopt.ingest.export import twin_topology
from ranopt.service.runner import LoopMetrics, LoopRunner
from ranopt.store import loops, runs
from ranopt.store import repository as repo


class Clock:
    """A settable wall clock (the runner's back-off is measured on it)."""

    def __init__(self) -> None:
        self.now = 1.0e9

    def __call__(self) -> float:
        return self.now


def test_a_failing_network_is_alerted_and_backed_off_while_others_run(tmp_path: Path) -> None:
    bench = make_bench(f"sqlite:///{tmp_path / 'runner.db'}")
    with bench.store.transaction() as session:  # a loop whose network has no twin to run on
        broken = repo.create_network(
            session, tenant_id=bench.tenant_id, topology=twin_topology(bench.twin, "no-twin"),
            now_s=0,
        )  # fmt: skip
        loops.configure_loop(
            session, tenant_id=bench.tenant_id, network_id=broken.id, enabled=True,
            auto_apply=True, confidence_threshold=0.9, solver="greedy", horizon_intervals=4,
            now_s=0,
        )  # fmt: skip
    registry = CollectorRegistry()
    clock = Clock()
    runner = LoopRunner(
        bench.store, tick_s=1.0, metrics=LoopMetrics(registry), config=FAST, clock=clock
    )
    first = runner.tick()
    assert set(first) == {bench.network_id}  # the healthy loop ran (its history)
    second = runner.tick()
    assert second[bench.network_id].phase == "loop"
    net = str(bench.network_id)
    served = registry.get_sample_value(
        "ranopt_loop_traffic_mbit_total", {"network_id": net, "case": "served"}
    )
    offered = registry.get_sample_value(
        "ranopt_loop_traffic_mbit_total", {"network_id": net, "case": "offered"}
    )
    assert served == second[bench.network_id].served_mbit > 0
    assert offered is not None
    assert served <= offered + 1e-6
    energy = registry.get_sample_value(
        "ranopt_loop_energy_kwh_total", {"network_id": net, "case": "always_on"}
    )
    assert energy == second[bench.network_id].always_on_energy_kwh > 0
    with bench.store.transaction() as session:
        alerts = runs.list_alerts(session, tenant_id=bench.tenant_id)
    errors = [a for a in alerts if a.kind == "loop_error" and a.network_id == broken.id]
    assert len(errors) == 1  # the second tick fell inside the back-off: not retried
    assert "has no twin" in errors[0].message
    assert "retry in 2 s (attempt 1)" in errors[0].message
    value = registry.get_sample_value("ranopt_loop_errors_total", {"network_id": str(broken.id)})
    assert value == 1.0
    clock.now += 2.5  # past the back-off: retried, failing again, waiting twice as long
    runner.tick()
    with bench.store.transaction() as session:
        alerts = runs.list_alerts(session, tenant_id=bench.tenant_id)
    latest = next(a for a in alerts if a.kind == "loop_error")
    assert "retry in 4 s (attempt 2)" in latest.message
    bench.store.dispose()


def test_a_database_failure_mid_step_is_survived_and_the_loop_resumes(tmp_path: Path) -> None:
    bench = make_bench(f"sqlite:///{tmp_path / 'outage.db'}")
    clock = Clock()
    runner = LoopRunner(
        bench.store, tick_s=1.0, metrics=LoopMetrics(CollectorRegistry()), config=FAST,
        clock=clock,
    )  # fmt: skip
    runner.tick()  # history
    runner.tick()  # one loop interval
    with bench.store.engine.begin() as conn:  # the KPI table goes away (a broken database)
        conn.execute(text("ALTER TABLE kpi_samples RENAME TO kpi_samples_away"))
    assert runner.tick() == {}  # the step failed; the runner did not
    with bench.store.transaction() as session:
        alerts = runs.list_alerts(session, tenant_id=bench.tenant_id)
        stalled = loops.loop_settings(
            session, tenant_id=bench.tenant_id, network_id=bench.network_id
        ).next_interval
    assert any(a.kind == "loop_error" and "kpi_samples" in a.message for a in alerts)
    with bench.store.engine.begin() as conn:  # repaired
        conn.execute(text("ALTER TABLE kpi_samples_away RENAME TO kpi_samples"))
    clock.now += 5.0
    resumed = runner.tick()
    assert resumed[bench.network_id].interval == stalled  # nothing lost, nothing skipped
    bench.store.dispose()
