"""Process settings from the environment: the one source of truth, validated once at start.

Environment variable names are part of the contract (README, "Integration").
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from relops.errors import SettingsError

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/relops"


class Settings(BaseSettings):
    """Every environment variable relops reads."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    redis_url: str = Field(DEFAULT_REDIS_URL, validation_alias="REDIS_URL")
    #: Defaults to REDIS_URL when unset.
    celery_broker_url: str | None = Field(None, validation_alias="CELERY_BROKER_URL")
    database_url: str = Field(DEFAULT_DATABASE_URL, validation_alias="DATABASE_URL")
    #: The flows/evaluation config file (TOML).
    config_path: Path = Field(Path("relops.toml"), validation_alias="RELOPS_CONFIG")
    log_level: str = Field("INFO", validation_alias="RELOPS_LOG_LEVEL")

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str) -> str:
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value

    @field_validator("database_url")
    @classmethod
    def _database_scheme(cls, value: str) -> str:
        if not value.startswith("postgresql"):
            raise ValueError("must be a PostgreSQL URL (postgresql+psycopg://user@host:port/db)")
        if value.startswith("postgresql://"):
            # SQLAlchemy would pick psycopg2 for a bare postgresql:// URL; relops ships psycopg 3.
            value = "postgresql+psycopg://" + value.removeprefix("postgresql://")
        return value

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR")
        return level

    @property
    def broker_url(self) -> str:
        return self.celery_broker_url or self.redis_url


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Read and validate the environment once per process."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors())
        raise SettingsError(f"invalid environment settings: {problems}") from None
