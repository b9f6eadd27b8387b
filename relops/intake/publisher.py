"""Hands the intake's messages to the broker through the client's producer (relops_client.producer:
Celery's message protocol written with kombu, one long-lived connection, and every message of a
group in one kombu publish batch, a single pipelined round trip on the Redis transport; on RabbitMQ
each message is published with confirms and ``mandatory``, so a send returns once a queue holds it).

A group either reaches the broker or fails as a whole, and a failed group is answered 503: the
intake never says 202 for work the broker does not hold. After a failure the broker is not tried
again for ``cooldown_s``; requests in between get their 503 at once instead of each waiting for a
connection timeout.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
from relops_client.logs import log_event
from relops_client.producer import TaskProducer

from relops.redaction import scrub, url_credentials

logger = logging.getLogger(__name__)
#: Messages at least this long go compressed: below it, compressing saves less than it costs.
COMPRESS_MIN_BYTES = 2048


class BrokerUnavailable(Exception):
    """The broker did not take the messages (or was failing moments ago)."""


@dataclass(frozen=True, slots=True)
class Message:
    task: str
    kwargs: dict[str, Any]
    queue: str


class BrokerPublisher:
    """Not thread-safe: one thread (the intake's flusher) publishes."""

    def __init__(self, broker_url: str, *, timeout_s: float = 2.0, cooldown_s: float = 1.0) -> None:
        self.broker_url = broker_url
        self.cooldown_s = cooldown_s
        # msgspec writes a batch's JSON about ten times faster than kombu's json, and knows the
        # CountItem structs an outcome batch is decoded into.
        self._producer = TaskProducer(
            broker_url, timeout_s, encode_body=msgspec.json.Encoder().encode, compress_min_bytes=COMPRESS_MIN_BYTES
        )
        self._failed_at = float("-inf")
        self.failures = 0

    def publish(self, messages: Sequence[Message]) -> None:
        """All of ``messages`` handed to the broker, or BrokerUnavailable."""
        if not messages:
            return
        if time.monotonic() - self._failed_at < self.cooldown_s:
            raise BrokerUnavailable("the broker failed moments ago")
        try:
            self._producer.send_many([(m.task, m.kwargs, m.queue) for m in messages])
        except Exception as exc:  # any fault of the connection or the transport: nothing is assumed sent
            self._on_failure(exc, len(messages))
            raise BrokerUnavailable(type(exc).__name__) from None
        if self.failures:
            log_event(logger, logging.WARNING, "intake.broker_recovered", failed_groups=self.failures)
            self.failures = 0

    def close(self) -> None:
        self._producer.close()

    def _on_failure(self, exc: BaseException, count: int) -> None:
        self._failed_at = time.monotonic()
        self.failures += 1
        if self.failures == 1 or self.failures % 100 == 0:
            log_event(
                logger,
                logging.ERROR,
                "intake.broker_unavailable",
                messages_refused=count,
                failed_groups=self.failures,
                error=f"{type(exc).__name__}: {scrub(str(exc), url_credentials(self.broker_url), limit=200)}",
            )
