"""Broker limits every relops process shares (celeryconfig.py uses them; so does task logic that
schedules a message for later)."""

from __future__ import annotations

from typing import Any, Final

#: With late acks, a message taken by a worker that dies without acking comes back after this long.
#: It must exceed the longest task run plus any countdown, or a slow task would run twice; longer
#: only delays recovery from a killed worker.
VISIBILITY_TIMEOUT_S: Final = 900
#: A hung database call or a runaway evaluation is cut off after this long (soft limit 30 s before).
TASK_TIME_LIMIT_S: Final = 120
#: The longest countdown a message may be sent with. On the Redis transport a worker holds a message
#: unacked while it waits for the message's ETA, so a countdown near the visibility timeout would see
#: the message restored and delivered twice: this leaves room for the task's own run and a margin.
MAX_COUNTDOWN_S: Final = VISIBILITY_TIMEOUT_S - TASK_TIME_LIMIT_S - 180


def clamp_countdown(countdown_s: float) -> float:
    """``countdown_s`` within [0, MAX_COUNTDOWN_S]. A task that wakes early re-checks what it waits
    for (a breaker still open, a rate limit still blocked) and waits again."""
    return min(max(countdown_s, 0.0), float(MAX_COUNTDOWN_S))


def queue_backlog(connection: Any, queue: str) -> int:
    """Messages waiting in ``queue`` on a kombu ``connection``. Not a passive declare: Redis keeps no
    key for an empty queue, so a passive declare of an empty queue fails with NOT_FOUND instead of
    answering 0."""
    return connection.default_channel.queue_declare(queue=queue).message_count
