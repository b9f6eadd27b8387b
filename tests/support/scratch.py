"""Throwaway PostgreSQL databases and Redis database indexes for test runs and benchmarks.

Each run claims its own, so two runs on one machine (a developer's and CI's) never share rows,
queues or keys. Index 0 stays with ``make run``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from relops_client.redis_connect import redis_from_url

from relops.db import drop_database, get_engine, migrate
from relops.errors import RelopsError

REDIS_SCRATCH_INDEXES = range(1, 16)
CLAIM_TTL_S = 3 * 3600


@contextmanager
def claimed_redis_db(base_url: str, owner: str) -> Iterator[str]:
    """Claim a free Redis database index (SET NX in db 0), flushed before and after use. ``base_url``
    has no index; a sentinel:// one names the Sentinels (REDIS_SENTINEL_MASTER the primary)."""
    control = redis_from_url(f"{base_url}/0")
    claimed = next(
        (
            index
            for index in REDIS_SCRATCH_INDEXES
            if control.set(f"relops:scratch-claim:{index}", owner, nx=True, ex=CLAIM_TTL_S)
        ),
        None,
    )
    if claimed is None:
        control.close()
        raise RelopsError("every Redis scratch database index 1-15 is claimed by other runs")
    url = f"{base_url}/{claimed}"
    client = redis_from_url(url)
    client.flushdb()
    try:
        yield url
    finally:
        client.flushdb()
        client.close()
        if control.get(f"relops:scratch-claim:{claimed}") == owner.encode():
            control.delete(f"relops:scratch-claim:{claimed}")
        control.close()


def forget_relops_state(url: str) -> None:
    """Delete every relops key (dedup windows, rate limits, breakers) of the Redis database at ``url``:
    the next test starts as the first did, on workers that keep running."""
    client = redis_from_url(url)
    try:
        keys = list(client.scan_iter("relops:*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@contextmanager
def scratch_database(base_url: str, name: str) -> Iterator[str]:
    """Create and migrate database ``name`` on the server at ``base_url``; drop it afterwards."""
    url = f"{base_url}/{name}"
    migrate(url)
    try:
        yield url
    finally:
        get_engine.cache_clear()
        drop_database(url)
