"""Cost per guarded call: relops' breaker in CLOSED and OPEN, beside a raw redis-py GET round
trip and pybreaker with its Redis state storage, all against the same Redis in the same run."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import pybreaker
import redis
from relops_client.breakers import CircuitBreaker

from bench.stack import BASE_REDIS_URL
from relops.config import BreakerSettings
from relops.errors import DegradedError
from tests.support.scratch import claimed_redis_db

CALLS = 20_000


def _per_call_us(action: Callable[[], object], calls: int) -> float:
    for _ in range(min(500, calls)):  # warm: connections, script cache, branch caches
        action()
    started = time.perf_counter_ns()
    for _ in range(calls):
        action()
    return (time.perf_counter_ns() - started) / calls / 1000


def _noop() -> None:
    return None


def run(calls: int = CALLS) -> list[str]:
    with claimed_redis_db(BASE_REDIS_URL, f"bench-breakers-{uuid.uuid4().hex[:6]}") as url:
        client = redis.Redis.from_url(url)
        client.set("bench:key", "1")
        raw_get = _per_call_us(lambda: client.get("bench:key"), calls)

        closed = CircuitBreaker("bench-closed", BreakerSettings(), lambda: client)
        guarded_closed = _per_call_us(lambda: _guarded(closed), calls)
        eager = CircuitBreaker("bench-eager", BreakerSettings(refresh_s=0), lambda: client)
        guarded_eager = _per_call_us(lambda: _guarded(eager), calls)

        opened = CircuitBreaker("bench-open", BreakerSettings(failure_threshold=1, open_s=3600), lambda: client)
        opened.record(opened.admit(), ok=False)
        guarded_open = _per_call_us(lambda: _rejected(opened), calls)

        storage = pybreaker.CircuitRedisStorage(pybreaker.STATE_CLOSED, client, namespace=f"bench-{uuid.uuid4().hex}")
        py_breaker = pybreaker.CircuitBreaker(fail_max=5, reset_timeout=60, state_storage=storage)
        pybreaker_closed = _per_call_us(lambda: py_breaker.call(_noop), calls)
        client.close()
    return [
        f"breakers, {calls:,} calls each, same Redis, one process:",
        f"  raw redis-py GET round trip:            {raw_get:7.1f} µs/call (baseline)",
        f"  pybreaker + CircuitRedisStorage, CLOSED: {pybreaker_closed:7.1f} µs/call "
        f"({pybreaker_closed / raw_get:.2f}x GET)",
        f"  relops guard, CLOSED (refresh_s=1):      {guarded_closed:7.1f} µs/call "
        f"({guarded_closed / raw_get:.2f}x GET, {guarded_closed / pybreaker_closed:.2f}x pybreaker; "
        "targets <= 1.2x and <= 0.5x)",
        f"  relops guard, CLOSED (refresh_s=0):      {guarded_eager:7.1f} µs/call "
        f"({guarded_eager / raw_get:.2f}x GET: one round trip a call, the worst case)",
        f"  relops guard, OPEN (fail fast):          {guarded_open:7.1f} µs/call (no Redis call)",
    ]


def _guarded(breaker: CircuitBreaker) -> None:
    with breaker._guarded((Exception,)):
        pass


def _rejected(breaker: CircuitBreaker) -> None:
    try:
        with breaker._guarded((Exception,)):
            pass
    except DegradedError:
        pass


if __name__ == "__main__":
    print("\n".join(run()))
