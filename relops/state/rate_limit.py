"""Token buckets per destination kept in Redis and shared by every worker sending there
(rate_limit.lua beside this file).

Fails open: when Redis cannot be reached a message is sent without waiting, and the skip is logged.
"""

from __future__ import annotations

import logging
from pathlib import Path

import redis
from relops_client.logs import log_event
from relops_client.redis_scripts import REDIS_FAULTS, run_script

from relops import redis_keys

logger = logging.getLogger(__name__)
SCRIPT = Path(__file__).with_name("rate_limit.lua")


def take_token(client: redis.Redis, destination: str, rate_per_s: float, burst: int) -> float:
    """Seconds to wait before sending to ``destination`` (0: go now)."""
    try:
        wait_ms = run_script(client, SCRIPT, [redis_keys.rate_limit(destination)], ["take", rate_per_s, burst])
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
        run_script(client, SCRIPT, [redis_keys.rate_limit(destination)], ["block", int(wait_s * 1000), 0])
    except REDIS_FAULTS as exc:
        log_event(logger, logging.WARNING, "ratelimit.block_failed", destination=destination, error=type(exc).__name__)
