"""The Redis client every relops process shares state through, and the runner of its Lua scripts.

Each script lives beside the Python that calls it (alerting/dedup.lua, alerting/rate_limit.lua,
breakers/breaker.lua) and is passed here by path.
"""

from __future__ import annotations

from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import redis

#: What a lost, refused or timed-out Redis connection raises: callers fail open on these.
REDIS_FAULTS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


@lru_cache(maxsize=4)
def redis_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2, health_check_interval=30)


@cache
def _source(path: Path) -> str:
    return path.read_text()


_registered: dict[tuple[int, Path], Any] = {}


def run_script(client: redis.Redis, script: Path, keys: list[str], args: list[object]) -> Any:
    """EVALSHA of the Lua file at ``script``, loading it on first use (NOSCRIPT after a Redis restart
    loads it again)."""
    registered = _registered.get((id(client), script))
    if registered is None:
        registered = _registered[(id(client), script)] = client.register_script(_source(script))
    return registered(keys=keys, args=args, client=client)
