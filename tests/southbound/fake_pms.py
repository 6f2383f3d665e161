"""A small A1 Policy Management Service (A1PMS API v3) on 127.0.0.1, for tests.

It stands in for an SMO's PMS, which lies outside ranopt: the calls ranopt makes
(``/policy-types``, ``/policy-types/{id}``, ``/policies`` create / list,
``/policies/{id}`` update / read / delete, ``/policies/{id}/status``) for one near-RT RIC,
instances checked against the O-RAN policy types, every request logged.
"""

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import uvicorn
from fastapi import Body, FastAPI, Request
from fastapi.responses import JSONResponse, Response

from ranopt.southbound.a1_types import instance_errors, load_policy_types

PREFIX = "/a1-policy-management/v1"


def _problem(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"status": status, "detail": detail}, status_code=status,
                        media_type="application/problem+json")  # fmt: skip


class FakePms:
    """Policies of one RIC, kept in memory; ``requests`` lists (method, path) as received."""

    def __init__(self, types_dir: Path, ric_id: str) -> None:
        self.types = load_policy_types(types_dir)
        self.ric_id = ric_id
        self.policies: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str]] = []
        self.app = self._build()
        self.base = ""
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def _build(self) -> FastAPI:
        app = FastAPI()

        @app.middleware("http")
        async def log(request: Request, call_next: Any) -> Any:
            self.requests.append((request.method, request.url.path.removeprefix(PREFIX)))
            return await call_next(request)

        @app.get(f"{PREFIX}/policy-types")
        def policy_types(nearRtRicId: str | None = None) -> Any:  # noqa: N803 - the API's name
            if nearRtRicId not in (None, self.ric_id):
                return _problem(404, f"no near-RT RIC {nearRtRicId}")
            return [{"policyTypeId": t, "nearRtRicId": self.ric_id} for t in sorted(self.types)]

        @app.get(f"{PREFIX}/policy-types/{{type_id}}")
        def policy_type(type_id: str) -> Any:
            found = self.types.get(type_id)
            return found if found is not None else _problem(404, f"no policy type {type_id}")

        def invalid(type_id: str, body: Any) -> JSONResponse | None:
            problem = instance_errors(self.types[type_id]["policySchema"], body)
            return None if problem is None else _problem(400, problem)

        @app.post(f"{PREFIX}/policies")
        def create(info: Annotated[dict[str, Any], Body()]) -> Any:
            type_id, ric = info.get("policyTypeId"), info.get("nearRtRicId")
            policy_id = info.get("policyId")
            if ric != self.ric_id:
                return _problem(404, f"no near-RT RIC {ric}")
            if type_id not in self.types:
                return _problem(404, f"no policy type {type_id}")
            if not isinstance(policy_id, str) or policy_id in self.policies:
                return _problem(409, f"policyId {policy_id} missing or taken")
            refused = invalid(type_id, info.get("policyObject"))
            if refused is not None:
                return refused
            self.policies[policy_id] = dict(info)
            return JSONResponse(info, status_code=201,
                                headers={"Location": f"{PREFIX}/policies/{policy_id}"})  # fmt: skip

        @app.get(f"{PREFIX}/policies")
        def list_ids(policyTypeId: str | None = None, nearRtRicId: str | None = None) -> Any:  # noqa: N803
            return [{"policyId": k, "nearRtRicId": v["nearRtRicId"]}
                    for k, v in sorted(self.policies.items())
                    if policyTypeId in (None, v["policyTypeId"])
                    and nearRtRicId in (None, v["nearRtRicId"])]  # fmt: skip

        @app.put(f"{PREFIX}/policies/{{policy_id}}")
        def update(policy_id: str, body: Annotated[dict[str, Any], Body()]) -> Any:
            held = self.policies.get(policy_id)
            if held is None:
                return _problem(404, f"no policy {policy_id}")
            refused = invalid(held["policyTypeId"], body)
            if refused is not None:
                return refused
            held["policyObject"] = body
            return body

        @app.get(f"{PREFIX}/policies/{{policy_id}}")
        def read(policy_id: str) -> Any:
            held = self.policies.get(policy_id)
            return _problem(404, f"no policy {policy_id}") if held is None else held["policyObject"]

        @app.get(f"{PREFIX}/policies/{{policy_id}}/status")
        def status(policy_id: str) -> Any:
            if policy_id not in self.policies:
                return _problem(404, f"no policy {policy_id}")
            return {"enforceStatus": "ENFORCED"}

        @app.delete(f"{PREFIX}/policies/{{policy_id}}")
        def delete(policy_id: str) -> Any:
            if self.policies.pop(policy_id, None) is None:
                return _problem(404, f"no policy {policy_id}")
            return Response(status_code=204)

        return app

    def start(self) -> "FakePms":
        config = uvicorn.Config(self.app, host="127.0.0.1", port=0, log_level="warning",
                                lifespan="off")  # fmt: skip
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            assert time.monotonic() < deadline, "fake PMS did not start"
            time.sleep(0.02)
        port = self._server.servers[0].sockets[0].getsockname()[1]
        self.base = f"http://127.0.0.1:{port}{PREFIX}"
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)


@contextmanager
def fake_pms(types_dir: Path, ric_id: str = "ric-1") -> Iterator[FakePms]:
    """A started fake PMS in front of the RIC ``ric_id``."""
    pms = FakePms(types_dir, ric_id).start()
    try:
        yield pms
    finally:
        pms.stop()
