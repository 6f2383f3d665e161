"""A network's southbound settings, discovered O1 elements, outcomes, A1 policies, jobs.

Keyword-only, tenant-scoped. Credentials are written through ``put_secret`` (AES-GCM sealed)
and only read back by ``o1_credentials`` for the client that needs them; every model this
module returns to the API carries flags (``has_password``), never a secret.
"""

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ranopt.errors import ValidationError
from ranopt.store import audit
from ranopt.store.networks import network_by_id
from ranopt.store.repository import NotFoundError
from ranopt.store.secrets import Keyring, put_secret, read_secret
from ranopt.store.tables import (
    A1PolicyRow,
    DiscoveryJob,
    NetworkSouthbound,
    O1ElementRow,
    SouthboundTransaction,
)

SouthboundKind = Literal["twin", "o1"]
SleepMethodName = Literal["energy_saving", "administrative_state"]
# applied, rolled_back (O1: nothing of the element changed), unreachable, refused (A1 4xx)
Outcome = Literal["applied", "rolled_back", "unreachable", "refused"]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class O1EndpointIn(_In):
    """One NETCONF endpoint; ``password`` is write-only (kept sealed, never returned)."""

    host: str = Field(min_length=1, max_length=253)
    port: int = Field(default=830, ge=1, le=65535)
    username: str = Field(min_length=1, max_length=100)
    password: SecretStr | None = Field(default=None, description="write-only")
    host_key: str | None = Field(
        default=None, max_length=2000, pattern=r"^[A-Za-z0-9+/=]+$",
        description="base64 SSH public host key; without it the host key is not verified",
    )  # fmt: skip


A1Kind = Literal["ric", "pms"]


class A1EndpointIn(_In):
    """Where A1 goes: a near-RT RIC, or an A1 Policy Management Service in front of one.

    ``ric``: an A1-P v2 base URL (``.../A1-P/v2``); ``pms``: an A1PMS API v3 base URL
    (``.../a1-policy-management/v1``) and the RIC it addresses (``ric_id``).
    """

    url: str = Field(min_length=8, max_length=500, pattern=r"^https?://")
    token: SecretStr | None = Field(default=None, description="write-only bearer token")
    kind: A1Kind = Field(default="ric", description="ric: A1-P v2; pms: A1PMS API v3")
    ric_id: str | None = Field(
        default=None, min_length=1, max_length=200,
        description="the near-RT RIC the PMS addresses (nearRtRicId); needed with kind pms",
    )  # fmt: skip

    @model_validator(mode="after")
    def _pms_names_its_ric(self) -> "A1EndpointIn":
        if self.kind == "pms" and self.ric_id is None:
            msg = "ric_id: an A1 Policy Management Service needs the near-RT RIC it addresses"
            raise ValueError(msg)
        return self


class SouthboundIn(_In):
    """How a network is reached: ``twin`` (built-in) or O1 endpoints, optionally with A1."""

    kind: SouthboundKind
    sleep_method: SleepMethodName = "energy_saving"
    o1: list[O1EndpointIn] = Field(default_factory=list, max_length=1000)
    a1: A1EndpointIn | None = None
    confirm_timeout_s: int = Field(default=120, ge=1, le=3600)
    timeout_s: float = Field(default=10.0, gt=0, le=300)


class O1EndpointOut(BaseModel):
    """An endpoint as the API shows it."""

    model_config = ConfigDict(frozen=True)

    host: str
    port: int
    username: str
    host_key: str | None
    has_password: bool


class SouthboundOut(BaseModel):
    """A network's southbound as the API shows it (no secrets)."""

    model_config = ConfigDict(frozen=True)

    network_id: int
    kind: SouthboundKind
    sleep_method: SleepMethodName
    o1: list[O1EndpointOut]
    a1_url: str | None
    a1_has_token: bool
    a1_kind: A1Kind | None = None
    a1_ric_id: str | None = None
    confirm_timeout_s: int
    timeout_s: float
    updated_s: int


class TransactionOut(BaseModel):
    """One recorded southbound transaction."""

    model_config = ConfigDict(frozen=True)

    id: int
    network_id: int
    run_id: int | None
    interface: str
    element: str
    endpoint: str
    outcome: str
    num_edits: int
    step: str | None
    error: str | None
    created_s: int
    seconds: float


def o1_secret_name(network_id: int, index: int) -> str:
    """Stored-secret name of an O1 endpoint's password."""
    return f"southbound.{network_id}.o1.{index}"


def a1_secret_name(network_id: int) -> str:
    """Stored-secret name of the A1 token."""
    return f"southbound.{network_id}.a1"


def _row(session: Session, tenant_id: int, network_id: int) -> NetworkSouthbound | None:
    return session.scalar(
        select(NetworkSouthbound).where(
            NetworkSouthbound.tenant_id == tenant_id, NetworkSouthbound.network_id == network_id
        )
    )


def get_southbound(session: Session, *, tenant_id: int, network_id: int) -> SouthboundOut:
    """Return the network's southbound; a network never configured is ``twin``."""
    network_by_id(session, tenant_id=tenant_id, network_id=network_id)
    row = _row(session, tenant_id, network_id)
    if row is None:
        return SouthboundOut(network_id=network_id, kind="twin", sleep_method="energy_saving",
                             o1=[], a1_url=None, a1_has_token=False, confirm_timeout_s=120,
                             timeout_s=10.0, updated_s=0)  # fmt: skip
    return SouthboundOut(
        network_id=network_id, kind=row.kind,  # type: ignore[arg-type]
        sleep_method=row.sleep_method,  # type: ignore[arg-type]
        o1=[O1EndpointOut(**e) for e in row.o1_endpoints],
        a1_url=None if row.a1 is None else row.a1["url"],
        a1_has_token=bool(row.a1 and row.a1.get("has_token")),
        a1_kind=None if row.a1 is None else row.a1.get("kind", "ric"),
        a1_ric_id=None if row.a1 is None else row.a1.get("ric_id"),
        confirm_timeout_s=row.confirm_timeout_s, timeout_s=row.timeout_s, updated_s=row.updated_s,
    )  # fmt: skip


def set_southbound(
    session: Session,
    *,
    tenant_id: int,
    network_id: int,
    settings: SouthboundIn,
    keyring: Keyring,
    now_s: int,
) -> SouthboundOut:
    """Store the settings; a password left out keeps the one stored for that endpoint index."""
    network_by_id(session, tenant_id=tenant_id, network_id=network_id)
    if settings.kind == "o1" and not settings.o1:
        msg = "o1: an O1 southbound needs at least one endpoint"
        raise ValidationError(msg)
    previous = _row(session, tenant_id, network_id)
    had = {} if previous is None else {
        i: bool(e.get("has_password")) for i, e in enumerate(previous.o1_endpoints)
    }  # fmt: skip
    endpoints = []
    for i, endpoint in enumerate(settings.o1):
        if endpoint.password is not None:
            put_secret(session, tenant_id=tenant_id, name=o1_secret_name(network_id, i),
                       kind="o1_password", value=endpoint.password.get_secret_value(),
                       keyring=keyring, now_s=now_s)  # fmt: skip
        has = endpoint.password is not None or had.get(i, False)
        if not has:
            msg = f"o1[{i}].password: needed for a new endpoint"
            raise ValidationError(msg)
        endpoints.append({"host": endpoint.host, "port": endpoint.port,
                          "username": endpoint.username, "host_key": endpoint.host_key,
                          "has_password": has})  # fmt: skip
    a1: dict[str, Any] | None = None
    if settings.a1 is not None:
        if settings.a1.token is not None:
            put_secret(session, tenant_id=tenant_id, name=a1_secret_name(network_id),
                       kind="a1_token", value=settings.a1.token.get_secret_value(),
                       keyring=keyring, now_s=now_s)  # fmt: skip
        had_token = bool(previous and previous.a1 and previous.a1.get("has_token"))
        a1 = {"url": settings.a1.url, "has_token": settings.a1.token is not None or had_token,
              "kind": settings.a1.kind, "ric_id": settings.a1.ric_id}  # fmt: skip
    row = previous or NetworkSouthbound(network_id=network_id, tenant_id=tenant_id)
    row.kind, row.sleep_method, row.o1_endpoints, row.a1 = (
        settings.kind, settings.sleep_method, endpoints, a1,
    )  # fmt: skip
    row.confirm_timeout_s, row.timeout_s, row.updated_s = (
        settings.confirm_timeout_s, settings.timeout_s, now_s,
    )  # fmt: skip
    if previous is None:
        session.add(row)
    session.flush()
    return get_southbound(session, tenant_id=tenant_id, network_id=network_id)


def o1_credentials(
    session: Session, *, tenant_id: int, network_id: int, keyring: Keyring
) -> list[tuple[dict[str, Any], str]]:
    """Each O1 endpoint's settings with its password in clear (for the client only)."""
    row = _row(session, tenant_id, network_id)
    if row is None or row.kind != "o1":
        msg = f"network_id: network {network_id} has no O1 southbound"
        raise ValidationError(msg)
    out = []
    for i, endpoint in enumerate(row.o1_endpoints):
        password = read_secret(session, tenant_id=tenant_id, name=o1_secret_name(network_id, i),
                               keyring=keyring)  # fmt: skip
        if password is None:
            msg = f"o1[{i}].password: not stored; set the southbound again"
            raise ValidationError(msg)
        out.append((dict(endpoint), password))
    return out


def a1_token(session: Session, *, tenant_id: int, network_id: int, keyring: Keyring) -> str | None:
    """Return the A1 bearer token in clear, if one is stored."""
    return read_secret(session, tenant_id=tenant_id, name=a1_secret_name(network_id),
                       keyring=keyring)  # fmt: skip


# --- discovered elements --------------------------------------------------------------------


def replace_elements(
    session: Session,
    *,
    tenant_id: int,
    network_id: int,
    elements: Sequence[tuple[str, int, dict[str, Any]]],
    now_s: int,
) -> None:
    """Replace the network's discovered elements: ``(element id, endpoint index, detail)``."""
    session.execute(delete(O1ElementRow).where(
        O1ElementRow.tenant_id == tenant_id, O1ElementRow.network_id == network_id
    ))  # fmt: skip
    session.add_all(
        O1ElementRow(network_id=network_id, element=element, tenant_id=tenant_id,
                     endpoint_index=index, detail=detail, discovered_s=now_s)
        for element, index, detail in elements
    )  # fmt: skip
    session.flush()


def elements(
    session: Session, *, tenant_id: int, network_id: int
) -> dict[str, tuple[int, dict[str, Any]]]:
    """Return the discovered elements: id -> (endpoint index, detail)."""
    rows = session.scalars(select(O1ElementRow).where(
        O1ElementRow.tenant_id == tenant_id, O1ElementRow.network_id == network_id
    ))  # fmt: skip
    return {r.element: (r.endpoint_index, dict(r.detail)) for r in rows}


# --- outcomes -------------------------------------------------------------------------------


def record_outcomes(
    session: Session,
    *,
    tenant_id: int,
    network_id: int,
    run_id: int | None,
    interface: str,
    outcomes: Sequence[dict[str, Any]],
    actor: str,
    now_s: int,
) -> list[TransactionOut]:
    """Record each element's outcome and an audit entry for it, in the caller's transaction."""
    rows = []
    for o in outcomes:
        row = SouthboundTransaction(
            tenant_id=tenant_id, network_id=network_id, run_id=run_id, interface=interface,
            element=o["element"], endpoint=o["endpoint"], outcome=o["outcome"],
            num_edits=o["num_edits"], step=o.get("step"), error=o.get("error"),
            created_s=now_s, seconds=float(o.get("seconds", 0.0)),
        )  # fmt: skip
        session.add(row)
        rows.append(row)
        audit.append(
            session, ts_s=now_s, tenant_id=tenant_id, actor=actor,
            action=f"southbound.{interface}.transaction", target=f"network:{network_id}",
            outcome="success" if o["outcome"] == "applied" else "failure",
            detail={"element": o["element"], "endpoint": o["endpoint"], "outcome": o["outcome"],
                    "run_id": run_id, "num_edits": o["num_edits"], "step": o.get("step")},
        )  # fmt: skip
    session.flush()
    return [_tx_out(r) for r in rows]


def _tx_out(r: SouthboundTransaction) -> TransactionOut:
    return TransactionOut(
        id=r.id, network_id=r.network_id, run_id=r.run_id, interface=r.interface,
        element=r.element, endpoint=r.endpoint, outcome=r.outcome, num_edits=r.num_edits,
        step=r.step, error=r.error, created_s=r.created_s, seconds=r.seconds,
    )  # fmt: skip


def list_transactions(
    session: Session, *, tenant_id: int, network_id: int, run_id: int | None = None,
    limit: int = 500,
) -> list[TransactionOut]:  # fmt: skip
    """Return the network's recorded transactions, newest first."""
    network_by_id(session, tenant_id=tenant_id, network_id=network_id)
    query = select(SouthboundTransaction).where(
        SouthboundTransaction.tenant_id == tenant_id, SouthboundTransaction.network_id == network_id
    )
    if run_id is not None:
        query = query.where(SouthboundTransaction.run_id == run_id)
    rows = session.scalars(query.order_by(SouthboundTransaction.id.desc()).limit(limit))
    return [_tx_out(r) for r in rows]


# --- A1 policies ----------------------------------------------------------------------------


def upsert_policy(
    session: Session, *, tenant_id: int, network_id: int, policy_type: str, policy_id: str,
    body: dict[str, Any], now_s: int,
) -> dict[str, Any] | None:  # fmt: skip
    """Record a policy instance ranopt creates or updates; return the body it replaces."""
    row = session.scalar(select(A1PolicyRow).where(
        A1PolicyRow.tenant_id == tenant_id, A1PolicyRow.network_id == network_id,
        A1PolicyRow.policy_type == policy_type, A1PolicyRow.policy_id == policy_id,
    ))  # fmt: skip
    if row is None:
        row = A1PolicyRow(tenant_id=tenant_id, network_id=network_id, policy_type=policy_type,
                          policy_id=policy_id)  # fmt: skip
        session.add(row)
    previous = None if row.body is None else dict(row.body)
    row.body, row.updated_s = body, now_s
    session.flush()
    return previous


def set_policy_status(
    session: Session, *, tenant_id: int, network_id: int, policy_type: str, policy_id: str,
    enforce_status: str, enforce_reason: str | None, now_s: int,
) -> bool:  # fmt: skip
    """Record a status the RIC reported; False when ranopt knows no such policy."""
    row = session.scalar(select(A1PolicyRow).where(
        A1PolicyRow.tenant_id == tenant_id, A1PolicyRow.network_id == network_id,
        A1PolicyRow.policy_type == policy_type, A1PolicyRow.policy_id == policy_id,
    ))  # fmt: skip
    if row is None:
        return False
    row.enforce_status, row.enforce_reason, row.updated_s = enforce_status, enforce_reason, now_s
    session.flush()
    return True


def delete_policy(
    session: Session, *, tenant_id: int, network_id: int, policy_type: str, policy_id: str
) -> None:
    """Forget a policy instance the RIC deleted."""
    session.execute(delete(A1PolicyRow).where(
        A1PolicyRow.tenant_id == tenant_id, A1PolicyRow.network_id == network_id,
        A1PolicyRow.policy_type == policy_type, A1PolicyRow.policy_id == policy_id,
    ))  # fmt: skip
    session.flush()


class A1PolicyOut(BaseModel):
    """An A1 policy instance ranopt holds for a network, with the RIC's last status."""

    model_config = ConfigDict(frozen=True)

    policy_type: str
    policy_id: str
    body: dict[str, Any]
    enforce_status: str | None
    enforce_reason: str | None
    updated_s: int


def _policy_out(row: A1PolicyRow) -> A1PolicyOut:
    return A1PolicyOut(policy_type=row.policy_type, policy_id=row.policy_id, body=dict(row.body),
                       enforce_status=row.enforce_status, enforce_reason=row.enforce_reason,
                       updated_s=row.updated_s)  # fmt: skip


def list_policies(
    session: Session, *, tenant_id: int, network_id: int, policy_type: str | None = None
) -> list[A1PolicyOut]:
    """Return the network's A1 policies (of one type, if given), by type and id."""
    network_by_id(session, tenant_id=tenant_id, network_id=network_id)
    query = select(A1PolicyRow).where(
        A1PolicyRow.tenant_id == tenant_id, A1PolicyRow.network_id == network_id
    )
    if policy_type is not None:
        query = query.where(A1PolicyRow.policy_type == policy_type)
    rows = session.scalars(query.order_by(A1PolicyRow.policy_type, A1PolicyRow.policy_id))
    return [_policy_out(r) for r in rows]


def get_policy(
    session: Session, *, tenant_id: int, network_id: int, policy_type: str, policy_id: str
) -> A1PolicyOut | None:
    """Return one recorded policy, or None."""
    row = session.scalar(select(A1PolicyRow).where(
        A1PolicyRow.tenant_id == tenant_id, A1PolicyRow.network_id == network_id,
        A1PolicyRow.policy_type == policy_type, A1PolicyRow.policy_id == policy_id,
    ))  # fmt: skip
    return None if row is None else _policy_out(row)


def get_policy_status(
    session: Session, *, tenant_id: int, network_id: int, policy_type: str, policy_id: str
) -> tuple[str | None, str | None] | None:
    """(enforce status, reason) of a recorded policy, or None."""
    row = session.scalar(select(A1PolicyRow).where(
        A1PolicyRow.tenant_id == tenant_id, A1PolicyRow.network_id == network_id,
        A1PolicyRow.policy_type == policy_type, A1PolicyRow.policy_id == policy_id,
    ))  # fmt: skip
    return None if row is None else (row.enforce_status, row.enforce_reason)


# --- discovery jobs -------------------------------------------------------------------------

JobStatus = Literal["queued", "running", "succeeded", "failed"]


class DiscoveryJobOut(BaseModel):
    """A discovery job as the API shows it (``report`` once it succeeded)."""

    model_config = ConfigDict(frozen=True)

    id: int
    network_id: int
    status: JobStatus
    created_by: str
    created_s: int
    finished_s: int | None
    report: dict[str, Any] | None
    error: str | None


def _job_out(row: DiscoveryJob) -> DiscoveryJobOut:
    return DiscoveryJobOut(
        id=row.id, network_id=row.network_id, status=row.status,  # type: ignore[arg-type]
        created_by=row.created_by, created_s=row.created_s, finished_s=row.finished_s,
        report=row.report, error=row.error,
    )  # fmt: skip


def create_discovery_job(
    session: Session, *, tenant_id: int, network_id: int, created_by: str, now_s: int
) -> DiscoveryJobOut:
    """Queue a discovery of the network."""
    network_by_id(session, tenant_id=tenant_id, network_id=network_id)
    row = DiscoveryJob(tenant_id=tenant_id, network_id=network_id, status="queued",
                       created_by=created_by, created_s=now_s)  # fmt: skip
    session.add(row)
    session.flush()
    return _job_out(row)


def _job_row(session: Session, tenant_id: int, network_id: int, job_id: int) -> DiscoveryJob:
    row = session.scalar(select(DiscoveryJob).where(
        DiscoveryJob.tenant_id == tenant_id, DiscoveryJob.network_id == network_id,
        DiscoveryJob.id == job_id,
    ))  # fmt: skip
    if row is None:
        msg = f"job_id: no discovery job {job_id} for network {network_id}"
        raise NotFoundError(msg)
    return row


def get_discovery_job(
    session: Session, *, tenant_id: int, network_id: int, job_id: int
) -> DiscoveryJobOut:
    """Return one discovery job of the network."""
    return _job_out(_job_row(session, tenant_id, network_id, job_id))


def set_discovery_job(
    session: Session, *, tenant_id: int, network_id: int, job_id: int, status: JobStatus,
    now_s: int, report: dict[str, Any] | None = None, error: str | None = None,
) -> DiscoveryJobOut:  # fmt: skip
    """Move a job on: running, then succeeded (with its report) or failed (with the error)."""
    row = _job_row(session, tenant_id, network_id, job_id)
    row.status, row.report, row.error = status, report, error
    if status in ("succeeded", "failed"):
        row.finished_s = now_s
    session.flush()
    return _job_out(row)
