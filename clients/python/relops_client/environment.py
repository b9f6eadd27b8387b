"""The environment variables the client reads, with relops' own defaults (relops.settings reads
the same names for the server)."""

from __future__ import annotations

import os

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
#: The name Redis' own example sentinel.conf monitors its primary under.
DEFAULT_SENTINEL_MASTER = "mymaster"


def _variable(name: str) -> str | None:
    # An empty variable (VAR= in compose or a shell) means unset, as relops.settings treats it.
    value = os.environ.get(name, "").strip()
    return value or None


def redis_url() -> str:
    return _variable("REDIS_URL") or DEFAULT_REDIS_URL


def broker_url() -> str:
    """CELERY_BROKER_URL, else REDIS_URL: where relops' workers take their tasks from."""
    return _variable("CELERY_BROKER_URL") or redis_url()


def config_path() -> str:
    return _variable("RELOPS_CONFIG") or "relops.toml"


def sentinel_master() -> str:
    """REDIS_SENTINEL_MASTER: the primary's name as the Sentinels of a sentinel:// URL know it."""
    return _variable("REDIS_SENTINEL_MASTER") or DEFAULT_SENTINEL_MASTER


def sentinel_password() -> str | None:
    """REDIS_SENTINEL_PASSWORD: the password the Sentinels themselves ask for (a secret)."""
    return _variable("REDIS_SENTINEL_PASSWORD")
