"""The southbound loop plans on a network whose counters predate the loop epoch.

Loop interval ``j`` starts ``j`` intervals after ``LOOP_EPOCH`` (2026-01-05), so a RAN whose
counters are older (a replay, a benchmark on a fixed calendar) runs negative loop intervals.
``ranopt emulate`` (one site, its own seed) back-fills three days of June 2025 with every cell
on; ranopt discovers it over O1 and ingests them as ``ranopt demo`` does (its building
blocks), and the loop must calibrate, plan and commit over O1 at the first night interval, and
record its own always-on estimate for the intervals that follow.
"""

from datetime import UTC, datetime
from pathlib import Path

import pytest

from ranopt.api.settings import Settings
from ranopt.calibrate import CalibrationConfig
from ranopt.cli.demo import DemoEmulator, DemoOptions, RanDemo
from ranopt.ingest.pipeline import ingest_files
from ranopt.service.calibration import NetworkCalibrationConfig
from ranopt.service.loop import StepReport
from ranopt.service.southbound_loop import SouthboundLoop
from ranopt.store import loops
from ranopt.store import repository as repo
from ranopt.store import southbound as sb
from ranopt.store.engine import open_store
from ranopt.store.loops import LOOP_EPOCH

LIVE_START = datetime(2025, 6, 4, tzinfo=UTC)  # a Wednesday midnight, before LOOP_EPOCH
BACKFILL_DAYS = 3  # calibration's least (CalibrationConfig.min_days)


def _run_interval(ran: RanDemo, emulator: DemoEmulator, loop: SouthboundLoop) -> StepReport:
    """Advance the RAN one interval, ingest its PM file, step the loop."""
    seen = set((emulator.run_dir / "pm").glob("*.xml"))
    emulator.admin("/advance", {"intervals": 1})
    ingest_files(ran.store, sorted(set((emulator.run_dir / "pm").glob("*.xml")) - seen),
                 tenant_id=ran.tenant_id, network=ran.name)  # fmt: skip
    return loop.step()


def test_loop_plans_and_acts_on_counters_before_the_loop_epoch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RANOPT_DATA_DIR", str(tmp_path))  # the emulator's run directory
    url = f"sqlite:///{tmp_path / 'ranopt.db'}"
    settings = Settings(database_url=url, argon2_time_cost=1, argon2_memory_kib=1024)
    store = open_store(url)
    with store.transaction() as session:
        tenant_id = repo.ensure_tenant(session, name="acme", now_s=0)
    options = DemoOptions(scenario="default", sites=1, ues=120, backfill_days=BACKFILL_DAYS,
                          tick_s=0.0, host="127.0.0.1", port=0)  # fmt: skip
    ran = RanDemo(store, settings, tenant_id, options)
    emulator = ran.start_emulator(seed=31, start=LIVE_START)
    try:
        ran.register_and_discover(emulator)
        ran.ingest_backfill(emulator)
        ran.switch_loop_on()
        loop = SouthboundLoop(
            store, tenant_id=tenant_id, network_id=ran.network_id, keyring=settings.keyring(),
            clock=lambda: 0.0, calibration=NetworkCalibrationConfig(
                calibration=CalibrationConfig(min_days=BACKFILL_DAYS)),
        )  # fmt: skip
        assert loop.step().phase == "waiting"  # the clock starts after the back-filled counters
        # the plan's first sleeping interval is the third
        report = _run_interval(ran, emulator, loop)
        _run_interval(ran, emulator, loop)
        _run_interval(ran, emulator, loop)
    finally:
        emulator.stop()
    epoch_s = int(LOOP_EPOCH.timestamp())
    first = (int(LIVE_START.timestamp()) - epoch_s) // 900
    assert first < 0
    assert report.phase == "loop"
    assert report.interval == first  # the first live interval, accounted
    assert report.plan_run_id is not None
    assert report.plan_applied  # a night on one site: confident
    with store.transaction() as session:
        (run,) = loops.loop_runs(session, tenant_id=tenant_id, network_id=ran.network_id,
                                 status="applied")  # fmt: skip
        txs = sb.list_transactions(session, tenant_id=tenant_id, network_id=ran.network_id)
        rows = loops.intervals(session, tenant_id=tenant_id, network_id=ran.network_id,
                               first=first, stop=first + 3)  # fmt: skip
    store.dispose()
    window = (run.plan or {})["window"]
    assert window["first_interval"] == first + 1
    assert window["asleep"][1], "a night plan puts capacity cells to sleep"
    assert txs
    assert all(t.outcome == "applied" for t in txs)
    # ranopt's own always-on estimate (its calibrated model, never the RAN's truth): what was
    # observed while every cell was on, more than observed while cells slept
    awake, _, slept = rows
    assert not awake.asleep
    assert awake.always_on_power_w == awake.power_w
    assert awake.always_on_served_mbps == awake.served_mbps
    assert slept.asleep == window["asleep"][1]
    assert slept.power_w is not None
    assert slept.always_on_power_w is not None
    assert slept.always_on_power_w > slept.power_w
    assert slept.served_mbps is not None
    assert slept.always_on_served_mbps is not None
    assert slept.always_on_served_mbps == pytest.approx(slept.served_mbps, rel=0.05)
