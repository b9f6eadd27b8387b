"""Dedup windows kept in Redis and shared by every relops process (dedup.lua beside this file).

Fails open: when Redis cannot be reached a notification is delivered (a duplicate is better than a
missed alert), and the skip is logged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import redis
from relops_client.logs import log_event
from relops_client.redis_scripts import REDIS_FAULTS, run_script

from relops import redis_keys

logger = logging.getLogger(__name__)
SCRIPT = Path(__file__).with_name("dedup.lua")


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
            SCRIPT,
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
