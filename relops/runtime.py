"""Per-process singletons a worker needs: settings, the loaded config, the database engine."""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy import Engine

from relops.db import get_engine
from relops.settings import get_settings
from relops.slo_config import RelopsConfig, load_config


@lru_cache(maxsize=1)
def get_config() -> RelopsConfig:
    """The config file, loaded and validated once per process."""
    return load_config(get_settings().config_path)


def engine() -> Engine:
    return get_engine(get_settings().database_url)


def reset_after_fork() -> None:
    """A forked child must not reuse the parent's pooled connections."""
    get_engine.cache_clear()
