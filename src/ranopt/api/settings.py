"""The service's one configuration class (environment variables ``RANOPT_*``)."""

from pathlib import Path
from typing import Literal, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ranopt.store.config import data_dir, database_url
from ranopt.store.secrets import Keyring

# A well-known key for development only: refused in any other environment.
DEV_SECRET_KEYS = "1:cmFub3B0LWRldmVsb3BtZW50LWtleS1ub3QtcHJvZCE="  # noqa: S105


class Settings(BaseSettings):
    """Service settings; outside ``development`` the default secrets are refused."""

    model_config = SettingsConfigDict(env_prefix="RANOPT_", extra="ignore", frozen=True)

    environment: Literal["development", "production"] = "development"
    database_url: str = Field(default_factory=database_url)
    secret_keys: SecretStr = Field(
        default=SecretStr(DEV_SECRET_KEYS),
        description="Data-encryption keys VERSION:BASE64(32 bytes), comma separated",
    )
    jwt_issuer: str = "ranopt"
    jwt_audience: str = "ranopt-api"
    access_token_ttl_s: int = Field(default=900, gt=0, le=86_400)
    signing_key_max_age_s: int = Field(default=30 * 86_400, gt=0)
    oidc_issuer: str | None = None
    oidc_jwks_url: str | None = None
    oidc_audience: str | None = None
    oidc_tenant_claim: str = "ranopt_tenant"
    oidc_role_claim: str = "ranopt_role"
    rate_limit: str = "1200/minute"
    rate_limit_storage_uri: str = "memory://"
    redis_url: str | None = Field(
        default=None, description="Redis for the KPI cache (default: a redis:// rate-limit "
        "storage, if that is one)",
    )  # fmt: skip
    kpi_cache: Literal["auto", "memory", "redis", "off"] = Field(
        default="auto", description="KPI-series cache: Redis when a Redis URL is set, else memory"
    )
    kpi_cache_bytes: int = Field(
        default=64 * 1024 * 1024, ge=0, description="memory cache size per process (0: off)"
    )
    kpi_cache_ttl_s: int = Field(default=3600, gt=0, description="Redis entries expire after")
    auth_free_failures: int = Field(
        default=5, ge=1, description="failed credentials of one account from one address "
        "before back-off starts",
    )  # fmt: skip
    auth_free_failures_per_address: int = Field(
        default=30, ge=1, description="failed credentials from one address before back-off"
    )
    auth_failure_window_s: int = Field(
        default=3600, gt=0, description="failures are counted over this window"
    )
    auth_backoff_base_s: float = Field(default=1.0, gt=0, description="first back-off, doubled")
    auth_backoff_max_s: float = Field(default=900.0, gt=0, description="longest back-off")
    audit_failure_window_s: int = Field(
        default=60, gt=0, description="rejected credentials are audited once per this window"
    )
    audit_key_file: Path = Field(
        default_factory=lambda: data_dir() / "audit-signing.key",
        description="Ed25519 key that signs audit checkpoints (outside the database)",
    )
    audit_checkpoint_dir: Path = Field(default_factory=lambda: data_dir() / "audit-checkpoints")
    audit_checkpoint_interval_s: float = Field(
        default=3600.0, ge=0, description="the server signs a checkpoint this often (0: never)"
    )
    request_log_days: int = Field(default=30, gt=0, description="request log kept this long")
    request_log_max_rows: int = Field(
        default=1_000_000, gt=0, description="request log rows kept at most (oldest go first)"
    )
    security_scan_interval_s: float = Field(
        default=60.0, ge=0, description="security analytics run this often (0: never)"
    )
    max_body_bytes: int = Field(
        default=32 * 1024 * 1024, gt=0, description="larger request bodies answer 413"
    )
    max_form_bytes: int = Field(default=16 * 1024, gt=0, description="login form body cap")
    max_json_depth: int = Field(default=32, ge=2, le=200)
    max_series_points: int = Field(
        default=50_000, gt=0, description="cells x buckets one KPI series answer may hold"
    )
    max_series_values: int = Field(
        default=250_000, gt=0, description="points x counters one KPI series answer may hold"
    )
    max_scan_samples: int = Field(
        default=2_000_000, gt=0, description="raw samples one KPI query may read"
    )
    max_query_s: float = Field(
        default=2.0, gt=0, description="database time one KPI query may take"
    )
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_kib: int = Field(default=65_536, ge=8)
    max_concurrent_hashes: int = Field(
        default=4, ge=1, description="argon2 verifications at once (each takes its memory cost)"
    )
    sync_max_cells: int = Field(default=60, ge=0, description="larger networks run as jobs")
    sync_max_cell_intervals: int = Field(
        default=400, ge=0, description="optimizations of more cells x intervals run as jobs"
    )
    sync_max_twin_ues: int = Field(
        default=2000, ge=0, description="twin networks with more UEs are built as jobs"
    )
    max_open_jobs: int = Field(
        default=16, ge=1, description="queued and running jobs at once; more answer 429"
    )
    min_confidence: float = Field(default=0.9, ge=0, le=1, description="alert below this")
    optimize_history_days: int = Field(default=7, ge=2)
    calibration_min_days: float = Field(
        default=7.0, ge=3, description="days of PM history a network's model needs"
    )
    calibration_history_days: int = Field(
        default=14, ge=3, le=90, description="latest days of PM history calibration reads"
    )
    confidence_scenarios: int = Field(default=32, ge=1)
    max_concurrent_requests: int = Field(
        default=32, ge=1, description="requests inside the app at once; the rest wait"
    )
    max_batch_records: int = Field(default=200_000, gt=0)
    loop_enabled: bool = Field(
        default=False, description="run the closed loop of every enabled network in this process"
    )
    loop_tick_s: float = Field(
        default=900.0, gt=0, description="wall seconds per 15-minute loop interval (1 = demo)"
    )
    loop_lease_ttl_s: float = Field(
        default=3.0, gt=0.2, le=600,
        description="a replica's loop lease lasts this long unrenewed (takeover after a kill)",
    )  # fmt: skip
    backup_interval_s: float = Field(
        default=0.0, ge=0, description="one replica backs the database up this often (0: never)"
    )
    backup_dir: Path = Field(
        default_factory=lambda: data_dir() / "backups",
        description="where scheduled backups go (a volume outside the database's)",
    )
    backup_keep: int = Field(default=7, ge=1, description="newest backups always kept")
    host: str = "127.0.0.1"
    port: int = 8000
    forwarded_allow_ips: str = Field(
        default="127.0.0.1",
        description="proxies whose X-Forwarded-For names the client (comma separated)",
    )

    @model_validator(mode="after")
    def _no_default_secrets(self) -> Self:
        if self.environment != "development":
            if self.secret_keys.get_secret_value() == DEV_SECRET_KEYS:
                msg = "RANOPT_SECRET_KEYS: set real keys outside development"
                raise ValueError(msg)
            if bool(self.oidc_issuer) != bool(self.oidc_jwks_url):
                msg = "RANOPT_OIDC_ISSUER and RANOPT_OIDC_JWKS_URL go together"
                raise ValueError(msg)
        Keyring.parse(self.secret_keys.get_secret_value())  # fail at start, not at first use
        return self

    def cache_redis_url(self) -> str | None:
        """Return the KPI cache's Redis: ``redis_url``, else a Redis rate-limit storage."""
        if self.redis_url:
            return self.redis_url
        uri = self.rate_limit_storage_uri
        return uri if uri.startswith(("redis://", "rediss://")) else None

    def keyring(self) -> Keyring:
        """Return the data-encryption keyring."""
        return Keyring.parse(self.secret_keys.get_secret_value())
