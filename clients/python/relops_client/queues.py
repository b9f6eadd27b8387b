"""How relops' task queues are declared on each broker relops runs on: the one definition that
relops' workers (celeryconfig, through relops.broker), its HTTP intake, this client and relops' own
checks all use.

RabbitMQ compares a queue's and its exchange's arguments on every declaration and refuses one that
differs (PRECONDITION_FAILED, and the channel is closed), so everything that declares a relops queue
must declare it the same way: here. A relops queue is named after its task route, with an exchange
of the same name bound to it by that name, durable:

- Redis: a direct exchange, exactly as Celery creates a queue for a task routed by name.
- RabbitMQ: a topic exchange, because Celery's native delayed delivery forwards a countdown message
  only through topic (or fanout) exchanges; with a direct one the message would wait, unacked, in
  a worker until due, holding a prefetch slot that quorum queues (no global QoS) cannot widen. The
  queue is a quorum queue (replicated, always durable, messages on disk) when the server has them,
  RabbitMQ 3.8 and later; on an older server a durable classic queue. The choice is the server's,
  read from the connection, so every process that talks to one broker makes the same one.

A plain Celery producer declares the same queues with ``task_create_missing_queue_type`` (the
queue type) and ``task_create_missing_queue_exchange_type = "topic"`` (README, "RabbitMQ").
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping
from typing import Any, Final, Literal
from urllib.parse import urlsplit

from kombu import Connection, Exchange, Queue

BrokerKind = Literal["redis", "amqp"]
QueueType = Literal["quorum", "classic"]

#: URL schemes kombu reaches Redis with, and RabbitMQ (AMQP 0-9-1, py-amqp) with.
#: sentinel:// is kombu's Redis transport reached through Sentinels (relops_client.redis_connect).
REDIS_SCHEMES: Final = ("redis", "rediss", "redis+socket", "sentinel")
AMQP_SCHEMES: Final = ("amqp", "amqps", "pyamqp")
#: The first RabbitMQ release with quorum queues.
QUORUM_SINCE: Final = (3, 8)
#: The exchange type of a relops queue's exchange, per broker (why: the module docstring).
EXCHANGE_TYPES: Final[Mapping[BrokerKind, str]] = {"redis": "direct", "amqp": "topic"}


def broker_kind(url: str) -> BrokerKind:
    """Which broker ``url`` points at; ValueError naming the schemes relops runs on otherwise. A
    ``;``-separated failover list (as Celery takes) must name one kind of broker."""
    kinds: set[BrokerKind] = set()
    for part in (p.strip() for p in url.split(";")):
        if not part:
            continue
        try:
            scheme = urlsplit(part).scheme.lower()
        except ValueError:
            scheme = ""
        if scheme in REDIS_SCHEMES:
            kinds.add("redis")
        elif scheme in AMQP_SCHEMES:
            kinds.add("amqp")
        elif scheme == "unix":
            raise ValueError(
                "unix:// is redis-py's form, which Celery's transport does not know: "
                "use redis+socket:///path/to/redis.sock"
            )
        else:
            raise ValueError(
                f"scheme {scheme + '://' if scheme else '(none)'} is not a broker relops runs on: "
                f"Redis ({', '.join(s + '://' for s in REDIS_SCHEMES)}) or "
                f"RabbitMQ ({', '.join(s + '://' for s in AMQP_SCHEMES)})"
            )
    if not kinds:
        raise ValueError("is empty")
    if len(kinds) > 1:
        raise ValueError("a failover list (;) must name one kind of broker, not Redis and RabbitMQ together")
    return kinds.pop()


def _text(value: Any) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value or "")


def server_queue_type(server_properties: Mapping[str, Any]) -> QueueType:
    """The queue type an AMQP server gets: quorum on RabbitMQ 3.8 and later, classic otherwise
    (an older RabbitMQ, or another AMQP 0-9-1 server, which has no quorum queues)."""
    if _text(server_properties.get("product")) != "RabbitMQ":
        return "classic"
    numbers = tuple(int(n) for n in re.findall(r"\d+", _text(server_properties.get("version")))[:2])
    return "quorum" if len(numbers) == 2 and numbers >= QUORUM_SINCE else "classic"


def connection_queue_type(connection: Connection) -> QueueType | None:
    """The queue type of a connected kombu ``connection``'s broker; None on Redis (no types)."""
    if connection.transport.driver_type != "amqp":
        return None
    return server_queue_type(connection.connection.server_properties)


def queue_arguments(queue_type: QueueType | None) -> dict[str, str] | None:
    """A relops queue's declaration arguments. A classic queue is declared with none, as Celery and
    any plain producer declare one: RabbitMQ would count an explicit ``classic`` as different."""
    return {"x-queue-type": "quorum"} if queue_type == "quorum" else None


def task_queue(name: str, queue_type: QueueType | None) -> Queue:
    """The relops queue ``name``: on Redis (``queue_type`` None) or on RabbitMQ with that type."""
    kind: BrokerKind = "redis" if queue_type is None else "amqp"
    exchange = Exchange(name, type=EXCHANGE_TYPES[kind], durable=True)
    return Queue(name, exchange, routing_key=name, durable=True, queue_arguments=queue_arguments(queue_type))


def declare_task_queue(connection: Connection, name: str) -> int:
    """Make sure relops queue ``name`` exists on a connected ``connection``; the number of messages
    ready in it.

    On RabbitMQ an existing queue is only looked up (a passive declare, which compares nothing), so a
    producer never fails on a queue the workers declared, whatever it would have declared itself; a
    missing one is declared as relops declares it, so what is published now is kept for the workers.
    On Redis the declaration is always made: it only records the binding, and Redis keeps no key for
    an empty queue, so a passive declare of one would fail with NOT_FOUND instead of answering 0."""
    queue_type = connection_queue_type(connection)
    if queue_type is not None:
        # A failed passive declare closes its channel: look up on a channel of its own.
        probe = connection.channel()
        try:
            return int(probe.queue_declare(queue=name, passive=True).message_count)
        except connection.channel_errors:
            pass
        finally:
            # After NOT_FOUND the broker has closed it already; nothing is lost either way.
            with contextlib.suppress(Exception):
                probe.close()
    return declare_exactly(connection, name, queue_type)


def declare_exactly(connection: Connection, name: str, queue_type: QueueType | None) -> int:
    """Declare relops queue ``name`` (its exchange, the queue, the binding) on ``connection``'s
    default channel; the number of messages ready in it. On RabbitMQ this raises PreconditionFailed
    when the queue or exchange exists declared otherwise (relops.broker turns that into advice)."""
    queue = task_queue(name, queue_type).bind(connection.default_channel)
    queue.exchange.declare()
    declared = queue.queue_declare()
    queue.queue_bind()
    return int(declared.message_count)
