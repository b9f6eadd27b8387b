"""Hands the intake's messages to the broker: one long-lived connection and producer per intake
process, and every message of a group in one kombu publish batch (one pipelined round trip on the
Redis transport; publisher-by-publisher on transports without batches).

The batch stays open for the connection's life and is flushed once per group (kombu's
``Producer.batch().flush()``), and each queue is declared once per connection: building a batch
and declaring a queue cost more CPU per group than the messages themselves.

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

from kombu import Connection

from relops.logs import log_event
from relops.producer import producer_app

logger = logging.getLogger(__name__)


class BrokerUnavailable(Exception):
    """The broker did not take the messages (or was failing moments ago)."""


@dataclass(frozen=True, slots=True)
class Message:
    task: str
    kwargs: dict[str, Any]
    queue: str

    def summary(self) -> str:
        """What Flower shows of the message: its batch id, or how many events it carries."""
        if "batch_id" in self.kwargs:
            return f"{{'batch_id': {self.kwargs['batch_id']!r}, counts: {len(self.kwargs.get('counts') or ())}}}"
        return f"{{events: {len(self.kwargs.get('events') or ())}}}"


class BrokerPublisher:
    """Not thread-safe: one thread (the intake's flusher) publishes."""

    def __init__(self, broker_url: str, *, timeout_s: float = 2.0, cooldown_s: float = 1.0) -> None:
        self.broker_url = broker_url
        self.cooldown_s = cooldown_s
        self._app = producer_app(broker_url, timeout_s)
        self._connection: Connection | None = None
        self._producer: Any = None
        self._batch: Any = None
        self._declared: set[str] = set()
        self._failed_at = float("-inf")
        self.failures = 0

    def publish(self, messages: Sequence[Message]) -> None:
        """All of ``messages`` handed to the broker, or BrokerUnavailable."""
        if not messages:
            return
        if time.monotonic() - self._failed_at < self.cooldown_s:
            raise BrokerUnavailable("the broker failed moments ago")
        try:
            producer, batch = self._ready_producer()
            for message in messages:
                self._app.send_task(
                    message.task,
                    kwargs=message.kwargs,
                    queue=message.queue,
                    producer=producer,
                    retry=False,
                    declare=[] if message.queue in self._declared else None,
                    # Celery would otherwise render every message's kwargs for Flower with its
                    # safe repr, the costliest step of a publish; a summary says enough.
                    argsrepr="()",
                    kwargsrepr=message.summary(),
                )
                self._declared.add(message.queue)
            batch.flush()
        except Exception as exc:  # any fault of the connection or the transport: nothing is assumed sent
            self._on_failure(exc, len(messages))
            raise BrokerUnavailable(type(exc).__name__) from None
        if self.failures:
            log_event(logger, logging.WARNING, "intake.broker_recovered", failed_groups=self.failures)
            self.failures = 0

    def close(self) -> None:
        self._drop_connection()
        self._app.close()

    def _ready_producer(self) -> tuple[Any, Any]:
        if self._producer is None:
            connection = self._app.connection_for_write()
            connection.ensure_connection(max_retries=1)
            self._connection = connection
            self._producer = self._app.amqp.Producer(connection)
            self._batch = self._producer.batch()
            self._batch.__enter__()
        return self._producer, self._batch

    def _on_failure(self, exc: BaseException, count: int) -> None:
        self._failed_at = time.monotonic()
        self.failures += 1
        self._drop_connection()
        if self.failures == 1 or self.failures % 100 == 0:
            log_event(
                logger,
                logging.ERROR,
                "intake.broker_unavailable",
                messages_refused=count,
                failed_groups=self.failures,
                error=f"{type(exc).__name__}: {str(exc)[:200]}",
            )

    def _drop_connection(self) -> None:
        connection, self._connection, self._producer = self._connection, None, None
        batch, self._batch = self._batch, None
        self._declared = set()
        if batch is not None:
            try:  # discards what a failed group left buffered; a batch that failed cannot be reused
                batch.__exit__(RuntimeError, RuntimeError("connection dropped"), None)
            except Exception as exc:
                log_event(logger, logging.DEBUG, "intake.broker_batch_close_failed", error=type(exc).__name__)
        if connection is not None:
            try:
                connection.close()
            except Exception as exc:  # a connection that is already broken may fail to close; it is dropped anyway
                log_event(logger, logging.DEBUG, "intake.broker_close_failed", error=type(exc).__name__)
