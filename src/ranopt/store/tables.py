"""Table models (SQLAlchemy 2 typed ORM). Every tenant-owned row carries ``tenant_id``.

Times are integer seconds since the Unix epoch, UTC (``*_s``): exact, portable between SQLite
and PostgreSQL, and cheap to bucket (``t - t % bucket_s``). KPI counters are typed columns named
after their TS 28.552 counter with the stored unit in the name (see ``ranopt.counters``).
"""

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

JsonType = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    """Declarative base of every ranopt table."""


class Tenant(Base):
    """An operator (or lab) whose data is kept apart from every other tenant's."""

    __tablename__ = "tenants"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    created_s: Mapped[int] = mapped_column(BigInteger)
    mfa_required: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class RetentionPolicy(Base):
    """How long a tenant's raw samples and hourly rollups are kept."""

    __tablename__ = "retention_policies"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    raw_days: Mapped[int] = mapped_column(Integer, default=90)
    rollup_days: Mapped[int] = mapped_column(Integer, default=7 * 365)
    last_prune_s: Mapped[int | None] = mapped_column(BigInteger)
    # how long backups holding the tenant's data are kept: 90d, 1y or 7y (revision 0008)
    backup_tier: Mapped[str] = mapped_column(String(8), default="90d", server_default="90d")


class Network(Base):
    """One tenant's RAN: sites, cells and slices, reporting on one interval grid."""

    __tablename__ = "networks"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    interval_s: Mapped[int] = mapped_column(Integer)  # granularity period of the KPI samples
    dn_prefix: Mapped[str] = mapped_column(String(400), default="")
    created_s: Mapped[int] = mapped_column(BigInteger)


class Site(Base):
    """A location with antennas at one height."""

    __tablename__ = "sites"
    __table_args__ = (UniqueConstraint("network_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    network_id: Mapped[int] = mapped_column(ForeignKey("networks.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    x_m: Mapped[float] = mapped_column(Float)
    y_m: Mapped[float] = mapped_column(Float)
    height_m: Mapped[float] = mapped_column(Float)
    latitude_deg: Mapped[float | None] = mapped_column(Float)
    longitude_deg: Mapped[float | None] = mapped_column(Float)


class Cell(Base):
    """One sector on one carrier, known by name, distinguished name and NR cell identity."""

    __tablename__ = "cells"
    __table_args__ = (
        UniqueConstraint("network_id", "name"),
        UniqueConstraint("network_id", "dn"),
        UniqueConstraint("network_id", "nci"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    network_id: Mapped[int] = mapped_column(ForeignKey("networks.id", ondelete="CASCADE"))
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    dn: Mapped[str] = mapped_column(String(400))  # full DN of the NRCellDU (TS 32.300)
    cu_dn: Mapped[str | None] = mapped_column(String(400))  # DN of its NRCellCU, if reported
    nci: Mapped[int | None] = mapped_column(BigInteger)  # NR cell identity, 36 bit
    layer: Mapped[str] = mapped_column(String(20))
    sector: Mapped[int] = mapped_column(Integer)
    azimuth_deg: Mapped[float] = mapped_column(Float)
    carrier_ghz: Mapped[float] = mapped_column(Float)
    bandwidth_mhz: Mapped[float] = mapped_column(Float)
    scs_khz: Mapped[int] = mapped_column(Integer)
    num_prb: Mapped[int] = mapped_column(Integer)
    max_tx_power_w: Mapped[float] = mapped_column(Float)
    x_m: Mapped[float] = mapped_column(Float)
    y_m: Mapped[float] = mapped_column(Float)
    height_m: Mapped[float] = mapped_column(Float)
    tilt_deg: Mapped[float | None] = mapped_column(Float)  # total downtilt (revision 0006)


class Slice(Base):
    """A network slice, identified by its S-NSSAI (SST and optional SD, TS 23.003)."""

    __tablename__ = "slices"
    __table_args__ = (UniqueConstraint("network_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    network_id: Mapped[int] = mapped_column(ForeignKey("networks.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    sst: Mapped[int] = mapped_column(Integer)
    sd: Mapped[str | None] = mapped_column(String(6))  # 24-bit slice differentiator, hex


class KpiSample(Base):
    """One cell's counters over one interval (raw, kept ``raw_days``).

    The primary key leads with (network, interval) so a network-wide interval range is one
    contiguous index range; ``ix_kpi_samples_cell_time`` serves one cell's series.
    """

    __tablename__ = "kpi_samples"
    __table_args__ = (
        Index("ix_kpi_samples_cell_time", "cell_id", "interval_start_s"),
        {"sqlite_with_rowid": False},
    )

    network_id: Mapped[int] = mapped_column(
        ForeignKey("networks.id", ondelete="CASCADE"), primary_key=True
    )
    interval_start_s: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    cell_id: Mapped[int] = mapped_column(
        ForeignKey("cells.id", ondelete="CASCADE"), primary_key=True
    )
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    suspect: Mapped[bool] = mapped_column(Boolean, default=False)
    prb_used_dl: Mapped[float | None] = mapped_column(Float)
    prb_avail_dl: Mapped[float | None] = mapped_column(Float)
    prb_tot_dl_pct: Mapped[float | None] = mapped_column(Float)
    ue_thp_dl_mbps: Mapped[float | None] = mapped_column(Float)
    rrc_conn_mean: Mapped[float | None] = mapped_column(Float)
    pee_avg_power_w: Mapped[float | None] = mapped_column(Float)
    pee_energy_kwh: Mapped[float | None] = mapped_column(Float)
    dl_volume_mbit: Mapped[float | None] = mapped_column(Float)
    offered_dl_volume_mbit: Mapped[float | None] = mapped_column(Float)
    extra: Mapped[dict[str, Any] | None] = mapped_column(JsonType)


class KpiHourly(Base):
    """Hourly rollup of raw samples (kept ``rollup_days``): each counter by its aggregation."""

    __tablename__ = "kpi_hourly"
    __table_args__ = (
        Index("ix_kpi_hourly_cell_time", "cell_id", "hour_start_s"),
        {"sqlite_with_rowid": False},
    )

    network_id: Mapped[int] = mapped_column(
        ForeignKey("networks.id", ondelete="CASCADE"), primary_key=True
    )
    hour_start_s: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    cell_id: Mapped[int] = mapped_column(
        ForeignKey("cells.id", ondelete="CASCADE"), primary_key=True
    )
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    num_samples: Mapped[int] = mapped_column(Integer)
    suspect: Mapped[bool] = mapped_column(Boolean, default=False)
    prb_used_dl: Mapped[float | None] = mapped_column(Float)
    prb_avail_dl: Mapped[float | None] = mapped_column(Float)
    prb_tot_dl_pct: Mapped[float | None] = mapped_column(Float)
    ue_thp_dl_mbps: Mapped[float | None] = mapped_column(Float)
    rrc_conn_mean: Mapped[float | None] = mapped_column(Float)
    pee_avg_power_w: Mapped[float | None] = mapped_column(Float)
    pee_energy_kwh: Mapped[float | None] = mapped_column(Float)
    dl_volume_mbit: Mapped[float | None] = mapped_column(Float)
    offered_dl_volume_mbit: Mapped[float | None] = mapped_column(Float)


class KpiGeneration(Base):
    """A network's KPI generation: a random token replaced by every write to its samples.

    Readers key cached KPI answers on it (``ranopt.api.kpi_cache``); it is written in the
    writer's transaction, so a reader that sees the token sees the samples it stands for. A
    random token rather than a counter never comes back: not after a restore from backup, nor
    when a deleted network's id is reused (the row has no foreign key and outlives it).
    """

    __tablename__ = "kpi_generations"

    network_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    generation: Mapped[int] = mapped_column(BigInteger)


# --- identity, audit, optimization runs (revision 0002) -------------------------------------


class User(Base):
    """A local user of one tenant: argon2id password hash, role, optional TOTP secret."""

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("tenant_id", "username"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    username: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(40))
    totp_secret_enc: Mapped[str | None] = mapped_column(Text)  # AES-GCM sealed, never plain
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)  # last accepted 30 s step
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_s: Mapped[int] = mapped_column(BigInteger)


class ApiKey(Base):
    """An API key: a visible prefix to find it, an argon2id hash of its secret, one role."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(40))
    created_s: Mapped[int] = mapped_column(BigInteger)
    revoked_s: Mapped[int | None] = mapped_column(BigInteger)


class SigningKey(Base):
    """A JWT signing key pair; the private key sealed with AES-GCM, the public one as a JWK."""

    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    private_key_enc: Mapped[str] = mapped_column(Text)
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JsonType)
    created_s: Mapped[int] = mapped_column(BigInteger)
    retired_s: Mapped[int | None] = mapped_column(BigInteger)  # no new tokens after this


class StoredSecret(Base):
    """A tenant's secret (actuator credential, webhook token), AES-256-GCM under a key version."""

    __tablename__ = "stored_secrets"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(40))
    key_version: Mapped[int] = mapped_column(Integer)
    sealed: Mapped[str] = mapped_column(Text)  # base64(nonce || ciphertext || tag)
    updated_s: Mapped[int] = mapped_column(BigInteger)


class AuditEntry(Base):
    """One append-only audit record in its tenant's chain (``chain`` 0: platform events).

    ``seq`` numbers the chain's entries from 1 without gaps; ``hash`` is SHA-256 over the
    entry's fields and ``prev_hash`` (the hash of entry ``seq - 1`` of the same chain), so
    neither reveals anything of another tenant's activity.
    """

    __tablename__ = "audit_log"
    __table_args__ = (Index("uq_audit_log_chain_seq", "chain", "seq", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # internal row id, never shown
    chain: Mapped[int] = mapped_column(Integer)  # the tenant's id, 0 for platform events
    seq: Mapped[int] = mapped_column(BigInteger)
    ts_s: Mapped[int] = mapped_column(BigInteger)
    tenant_id: Mapped[int | None] = mapped_column(Integer, index=True)  # None: platform event
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100))
    target: Mapped[str] = mapped_column(String(400))
    outcome: Mapped[str] = mapped_column(String(20))
    detail: Mapped[dict[str, Any]] = mapped_column(JsonType)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditChainHead(Base):
    """One chain's head: serialises its appends and reveals a deleted last entry."""

    __tablename__ = "audit_heads"

    chain: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger)
    last_hash: Mapped[str] = mapped_column(String(64))


class Job(Base):
    """Heavy work done after the request (a large twin network): status and outcome."""

    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20))  # queued, running, succeeded, failed
    request: Mapped[dict[str, Any]] = mapped_column(JsonType)
    result: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    error: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200))
    created_s: Mapped[int] = mapped_column(BigInteger)
    started_s: Mapped[int | None] = mapped_column(BigInteger)
    finished_s: Mapped[int | None] = mapped_column(BigInteger)


class NetworkTwin(Base):
    """The twin scenario a network was exported from: its actuator and planning model."""

    __tablename__ = "network_twins"

    network_id: Mapped[int] = mapped_column(
        ForeignKey("networks.id", ondelete="CASCADE"), primary_key=True
    )
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    scenario: Mapped[str] = mapped_column(String(40))
    seed: Mapped[int] = mapped_column(Integer)
    num_sites: Mapped[int] = mapped_column(Integer)
    num_ues: Mapped[int] = mapped_column(Integer)
    applied_run_id: Mapped[int | None] = mapped_column(Integer)  # plan the twin now runs


class OptimizationRun(Base):
    """One optimization request and its outcome: plan, measured confidence, decision."""

    __tablename__ = "optimization_runs"
    # the runs list filters a network's runs by status (revision 0010)
    __table_args__ = (Index("ix_optimization_runs_network_status", "network_id", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    network_id: Mapped[int] = mapped_column(
        ForeignKey("networks.id", ondelete="CASCADE"), index=True
    )
    # queued, running, awaiting_approval, failed, applied, rejected, superseded
    status: Mapped[str] = mapped_column(String(20))
    objective: Mapped[str] = mapped_column(String(20))
    solver: Mapped[str] = mapped_column(String(20))
    horizon_min: Mapped[int] = mapped_column(Integer)
    request: Mapped[dict[str, Any]] = mapped_column(JsonType)
    plan: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    confidence: Mapped[float | None] = mapped_column(Float)
    saving_pct: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200))
    created_s: Mapped[int] = mapped_column(BigInteger)
    finished_s: Mapped[int | None] = mapped_column(BigInteger)
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_s: Mapped[int | None] = mapped_column(BigInteger)


OPEN_ALERT_KEY = "cleared_s IS NULL AND dedup_key IS NOT NULL"


class Alert(Base):
    """Something an operator or analyst should look at (a weak plan, a failed run, ...)."""

    __tablename__ = "alerts"
    __table_args__ = (
        Index(
            "uq_alerts_open_key", "tenant_id", "dedup_key", unique=True,
            sqlite_where=text(OPEN_ALERT_KEY), postgresql_where=text(OPEN_ALERT_KEY),
        ),
    )  # fmt: skip

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    network_id: Mapped[int | None] = mapped_column(ForeignKey("networks.id", ondelete="CASCADE"))
    created_s: Mapped[int] = mapped_column(BigInteger)
    severity: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(40))
    message: Mapped[str] = mapped_column(Text)
    # triage (revision 0010): the network time the alert is about, who acknowledged and who
    # resolved it (a person, or the system when the fault behind it was cleared), and why
    network_time_s: Mapped[int | None] = mapped_column(BigInteger)
    acknowledged_by: Mapped[str | None] = mapped_column(String(200))
    acknowledged_s: Mapped[int | None] = mapped_column(BigInteger)
    resolved_by: Mapped[str | None] = mapped_column(String(200))
    resolved_s: Mapped[int | None] = mapped_column(BigInteger)
    resolution: Mapped[str | None] = mapped_column(String(500))
    # revision 0011: detected conditions are deduplicated by key and cleared when they end
    cell_id: Mapped[int | None] = mapped_column(Integer)
    dedup_key: Mapped[str | None] = mapped_column(String(200))  # one open alert per key
    since_s: Mapped[int | None] = mapped_column(BigInteger)  # when the condition began
    updated_s: Mapped[int | None] = mapped_column(BigInteger)
    cleared_s: Mapped[int | None] = mapped_column(BigInteger)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JsonType)  # evidence, figures


class NetworkLoop(Base):
    """A network's closed loop: its settings, where its clock stands, and its live state."""

    __tablename__ = "network_loops"

    network_id: Mapped[int] = mapped_column(
        ForeignKey("networks.id", ondelete="CASCADE"), primary_key=True
    )
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    enabled: Mapped[bool] = mapped_column(Boolean)
    auto_apply: Mapped[bool] = mapped_column(Boolean)
    confidence_threshold: Mapped[float] = mapped_column(Float)
    solver: Mapped[str] = mapped_column(String(20))
    horizon_intervals: Mapped[int] = mapped_column(Integer)
    next_interval: Mapped[int] = mapped_column(Integer)  # loop clock: next interval to run
    live: Mapped[dict[str, Any] | None] = mapped_column(JsonType)  # newest interval's state
    updated_s: Mapped[int] = mapped_column(BigInteger)


class LoopInterval(Base):
    """One interval of a network's loop, beside its always-on counterfactual in the twin."""

    __tablename__ = "loop_intervals"
    __table_args__ = (UniqueConstraint("network_id", "interval"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    network_id: Mapped[int] = mapped_column(ForeignKey("networks.id", ondelete="CASCADE"))
    interval: Mapped[int] = mapped_column(Integer)  # since the loop's epoch
    phase: Mapped[str] = mapped_column(String(10))  # "history" (before the loop) or "loop"
    offered_mbps: Mapped[float] = mapped_column(Float)
    served_mbps: Mapped[float | None] = mapped_column(Float)
    power_w: Mapped[float | None] = mapped_column(Float)
    always_on_served_mbps: Mapped[float | None] = mapped_column(Float)
    always_on_power_w: Mapped[float | None] = mapped_column(Float)
    violations: Mapped[int] = mapped_column(Integer)
    switching_breaks: Mapped[int] = mapped_column(Integer)
    home_demand_mbps: Mapped[list[float]] = mapped_column(JsonType)  # [C] by home cell
    asleep: Mapped[list[int]] = mapped_column(JsonType)  # cell indices asleep
    failed: Mapped[list[int]] = mapped_column(JsonType)  # cell indices failed
    tick_s: Mapped[float | None] = mapped_column(Float)  # wall time the loop spent on it


class CellFault(Base):
    """A cell failure injected in the twin, and how the loop detected and compensated it."""

    __tablename__ = "cell_faults"
    __table_args__ = (
        # one open fault per cell: two concurrent requests cannot both fail it
        Index(
            "uq_cell_faults_open", "network_id", "cell_index", unique=True,
            sqlite_where=text("status != 'cleared'"), postgresql_where=text("status != 'cleared'"),
        ),
    )  # fmt: skip

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    network_id: Mapped[int] = mapped_column(ForeignKey("networks.id", ondelete="CASCADE"))
    cell_index: Mapped[int] = mapped_column(Integer)
    cell_name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20))  # requested, active, compensated, cleared
    requested_by: Mapped[str] = mapped_column(String(200))
    requested_at: Mapped[float] = mapped_column(Float)  # wall clock, epoch seconds
    fault_interval: Mapped[int | None] = mapped_column(Integer)
    first_telemetry_at: Mapped[float | None] = mapped_column(Float)
    detected_at: Mapped[float | None] = mapped_column(Float)
    compensated_at: Mapped[float | None] = mapped_column(Float)
    compensated_interval: Mapped[int | None] = mapped_column(Integer)
    compensation_run_id: Mapped[int | None] = mapped_column(Integer)
    lost_mbit: Mapped[float | None] = mapped_column(Float)  # traffic not served meanwhile
    recovered_ratio: Mapped[float | None] = mapped_column(Float)
    cleared_at: Mapped[float | None] = mapped_column(Float)


# --- southbound: how a network is reached, what O1 shows, what each transaction did (0005) --


class NetworkSouthbound(Base):
    """A network's southbound: twin, or O1 endpoints (and optionally an A1 endpoint).

    Passwords and tokens are not here: they are stored secrets (AES-GCM) named
    ``southbound.<network_id>.o1.<n>`` and ``southbound.<network_id>.a1``.
    """

    __tablename__ = "network_southbound"

    network_id: Mapped[int] = mapped_column(
        ForeignKey("networks.id", ondelete="CASCADE"), primary_key=True
    )
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))  # twin, o1
    sleep_method: Mapped[str] = mapped_column(String(30))
    o1_endpoints: Mapped[list[dict[str, Any]]] = mapped_column(JsonType)  # no secrets
    a1: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    confirm_timeout_s: Mapped[int] = mapped_column(Integer)
    timeout_s: Mapped[float] = mapped_column(Float)
    updated_s: Mapped[int] = mapped_column(BigInteger)


class O1ElementRow(Base):
    """A ManagedElement found by discovery: its endpoint and the NRM objects ranopt edits."""

    __tablename__ = "o1_elements"

    network_id: Mapped[int] = mapped_column(
        ForeignKey("networks.id", ondelete="CASCADE"), primary_key=True
    )
    element: Mapped[str] = mapped_column(String(200), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    endpoint_index: Mapped[int] = mapped_column(Integer)
    detail: Mapped[dict[str, Any]] = mapped_column(JsonType)  # cells' CES ids, relations
    discovered_s: Mapped[int] = mapped_column(BigInteger)


class SouthboundTransaction(Base):
    """One element's transaction (O1) or one policy operation (A1) and its outcome."""

    __tablename__ = "southbound_transactions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    network_id: Mapped[int] = mapped_column(
        ForeignKey("networks.id", ondelete="CASCADE"), index=True
    )
    run_id: Mapped[int | None] = mapped_column(Integer)
    interface: Mapped[str] = mapped_column(String(10))  # o1, a1
    element: Mapped[str] = mapped_column(String(200))  # ManagedElement id or A1 policy id
    endpoint: Mapped[str] = mapped_column(String(300))
    outcome: Mapped[str] = mapped_column(String(20))  # applied, rolled_back, unreachable
    num_edits: Mapped[int] = mapped_column(Integer)
    step: Mapped[str | None] = mapped_column(String(40))
    error: Mapped[str | None] = mapped_column(Text)
    created_s: Mapped[int] = mapped_column(BigInteger)
    seconds: Mapped[float] = mapped_column(Float)


class A1PolicyRow(Base):
    """An A1 policy instance ranopt created, with the last status the RIC reported."""

    __tablename__ = "a1_policies"
    __table_args__ = (UniqueConstraint("network_id", "policy_type", "policy_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    network_id: Mapped[int] = mapped_column(ForeignKey("networks.id", ondelete="CASCADE"))
    policy_type: Mapped[str] = mapped_column(String(200))
    policy_id: Mapped[str] = mapped_column(String(200))
    body: Mapped[dict[str, Any]] = mapped_column(JsonType)
    enforce_status: Mapped[str | None] = mapped_column(String(20))
    enforce_reason: Mapped[str | None] = mapped_column(String(40))
    updated_s: Mapped[int] = mapped_column(BigInteger)


class DiscoveryJob(Base):
    """A discovery run as a background job (large networks): its status and report."""

    __tablename__ = "discovery_jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    network_id: Mapped[int] = mapped_column(
        ForeignKey("networks.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(20))  # queued, running, succeeded, failed
    created_by: Mapped[str] = mapped_column(String(200))
    created_s: Mapped[int] = mapped_column(BigInteger)
    finished_s: Mapped[int | None] = mapped_column(BigInteger)
    report: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    error: Mapped[str | None] = mapped_column(Text)


class CalibrationReport(Base):
    """One calibration of a network's model: its measured fit on held-out days (JSON)."""

    __tablename__ = "calibration_reports"
    __table_args__ = (Index("ix_calibration_reports_network_created", "network_id", "created_s"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    network_id: Mapped[int] = mapped_column(ForeignKey("networks.id", ondelete="CASCADE"))
    created_s: Mapped[int] = mapped_column(BigInteger)
    data_end_s: Mapped[int] = mapped_column(BigInteger)  # end of the PM history it used
    days_found: Mapped[float] = mapped_column(Float)
    prb_load_wape: Mapped[float | None] = mapped_column(Float)  # held-out, radio model
    report: Mapped[dict[str, Any]] = mapped_column(JsonType)


class Lease(Base):
    """A named lease (one network's loop, the backup schedule) held by one replica at a time.

    ``token`` grows by one at every change of holder: the fencing token that each write of
    the holder checks, so a replica that lost the lease cannot write after its successor
    began. ``expires_s`` and ``due_s`` are the database's clock (epoch seconds), never a
    replica's.
    """

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    token: Mapped[int] = mapped_column(BigInteger)
    expires_s: Mapped[float] = mapped_column(Float)
    acquired_s: Mapped[float] = mapped_column(Float)
    due_s: Mapped[float | None] = mapped_column(Float)  # when the holder's next run is due


class SchemaCompatibility(Base):
    """Which older code can run against a schema revision (expand / contract migrations).

    A migration that only adds (expand) records the oldest revision whose code still works
    against it; code that finds the database at a newer revision it does not know opens it if
    that oldest revision is one it knows (blue-green: old and new run against one schema).
    """

    __tablename__ = "schema_compatibility"

    revision: Mapped[str] = mapped_column(String(32), primary_key=True)
    oldest_compatible: Mapped[str] = mapped_column(String(32))


# --- detection (0011) ------------------------------------------------------------------------


class DetectorState(Base):
    """A detector's memory between two runs (``kpi:<network id>``, ``security``), as bytes."""

    __tablename__ = "detector_states"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    tenant_id: Mapped[int | None] = mapped_column(ForeignKey("tenants.id"))
    network_id: Mapped[int | None] = mapped_column(ForeignKey("networks.id", ondelete="CASCADE"))
    updated_s: Mapped[int] = mapped_column(BigInteger)
    blob: Mapped[bytes] = mapped_column(LargeBinary)


class RequestLogEntry(Base):
    """One API request: who, which route template, tenant, client address, status, when.

    Bounded: rows older than ``RANOPT_REQUEST_LOG_DAYS`` or beyond
    ``RANOPT_REQUEST_LOG_MAX_ROWS`` are deleted. No body, query string or credential is kept.
    """

    __tablename__ = "request_log"
    __table_args__ = (
        Index("ix_request_log_tenant_id", "tenant_id", "id"),
        Index("ix_request_log_ts_s", "ts_s"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ts_s: Mapped[int] = mapped_column(BigInteger)
    tenant_id: Mapped[int | None] = mapped_column(Integer)
    principal: Mapped[str] = mapped_column(String(200))  # "user:7", "apikey:rk_...", "-"
    via: Mapped[str] = mapped_column(String(20))  # jwt, api_key, basic, oidc, none
    method: Mapped[str] = mapped_column(String(10))
    route: Mapped[str] = mapped_column(String(300))  # template, never the raw path
    network_id: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[int] = mapped_column(Integer)
    client: Mapped[str] = mapped_column(String(100))
