"""Dedup windows and rate limits kept in Redis, shared by every relops process.

Both fail open: when Redis cannot be reached a notification is delivered (a duplicate is better
than a missed alert) and sent without waiting, and the skip is logged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import redis

from relops import redis_keys
from relops.logs import log_event

logger = logging.getLogger(__name__)
LUA_DIR = Path(__file__).parent / "lua"
REDIS_FAULTS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


@lru_cache(maxsize=4)
def redis_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2, health_check_interval=30)


@cache
def _script(name: str) -> str:
    return (LUA_DIR / name).read_text()


_registered: dict[tuple[int, str], Any] = {}


def run_script(client: redis.Redis, name: str, keys: list[str], args: list[object]) -> Any:
    """EVALSHA, loading the script on first use (NOSCRIPT after a Redis restart loads it again)."""
    script = _registered.get((id(client), name))
    if script is None:
        script = _registered[(id(client), name)] = client.register_script(_script(name))
    return script(keys=keys, args=args, client=client)


@dataclass(frozen=True)
class DedupDecision:
    deliver: bool
    #: Events suppressed in the current window so far.
    suppressed: int
    #: True when Redis could not be asked and the notification is delivered regardless.
    failed_open: bool = False


def dedup(
    client: redis.Redis, channels: list[str], dedup_key: str, rank: int, window_s: float, event_id: str
) -> dict[str, DedupDecision]:
    """One atomic Redis call decides, per channel, whether this event is delivered there.

    ``event_id`` (the task id) lets a retried attempt of the same event through again.
    """
    if not channels:
        return {}
    try:
        flat = run_script(
            client,
            "dedup.lua",
            [redis_keys.dedup(c, dedup_key) for c in channels],
            [rank, int(window_s * 1000), event_id],
        )
    except REDIS_FAULTS as exc:
        log_event(
            logger,
            logging.WARNING,
            "dedup.skipped",
            channels=",".join(channels),
            dedup_key=dedup_key,
            reason="redis unreachable, delivering",
            error=type(exc).__name__,
        )
        return {c: DedupDecision(deliver=True, suppressed=0, failed_open=True) for c in channels}
    return {
        channel: DedupDecision(deliver=bool(flat[2 * i]), suppressed=int(flat[2 * i + 1]))
        for i, channel in enumerate(channels)
    }


def forget_dedup(client: redis.Redis, channels: list[str], dedup_key: str) -> None:
    """After a resolution the next firing is a new incident and must be delivered at once."""
    if not channels:
        return
    try:
        client.delete(*(redis_keys.dedup(channel, dedup_key) for channel in channels))
    except REDIS_FAULTS as exc:
        log_event(logger, logging.WARNING, "dedup.forget_failed", dedup_key=dedup_key, error=type(exc).__name__)


def take_token(client: redis.Redis, destination: str, rate_per_s: float, burst: int) -> float:
    """Seconds to wait before sending to ``destination`` (0: go now)."""
    try:
        wait_ms = run_script(
            client, "rate_limit.lua", [redis_keys.rate_limit(destination)], ["take", rate_per_s, burst]
        )
    except REDIS_FAULTS as exc:
        log_event(
            logger,
            logging.WARNING,
            "ratelimit.skipped",
            destination=destination,
            reason="redis unreachable, sending without waiting",
            error=type(exc).__name__,
        )
        return 0.0
    return int(wait_ms) / 1000


def block_destination(client: redis.Redis, destination: str, wait_s: float) -> None:
    """The destination said to wait (429 Retry-After): every worker sending there waits too."""
    try:
        run_script(client, "rate_limit.lua", [redis_keys.rate_limit(destination)], ["block", int(wait_s * 1000), 0])
    except REDIS_FAULTS as exc:
        log_event(logger, logging.WARNING, "ratelimit.block_failed", destination=destination, error=type(exc).__name__)
