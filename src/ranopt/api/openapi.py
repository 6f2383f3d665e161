"""The OpenAPI document, made true: every error an operation can answer, and links between them.

FastAPI documents the success answer and a 422 in its own ``application/json`` shape; ranopt
answers every error as ``application/problem+json`` (``ranopt.api.errors``). ``install``
replaces the generated document by one where each operation lists the problems it can
answer, each with the ``Problem`` schema and the headers that come with it:

- every operation: 500; every operation that reads the database: 503;
- guarded operations (all but ``PUBLIC_PATHS``): 401 (``WWW-Authenticate``), 403, 429
  (``Retry-After``); guarded writes also 409 (a conflict with data written meanwhile);
- an operation naming a resource (a path parameter, an ``*_id`` query or a body): 404;
- an operation with parameters or a body: 422; with a body: 400 (unreadable or too deep
  JSON) and 413 (larger than its cap);
- what a route declares itself (``problem_responses``: 409, 429, ...).

A path answers 405 with ``Allow`` (every method it has) for a method it lacks. OpenAPI
``links`` connect each created or listed resource to the operations that take its id, so a
client (or schemathesis' stateful tests) can walk from one to the next.
"""

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from ranopt.api.errors import PROBLEM_JSON, TITLES, ProblemOut
from ranopt.api.permissions import PUBLIC_PATHS

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
NO_DATABASE = frozenset({"/health", "/metrics"})
WRITE_METHODS = frozenset({"post", "put", "patch", "delete"})
HEADERS: dict[int, dict[str, Any]] = {
    401: {
        "WWW-Authenticate": {
            "description": "the authentication scheme to use",
            "schema": {"type": "string"},
        }
    },
    429: {
        "Retry-After": {
            "description": "seconds to wait before retrying",
            "schema": {"type": "integer"},
        }
    },
    202: {
        "Location": {
            "description": "where to poll the accepted work's status",
            "schema": {"type": "string"},
        }
    },
}

NETWORK = "/api/v2/networks/{network_id}"
# (source method, source path, status) -> link name -> (target method, target path, params)
NETWORK_OPERATIONS = (
    ("get", NETWORK),
    ("delete", NETWORK),
    ("get", f"{NETWORK}/sites"),
    ("get", f"{NETWORK}/cells"),
    ("post", f"{NETWORK}/telemetry"),
    ("get", f"{NETWORK}/kpis/series"),
    ("get", f"{NETWORK}/kpis/aggregate"),
    ("get", f"{NETWORK}/loop"),
    ("put", f"{NETWORK}/loop"),
    ("get", f"{NETWORK}/live"),
    ("get", f"{NETWORK}/loop/kpis"),
    ("get", f"{NETWORK}/loop/energy"),
    ("get", f"{NETWORK}/faults"),
    ("post", f"{NETWORK}/faults"),
    ("get", f"{NETWORK}/alerts"),
    ("get", f"{NETWORK}/southbound"),
    ("put", f"{NETWORK}/southbound"),
    ("post", f"{NETWORK}/discover"),
    ("get", f"{NETWORK}/southbound/transactions"),
    ("post", f"{NETWORK}/a1/notifications"),
    ("get", f"{NETWORK}/a1/policies"),
    ("get", f"{NETWORK}/calibration"),
    ("post", f"{NETWORK}/calibration"),
    ("get", f"{NETWORK}/anomalies"),
)
Link = tuple[str, str, dict[str, str]]


def _network_links(expression: str) -> dict[str, Link]:
    links: dict[str, Link] = {
        f"{method}{path.removeprefix(NETWORK).replace('/', '_') or '_network'}": (
            method, path, {"network_id": expression},
        )
        for method, path in NETWORK_OPERATIONS
    }  # fmt: skip
    links["get_optimizations"] = ("get", "/api/v2/optimizations", {"network_id": expression})
    links["post_ves_event"] = ("post", "/eventListener/v7", {"network_id": expression})
    links["post_ves_batch"] = ("post", "/eventListener/v7/eventBatch", {"network_id": expression})
    return links


def _run_links(expression: str) -> dict[str, Link]:
    run = "/api/v2/optimizations/{run_id}"
    return {
        "get_run": ("get", run, {"run_id": expression}),
        "apply_run": ("post", f"{run}/apply", {"run_id": expression}),
        "reject_run": ("post", f"{run}/reject", {"run_id": expression}),
    }


def _policy_links(body: str) -> dict[str, Link]:
    policy = f"{NETWORK}/a1/policies/{{policy_type}}/{{policy_id}}"
    parameters = {
        "network_id": "$request.path.network_id",
        "policy_type": f"{body}/policy_type",
        "policy_id": f"{body}/policy_id",
    }
    return {
        "put_policy": ("put", policy, parameters),
        "delete_policy": ("delete", policy, parameters),
    }


def _user_links(expression: str) -> dict[str, Link]:
    totp = "/api/v2/users/{user_id}/totp"
    return {
        "enroll_totp": ("post", totp, {"user_id": expression}),
        "reset_totp": ("delete", totp, {"user_id": expression}),
    }


LINKS: dict[tuple[str, str, str], dict[str, Link]] = {
    ("post", "/api/v2/networks", "201"): _network_links("$response.body#/id"),
    ("post", "/api/v2/networks/from-twin", "201"): _network_links("$response.body#/id"),
    ("post", "/api/v2/networks/from-twin", "202"): {
        "get_job": ("get", "/api/v2/jobs/{job_id}", {"job_id": "$response.body#/id"})
    },
    ("get", "/api/v2/networks", "200"): _network_links("$response.body#/0/id"),
    ("get", f"{NETWORK}/cells", "200"): {
        "get_cell": (
            "get",
            f"{NETWORK}/cells/{{cell_id}}",
            {"network_id": "$request.path.network_id", "cell_id": "$response.body#/0/id"},
        )
    },
    ("post", f"{NETWORK}/discover", "202"): {
        "get_discovery": (
            "get",
            f"{NETWORK}/discoveries/{{job_id}}",
            {"network_id": "$request.path.network_id", "job_id": "$response.body#/id"},
        )
    },
    ("get", f"{NETWORK}/a1/policies", "200"): _policy_links("$response.body#/0"),
    ("put", f"{NETWORK}/a1/policies/{{policy_type}}/{{policy_id}}", "200"): _policy_links(
        "$response.body#"
    ),
    ("post", "/api/v2/cognitive/optimize", "200"): _run_links("$response.body#/id"),
    ("post", "/api/v2/cognitive/optimize", "202"): _run_links("$response.body#/id"),
    ("get", "/api/v2/optimizations", "200"): _run_links("$response.body#/0/id"),
    ("post", "/api/v2/users", "201"): _user_links("$response.body#/id"),
    ("get", "/api/v2/users", "200"): _user_links("$response.body#/0/id"),
    ("post", "/api/v2/api-keys", "201"): {
        "revoke": ("delete", "/api/v2/api-keys/{key_id}", {"key_id": "$response.body#/id"})
    },
    ("get", "/api/v2/api-keys", "200"): {
        "revoke": ("delete", "/api/v2/api-keys/{key_id}", {"key_id": "$response.body#/0/id"})
    },
    ("get", "/api/v2/security/alerts", "200"): {
        "get_finding": (
            "get",
            "/api/v2/security/alerts/{alert_id}",
            {"alert_id": "$response.body#/0/id"},
        ),
        "triage": (
            "post",
            "/api/v2/security/alerts/{alert_id}/triage",
            {"alert_id": "$response.body#/0/id"},
        ),
    },
    ("get", "/api/v2/secrets", "200"): {
        "replace": ("put", "/api/v2/secrets/{name}", {"name": "$response.body#/0/name"})
    },
    ("post", f"{NETWORK}/faults", "202"): {
        "clear": (
            "delete",
            f"{NETWORK}/faults/{{fault_id}}",
            {"network_id": "$request.path.network_id", "fault_id": "$response.body#/id"},
        )
    },
    ("get", f"{NETWORK}/alerts", "200"): {
        f"{verb}_alert": (
            "post",
            f"{NETWORK}/alerts/{{alert_id}}/{verb}",
            {"network_id": "$request.path.network_id", "alert_id": "$response.body#/0/id"},
        )
        for verb in ("acknowledge", "resolve")
    },
    ("get", f"{NETWORK}/faults", "200"): {
        "clear": (
            "delete",
            f"{NETWORK}/faults/{{fault_id}}",
            {"network_id": "$request.path.network_id", "fault_id": "$response.body#/0/id"},
        )
    },
}


def _pointer(path: str) -> str:
    return path.replace("~", "~0").replace("/", "~1")


def _problem_codes(path: str, method: str, operation: dict[str, Any]) -> set[int]:
    params = operation.get("parameters", [])
    has_body = "requestBody" in operation
    codes = {500}
    if path not in NO_DATABASE:
        codes.add(503)
    if path not in PUBLIC_PATHS:
        codes |= {401, 403, 429}
        if method in WRITE_METHODS:
            codes.add(409)
        names_resource = has_body or any(
            p["in"] == "path" or p["name"].endswith("_id") for p in params
        )
        if names_resource:
            codes.add(404)
    if params or has_body:
        codes.add(422)
    if has_body:
        codes |= {400, 413}
    return codes


def _operation(path: str, method: str, operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    for problem_code in _problem_codes(path, method, operation):
        responses.setdefault(str(problem_code), {"description": TITLES.get(problem_code, "Error")})
    for code, response in responses.items():
        status = int(code)
        if status >= 400:
            response["content"] = {PROBLEM_JSON: {"schema": PROBLEM_REF}}
        if status in HEADERS:
            response["headers"] = HEADERS[status]
        links = LINKS.get((method, path, code))
        if links:
            response["links"] = {
                name: {
                    "operationRef": f"#/paths/{_pointer(target)}/{target_method}",
                    "parameters": parameters,
                }
                for name, (target_method, target, parameters) in links.items()
            }


def build(app: FastAPI) -> dict[str, Any]:
    """Return the app's OpenAPI document with problems, headers and links filled in."""
    document = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
    )
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            _operation(path, method, operation)
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas["Problem"] = ProblemOut.model_json_schema()
    return document


def install(app: FastAPI) -> None:
    """Serve ``build(app)`` as the app's OpenAPI document (made once, on first request)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
