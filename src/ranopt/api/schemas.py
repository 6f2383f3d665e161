"""Request and response bodies of the API (separate from the tables and the store's models)."""

from typing import Annotated, Literal

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints, model_validator

from ranopt.api.permissions import Role
from ranopt.ingest.times import MAX_TIME_S, MIN_TIME_S
from ranopt.service.partitioned import MAX_PARTITION_CELLS, MIN_PARTITION_CELLS
from ranopt.store.schemas import Count, LongText, Name, Real

MAX_DB_ID = 2**31 - 1  # ids are 32-bit integers on PostgreSQL
MAX_EPOCH_S = MAX_TIME_S  # times are epoch seconds from 1970 to 2100 (``ranopt.ingest.times``)
MIN_UES_PER_SITE = 20
DbId = Annotated[int, Field(strict=True, ge=1, le=MAX_DB_ID)]
IdPath = Annotated[int, Path(ge=1, le=MAX_DB_ID)]
EpochS = Annotated[int, Field(strict=True, ge=MIN_TIME_S, le=MAX_TIME_S)]
CounterName = Annotated[
    str, StringConstraints(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:\-]+$")
]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TokenOut(BaseModel):
    """An OAuth2 access token response (RFC 6749 section 5.1)."""

    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth2 token type
    expires_in: int


class UserCreate(_In):
    """A new user of the caller's tenant."""

    username: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.@-]+$")
    password: str = Field(min_length=12, max_length=1024)
    role: Role


class ApiKeyCreate(_In):
    """A new API key of the caller's tenant."""

    name: Name
    role: Role


class ApiKeyCreated(BaseModel):
    """A new API key: ``key`` is shown this once and never stored in clear."""

    id: int
    name: str
    prefix: str
    role: str
    key: str


class TotpEnrolled(BaseModel):
    """A TOTP secret and its provisioning URI (shown once)."""

    user_id: int
    secret: str
    provisioning_uri: str


class MfaPolicy(_In):
    """Whether the tenant's users must give a second factor."""

    mfa_required: StrictBool


class TwinNetworkCreate(_In):
    """A network exported from a twin scenario (the twin is then its planning model)."""

    name: Name | None = None
    scenario: Literal["default", "medium", "large"] = "default"
    seed: Count = Field(default=0, ge=0, le=2**31 - 1)
    num_sites: Count = Field(default=7, ge=1, le=271)
    num_ues: Count = Field(default=300, ge=1, le=100_000)

    @model_validator(mode="after")
    def _enough_ues(self) -> "TwinNetworkCreate":
        # the twin needs UEs spread over its cells; fewer than this leaves layers empty
        if self.num_ues < MIN_UES_PER_SITE * self.num_sites:
            msg = f"num_ues: at least {MIN_UES_PER_SITE} per site, got {self.num_ues}"
            raise ValueError(msg)
        return self


class TelemetryRecordIn(_In):
    """One cell's counters over one interval."""

    cell: LongText = Field(description="cell name, DN or NCI")
    interval_start_s: EpochS = Field(description="epoch seconds UTC, 1970 to 2100")
    counters: dict[CounterName, Real] = Field(
        min_length=1, max_length=200, description="TS 28.552 name -> finite value"
    )
    suspect: StrictBool = False


class TelemetryBatch(_In):
    """A JSON telemetry batch: written all or nothing."""

    records: list[TelemetryRecordIn] = Field(min_length=1)


class IngestOut(BaseModel):
    """What an ingest wrote."""

    num_records: int
    num_samples: int
    skipped: dict[str, int]


class VesIngestOut(IngestOut):
    """What a VES listener call wrote: counters, and fault events (alarms raised, cleared)."""

    num_faults: int
    faults_raised: int
    faults_cleared: int


class SeriesOut(BaseModel):
    """Bucketed KPI series: parallel arrays, one entry per (cell, bucket)."""

    cell_id: list[int]
    bucket_start_s: list[int]
    num_samples: list[int]
    values: dict[str, list[float | None]]


class AggregateOut(BaseModel):
    """Network-wide counters per interval."""

    interval_start_s: list[int]
    num_cells: list[int]
    values: dict[str, list[float | None]]


class Constraints(_In):
    """QoS limits the plan must keep (defaults: ``EnergyConstraints``)."""

    min_served_ratio: Real | None = Field(default=None, gt=0, le=1)
    max_prb_load: Real | None = Field(default=None, gt=0, le=1)
    ue_thp_floor_mbps: Real | None = Field(default=None, ge=0, le=1e5)


class OptimizeRequest(_In):
    """An optimization of one network over the horizon after its newest stored counters.

    ``seed`` seeds the planner's scenario sampling (default: from the network and run ids).
    ``partition_cells`` plans by clusters of at most that many cells (interference coupling,
    a sector's cells together, guard borders) on the configured executor, verified on the
    whole network; off (the whole network at once) when absent.
    """

    network_id: DbId
    objective: Literal["energy"] = "energy"
    solver: Literal["greedy", "anneal", "exact"] = "greedy"
    horizon_min: Count = Field(default=1440, gt=0, le=1440, multiple_of=15)
    constraints: Constraints | None = None
    seed: Annotated[int | None, Field(strict=True, ge=0, le=2**31 - 1)] = None
    partition_cells: Annotated[
        int | None, Field(strict=True, ge=MIN_PARTITION_CELLS, le=MAX_PARTITION_CELLS)
    ] = None


class SecretPut(_In):
    """A secret to store sealed (actuator credential, webhook token)."""

    kind: Literal["actuator_credential", "webhook_token", "other"]
    value: str = Field(min_length=1, max_length=8192)


class Accepted(BaseModel):
    """Work accepted for later (202): where to look for its outcome (also ``Location``)."""

    id: int
    status: str
    status_url: str
