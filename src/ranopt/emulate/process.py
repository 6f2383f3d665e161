"""The ``ranopt emulate`` process: a twin scenario served as a RAN on loopback.

It builds its own twin (own scenario, seed, traffic and days), serves O1 NETCONF over SSH
(one endpoint per gNB, or one for all), A1-P v2 and an admin API, and every interval writes
PM XML files and/or POSTs VES events, and appends its ground truth. Nothing is shared with
ranopt but these wire outputs and the files in its run directory::

    RUN/endpoints.json      where everything listens (written last: the ready signal)
    RUN/credentials.json    O1 username/password and the admin token (mode 0600)
    RUN/topology.json       the network in ranopt-topology/1 (for ranopt network create)
    RUN/known_hosts         the per-run SSH host key, OpenSSH known_hosts format
    RUN/pm/A<date>.<hhmm>+0000-<hhmm>+0000_<dnPrefix>.xml   TS 28.532 PM files
    RUN/ves/*.json          VES events, when no collector URL is given
    RUN/truth.jsonl         ground truth per interval (ranopt never reads it)
    RUN/o1-state-<n>.json   each endpoint's confirmed running configuration
    RUN/clock.json          the next interval and VES sequence: a restart resumes from them
"""

import asyncio
import json
import logging
import multiprocessing
import os
import secrets
import socket
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncssh
import httpx
import numpy as np
import uvicorn

from ranopt.emulate import netconf, output
from ranopt.emulate.a1 import NearRtRic, a1_app, admin_app
from ranopt.emulate.datastore import Config, Datastores
from ranopt.emulate.netconf import BASE_10, BASE_11, Endpoint
from ranopt.emulate.network import EmulatedNetwork, IntervalResult
from ranopt.emulate.topology import EmulatedElement, build_topology
from ranopt.southbound.a1_types import load_policy_types
from ranopt.twin import build_twin, scenario_preset
from ranopt.twin.snapshot import CellState
from ranopt.twin.units import FloatArray

logger = logging.getLogger("ranopt.emulate")
REFERENCE_MONDAY = datetime(2024, 1, 1, tzinfo=UTC)  # interval 0 starts here (a Monday)
LIGHT_UES = 30  # --no-traffic: enough UEs to build the twin, none simulated
CLOCK_FILE = "clock.json"


@dataclass(frozen=True)
class EmulatorConfig:
    """Everything ``ranopt emulate run`` takes."""

    run_dir: Path
    scenario: str = "default"
    seed: int = 7
    num_sites: int | None = None
    num_ues: int | None = None
    network_name: str = "emulated"
    pace_s: float = 1.0  # wall seconds per interval; 0: only /admin/advance moves the clock
    start: datetime | None = None  # first live interval (default: now, floored)
    backfill_days: int = 0
    backfill_workers: int | None = None  # processes for the back-fill (None: one per core)
    traffic: bool = True  # False: O1 only (discovery tests of large networks)
    o1_per_element: bool = True
    o1_base: tuple[str, ...] = (BASE_10, BASE_11)
    o1_username: str = "ranopt"
    pm_files: bool = True
    ves_url: str | None = None
    ranopt_api_key: str | None = None  # sent with VES events and A1 notifications
    a1_types_dir: Path | None = None
    truth: bool = True
    host: str = "127.0.0.1"
    extra: dict[str, Any] = field(default_factory=dict)


def _free_socket(host: str) -> socket.socket:
    # proto IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY on accepted sockets only when the
    # listener's proto says TCP; without it Nagle holds a response's body behind its headers
    # until the client's delayed ACK (40 ms a request on Linux)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    return sock


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def read_clock(run_dir: Path, *, network: str, interval_s: int) -> tuple[int, int] | None:
    """Return ``(next interval, VES sequence)`` saved in ``RUN/clock.json``.

    None for a new run directory, or one whose clock is another network's (name, interval).
    """
    path = run_dir / CLOCK_FILE
    if not path.exists():
        return None
    saved = json.loads(path.read_text())
    if saved.get("network") != network or saved.get("interval_s") != interval_s:
        logger.warning("%s belongs to another network or interval; starting at --start", path)
        return None
    return int(saved["next_interval"]), int(saved["sequence"])


def write_clock(
    run_dir: Path, *, network: str, interval_s: int, next_interval: int, sequence: int
) -> None:
    """Save the clock after each interval (atomically: a kill leaves the old or the new one)."""
    tmp = run_dir / (CLOCK_FILE + ".part")
    tmp.write_text(json.dumps({"network": network, "interval_s": interval_s,
                               "next_interval": next_interval, "sequence": sequence}))  # fmt: skip
    os.replace(tmp, run_dir / CLOCK_FILE)


def interval_of(t: datetime, interval_s: int) -> int:
    """Interval index (since ``REFERENCE_MONDAY``) that contains ``t``."""
    return int((t - REFERENCE_MONDAY).total_seconds()) // interval_s


_WORKER: dict[str, "Emulator"] = {}  # a back-fill worker process's own emulator


def _history_worker(config: EmulatorConfig) -> None:
    """Build this worker's emulator (same scenario and seed: the same network)."""
    _WORKER["emulator"] = Emulator(replace(config, a1_types_dir=None))


def _history_pool(emulator: "Emulator", workers: int) -> ProcessPoolExecutor:
    """Worker processes for the back-fill, each holding the same network.

    Forked (each inherits the built twin, nothing to import) while this process has no other
    thread, as at start-up; else spawned, each building the twin from the configuration.
    """
    if "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1:
        _WORKER["emulator"] = emulator
        return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"))
    spawn = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(
        workers, mp_context=spawn, initializer=_history_worker, initargs=(emulator.config,)
    )


def _history_span(first: int, stop: int) -> list[str]:
    """Run one span of history in a worker; return its ground-truth lines."""
    return _WORKER["emulator"].run_history(first, stop)


class Emulator:
    """One running emulator (built by ``run``)."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        num_ues = LIGHT_UES if not config.traffic else config.num_ues
        scenario = scenario_preset(config.scenario, seed=config.seed, num_sites=config.num_sites,
                                   num_ues=num_ues)  # fmt: skip
        self.twin = build_twin(scenario)
        self.topology = build_topology(self.twin, config.network_name)
        self.network = EmulatedNetwork(self.twin, self.topology, config.seed)
        self.interval_s = scenario.interval_min * 60
        start = config.start or datetime.now(UTC)
        self.next_interval = interval_of(start, self.interval_s)
        self.sequence = 0
        self.ves_url = config.ves_url  # the collector (``POST /admin/ves`` changes it)
        self.api_key = config.ranopt_api_key
        # a restart resumes the clock the run directory holds (``--start`` is for a new run)
        saved = read_clock(config.run_dir, network=config.network_name, interval_s=self.interval_s)
        self.resumed = saved is not None
        if saved is not None:
            self.next_interval, self.sequence = saved
        self.num_prb = np.array([c.num_prb for c in self.twin.cells], dtype=np.float64)
        self.password = secrets.token_urlsafe(18)
        self.admin_token = secrets.token_urlsafe(24)
        self.endpoints: list[Endpoint] = []
        self.state: CellState | None = None
        self.step_lock = asyncio.Lock()
        run = config.run_dir
        for sub in ("pm", "ves"):
            (run / sub).mkdir(parents=True, exist_ok=True)
        types_dir = config.a1_types_dir
        types = load_policy_types(types_dir) if types_dir is not None and types_dir.is_dir() else {}
        headers = {"X-API-Key": config.ranopt_api_key} if config.ranopt_api_key else {}
        self.ric = NearRtRic(self.network, types, notify_headers=headers)

    # -- O1 ------------------------------------------------------------------------------

    def _on_commit(self, config: Config) -> None:
        self.network.set_config(config)

    def _groups(self) -> list[list[EmulatedElement]]:
        elements = list(self.topology.elements)
        return [[e] for e in elements] if self.config.o1_per_element else [elements]

    def build_endpoints(self) -> None:
        """One Datastores per endpoint, loaded from its durable state file if any."""
        initial = self.network.config
        for n, group in enumerate(self._groups()):
            objects = self.topology.objects_of({e.id for e in group})
            running = {k: v for k, v in initial.items() if k[0] in objects}
            store = Datastores(objects=objects, running=running,
                               state_file=self.config.run_dir / f"o1-state-{n}.json",
                               on_commit=self._on_commit)  # fmt: skip
            self.network.set_config(store.running)
            self.endpoints.append(
                Endpoint(
                    group,
                    store,
                    lambda: self.network.live,
                    self.topology.dn_prefix,
                    self.config.o1_base,
                )
            )

    # -- the clock -----------------------------------------------------------------------

    def start_s(self, interval: int) -> int:
        """Epoch seconds at which an interval starts."""
        return int(REFERENCE_MONDAY.timestamp()) + interval * self.interval_s

    def write_pm(self, result: IntervalResult) -> None:
        """Write one interval's TS 28.532 PM file (atomically: ``.part``, then renamed)."""
        start_s = self.start_s(result.interval)
        counters = output.cell_counters(result.kpis, self.num_prb, self.interval_s)
        reporting = [c for c in range(self.twin.num_cells) if c not in result.failed]
        body = output.pm_xml(start_s=start_s, interval_s=self.interval_s,
                             dn_prefix=self.topology.dn_prefix, cells=self.topology.cells,
                             counters=counters, reporting=reporting)  # fmt: skip
        name = output.pm_file_name(start_s, self.interval_s, self.config.network_name)
        tmp = self.config.run_dir / "pm" / (name + ".part")
        tmp.write_bytes(body)
        os.replace(tmp, tmp.with_suffix(""))

    def truth_text(self, result: IntervalResult, phase: str) -> str:
        """One interval's ground-truth line (``truth.jsonl``)."""
        k, ref = result.kpis, result.always_on
        return output.truth_line(
            interval=result.interval, start_s=self.start_s(result.interval), phase=phase,
            energy_kwh=k.energy_kwh[0], always_on_energy_kwh=ref.energy_kwh[0],
            served_mbit=k.served_mbps[0] * self.interval_s,
            always_on_served_mbit=ref.served_mbps[0] * self.interval_s,
            offered_mbit=k.offered_mbps[0] * self.interval_s, prb_load=k.prb_load[0],
            prb_over_limit=result.prb_over_limit.tolist(), violations=result.check.violations,
            asleep=result.asleep, failed=result.failed,
        )  # fmt: skip

    def append_truth(self, lines: list[str]) -> None:
        """Append ground-truth lines to ``truth.jsonl``."""
        if self.config.truth and lines:
            with (self.config.run_dir / "truth.jsonl").open("a") as handle:
                handle.write("".join(line + "\n" for line in lines))

    async def emit(self, result: IntervalResult, phase: str) -> None:
        """Write one interval's PM file / VES event and its ground-truth line."""
        if self.config.pm_files:
            self.write_pm(result)
        if self.ves_url and phase == "live":
            start_s = self.start_s(result.interval)
            counters = output.cell_counters(result.kpis, self.num_prb, self.interval_s)
            reporting = [c for c in range(self.twin.num_cells) if c not in result.failed]
            self.sequence += 1
            event = output.ves_perf3gpp(start_s=start_s, interval_s=self.interval_s,
                                        dn_prefix=self.topology.dn_prefix,
                                        cells=self.topology.cells, counters=counters,
                                        reporting=reporting, sequence=self.sequence)  # fmt: skip
            await self.post_ves(event)
        if self.config.truth:
            self.append_truth([self.truth_text(result, phase)])

    async def post_ves(self, event: dict[str, Any]) -> None:
        """POST one event to the collector, or keep it under RUN/ves when there is none."""
        url = self.ves_url
        if not url:
            name = f"{event['event']['commonEventHeader']['eventId']}.json"
            (self.config.run_dir / "ves" / name).write_text(json.dumps(event))
            return
        headers = {"X-API-Key": self.api_key} if self.api_key else {}
        try:
            async with httpx.AsyncClient(timeout=30.0) as client:
                response = await client.post(url, json=event, headers=headers)
            if response.status_code >= 300:
                logger.warning("VES collector answered %s: %s", response.status_code,
                               response.text[:300])  # fmt: skip
        except httpx.HTTPError as exc:
            logger.warning("VES collector unreachable: %s", type(exc).__name__)

    def run_history(self, first: int, stop: int) -> list[str]:
        """Run intervals ``[first, stop)`` with every cell on, write their PM files.

        Each interval's load fixed point starts from the previous one's PRB load. Returns the
        ground-truth lines (the caller appends them in order). No VES: a RAN sends its past
        as files, and the live clock does not move.
        """
        state = CellState.all_on(self.twin.num_cells)
        load: FloatArray | None = None
        lines: list[str] = []
        for k in range(first, stop):
            result = self.network.run_interval(k, state, counterfactual=False, initial_load=load)
            load = result.kpis.prb_load[0]
            if self.config.pm_files:
                self.write_pm(result)
            lines.append(self.truth_text(result, "history"))
        return lines

    async def backfill(self, days: int) -> None:
        """Write the past ``days`` days with every cell on (what the network did before).

        The days are independent (each day's demand comes from the seed and the day), so they
        run in parallel, one worker process per core (``backfill_workers``), each with the
        same twin (``_history_pool``).
        """
        ipd = self.twin.scenario.intervals_per_day
        first = self.next_interval - days * ipd
        spans = [(first + d * ipd, first + (d + 1) * ipd) for d in range(days)]
        workers = min(days, self.config.backfill_workers or os.cpu_count() or 1)
        loop = asyncio.get_running_loop()
        if workers <= 1:
            for a, b in spans:
                lines = await loop.run_in_executor(None, self.run_history, a, b)
                self.append_truth(lines)
            return
        with _history_pool(self, workers) as pool:
            days_lines = await asyncio.gather(
                *(loop.run_in_executor(pool, _history_span, a, b) for a, b in spans)
            )
        for lines in days_lines:
            self.append_truth(lines)

    async def step(self) -> IntervalResult:
        """Finish the interval in progress, emit it, and begin the next one."""
        async with self.step_lock:
            state = self.state if self.state is not None else self.network.begin_interval()
            k = self.next_interval
            loop = asyncio.get_running_loop()
            result = await loop.run_in_executor(None, self.network.run_interval, k, state)
            await self.emit(result, "live")
            self.next_interval = k + 1
            write_clock(self.config.run_dir, network=self.config.network_name,
                        interval_s=self.interval_s, next_interval=self.next_interval,
                        sequence=self.sequence)  # fmt: skip
            self.state = self.network.begin_interval()
            return result

    async def ticker(self) -> None:
        """Advance one interval every ``pace_s`` wall seconds."""
        began = time.monotonic()
        n = 0
        while True:
            n += 1
            await asyncio.sleep(max(0.0, began + n * self.config.pace_s - time.monotonic()))
            await self.step()

    # -- admin ---------------------------------------------------------------------------

    async def fault(self, cell_name: str, clear: bool) -> dict[str, Any]:
        """Fail a cell (it stops reporting, operationalState DISABLED, VES fault) or repair it."""
        cells = {c.name: c for c in self.topology.cells}
        cell = cells.get(cell_name)
        if cell is None:
            msg = f"no cell {cell_name!r}"
            raise LookupError(msg)
        with self.network.lock:
            (self.network.failed.discard if clear else self.network.failed.add)(cell.index)
            self.network.live = type(self.network.live)(
                failed=frozenset(self.network.failed), asleep=self.network.live.asleep,
                energy_saving=self.network.live.energy_saving,
            )  # fmt: skip
        self.sequence += 1
        event = output.ves_fault(cell=cell, dn_prefix=self.topology.dn_prefix,
                                 t_s=self.start_s(self.next_interval), cleared=clear,
                                 sequence=self.sequence)  # fmt: skip
        await self.post_ves(event)
        return {"cell": cell_name, "failed": not clear, "from_interval": self.next_interval}

    async def advance(self, intervals: int) -> dict[str, Any]:
        """Run ``intervals`` intervals now (manual pace)."""
        for _ in range(max(0, intervals)):
            await self.step()
        return self.status()

    def set_collector(self, url: str | None) -> dict[str, Any]:
        """Point the VES agent at ``url`` (None: keep events under ``RUN/ves``)."""
        self.ves_url = url
        return {"ves_url": url}

    def status(self) -> dict[str, Any]:
        """Where the clock stands."""
        return {
            "next_interval": self.next_interval,
            "next_start_s": self.start_s(self.next_interval),
            "failed": sorted(self.network.failed),
        }


async def run(config: EmulatorConfig) -> None:
    """Start everything, write ``endpoints.json``, then run until cancelled or signalled."""
    config.run_dir.mkdir(parents=True, exist_ok=True)
    emulator = Emulator(config)
    emulator.build_endpoints()
    if config.traffic and config.backfill_days > 0 and not emulator.resumed:
        await emulator.backfill(config.backfill_days)
    emulator.state = emulator.network.begin_interval()
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    listeners = []
    o1 = []
    for endpoint in emulator.endpoints:
        acceptor = await netconf.serve(endpoint, host=config.host, port=0,
                                       username=config.o1_username, password=emulator.password,
                                       host_key=host_key)  # fmt: skip
        listeners.append(acceptor)
        port = acceptor.sockets[0].getsockname()[1]
        o1.append(
            {"host": config.host, "port": port, "elements": [e.id for e in endpoint.elements]}
        )
    a1_sock, admin_sock = _free_socket(config.host), _free_socket(config.host)
    a1_server = uvicorn.Server(
        uvicorn.Config(a1_app(emulator.ric), log_level="warning", lifespan="off")
    )
    admin_server = uvicorn.Server(uvicorn.Config(
        admin_app(emulator.admin_token, fault=emulator.fault, advance=emulator.advance,
                  status=emulator.status, collector=emulator.set_collector),
        log_level="warning", lifespan="off",
    ))  # fmt: skip
    tasks = [asyncio.create_task(a1_server.serve(sockets=[a1_sock])),
             asyncio.create_task(admin_server.serve(sockets=[admin_sock]))]  # fmt: skip
    while not (a1_server.started and admin_server.started):
        await asyncio.sleep(0.01)
    run_dir = config.run_dir
    public_key = host_key.export_public_key().decode().strip()
    (run_dir / "known_hosts").write_text(
        "".join(f"[{e['host']}]:{e['port']} {public_key}\n" for e in o1)
    )
    (run_dir / "topology.json").write_text(
        emulator.topology.topology.model_dump_json(indent=1, exclude_none=True) + "\n"
    )
    _write_private(run_dir / "credentials.json", json.dumps(
        {"o1_username": config.o1_username, "o1_password": emulator.password,
         "admin_token": emulator.admin_token}
    ))  # fmt: skip
    a1_port, admin_port = a1_sock.getsockname()[1], admin_sock.getsockname()[1]
    endpoints = {
        "pid": os.getpid(), "network": config.network_name, "o1": o1,
        "host_key": public_key.split()[1],
        "a1": {"url": f"http://{config.host}:{a1_port}/A1-P/v2",
               "policy_types": sorted(emulator.ric.types)},
        "admin": {"url": f"http://{config.host}:{admin_port}/admin"},
        "interval_s": emulator.interval_s, "next_interval": emulator.next_interval,
        "num_cells": emulator.twin.num_cells, "pace_s": config.pace_s,
    }  # fmt: skip
    tmp = run_dir / "endpoints.json.part"
    tmp.write_text(json.dumps(endpoints, indent=1))
    os.replace(tmp, run_dir / "endpoints.json")
    if config.traffic and config.pace_s > 0:
        tasks.append(asyncio.create_task(emulator.ticker()))
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for acceptor in listeners:
            acceptor.close()
