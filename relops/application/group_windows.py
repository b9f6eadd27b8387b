"""When a receiver's pending notifications go out: one grouped flush per group window.

A notification waits in the outbox (ops_notifications) for ``group_wait_s``, then every pending
notification of the receiver goes out as one message. Right after a flush (a storm still arriving)
the wait is ``group_interval_s`` instead, so a storm's tail does not sit out a whole new window
(Alertmanager's group_interval). The timers live in Redis so every alerts process shares them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kombu.exceptions import OperationalError as BrokerError
from redis import Redis
from relops_client.logs import log_event
from relops_client.redis_scripts import REDIS_FAULTS, run_script

from relops import names, redis_keys
from relops.application.deps import Publisher
from relops.channels.base import Channel

logger = logging.getLogger(__name__)
#: Starting a window is one round trip: an alert storm asks once per alert.
SCRIPT = Path(__file__).with_name("group_timer.lua")


@dataclass(frozen=True)
class Destination:
    """Where a receiver's notify tasks go: its channel type's task, on its queue."""

    channel: str
    receiver: str
    queue: str


def destination_of(channel: Channel) -> Destination:
    return Destination(channel.name, channel.receiver, channel.queue)


def send_notify(publish: Publisher, to: Destination, countdown_s: float = 0.0, message_key: str | None = None) -> None:
    """relops.notify_<channel>: without a key, flush the receiver's pending notifications into one
    message; with one, deliver that message."""
    kwargs: dict[str, Any] = {"receiver": to.receiver}
    if message_key:
        kwargs["message_key"] = message_key
    publish(names.notify_task(to.channel), kwargs, to.queue, countdown_s)


def schedule_flush(
    client: Redis,
    publish: Publisher,
    to: Destination,
    group_wait_s: float,
    group_interval_s: float,
    opening_wait_s: float | None = None,
) -> None:
    """Ask for one grouped flush of the receiver after the group window, unless one is scheduled
    that comes as soon. ``opening_wait_s``: this alert's own wait when it opens the group (a
    CRITICAL's, shorter), which also brings a waiting group's flush forward.

    Never raises: a notification that misses its flush waits in the outbox for the sweeper.
    """
    opening = group_wait_s if opening_wait_s is None else opening_wait_s
    try:
        keys = [redis_keys.group_timer(to.receiver), redis_keys.recent_flush(to.receiver)]
        wait_ms = run_script(
            client, SCRIPT, keys, [int(opening * 1000), int(group_interval_s * 1000), int(group_wait_s * 1000)]
        )
        first, wait_s = wait_ms >= 0, max(0, wait_ms) / 1000
    except REDIS_FAULTS as exc:
        log_event(
            logger,
            logging.WARNING,
            "notify.group_skipped",
            channel=to.channel,
            receiver=to.receiver,
            error=type(exc).__name__,
            reason="redis unreachable, flushing without grouping",
        )
        first, wait_s = True, 0.0
    if not first:
        return
    try:
        send_notify(publish, to, countdown_s=wait_s)
    except BrokerError as exc:
        log_event(
            logger,
            logging.ERROR,
            "notify.flush_not_scheduled",
            channel=to.channel,
            receiver=to.receiver,
            error=str(exc)[:200],
            reason="left for the sweeper",
        )
