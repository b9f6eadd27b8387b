"""The Redis client every relops process shares state through, and the runner of its Lua scripts.

Each script lives beside the Python that calls it (alerting/dedup.lua, alerting/rate_limit.lua,
breakers/breaker.lua) and is passed here by path.
"""

from __future__ import annotations

from functools import lru_cache

import redis
from relops_client.redis_scripts import REDIS_FAULTS, run_script

__all__ = ["REDIS_FAULTS", "redis_client", "run_script"]


@lru_cache(maxsize=4)
def redis_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2, health_check_interval=30)
