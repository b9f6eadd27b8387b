"""Per-process singletons a worker needs: settings, the loaded config, the database engine."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from redis import Redis
from relops_client.producer import TaskProducer
from sqlalchemy import Engine

from relops.channels.base import Channel
from relops.channels.registry import build_receivers, check_alerting_config
from relops.config import RelopsConfig, load_config
from relops.db import get_engine
from relops.redis_state import redis_client
from relops.settings import get_settings
from relops.silencing.cache import ActiveSilences


def load_checked_config(path: Path) -> RelopsConfig:
    """The config file at ``path`` validated as every process uses it: the file's own rules, then
    its channel, receiver and route sections against the channels this installation has."""
    config = load_config(path)
    check_alerting_config(config, str(path))
    return config


@lru_cache(maxsize=1)
def get_config() -> RelopsConfig:
    """The config file, loaded and validated once per process."""
    return load_checked_config(get_settings().config_path)


@lru_cache(maxsize=1)
def get_receivers() -> dict[str, Channel]:
    """The receivers this process can deliver to, by name (built once, so a skip is logged once)."""
    return build_receivers(get_settings(), get_config())


#: How old a worker's view of the silences may be: a silence is in force everywhere this long after.
SILENCE_RELOAD_S = 1.0


@lru_cache(maxsize=1)
def active_silences() -> ActiveSilences:
    """This process's view of the silences in force (reloaded at most every SILENCE_RELOAD_S)."""
    return ActiveSilences(max_age_s=SILENCE_RELOAD_S)


@lru_cache(maxsize=1)
def task_producer() -> TaskProducer:
    """This process's producer for messages sent many at once: one pipelined round trip to a Redis
    broker instead of one per message (a tick's alerts while many flows burn)."""
    return TaskProducer(get_settings().broker_url)


def redis() -> Redis:
    settings = get_settings()
    return redis_client(settings.redis_url, settings.redis_sentinel_master, settings.sentinel_auth)


def engine() -> Engine:
    return get_engine(get_settings().database_url)


def reset_after_fork() -> None:
    """A forked child must not reuse the parent's pooled connections."""
    get_engine.cache_clear()
    redis_client.cache_clear()
    active_silences.cache_clear()
    task_producer.cache_clear()
