"""The Redis client every relops process shares state through, and the runner of its Lua scripts.

Each script lives beside the Python that calls it (alerting/dedup.lua, alerting/rate_limit.lua,
breakers/breaker.lua) and is passed here by path. After a Sentinel failover the promoted replica has
none of them cached: redis-py's Script answers NOSCRIPT by loading the script and running it again.
"""

from __future__ import annotations

from functools import lru_cache

import redis
from relops_client.redis_connect import redis_from_url
from relops_client.redis_scripts import REDIS_FAULTS, run_script

__all__ = ["REDIS_FAULTS", "redis_client", "run_script"]


@lru_cache(maxsize=4)
def redis_client(url: str, sentinel_master: str | None = None, sentinel_auth: str | None = None) -> redis.Redis:
    """The client of ``url`` (for a sentinel:// URL: of the primary the Sentinels name
    ``sentinel_master``, asking them with ``sentinel_auth``)."""
    return redis_from_url(
        url,
        master_name=sentinel_master,
        sentinel_auth=sentinel_auth,
        socket_timeout=2,
        socket_connect_timeout=2,
        health_check_interval=30,
    )
