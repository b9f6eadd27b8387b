"""What a relops process is wired from: its settings, validated config, engine, Redis, receivers,
silences view, producer and breakers, each built once per process on first use.

Every process kind (worker, web, intake, CLI) takes its parts from here and nowhere else, and
importing this module builds nothing: each part is made when first asked for.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from redis import Redis
from relops_client.breakers import BreakerRegistry, use_registry
from relops_client.producer import TaskProducer
from relops_client.redis_scripts import REDIS_FAULTS
from sqlalchemy import Engine

from relops import redis_keys
from relops.application.active_silences import ActiveSilences
from relops.application.deps import Publisher
from relops.channels.base import Channel
from relops.channels.registry import build_receivers, check_alerting_config
from relops.config import RelopsConfig, load_config
from relops.db import get_engine
from relops.settings import get_settings
from relops.state.redis_client import redis_client


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


def producer_publisher(producer: TaskProducer) -> Publisher:
    """A Publisher sending through ``producer`` (the web's and the CLI's, which have no Celery app):
    for tasks due at once, so a countdown is not kept."""

    def publish(task: str, kwargs: Mapping[str, Any], queue: str, countdown_s: float = 0.0) -> None:
        producer.send(task, dict(kwargs), queue)

    return publish


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


def config_breakers() -> BreakerRegistry:
    """Every dependency of relops' config file (its defaults, receivers and [breakers.NAME]), sharing
    state through relops' Redis (Sentinel-aware)."""
    return BreakerRegistry(get_config().breaker_settings(), redis)


def use_config_breakers() -> None:
    """Make this process's ``guard``/``is_degraded`` use relops' config file and Redis. Each relops
    process calls it when it starts (the client's default reads the file itself, without the
    receivers' breakers and without Sentinel)."""
    use_registry(config_breakers)


def count_task_fault(field: str) -> None:
    """One more in the task-fault tally ``relops status`` shows; a Redis fault loses the count, never
    the caller's work (the caller has already logged what happened)."""
    with contextlib.suppress(*REDIS_FAULTS):
        redis().hincrby(redis_keys.task_faults(), field, 1)
