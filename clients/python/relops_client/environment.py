"""The environment variables the client reads, with relops' own defaults (relops.settings reads
the same names for the server)."""

from __future__ import annotations

import os

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


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
