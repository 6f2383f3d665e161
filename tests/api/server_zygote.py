"""A parent that has imported ranopt once and forks a real uvicorn server per request.

Tests that kill a server with SIGKILL need a fresh server per trial; starting Python and
importing ranopt takes seconds, forking this parent a fraction of one. Protocol on stdin and
stdout, one JSON line each: ``{"port": P, "env": {...}}`` -> ``{"pid": PID}``; the child sets
``env`` in its environment, builds the app from ``RANOPT_*`` like ``ranopt serve`` and serves
127.0.0.1:P until it is killed. The parent starts no thread before forking.
"""

import json
import os
import signal
import sys

import uvicorn
from sqlalchemy.orm import configure_mappers

from ranopt.api.app import create_app
from ranopt.api.settings import Settings


def _serve(port: int, env: dict[str, str]) -> None:
    os.environ.update(env)
    app = create_app(Settings())
    uvicorn.run(
        app, host="127.0.0.1", port=port, log_level="warning", access_log=False,
        lifespan="on", h11_max_incomplete_event_size=16 * 1024,
    )  # fmt: skip


def main() -> None:
    """Fork a server for each request line; children are reaped by the kernel."""
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    configure_mappers()  # once here, not in every child's first request
    sys.stdout.write('{"ready": true}\n')
    sys.stdout.flush()
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                _serve(int(request["port"]), dict(request["env"]))
            except BaseException:  # report, and leave without unwinding the parent
                code = 1
                import traceback

                traceback.print_exc()
            finally:
                os._exit(code)
        sys.stdout.write(json.dumps({"pid": pid}) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
