"""Process settings from the environment: the one source of truth, validated once at start.

Environment variable names are part of the contract (README, "Integration").
"""

from __future__ import annotations

import ipaddress
import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from relops_client.environment import DEFAULT_SENTINEL_MASTER
from relops_client.queues import broker_kind
from relops_client.redis_connect import (
    broker_kombu_url,
    broker_transport_options,
    is_sentinel_url,
    parse_sentinel_url,
)

from relops.errors import SettingsError

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/relops"


class Settings(BaseSettings):
    """Every environment variable relops reads."""

    # An empty variable (VAR= in compose or a shell) means unset, not an empty URL or key.
    model_config = SettingsConfigDict(extra="ignore", frozen=True, populate_by_name=True, env_ignore_empty=True)

    #: redis://, rediss://, unix://, or Sentinels: sentinel://host:port[;sentinel://host:port...][/db]
    #: (relops_client.redis_connect describes the form).
    redis_url: str = Field(DEFAULT_REDIS_URL, validation_alias="REDIS_URL")
    #: Defaults to REDIS_URL when unset. Redis or RabbitMQ (relops.broker); Redis stays the shared state.
    celery_broker_url: str | None = Field(None, validation_alias="CELERY_BROKER_URL")
    #: The primary's name as the Sentinels of a sentinel:// REDIS_URL or CELERY_BROKER_URL know it.
    redis_sentinel_master: str = Field(DEFAULT_SENTINEL_MASTER, validation_alias="REDIS_SENTINEL_MASTER")
    #: The password the Sentinels themselves ask for (the primary's is in the URL); never logged.
    redis_sentinel_password: SecretStr | None = Field(None, validation_alias="REDIS_SENTINEL_PASSWORD")
    #: The workers' connection (in a deployment, the relops_worker role).
    database_url: str = Field(DEFAULT_DATABASE_URL, validation_alias="DATABASE_URL")
    #: An owner's connection for `relops migrate` (creates the database and the roles) and
    #: `relops users add`; defaults to DATABASE_URL.
    admin_database_url: str | None = Field(None, validation_alias="RELOPS_ADMIN_DATABASE_URL")
    #: The flows/evaluation config file (TOML).
    config_path: Path = Field(Path("relops.toml"), validation_alias="RELOPS_CONFIG")
    log_level: str = Field("INFO", validation_alias="RELOPS_LOG_LEVEL")
    #: The dashboard's database connection: the read-only relops_web role (default: DATABASE_URL
    #: with that user name).
    web_database_url: str | None = Field(None, validation_alias="RELOPS_WEB_DATABASE_URL")
    web_host: str = Field("127.0.0.1", validation_alias="RELOPS_WEB_HOST")
    web_port: int = Field(8080, ge=1, le=65535, validation_alias="RELOPS_WEB_PORT")
    #: Session cookies marked Secure (and named __Host-relops_session, which no sibling subdomain
    #: can plant): true behind TLS; auto: when the request arrived over https (as the trusted proxy
    #: says); false only for plain-HTTP development.
    web_secure_cookies: Literal["auto", "true", "false"] = Field("auto", validation_alias="RELOPS_WEB_SECURE_COOKIES")
    #: Proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (comma-separated addresses or
    #: networks, or *): the client address that sign-ins are throttled by and audit rows name, and
    #: whether the request was https.
    web_trusted_proxies: str = Field("127.0.0.1", validation_alias="RELOPS_WEB_TRUSTED_PROXIES")
    #: A session ends this long after sign-in, however active.
    web_session_max_s: int = Field(12 * 3600, ge=300, le=7 * 86400, validation_alias="RELOPS_WEB_SESSION_MAX_S")
    #: A session with no request for this long ends.
    web_session_idle_s: int = Field(3600, ge=60, le=7 * 86400, validation_alias="RELOPS_WEB_SESSION_IDLE_S")
    #: The dashboard's budget-over-period charts are computed at most this often (0: every request).
    web_trends_ttl_s: int = Field(60, ge=0, le=3600, validation_alias="RELOPS_WEB_TRENDS_TTL_S")
    #: The HTTP intake (`relops intake`): where services report outcomes and cron runs with a report key.
    intake_host: str = Field("127.0.0.1", validation_alias="RELOPS_INTAKE_HOST")
    intake_port: int = Field(8081, ge=1, le=65535, validation_alias="RELOPS_INTAKE_PORT")
    #: Slack-style incoming webhook; a secret (it authorises posting), never logged.
    webhook_url: SecretStr | None = Field(None, validation_alias="MONITORING_ALERT_WEBHOOK_URL")
    #: Comma-separated recipients of email alerts.
    admin_emails: str = Field("", validation_alias="ADMIN_EMAILS")
    resend_api_key: SecretStr | None = Field(None, validation_alias="RESEND_API_KEY")
    resend_api_url: str = Field("https://api.resend.com", validation_alias="RESEND_API_URL")
    #: A Slack app's signing secret: webhook messages carry Acknowledge, Resolve and Silence 1 h
    #: buttons, and the intake takes their clicks (POST /api/v1/slack/interactions) signed with it.
    #: A secret, never logged.
    slack_signing_secret: SecretStr | None = Field(None, validation_alias="SLACK_SIGNING_SECRET")
    #: Hosts besides hooks.slack.com (comma-separated) that a click's response_url may name: a proxy
    #: of Slack's, or a local receiver in tests. Empty: Slack's own host, over https, only.
    slack_response_hosts: str = Field("", validation_alias="RELOPS_SLACK_RESPONSE_HOSTS")
    #: The signing secrets of PagerDuty's v3 webhook subscription, comma-separated (two during a
    #: rotation); unset: the intake's /api/v1/pagerduty/webhooks answers 404. Secrets, never logged.
    pagerduty_webhook_secrets: SecretStr | None = Field(None, validation_alias="RELOPS_PAGERDUTY_WEBHOOK_SECRETS")

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str) -> str:
        if is_sentinel_url(value):
            parse_sentinel_url(value)  # its ValueError says what is wrong, never quoting the URL
        elif not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss://, unix:// or sentinel://")
        return value

    @field_validator("redis_sentinel_master")
    @classmethod
    def _master_name(cls, value: str) -> str:
        if not value.strip() or any(c.isspace() for c in value):
            raise ValueError("must be the Sentinels' name for the primary, without spaces")
        return value

    @field_validator("celery_broker_url")
    @classmethod
    def _broker_scheme(cls, value: str | None) -> str | None:
        if value is not None:
            if is_sentinel_url(value):
                parse_sentinel_url(value)  # its ValueError says what is wrong, never quoting the URL
            broker_kind(value)  # a ValueError names the schemes relops runs on
        return value

    @field_validator("database_url", "web_database_url", "admin_database_url")
    @classmethod
    def _database_scheme(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith("postgresql"):
            raise ValueError("must be a PostgreSQL URL (postgresql+psycopg://user@host:port/db)")
        if value.startswith("postgresql://"):
            # SQLAlchemy would pick psycopg2 for a bare postgresql:// URL; relops ships psycopg 3.
            value = "postgresql+psycopg://" + value.removeprefix("postgresql://")
        return value

    @field_validator("web_trusted_proxies")
    @classmethod
    def _proxies(cls, value: str) -> str:
        for entry in (e.strip() for e in value.split(",") if e.strip()):
            if entry == "*":
                continue
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an address or network (e.g. 10.0.0.0/8), nor *") from None
        return value

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR")
        return level

    @field_validator("admin_emails")
    @classmethod
    def _emails(cls, value: str) -> str:
        for address in (a.strip() for a in value.split(",") if a.strip()):
            if "@" not in address or any(c.isspace() for c in address):
                raise ValueError(f"{address!r} is not an email address")
        return value

    @model_validator(mode="after")
    def _redis_url_as_broker(self) -> Settings:
        if self.celery_broker_url is None:
            try:
                broker_kind(self.redis_url)
            except ValueError as exc:
                raise ValueError(f"REDIS_URL as the broker (CELERY_BROKER_URL is unset): {exc}") from None
        return self

    @model_validator(mode="after")
    def _session_limits(self) -> Settings:
        if self.web_session_idle_s > self.web_session_max_s:
            raise ValueError(
                f"RELOPS_WEB_SESSION_IDLE_S={self.web_session_idle_s} is longer than "
                f"RELOPS_WEB_SESSION_MAX_S={self.web_session_max_s}: a session could never idle out"
            )
        return self

    @field_validator("slack_response_hosts")
    @classmethod
    def _hosts(cls, value: str) -> str:
        for host in (h.strip() for h in value.split(",") if h.strip()):
            if any(c in host for c in "/:@ ") or len(host) > 253:
                raise ValueError(f"{host[:60]!r} is not a host name or address (no scheme, port or path)")
        return value

    @property
    def slack_response_host_set(self) -> frozenset[str]:
        return frozenset(h.strip().lower() for h in self.slack_response_hosts.split(",") if h.strip())

    @property
    def admin_email_list(self) -> list[str]:
        return [a.strip() for a in self.admin_emails.split(",") if a.strip()]

    @property
    def admin_db_url(self) -> str:
        return self.admin_database_url or self.database_url

    @property
    def web_db_url(self) -> str:
        if self.web_database_url:
            return self.web_database_url
        from sqlalchemy.engine import make_url

        return (
            make_url(self.database_url).set(username="relops_web", password=None).render_as_string(hide_password=False)
        )

    @property
    def broker_url(self) -> str:
        """CELERY_BROKER_URL, else REDIS_URL, as kombu reads it (a Sentinel URL with its credentials
        and database on every entry)."""
        return broker_kombu_url(self.celery_broker_url or self.redis_url)

    @property
    def sentinel_auth(self) -> str | None:
        return self.redis_sentinel_password.get_secret_value() if self.redis_sentinel_password else None

    @property
    def broker_sentinel_options(self) -> dict[str, Any]:
        """kombu transport options a sentinel:// broker needs (the primary's name, the Sentinels'
        own connection options); empty for any other broker."""
        return broker_transport_options(
            self.broker_url, master_name=self.redis_sentinel_master, sentinel_auth=self.sentinel_auth
        )


def _problem(location: tuple[Any, ...], message: str) -> str:
    """``VARIABLE: why``; a check of several variables has no location, and its message names them."""
    message = message.removeprefix("Value error, ")
    return f"{'.'.join(str(p) for p in location)}: {message}" if location else message


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Read and validate the environment once per process."""
    try:
        return Settings()
    except ValidationError as exc:
        # pydantic prefixes a validator's own message with "Value error, ": the message is enough.
        problems = "; ".join(_problem(err["loc"], err["msg"]) for err in exc.errors())
        raise SettingsError(f"invalid environment settings: {problems}") from None


def named_variable(variable: str) -> SecretStr | None:
    """A variable the config file names (a receiver's url_env or to_env), read when the receivers are
    built at start; treated as a secret, since a webhook URL is one. None when unset or blank."""
    value = os.environ.get(variable, "").strip()
    return SecretStr(value) if value else None
