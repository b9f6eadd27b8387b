"""The Redis client every relops process shares state through.

Lua scripts live beside the Python that calls them (state/dedup.lua, state/rate_limit.lua,
application/group_timer.lua, the client's breaker.lua) and run through relops_client.redis_scripts:
after a Sentinel failover the promoted replica has none of them cached, and redis-py's Script
answers NOSCRIPT by loading the script and running it again.
"""

from __future__ import annotations

from functools import lru_cache

import redis
from relops_client.redis_connect import redis_from_url


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
