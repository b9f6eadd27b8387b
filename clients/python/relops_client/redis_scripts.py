"""Running a Lua script that lives beside the Python calling it (breaker.lua here; relops' own
scripts through relops.state.redis_client, which uses this)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import redis

#: What a lost, refused or timed-out Redis connection raises: callers fail open on these. During a
#: Sentinel failover that includes redis.sentinel.MasterNotFoundError (a ConnectionError: no Sentinel
#: names a primary yet) and ReadOnlyError: a client still connected to a primary that was demoted to
#: a replica has its writes refused (redis-py turns that into a ConnectionError for clients made
#: through Sentinel, not for a plain redis:// URL pointed at the same server).
REDIS_FAULTS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, redis.exceptions.ReadOnlyError)


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
