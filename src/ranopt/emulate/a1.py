"""The emulator's near-RT RIC: A1-P v2 (O-RAN.WG2.A1AP-v02.00) over HTTP, and its admin API.

Policy types are registered from their JSON schemas; an instance is validated against its
type's schema (400 with the field named when it does not fit), enforced from the next
interval, and its status (``ENFORCED`` / ``NOT_ENFORCED``) is POSTed to the
``notificationDestination`` the creator gave, with the emulator's ranopt credentials.
A traffic-steering preference becomes a CIO offset on the listed cells (``A1_STEERING_DB``); a
slice SLA target is checked for scope (its cells exist) and reported, not simulated.

The admin API (its own loopback port and bearer token) injects and clears cell faults and,
in manual pace, advances the clock.
"""

import asyncio
import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import httpx
from fastapi import Body, Depends, FastAPI, Header, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from ranopt.emulate.network import A1_STEERING_DB, EmulatedNetwork
from ranopt.southbound.a1_types import SLICE_SLA, TRAFFIC_STEERING, instance_errors

logger = logging.getLogger("ranopt.emulate.a1")
PROBLEM = "application/problem+json"


def _problem(status: int, detail: str, instance: str) -> JSONResponse:
    title = {400: "Bad request", 404: "Not found", 401: "Unauthorized"}.get(status, "Error")
    body = {"title": title, "status": status, "detail": detail, "instance": instance}
    return JSONResponse(body, status_code=status, media_type=PROBLEM)


class NearRtRic:
    """Policy types, instances and their enforcement against the emulated network."""

    def __init__(
        self,
        network: EmulatedNetwork,
        types: dict[str, dict[str, Any]],
        *,
        notify_headers: dict[str, str],
    ) -> None:
        self.network = network
        self.types = types
        self.policies: dict[str, dict[str, dict[str, Any]]] = {t: {} for t in types}
        self.destinations: dict[tuple[str, str], str] = {}
        self.status: dict[tuple[str, str], dict[str, str]] = {}
        self.notify_headers = notify_headers
        self.nci_index = {c.nci: c.index for c in network.topology.cells}
        self.notifications: list[asyncio.Task[None]] = []

    def enforce(self, type_id: str, policy_id: str, body: dict[str, Any]) -> dict[str, str]:
        """Apply a policy to the network (from the next interval) and return its status."""
        cells: list[int] = []
        unknown = 0
        resources = (
            body.get("tspResources", [])
            if type_id == TRAFFIC_STEERING
            else [body.get("sliceSlaResources", {})]
        )
        offsets: dict[int, float] = {}
        for resource in resources:
            for cell_id in resource.get("cellIdList", []):
                nci = cell_id.get("cId", {}).get("ncI")
                index = self.nci_index.get(nci)
                if index is None:
                    unknown += 1
                    continue
                cells.append(index)
                if type_id == TRAFFIC_STEERING:
                    offsets[index] = A1_STEERING_DB[resource["preference"]]
        if unknown or (type_id == TRAFFIC_STEERING and not cells):
            status = {"enforceStatus": "NOT_ENFORCED", "enforceReason": "SCOPE_NOT_APPLICABLE"}
        else:
            status = {"enforceStatus": "ENFORCED"}
        with self.network.lock:
            key = f"{type_id}/{policy_id}"
            if type_id == TRAFFIC_STEERING and status["enforceStatus"] == "ENFORCED":
                self.network.steering_db[key] = offsets
            else:
                self.network.steering_db.pop(key, None)
        return status

    def withdraw(self, type_id: str, policy_id: str) -> None:
        """Stop enforcing a deleted policy."""
        with self.network.lock:
            self.network.steering_db.pop(f"{type_id}/{policy_id}", None)

    async def notify(self, type_id: str, policy_id: str) -> None:
        """POST the policy's status to its notification destination (best effort, logged)."""
        url = self.destinations.get((type_id, policy_id))
        status = self.status.get((type_id, policy_id))
        if not url or status is None:
            return
        try:
            async with httpx.AsyncClient(timeout=5.0) as client:
                response = await client.post(url, json=status, headers=self.notify_headers)
            if response.status_code >= 300:
                logger.warning("A1 notification to %s answered %s", url, response.status_code)
        except httpx.HTTPError as exc:
            logger.warning("A1 notification to %s failed: %s", url, type(exc).__name__)


def a1_app(ric: NearRtRic) -> FastAPI:
    """Build the A1-P v2 API under ``/A1-P/v2``."""
    app = FastAPI(title="ranopt emulate near-RT RIC (A1-P v2)", docs_url=None, redoc_url=None)
    base = "/A1-P/v2"

    @app.get(f"{base}/policytypes")
    def policy_types() -> list[str]:
        return sorted(ric.types)

    @app.get(f"{base}/policytypes/{{type_id}}", response_model=None)
    def policy_type(type_id: str, request: Request) -> Any:
        if type_id not in ric.types:
            return _problem(404, f"no policy type {type_id}", request.url.path)
        return ric.types[type_id]

    @app.get(f"{base}/policytypes/{{type_id}}/policies", response_model=None)
    def policies(type_id: str, request: Request) -> Any:
        if type_id not in ric.types:
            return _problem(404, f"no policy type {type_id}", request.url.path)
        return sorted(ric.policies[type_id])

    @app.put(f"{base}/policytypes/{{type_id}}/policies/{{policy_id}}", response_model=None)
    async def put_policy(
        type_id: str, policy_id: str, request: Request,
        body: Annotated[Any, Body()], notificationDestination: str | None = None,  # noqa: N803
    ) -> Any:  # fmt: skip
        if type_id not in ric.types:
            return _problem(404, f"no policy type {type_id}", request.url.path)
        problem = instance_errors(ric.types[type_id]["policySchema"], body)
        if problem is not None:
            return _problem(400, f"policy does not match {type_id}: {problem}", request.url.path)
        created = policy_id not in ric.policies[type_id]
        ric.policies[type_id][policy_id] = body
        if notificationDestination:
            ric.destinations[(type_id, policy_id)] = notificationDestination
        ric.status[(type_id, policy_id)] = ric.enforce(type_id, policy_id, body)
        ric.notifications.append(asyncio.create_task(ric.notify(type_id, policy_id)))
        headers = {"Location": f"{request.url.path}"} if created else {}
        return JSONResponse(body, status_code=201 if created else 200, headers=headers)

    @app.get(f"{base}/policytypes/{{type_id}}/policies/{{policy_id}}", response_model=None)
    def get_policy(type_id: str, policy_id: str, request: Request) -> Any:
        policy = ric.policies.get(type_id, {}).get(policy_id)
        if policy is None:
            return _problem(404, f"no policy {policy_id} of type {type_id}", request.url.path)
        return policy

    @app.delete(f"{base}/policytypes/{{type_id}}/policies/{{policy_id}}", response_model=None)
    def delete_policy(type_id: str, policy_id: str, request: Request) -> Any:
        if policy_id not in ric.policies.get(type_id, {}):
            return _problem(404, f"no policy {policy_id} of type {type_id}", request.url.path)
        del ric.policies[type_id][policy_id]
        ric.status.pop((type_id, policy_id), None)
        ric.destinations.pop((type_id, policy_id), None)
        ric.withdraw(type_id, policy_id)
        return Response(status_code=204)

    @app.get(f"{base}/policytypes/{{type_id}}/policies/{{policy_id}}/status", response_model=None)
    def policy_status(type_id: str, policy_id: str, request: Request) -> Any:
        status = ric.status.get((type_id, policy_id))
        if status is None:
            return _problem(404, f"no policy {policy_id} of type {type_id}", request.url.path)
        return status

    return app


class VesCollectorIn(BaseModel):
    """Where the emulated RAN posts its VES events (``None``: nowhere, kept as files)."""

    model_config = ConfigDict(extra="forbid")
    url: str | None = Field(default=None, pattern=r"^https?://", max_length=2000)


def admin_app(
    token: str,
    *,
    fault: Callable[[str, bool], Awaitable[dict[str, Any]]],
    advance: Callable[[int], Awaitable[dict[str, Any]]],
    status: Callable[[], dict[str, Any]],
    collector: Callable[[str | None], dict[str, Any]] | None = None,
) -> FastAPI:
    """Build the emulator's admin API: fault injection, manual clock, status (bearer token).

    ``collector`` (``POST /admin/ves``) points the RAN's VES agent at a collector URL (or none:
    events kept under ``RUN/ves``), as an operator configures where a RAN streams its events.
    """
    app = FastAPI(title="ranopt emulate admin", docs_url=None, redoc_url=None, openapi_url=None)

    def authorised(authorization: Annotated[str, Header()] = "") -> None:
        scheme, _, given = authorization.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.encode(), token.encode()):
            raise PermissionError

    @app.exception_handler(PermissionError)
    async def _denied(request: Request, _exc: PermissionError) -> JSONResponse:
        return _problem(401, "admin token required", request.url.path)

    @app.exception_handler(LookupError)
    async def _unknown(request: Request, exc: LookupError) -> JSONResponse:
        return _problem(404, str(exc), request.url.path)

    @app.post("/admin/fault", dependencies=[Depends(authorised)])
    async def inject(body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
        return await fault(str(body.get("cell", "")), bool(body.get("clear", False)))

    @app.post("/admin/advance", dependencies=[Depends(authorised)])
    async def step(body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
        return await advance(int(body.get("intervals", 1)))

    @app.get("/admin/status", dependencies=[Depends(authorised)])
    def show() -> dict[str, Any]:
        return status()

    if collector is not None:
        set_collector = collector

        @app.post("/admin/ves", dependencies=[Depends(authorised)])
        def ves(body: Annotated[VesCollectorIn, Body()]) -> dict[str, Any]:
            return set_collector(body.url)

    return app


__all__ = ["SLICE_SLA", "TRAFFIC_STEERING", "NearRtRic", "a1_app", "admin_app"]
