"""The service's one configuration class (environment variables ``RANOPT_*``)."""

from typing import Literal, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ranopt.store.config import database_url
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
    login_rate_limit: str = "10/minute"
    rate_limit_storage_uri: str = "memory://"
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_kib: int = Field(default=65_536, ge=8)
    sync_max_cells: int = Field(default=60, ge=0, description="larger networks run as jobs")
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
    host: str = "127.0.0.1"
    port: int = 8000

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

    def keyring(self) -> Keyring:
        """Return the data-encryption keyring."""
        return Keyring.parse(self.secret_keys.get_secret_value())
