"""``ranopt demo`` (what ``make demo`` runs) as a user runs it: real processes, real sockets.

The demo starts ``ranopt emulate`` as its child (a seed of its own), registers and discovers
the network over O1, ingests the back-filled PM files and runs the closed loop through O1 and
VES. The test waits until the first plan has been applied and committed over O1, reads the
emulator's NETCONF running configuration back, checks the store, then stops the demo with
SIGINT (Ctrl-C) and checks that nothing is left running or listening. One site (6 cells, 120
UEs) with 3 back-filled days keeps it short (``make demo``: 7 sites, 1 500 UEs, 7 days).
"""

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from sqlalchemy import select

from ops.ops_world import free_port, wait_for
from ranopt.southbound.o1 import O1Endpoint, O1Session, RetryPolicy
from ranopt.store.engine import open_store
from ranopt.store.tables import CalibrationReport, Cell, OptimizationRun, SouthboundTransaction

APPLIED = re.compile(r"plan #(\d+) applied .* confidence ([0-9.]+)")
EMULATOR_PID = re.compile(r"up on 127\.0\.0\.1 \(pid (\d+)\)")
COMMITTED = re.compile(r"O1: (\d+)/(\d+) NETCONF transactions committed")


DEMO_SHUTDOWN_S = 30 + 30 + 10 + 10 + 10  # its bounds (see `stop`), plus 10 s slack


class DemoProcess:
    """``ranopt demo`` in a child process; its output collected line by line."""

    def __init__(self, data: Path, port: int) -> None:
        env = {k: v for k, v in os.environ.items() if k != "RANOPT_DATABASE_URL"}
        env |= {"RANOPT_DATA_DIR": str(data), "COLUMNS": "250", "RANOPT_ARGON2_TIME_COST": "1",
                "RANOPT_ARGON2_MEMORY_KIB": "1024"}  # fmt: skip
        self.proc = subprocess.Popen(  # noqa: S603 - our own CLI
            [sys.executable, "-m", "ranopt.cli.main", "demo", "--port", str(port), "--sites",
             "1", "--ues", "120", "--backfill-days", "3", "--tick-s", "0.1"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
        )  # fmt: skip
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip())

    def stop(self) -> int:
        """Ctrl-C (SIGINT) unless it exited; return its exit status once it has."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        # the demo bounds its shutdown: the emulator driver and the server (with the loop's
        # step in flight) 30 s each, the emulator 10 s before SIGKILL and 10 s after
        try:
            rc = self.proc.wait(DEMO_SHUTDOWN_S)
        except subprocess.TimeoutExpired:  # fail, but leave nothing running or listening
            self.proc.kill()
            self.proc.wait(10)
            for pid in EMULATOR_PID.findall(self.text()):  # its own session: kill its group
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(int(pid), signal.SIGKILL)
            raise
        self._reader.join(10)
        assert self.proc.stdout is not None
        self.proc.stdout.close()
        return rc

    def text(self) -> str:
        return "\n".join(self.lines)

    def first(self, pattern: re.Pattern[str], after: int = 0) -> tuple[int, re.Match[str]] | None:
        for i, line in enumerate(self.lines[after:], start=after):
            found = pattern.search(line)
            if found:
                return i, found
        if self.proc.poll() is not None:
            raise AssertionError(f"the demo exited ({self.proc.returncode}):\n{self.text()}")
        return None


def _refused(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1.0)
        return s.connect_ex(("127.0.0.1", port)) != 0


def _asleep_over_o1(run_dir: Path) -> set[str]:
    """Cells whose energySavingControl is toBeEnergySaving in the emulator's running config."""
    info = json.loads((run_dir / "endpoints.json").read_text())
    creds = json.loads((run_dir / "credentials.json").read_text())
    asleep: set[str] = set()
    for e in info["o1"]:
        endpoint = O1Endpoint(
            host=e["host"], port=e["port"], username=creds["o1_username"],
            password=SecretStr(creds["o1_password"]), host_key=info["host_key"], timeout_s=5.0,
            retry=RetryPolicy(attempts=2, backoff_s=0.05),
        )  # fmt: skip
        with O1Session(endpoint) as session:
            for element in session.read_cell_states():
                for cell in element.cells:
                    if cell.energy_saving_control == "toBeEnergySaving":
                        asleep.add(cell.du_path.local_dn)
    return asleep


def _check_store(db: Path, asleep_dns: set[str]) -> None:
    """Applied plans at or above 0.9, a calibration, O1 transactions all committed, and
    every cell asleep in the RAN one that an applied plan put to sleep."""
    store = open_store(f"sqlite:///{db}")
    try:
        with store.transaction() as session:
            runs = list(session.scalars(select(OptimizationRun)))
            cells = {c.id: c for c in session.scalars(select(Cell))}
            txs = list(session.scalars(select(SouthboundTransaction)))
            reports = list(session.scalars(select(CalibrationReport)))
    finally:
        store.dispose()
    done = [r for r in runs if r.status == "applied"]
    assert done
    assert all(r.confidence is not None and r.confidence >= 0.9 for r in done)
    assert reports, "the loop calibrated no model"
    assert {t.outcome for t in txs} == {"applied"}
    assert all(t.interface == "o1" for t in txs)
    ordered = [cells[i] for i in sorted(cells)]  # the plans' cell index: cell id order
    planned = {
        ordered[c].name for r in done for row in (r.plan or {})["window"]["asleep"] for c in row
    }
    asleep_names = {c.name for c in ordered if any(c.dn.endswith(dn) for dn in asleep_dns)}
    assert len(asleep_names) == len(asleep_dns)
    assert asleep_names <= planned, (asleep_names, planned)


def test_demo_applies_a_plan_over_o1_and_stops_cleanly(tmp_path: Path) -> None:
    port = free_port()
    demo = DemoProcess(tmp_path / "data", port)
    try:
        wait_for(lambda: demo.first(APPLIED) is not None, 120, "the first applied plan")
        applied = demo.first(APPLIED)
        assert applied is not None
        wait_for(lambda: demo.first(COMMITTED, applied[0]) is not None, 60, "its O1 commit")
        committed = demo.first(COMMITTED, applied[0])
        assert committed is not None
        assert committed[1].group(1) == committed[1].group(2)  # every element committed
        assert float(applied[1].group(2)) >= 0.9
        run_dir = tmp_path / "data" / "demo-ran" / "ran-1"
        info = json.loads((run_dir / "endpoints.json").read_text())
        # the plan reached the RAN: its NETCONF running configuration has cells asleep
        asleep_dns = _asleep_over_o1(run_dir)
        assert asleep_dns, demo.text()
        _check_store(tmp_path / "data" / "ranopt.db", asleep_dns)
        assert "discovered 6 cells" in demo.text()
        assert "ingested 3 days" in demo.text()
    finally:
        rc = demo.stop()
    assert rc == 0, demo.text()
    assert "demo stopped: emulator and server closed" in demo.text()
    _nothing_left(info, port)


def _nothing_left(info: dict[str, Any], port: int) -> None:
    """Neither the emulator nor any of its ports (O1, A1, admin), nor the API, remain."""
    try:
        os.kill(int(info["pid"]), 0)
    except ProcessLookupError:
        pass
    else:
        raise AssertionError(f"the emulator (pid {info['pid']}) still runs")
    ports = [port, *(e["port"] for e in info["o1"])]
    ports += [int(u.rsplit(":", 1)[1].split("/")[0]) for u in (info["a1"]["url"],
                                                               info["admin"]["url"])]  # fmt: skip
    deadline = time.monotonic() + 5
    while not all(_refused(p) for p in ports) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert all(_refused(p) for p in ports), [p for p in ports if not _refused(p)]
