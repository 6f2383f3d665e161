"""``ranopt demo``: ranopt against an emulated RAN over O1 and VES, as it would run on a RAN.

The demo starts ``ranopt emulate`` as a child process on 127.0.0.1 with a random seed of its
own (the planner never sees it), which back-fills the past days' PM files with every cell on.
Then, as an operator would: register the network from its planning export (the emulator's
``topology.json``), point it at the emulator's O1 endpoints, discover it over O1 (NETCONF),
ingest the back-filled PM files, and switch the closed loop on. The loop (in this process,
beside the API and dashboard) calibrates the model from the counters, plans on it, and
commits sleep / wake over O1; the emulator's counters come back as VES events. The demo's
clock: the emulator runs one 15-minute interval each time the loop has accounted the last one,
at most one every ``--tick-s`` seconds. ``--twin`` runs the earlier twin-internal loop.
"""

import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from pydantic import SecretStr
from rich.console import Console

from ranopt.api.security import new_api_key, password_hasher
from ranopt.api.settings import Settings
from ranopt.cli.common import now_s
from ranopt.cli.loop import demo as twin_demo
from ranopt.cli.loop import ensure_demo_users, print_logins, settings_or_exit
from ranopt.store import accounts, loops
from ranopt.store import calibration as store_cal
from ranopt.store import repository as repo
from ranopt.store import southbound as sb
from ranopt.store.config import data_dir
from ranopt.store.engine import Store, make_engine, open_store, upgrade
from ranopt.store.schemas import TopologyIn

console = Console()
RAN_PREFIX = "ran-"  # the demo's emulated networks: ran-1, ran-2, ... (one per `ranopt demo`)
# 7 sites (42 cells) at the default preset's UE density (4 000 UEs on 19 sites): its first
# plan comes within a minute on 2 cores; the whole preset (--sites 19 --ues 4000) is slower
# to calibrate (docs/loop.md)
DEMO_SITES, DEMO_UES = 7, 1500
DEFAULT_BACKFILL_DAYS = 7  # calibration's minimum (CalibrationConfig.min_days), whole days
EMULATOR_START_S = 180.0  # the emulator's back-fill and start, at most (wall seconds)
CATCH_UP_S = 60.0  # the emulator waits this long at most for the loop to account an interval
SIGNAL_EXIT = 128


@dataclass
class DemoEmulator:
    """The ``ranopt emulate`` child process and its run directory."""

    run_dir: Path
    args: list[str]
    proc: subprocess.Popen[bytes] | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def start(self, stop: threading.Event) -> None:
        """Start it and wait until it listens (``endpoints.json``: written last)."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        log = (self.run_dir / "emulator.log").open("ab")
        self.proc = subprocess.Popen(  # noqa: S603 - our own CLI, fixed arguments
            [sys.executable, "-m", "ranopt.cli.main", "emulate", "run", "--run-dir",
             str(self.run_dir), *self.args],
            stdout=log, stderr=log, start_new_session=True,  # Ctrl-C is the demo's to pass on
        )  # fmt: skip
        log.close()
        deadline = time.monotonic() + EMULATOR_START_S
        while not (self.run_dir / "endpoints.json").exists():
            if self.proc.poll() is not None:
                tail = (self.run_dir / "emulator.log").read_text()[-2000:]
                msg = f"the emulator exited ({self.proc.returncode}): {tail}"
                raise RuntimeError(msg)
            if stop.is_set():
                msg = "stopped while the emulator started"
                raise RuntimeError(msg)
            if time.monotonic() > deadline:
                msg = f"the emulator did not start in {EMULATOR_START_S:g} s"
                raise RuntimeError(msg)
            time.sleep(0.1)
        self.info = json.loads((self.run_dir / "endpoints.json").read_text())

    def stop(self) -> None:
        """Stop it and its back-fill workers (SIGINT to its process group, as Ctrl-C would).

        Killed if it lingers.
        """
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGINT)  # its own session: the group is its own
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    @property
    def credentials(self) -> dict[str, str]:
        """O1 username / password and the admin token (``credentials.json``)."""
        loaded: dict[str, str] = json.loads((self.run_dir / "credentials.json").read_text())
        return loaded

    def admin(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """Call the emulator's admin API (advance, status, ves)."""
        url = self.info["admin"]["url"] + path
        headers = {"Authorization": f"Bearer {self.credentials['admin_token']}"}
        response = (httpx.post(url, json=body, headers=headers, timeout=120.0) if body is not None
                    else httpx.get(url, headers=headers, timeout=30.0))  # fmt: skip
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result


def emulator_start() -> datetime:
    """Today 00:00 UTC: the back-fill is whole days, and the loop begins at night."""
    return datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _network_time(t_s: int) -> str:
    return datetime.fromtimestamp(t_s, UTC).strftime("%a %d %b %H:%M")


def _new_network_name(store: Store, tenant_id: int) -> str:
    """Return the next ``ran-N`` name and switch off the loops of earlier demo RANs."""
    with store.transaction() as session:
        names = [n.name for n in repo.list_networks(session, tenant_id=tenant_id)]
        for net in repo.list_networks(session, tenant_id=tenant_id):
            if not net.name.startswith(RAN_PREFIX):
                continue
            try:
                old = loops.loop_settings(session, tenant_id=tenant_id, network_id=net.id)
            except repo.NotFoundError:
                continue
            if old.enabled:  # its emulator is gone with the run that started it
                loops.configure_loop(
                    session, tenant_id=tenant_id, network_id=net.id, enabled=False,
                    auto_apply=old.auto_apply, confidence_threshold=old.confidence_threshold,
                    solver=old.solver, horizon_intervals=old.horizon_intervals, now_s=now_s(),
                )  # fmt: skip
    n = 1
    while f"{RAN_PREFIX}{n}" in names:
        n += 1
    return f"{RAN_PREFIX}{n}"


def _ves_key(store: Store, settings: Settings, tenant_id: int, path: Path) -> None:
    """Make the API key the emulator signs its VES events with; write it to ``path`` (0600)."""
    made = new_api_key(password_hasher(settings))
    with store.transaction() as session:
        accounts.create_api_key(
            session, tenant_id=tenant_id, name=f"demo-ves-{path.parent.name}",
            prefix=made.prefix, secret_hash=made.secret_hash, role="network_admin",
            now_s=now_s(),
        )  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(made.token)


@dataclass
class DemoOptions:
    """What the RAN demo runs: the emulated network, its back-fill and the clock."""

    scenario: str
    sites: int
    ues: int
    backfill_days: int
    tick_s: float
    host: str
    port: int


class RanDemo:
    """Set the emulated RAN up as an operator would, then drive its clock and report."""

    def __init__(
        self, store: Store, settings: Settings, tenant_id: int, options: DemoOptions
    ) -> None:
        self.store = store
        self.settings = settings
        self.tenant_id = tenant_id
        self.options = options
        self.stop = threading.Event()
        self.began = time.monotonic()
        self.name = _new_network_name(store, tenant_id)
        self.network_id = 0
        self.emulator: DemoEmulator | None = None
        self.error: BaseException | None = None
        self._seen_run = 0
        self._seen_report = 0
        self._seen_tx = 0
        self._first_plan_s: float | None = None

    def elapsed(self) -> str:
        """Wall seconds since ``ranopt demo`` started, as the log prefix shows them."""
        return f"[dim]{time.monotonic() - self.began:6.1f} s[/]"

    def say(self, text: str) -> None:
        """Print one line of what happens."""
        console.print(f"{self.elapsed()}  {text}")

    # -- set-up ------------------------------------------------------------------------------

    def start_emulator(
        self, *, seed: int | None = None, start: datetime | None = None
    ) -> DemoEmulator:
        """Start ``ranopt emulate`` with a seed of its own and a back-fill.

        ``seed`` and ``start`` (its first live interval) are for a benchmark that must rebuild
        the same network beside it; by default a random seed and today 00:00 UTC. Either way
        the seed goes to the emulator's command line only, never to the planner.
        """
        run_dir = data_dir().resolve() / "demo-ran" / self.name
        key_file = run_dir / "ves-api-key"
        _ves_key(self.store, self.settings, self.tenant_id, key_file)
        if seed is None:
            seed = secrets.randbelow(2**31)  # the emulator's alone: never given to the planner
        live_start = emulator_start() if start is None else start
        o = self.options
        args = [
            "--scenario", o.scenario, "--seed", str(seed), "--name", self.name, "--pace", "0",
            "--start", live_start.isoformat(), "--backfill-days", str(o.backfill_days),
            "--api-key-file", str(key_file),
            "--sites", str(o.sites), "--ues", str(o.ues),
        ]  # fmt: skip
        emulator = DemoEmulator(run_dir, args)
        self.emulator = emulator
        began = time.monotonic()
        with console.status(f"emulator: building the RAN and back-filling {o.backfill_days} days"
                            " of PM files (every cell on)…"):  # fmt: skip
            emulator.start(self.stop)
        files = len(list((run_dir / "pm").glob("*.xml")))
        self.say(
            f"emulator [cyan]{self.name}[/] up on 127.0.0.1 (pid {emulator.info['pid']}): "
            f"{emulator.info['num_cells']} cells, {len(emulator.info['o1'])} O1 NETCONF "
            f"endpoints, {files} PM files back-filled in {time.monotonic() - began:.1f} s; "
            "its seed stays with it"
        )
        return emulator

    def register_and_discover(self, emulator: DemoEmulator) -> None:
        """Register the network from its planning export, point it at O1 and discover it."""
        from ranopt.service.southbound import discover  # noqa: PLC0415

        topology = TopologyIn.model_validate_json((emulator.run_dir / "topology.json").read_text())
        creds = emulator.credentials
        endpoints = [
            sb.O1EndpointIn(host=e["host"], port=e["port"], username=creds["o1_username"],
                            password=SecretStr(creds["o1_password"]),
                            host_key=emulator.info["host_key"])
            for e in emulator.info["o1"]
        ]  # fmt: skip
        with self.store.transaction() as session:
            net = repo.create_network(session, tenant_id=self.tenant_id, topology=topology,
                                      now_s=now_s(), name=self.name)  # fmt: skip
            self.network_id = net.id
            sb.set_southbound(session, tenant_id=self.tenant_id, network_id=net.id,
                              settings=sb.SouthboundIn(kind="o1", o1=endpoints),
                              keyring=self.settings.keyring(), now_s=now_s())  # fmt: skip
        began = time.monotonic()
        report = discover(self.store, tenant_id=self.tenant_id, network_id=self.network_id,
                          keyring=self.settings.keyring(), supplement=topology, now_s=now_s(),
                          actor="cli:demo")  # fmt: skip
        self.say(
            f"discovered [bold]{report.num_cells}[/] cells on {report.num_elements} "
            f"ManagedElements over O1 in {time.monotonic() - began:.1f} s"
        )

    def ingest_backfill(self, emulator: DemoEmulator) -> None:
        """Ingest the back-filled PM files (one transaction, each file validated)."""
        from ranopt.ingest.pipeline import ingest_files  # noqa: PLC0415

        files = sorted((emulator.run_dir / "pm").glob("*.xml"))
        began = time.monotonic()
        with console.status(f"ingesting {len(files)} PM files…"):
            result = ingest_files(self.store, files, tenant_id=self.tenant_id, network=self.name)
        days = len(files) * emulator.info["interval_s"] / 86400
        self.say(
            f"ingested [bold]{days:g} days[/] of counters ({len(files)} TS 28.532 files, "
            f"{result.num_samples} samples) in {time.monotonic() - began:.1f} s"
        )

    def start_loop(self, emulator: DemoEmulator) -> None:
        """Point the emulator's VES at ranopt's listener and switch the closed loop on."""
        ves = (f"http://{self.options.host}:{self.options.port}/eventListener/v7"
               f"?network_id={self.network_id}")  # fmt: skip
        emulator.admin("/ves", {"url": ves})
        self.switch_loop_on()
        self.say(
            "closed loop on (auto-apply at confidence ≥ 0.9): it calibrates the model from the "
            "counters, plans the next hour, commits sleep / wake over O1; counters return as VES"
        )

    def switch_loop_on(self) -> None:
        """Enable the network's closed loop: auto-apply at confidence ≥ 0.9, greedy, 1 hour."""
        with self.store.transaction() as session:
            loops.configure_loop(
                session, tenant_id=self.tenant_id, network_id=self.network_id, enabled=True,
                auto_apply=True, confidence_threshold=0.9, solver="greedy",
                horizon_intervals=4, now_s=now_s(),
            )  # fmt: skip

    # -- the clock and the report -----------------------------------------------------------

    def loop_caught_up(self, emulator: DemoEmulator, emitted: int) -> bool:
        """Whether the loop has accounted the emulator's newest interval."""
        with self.store.transaction() as session:
            settings = loops.loop_settings(session, tenant_id=self.tenant_id,
                                           network_id=self.network_id)  # fmt: skip
        if settings.next_interval == 0:
            return False  # the loop has not started its clock yet
        accounted_until_s = settings.epoch_s + settings.next_interval * emulator.info["interval_s"]
        return bool(accounted_until_s > emitted)

    def report(self) -> None:
        """Print calibrations, plans and O1 commits the loop made since the last call."""
        with self.store.transaction() as session:
            reports = store_cal.reports_since(session, tenant_id=self.tenant_id,
                                              network_id=self.network_id,
                                              after_id=self._seen_report)  # fmt: skip
            made = [
                r
                for status in ("applied", "awaiting_approval", "rejected")
                for r in loops.loop_runs(
                    session,
                    tenant_id=self.tenant_id,
                    network_id=self.network_id,
                    status=status,
                    since_id=self._seen_run,
                )
            ]
            txs = [
                t
                for t in sb.list_transactions(
                    session, tenant_id=self.tenant_id, network_id=self.network_id
                )
                if t.id > self._seen_tx
            ]
        for r in reports:
            word = "recalibrated" if self._seen_report else "calibrated"
            self._seen_report = r.id
            wape = "n/a" if r.prb_load_wape is None else f"{100 * r.prb_load_wape:.1f} %"
            self.say(
                f"{word} the model on {r.days_found:g} days of counters up to "
                f"{_network_time(r.data_end_s)}: per-cell PRB-load WAPE [bold]{wape}[/] on "
                "held-out days (target ≤ 15 %)"
            )
        for run in sorted(made, key=lambda r: r.id):
            self._seen_run = max(self._seen_run, run.id)
            window = (run.plan or {}).get("window") or {}
            asleep = window.get("asleep") or [[]]
            first = window.get("start_s")
            when = "" if first is None else f" from {_network_time(int(first))}"
            first_applied = run.status == "applied" and self._first_plan_s is None
            if first_applied:
                self._first_plan_s = time.monotonic() - self.began
            verb = {"applied": "[green]applied[/]", "awaiting_approval": "[yellow]awaits "
                    "approval[/]"}.get(run.status, run.status)  # fmt: skip
            confidence = "n/a" if run.confidence is None else f"{run.confidence:.2f}"
            self.say(
                f"plan #{run.id} {verb}{when}: {len(asleep[0])} cells asleep in its first "
                f"interval, confidence [bold]{confidence}[/]"
                + (" (the first plan applied since `ranopt demo` started)" if first_applied else "")
            )
        if txs:
            self._seen_tx = max(t.id for t in txs)
            done = sum(t.outcome == "applied" for t in txs)
            edits = sum(t.num_edits for t in txs)
            self.say(
                f"O1: {done}/{len(txs)} NETCONF transactions committed ({edits} edits, "
                "sleep / wake)"
            )

    def drive(self) -> None:
        """Set up, then run the emulator's clock; what happens is printed as it happens."""
        try:
            emulator = self.start_emulator()
            self.register_and_discover(emulator)
            self.ingest_backfill(emulator)
            self.start_loop(emulator)
            interval_s = int(emulator.info["interval_s"])
            next_interval = int(emulator.info["next_interval"])
            emitted = -1  # start (epoch s) of the newest interval the emulator ran
            last = 0.0
            waited_since = time.monotonic()
            while not self.stop.is_set():
                self.report()
                # the first interval once the loop has set its clock, then each once the
                # loop has accounted the last (a RAN would not wait: at most CATCH_UP_S)
                caught_up = (self.loop_started() if emitted < 0
                             else self.loop_caught_up(emulator, emitted))  # fmt: skip
                late = emitted >= 0 and time.monotonic() - waited_since > CATCH_UP_S
                if (caught_up or late) and time.monotonic() - last >= self.options.tick_s:
                    status = emulator.admin("/advance", {"intervals": 1})
                    emitted = int(status["next_start_s"]) - interval_s
                    last = waited_since = time.monotonic()
                    next_interval = int(status["next_interval"])
                    if next_interval % (86400 // interval_s) == 0:
                        day_s = int(status["next_start_s"])
                        self.say(day_summary(emulator.run_dir, day_s - 86400, day_s))
                        self.say(f"[bold]network day {_network_time(day_s)}[/] begins")
                self.stop.wait(0.1)
        except Exception as exc:  # reported, and the demo stops
            self.error = exc
            self.stop.set()

    def loop_started(self) -> bool:
        """Whether the loop has set its clock after the back-filled counters."""
        with self.store.transaction() as session:
            return bool(
                loops.loop_settings(
                    session, tenant_id=self.tenant_id, network_id=self.network_id
                ).next_interval
                > 0
            )

    @property
    def first_plan_s(self) -> float | None:
        """Wall seconds from the start to the first applied plan (None before it)."""
        return self._first_plan_s


def day_summary(run_dir: Path, start_s: int, end_s: int) -> str:
    """Return the emulator's own verdict on its live intervals in ``[start_s, end_s)``.

    From its ground truth (``truth.jsonl``), which ranopt never reads: energy against its
    always-on counterfactual on the same demand, and QoS violations by its judgement.
    """
    energy = always_on = 0.0
    intervals = violations = 0
    with (run_dir / "truth.jsonl").open() as handle:
        for line in handle:
            if '"live"' not in line:
                continue
            row = json.loads(line)
            if start_s <= row["start_s"] < end_s:
                intervals += 1
                energy += sum(row["energy_kwh"])
                always_on += sum(row["always_on_energy_kwh"])
                violations += bool(row["violations"])
    saving = 100.0 * (1.0 - energy / always_on) if always_on > 0 else 0.0
    return (
        f"the emulator's ground truth (ranopt never reads it) for {intervals} intervals to "
        f"{_network_time(end_s)}: {energy:.1f} kWh against {always_on:.1f} kWh always-on "
        f"([bold]{saving:.1f} %[/] saved), {violations} intervals with a QoS violation"
    )


def demo(
    twin: Annotated[
        bool, typer.Option("--twin", help="The twin-internal loop instead (no emulator, no O1).")
    ] = False,
    tick_s: Annotated[
        float,
        typer.Option("--tick-s", min=0.05, help="Wall seconds per 15-minute interval, at least."),
    ] = 1.0,
    host: Annotated[str, typer.Option("--host", help="Bind address.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port.")] = 8000,
    scenario: Annotated[str, typer.Option(help="Emulated network: default, medium, large.")] = (
        "default"
    ),
    sites: Annotated[int, typer.Option(help="Emulated sites (6 cells each).")] = DEMO_SITES,
    ues: Annotated[int, typer.Option(help="Emulated UEs.")] = DEMO_UES,
    backfill_days: Annotated[
        int,
        typer.Option(
            min=3,
            help="Days the emulator back-fills (under 7: calibration asks no more).",
        ),
    ] = DEFAULT_BACKFILL_DAYS,
) -> None:
    """Run ranopt against an emulated RAN over O1 and VES, with API and dashboard."""
    if twin:
        twin_demo(tick_s=tick_s, host=host, port=port)
        return
    import uvicorn  # noqa: PLC0415 - only this command needs the server

    from ranopt.api.app import create_app  # noqa: PLC0415
    from ranopt.cli.highs import silence_highs_banner  # noqa: PLC0415

    # calibration needs 7 days (its default minimum); a shorter back-fill lowers it with itself
    min_days = min(float(DEFAULT_BACKFILL_DAYS), float(backfill_days))
    settings = settings_or_exit(
        loop_enabled=True, loop_tick_s=0.2, host=host, port=port, calibration_min_days=min_days
    )
    engine = make_engine(settings.database_url)
    upgrade(engine)
    engine.dispose()
    store = open_store(settings.database_url)
    tenant_id, passwords = ensure_demo_users(store, settings)
    options = DemoOptions(scenario=scenario, sites=sites, ues=ues, backfill_days=backfill_days,
                          tick_s=tick_s, host=host, port=port)  # fmt: skip
    ran = RanDemo(store, settings, tenant_id, options)
    console.print(f"[bold]ranopt demo[/] — an emulated RAN ([cyan]{ran.name}[/]) over O1 and VES")
    console.print(f"  data      {settings.database_url}")
    print_logins(console, passwords, host, port)
    console.print(
        f"  time      the emulator runs one 15-minute interval once the loop has accounted the "
        f"last, at most one every {tick_s:g} s; Ctrl-C stops both"
    )
    silence_highs_banner()  # the loop's solvers run in this process
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host=host, port=port, log_level="warning")
    )
    _stop_on_signals(ran)
    serving = threading.Thread(target=server.run, name="ranopt-serve", daemon=True)
    serving.start()
    driver = threading.Thread(target=ran.drive, name="ranopt-demo", daemon=True)
    try:
        while not server.started:
            if not serving.is_alive():
                typer.echo(f"the server did not start on {host}:{port}", err=True)
                raise typer.Exit(1)
            time.sleep(0.05)
        driver.start()
        while not ran.stop.is_set():
            ran.stop.wait(0.2)
        if ran.error is not None:
            console.print(f"[red]demo stopped: {ran.error}[/]")
            raise typer.Exit(1)
    except KeyboardInterrupt:
        console.print("stopping…")
    finally:
        ran.stop.set()
        if driver.is_alive():
            driver.join(30)
        server.should_exit = True  # the loop first: it would send to a stopped emulator
        serving.join(30)
        if ran.emulator is not None:
            ran.emulator.stop()
        store.dispose()
    console.print("demo stopped: emulator and server closed")


def _stop_on_signals(ran: RanDemo) -> None:
    """Ctrl-C (SIGINT) and SIGTERM stop the demo.

    SIGINT gets Python's handler even where it came ignored from the parent (a job started
    with `&` by a non-interactive shell, which a test or script may be); SIGTERM is what a
    service manager sends.
    """
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: ran.stop.set())
