"""What the HTTP benchmarks share: a free loopback port and a ``ranopt serve`` child process.

``benchmarks/api.py``, ``fuzz.py`` and ``hardening.py`` each start the real server the way an
operator would (the console script of this virtual environment) and wait for ``/ready``.
"""

import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import httpx


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_serve(
    port: int,
    env: dict[str, str],
    *,
    workers: int = 1,
    ready_s: float = 60.0,
    stdout: int | IO[bytes] | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``ranopt serve`` on 127.0.0.1:``port`` with ``env``; return once ``/ready`` is 200.

    The process is killed and ``RuntimeError`` raised when it is not ready within ``ready_s``.
    """
    ranopt = str(Path(sys.executable).with_name("ranopt"))
    cmd = [ranopt, "serve", "--host", "127.0.0.1", "--port", str(port)]
    if workers != 1:
        cmd += ["--workers", str(workers)]
    proc = subprocess.Popen(cmd, env=env, stdout=stdout)
    deadline = time.monotonic() + ready_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    proc.kill()
    msg = f"ranopt serve on port {port} did not become ready in {ready_s:.0f} s"
    raise RuntimeError(msg)
