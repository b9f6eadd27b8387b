"""Sending relops tasks from a service, in Celery's message protocol (version 2), with kombu alone.

relops' workers are Celery workers; a service needs only to put a well-formed message on the right
queue, so the client speaks the protocol with kombu and does not bring Celery (or anything else of
relops) into the service; relops' HTTP intake publishes through it too. One connection is kept per
producer and rebuilt after a failure; no
retries and socket timeouts make a dead or black-holed broker fail within ``timeout_s`` instead of
hanging the caller (kombu retries connecting forever by default). An explicit URL keeps a
CELERY_BROKER_URL in the service's environment (its own broker) from mattering.

The broker is Redis or RabbitMQ. On RabbitMQ each queue is looked up (or declared as relops declares
it, relops_client.queues) before its first message, and every publish waits for the broker's
confirm and is ``mandatory``: a send that returns means a queue holds the message.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import uuid
import zlib
from collections.abc import Callable, Sequence
from typing import Any

from kombu import Connection, Producer

from relops_client.queues import declare_task_queue
from relops_client.redis_connect import broker_kombu_url, broker_transport_options

#: Celery's task message protocol version 2: the body's third element.
_EMBED = {"callbacks": None, "errbacks": None, "chain": None, "chord": None}
_ORIGIN = f"{os.getpid()}@{socket.gethostname()}"
#: The compression header kombu (and so Celery's workers) decompress with zlib.
COMPRESSION = "application/x-gzip"


def task_message(task: str, kwargs: dict[str, Any], task_id: str) -> tuple[dict[str, Any], list[Any]]:
    """(headers, body) of a Celery protocol 2 message calling ``task`` with ``kwargs``."""
    headers = {
        "lang": "py",
        "task": task,
        "id": task_id,
        "root_id": task_id,
        "parent_id": None,
        "group": None,
        "shadow": None,
        "eta": None,
        "expires": None,
        "retries": 0,
        "timelimit": [None, None],
        "argsrepr": "()",
        "kwargsrepr": _summary(kwargs),
        "origin": _ORIGIN,
        "ignore_result": True,
    }
    return headers, [[], kwargs, _EMBED]


def _summary(kwargs: dict[str, Any]) -> str:
    """What Flower shows: the field names and sizes, never values (a result or an error may be long)."""
    parts = [f"{key}: {len(value)} items" if isinstance(value, list) else key for key, value in kwargs.items()]
    return "{" + ", ".join(parts) + "}"


#: Turns a message body (a JSON-able list) into its UTF-8 JSON text.
BodyEncoder = Callable[[list[Any]], bytes]


class TaskProducer:
    """Publishes tasks by name to one broker; every send raises on failure within ``timeout_s``.
    Thread-safe: sends are serialised on the one connection.

    Bodies are JSON written by kombu's serializer, or by ``encode_body`` when given: a faster encoder
    (the intake's), or one that knows more types; the workers read the same JSON either way. With
    ``encode_body``, a body of ``compress_min_bytes`` or more is sent zlib-compressed (level 1), marked
    as Celery marks compressed messages, which its workers undo: outcome batches shrink about twenty
    times, and a small body costs less to compress than to base64-encode and send at full size."""

    def __init__(
        self,
        broker_url: str,
        timeout_s: float = 3.0,
        *,
        encode_body: BodyEncoder | None = None,
        compress_min_bytes: int | None = None,
    ) -> None:
        if compress_min_bytes is not None and encode_body is None:
            raise ValueError("compress_min_bytes needs encode_body (kombu's serializer compresses at its own level)")
        self.broker_url = broker_url
        self.timeout_s = timeout_s
        self._encode_body = encode_body
        self._compress_min_bytes = compress_min_bytes
        self._lock = threading.Lock()
        self._connection: Connection | None = None
        self._producer: Producer | None = None
        self._batch: Any = None
        self._declared: set[str] = set()
        self._amqp = False

    def send(self, task: str, kwargs: dict[str, Any], queue: str) -> str:
        """The task id of the message the broker now holds."""
        return self.send_many([(task, kwargs, queue)])[0]

    def send_many(self, messages: Sequence[tuple[str, dict[str, Any], str]]) -> list[str]:
        """Every (task, kwargs, queue) handed to the broker together (one pipelined round trip on the
        Redis transport), or an exception and none assumed sent; their task ids."""
        task_ids = []
        with self._lock:
            try:
                connection, producer, batch = self._ready()
                for task, kwargs, queue in messages:
                    if queue not in self._declared:
                        # As relops declares it (relops_client.queues), before the first message.
                        declare_task_queue(connection, queue)
                        self._declared.add(queue)
                    task_id = uuid.uuid4().hex
                    headers, body = task_message(task, kwargs, task_id)
                    producer.publish(
                        self._prepared(body, headers),
                        # The default exchange delivers to the queue of the routing key's name. A named
                        # exchange would cost the Redis transport a binding lookup per message.
                        exchange="",
                        routing_key=queue,
                        headers=headers,
                        correlation_id=task_id,
                        # kombu's json serializer sets these too; an encoded body needs them given.
                        serializer="json",
                        content_type="application/json" if self._encode_body else None,
                        content_encoding="utf-8" if self._encode_body else None,
                        delivery_mode=2,
                        # RabbitMQ: a message no queue took is returned and the send raises, instead of
                        # the broker confirming a message it dropped (with confirms, a send that
                        # returns means a queue holds the message).
                        mandatory=self._amqp,
                        retry=False,
                        timeout=self.timeout_s,
                    )
                    task_ids.append(task_id)
                batch.flush()
            except Exception:
                self._drop()
                raise
        return task_ids

    def _prepared(self, body: list[Any], headers: dict[str, Any]) -> Any:
        """The body as kombu should send it: itself (kombu serializes it) or encoded, and compressed
        when large (``headers`` then say so)."""
        if self._encode_body is None:
            return body
        encoded = self._encode_body(body)
        if self._compress_min_bytes is not None and len(encoded) >= self._compress_min_bytes:
            headers["compression"] = COMPRESSION
            return zlib.compress(encoded, 1)
        return encoded

    def close(self) -> None:
        with self._lock:
            self._drop()

    def _ready(self) -> tuple[Connection, Producer, Any]:
        """The connection, its producer and their publish batch, kept open for the connection's life
        and flushed per send: building a batch costs more than the messages of a small send."""
        if self._connection is None or self._producer is None:
            connection = Connection(
                broker_kombu_url(self.broker_url),
                connect_timeout=self.timeout_s,
                transport_options={
                    "max_retries": 0,
                    "socket_timeout": self.timeout_s,
                    "socket_connect_timeout": self.timeout_s,
                    "retry_on_timeout": False,
                    # RabbitMQ: the broker confirms each message once a queue holds it (for a quorum
                    # queue, once a majority stored it), and the send waits for that; the Redis
                    # transport ignores the option (a reply to its pipelined push is the same proof).
                    "confirm_publish": True,
                    # A sentinel:// broker: the primary's name (REDIS_SENTINEL_MASTER) and the
                    # Sentinels' own options; nothing for any other URL.
                    **broker_transport_options(self.broker_url),
                },
            )
            connection.ensure_connection(max_retries=1, timeout=self.timeout_s)
            self._connection = connection
            self._amqp = connection.transport.driver_type == "amqp"
            self._producer = Producer(connection.default_channel)
            self._batch = self._producer.batch()
            self._batch.__enter__()
        return self._connection, self._producer, self._batch

    def _drop(self) -> None:
        connection, self._connection, self._producer = self._connection, None, None
        batch, self._batch = self._batch, None
        self._declared = set()
        if batch is not None:
            # Discards what a failed send left buffered; a batch that failed cannot be reused.
            with contextlib.suppress(Exception):
                batch.__exit__(RuntimeError, RuntimeError("connection dropped"), None)
        if connection is not None:
            # A broken connection may fail to close; it is dropped either way.
            with contextlib.suppress(Exception):
                connection.release()
