"""10 000 fuzzed requests against a real ``ranopt serve``: 5xx count and schema violations.

For each database (SQLite file, throwaway PostgreSQL): two tenants with a user per role, a
topology network and a twin network with a day of telemetry; ``ranopt serve`` as a
subprocess; schemathesis generates cases from the served OpenAPI document, half valid
(``positive``) and half invalid (``negative``), spread evenly over every operation, round
after round with a new seed until ``--cases`` are sent, authenticated as a network_admin;
then ``--scenarios`` stateful sequences that follow the document's links. Every answer is
checked: no 5xx, a documented status, the documented content type and headers, a body that
conforms to its schema. Twin networks are kept to at most 3 sites and 200 UEs (a large twin
is a minute-long job, which would hold the job thread for the rest of the run).

Prints one JSON object: cases sent, 5xx answers, failures per check, statuses seen, and a
few failing examples (operation, status, check, message).

    python benchmarks/fuzz.py [--cases 10000] [--scenarios 200] [--backends sqlite,postgresql]
"""

import argparse
import json
import os
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis.errors import Flaky, Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from ranopt.api.security import TokenService, password_hasher
from ranopt.api.settings import Settings
from ranopt.ingest.export import twin_topology
from ranopt.service.optimize import cached_twin
from ranopt.store import accounts, runs
from ranopt.store import repository as repo
from ranopt.store.engine import open_store
from ranopt.store.pgcluster import PostgresCluster
from serving import free_port, start_serve

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
ROLES = ("network_admin", "security_analyst", "viewer")
PASSWORD = "fuzz-password-123"
MAX_SITES, MAX_UES = 3, 200


def prepare(url: str) -> str:
    """Two tenants, users, a twin network; return a network_admin token of tenant acme."""
    store = open_store(url)
    settings = Settings(database_url=url, argon2_time_cost=1, argon2_memory_kib=1024)
    hasher = password_hasher(settings)
    now = int(time.time())
    with store.transaction() as s:
        for name in ("acme", "globex"):
            tenant = accounts.create_tenant(s, name=name, now_s=now)
            for role in ROLES:
                user = accounts.create_user(
                    s, tenant_id=tenant.id, username=f"{role}-user",
                    password_hash=hasher.hash(PASSWORD), role=role, now_s=now,
                )  # fmt: skip
                if name == "acme" and role == "network_admin":
                    admin = (user.id, tenant.id)
            twin = cached_twin("default", 0, 1, 60)
            net = repo.create_network(
                s, tenant_id=tenant.id, topology=twin_topology(twin, f"{name}-twin"), now_s=now
            )
            runs.bind_twin(
                s, tenant_id=tenant.id, network_id=net.id, scenario="default", seed=0,
                num_sites=1, num_ues=60,
            )  # fmt: skip
    token, _ = TokenService(store, settings).issue(
        subject=f"user:{admin[0]}", tenant_id=admin[1], role="network_admin", amr=("pwd",),
        now_s=now,
    )  # fmt: skip
    store.dispose()
    return token


def serve(url: str, port: int, data_dir: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ, "RANOPT_DATABASE_URL": url, "RANOPT_DATA_DIR": data_dir,
        "RANOPT_RATE_LIMIT": "100000000/minute", "RANOPT_ARGON2_TIME_COST": "1",
        "RANOPT_ARGON2_MEMORY_KIB": "1024", "RANOPT_SYNC_MAX_TWIN_UES": "120",
        "RANOPT_OPTIMIZE_HISTORY_DAYS": "2", "RANOPT_CONFIDENCE_SCENARIOS": "8",
    }  # fmt: skip
    # the server's own output must not mix with this JSON
    return start_serve(port, env, stdout=subprocess.DEVNULL)


def tame(case: schemathesis.Case) -> schemathesis.Case:
    body = case.body
    if case.operation.path.endswith("/from-twin") and isinstance(body, dict):
        for key, most in (("num_sites", MAX_SITES), ("num_ues", MAX_UES)):
            if type(body.get(key)) is int and body[key] > most:
                body[key] = most
    return case


class Tally:
    """What the run saw: cases, statuses, failures per check, a few examples."""

    def __init__(self) -> None:
        self.cases = 0
        self.statuses: Counter[int] = Counter()
        self.failures: Counter[str] = Counter()
        self.examples: list[dict[str, Any]] = []
        self.restarts = 0

    def check(self, case: schemathesis.Case, response: Any) -> None:
        self.cases += 1
        self.statuses[response.status_code] += 1
        try:
            case.validate_response(response, checks=CHECKS)
        except Exception as exc:  # every failure is counted, none stops the run
            failures = getattr(exc, "exceptions", [exc])
            for failure in failures:
                name = type(failure).__name__
                self.failures[name] += 1
                if len(self.examples) < 10:
                    self.examples.append({
                        "operation": case.operation.label, "status": response.status_code,
                        "failure": name, "message": str(failure)[:300],
                    })  # fmt: skip


def stateless(schema: Any, base: str, headers: dict[str, str], target: int, tally: Tally) -> None:
    operations = [r.ok() for r in schema.get_all_operations()]
    per_round = max(1, target // (len(operations) * 2 * 4))
    nothing_to_negate: set[str] = set()  # operations without an input to make invalid
    round_ = 0
    while tally.cases < target:
        for operation in operations:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                if tally.cases >= target:
                    return
                if mode == GenerationMode.NEGATIVE and operation.label in nothing_to_negate:
                    continue

                @seed(round_)
                @given(case=operation.as_strategy(generation_mode=mode))
                @settings(
                    max_examples=per_round, deadline=None, database=None,
                    suppress_health_check=list(HealthCheck),
                )  # fmt: skip
                def run(case: schemathesis.Case) -> None:
                    if tally.cases >= target:
                        return
                    response = tame(case).call(base_url=base, headers=headers)
                    tally.check(case, response)

                try:
                    run()
                except Unsatisfiable:
                    nothing_to_negate.add(operation.label)
        round_ += 1


def stateful(schema: Any, base: str, headers: dict[str, str], scenarios: int, tally: Tally) -> None:
    machine = schema.as_state_machine()

    class Sequences(machine):  # type: ignore[valid-type,misc]
        def before_call(self, case: schemathesis.Case) -> None:
            tame(case)

        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            return {"base_url": base, "headers": headers}

        def validate_response(self, response: Any, case: schemathesis.Case, **_: Any) -> None:
            tally.check(case, response)

    done = 0
    restarts = 0
    while done < scenarios and restarts < 50:
        before = tally.cases
        try:
            Sequences.run(
                settings=settings(
                    max_examples=min(50, scenarios - done), stateful_step_count=10,
                    deadline=None, database=None, phases=[Phase.generate],
                    suppress_health_check=list(HealthCheck),
                )
            )  # fmt: skip
            done += min(50, scenarios - done)
        except Flaky:
            # the server's state changed what a link could draw when hypothesis replayed a
            # scenario; schemathesis' own runner restarts the same way (no API fault)
            restarts += 1
            done += 1 if tally.cases > before else 0
    tally.restarts = restarts


def run_backend(url: str, cases: int, scenarios: int) -> dict[str, Any]:
    token = prepare(url)
    port = free_port()
    with tempfile.TemporaryDirectory() as data_dir:
        proc = serve(url, port, data_dir)
        try:
            base = f"http://127.0.0.1:{port}"
            schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
            headers = {"Authorization": f"Bearer {token}"}
            started = time.perf_counter()
            fuzzed = Tally()
            stateless(schema, base, headers, cases, fuzzed)
            linked = Tally()
            stateful(schema, base, headers, scenarios, linked)
            seconds = time.perf_counter() - started
        finally:
            proc.terminate()
            proc.wait(timeout=60)
    return {
        "operations": len(list(schema.get_all_operations())),
        "cases": fuzzed.cases,
        "server_errors": sum(n for s, n in fuzzed.statuses.items() if s >= 500),
        "check_failures": dict(fuzzed.failures),
        "statuses": dict(sorted(fuzzed.statuses.items())),
        "stateful_steps": linked.cases,
        "stateful_server_errors": sum(n for s, n in linked.statuses.items() if s >= 500),
        "stateful_check_failures": dict(linked.failures),
        "stateful_statuses": dict(sorted(linked.statuses.items())),
        "stateful_restarts": linked.restarts,
        "examples": fuzzed.examples + linked.examples,
        "seconds": round(seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--scenarios", type=int, default=200)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    out: dict[str, Any] = {"target_cases": args.cases}
    for backend in args.backends.split(","):
        if backend == "sqlite":
            with tempfile.TemporaryDirectory() as tmp:
                out["sqlite"] = run_backend(
                    f"sqlite:///{Path(tmp) / 'fuzz.db'}", args.cases, args.scenarios
                )
        else:
            cluster = PostgresCluster().start()
            try:
                out["postgresql"] = run_backend(
                    cluster.create_database("fuzz"), args.cases, args.scenarios
                )
            finally:
                cluster.stop()
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
