"""One ``ranopt emulate`` process per module (real sockets, loopback only)."""

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from ranopt.southbound.o1 import O1Endpoint, RetryPolicy

START = "2026-01-12T00:00:00+00:00"


class RunningEmulator:
    """A started emulator: its process, run directory and endpoints."""

    def __init__(self, run_dir: Path, args: list[str]) -> None:
        self.run_dir = run_dir
        self.args = args
        self.proc: subprocess.Popen[bytes] | None = None
        self.info: dict[str, Any] = {}

    def start(self) -> "RunningEmulator":
        (self.run_dir / "endpoints.json").unlink(missing_ok=True)
        self.proc = subprocess.Popen(  # noqa: S603 - our own CLI
            [sys.executable, "-m", "ranopt.cli.main", "emulate", "run", "--run-dir",
             str(self.run_dir), *self.args],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        deadline = time.monotonic() + 120
        while not (self.run_dir / "endpoints.json").exists():
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                raise RuntimeError(f"emulator exited: {err[-2000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError("emulator did not start in 120 s")
            time.sleep(0.05)
        self.info = json.loads((self.run_dir / "endpoints.json").read_text())
        return self

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        if self.proc is not None and self.proc.stderr is not None:
            self.proc.stderr.close()

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
        if self.proc.stderr is not None:
            self.proc.stderr.close()

    @property
    def password(self) -> str:
        return str(json.loads((self.run_dir / "credentials.json").read_text())["o1_password"])

    def endpoints(self) -> dict[str, O1Endpoint]:
        """ManagedElement id -> its endpoint."""
        out = {}
        for e in self.info["o1"]:
            endpoint = O1Endpoint(
                host=e["host"],
                port=e["port"],
                username="ranopt",
                password=SecretStr(self.password),
                host_key=self.info["host_key"],
                timeout_s=5.0,
                retry=RetryPolicy(attempts=2, backoff_s=0.05),
            )
            for element in e["elements"]:
                out[element] = endpoint
        return out


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    """The default network (19 gNBs, 114 cells), manual clock, one endpoint per gNB."""
    run = RunningEmulator(tmp_path_factory.mktemp("emu"),
                          ["--pace", "0", "--start", START, "--no-pm-files"]).start()  # fmt: skip
    yield run
    run.stop()
