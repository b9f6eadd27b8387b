"""The broker: the limits every relops process shares, and everything that differs between Redis and
RabbitMQ, chosen by the broker URL's scheme. celeryconfig.py takes its broker settings from here;
how a queue is declared is relops_client.queues (the client declares the same queues).

- Redis (redis://, rediss://, redis+socket://): a message a worker took but never acked (its whole
  process died) comes back after the visibility timeout, restored by a live worker's periodic sweep.
- RabbitMQ (amqp://, amqps://): durable queues, quorum queues where the server has them (3.8+),
  publisher confirms; an unacked message comes back the moment its consumer's connection closes
  (a killed worker's socket is closed by its kernel), and after a missed heartbeat (Celery's
  default, 120 s) when the worker's host is gone without closing anything.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from kombu import Connection, Queue
from relops_client.queues import (
    BrokerKind,
    QueueType,
    broker_kind,
    connection_queue_type,
    declare_exactly,
    declare_task_queue,
    task_queue,
)

from relops.errors import BrokerError
from relops.redaction import mask_password, scrub, url_credentials

#: Redis: with late acks, a message taken by a worker that dies without acking comes back after this
#: long. It must exceed the longest task run plus any countdown, or a slow task would run twice;
#: longer only delays recovery from a killed worker.
VISIBILITY_TIMEOUT_S: Final = 900
#: A hung database call or a runaway evaluation is cut off after this long (soft limit 30 s before).
TASK_TIME_LIMIT_S: Final = 120
#: The longest countdown a message may be sent with. On the Redis transport a worker holds a message
#: unacked while it waits for the message's ETA, so a countdown near the visibility timeout would see
#: the message restored and delivered twice: this leaves room for the task's own run and a margin.
#: RabbitMQ has no such limit, but the same cap keeps one behaviour for both: a task that wakes early
#: re-checks what it waits for and waits again.
MAX_COUNTDOWN_S: Final = VISIBILITY_TIMEOUT_S - TASK_TIME_LIMIT_S - 180
#: How long a process starting on RabbitMQ waits for it (to learn its queue type and check its queues)
#: before refusing to start; Celery itself would go on retrying, but without the queue type the
#: process could only guess, and a wrong guess is refused by RabbitMQ on every declaration.
AMQP_START_DEADLINE_S: Final = 30.0


def clamp_countdown(countdown_s: float) -> float:
    """``countdown_s`` within [0, MAX_COUNTDOWN_S]. A task that wakes early re-checks what it waits
    for (a breaker still open, a rate limit still blocked) and waits again."""
    return min(max(countdown_s, 0.0), float(MAX_COUNTDOWN_S))


def publish_countdown(countdown_s: float, kind: BrokerKind) -> float | None:
    """The countdown a relops task message is sent with: ``countdown_s`` clamped, None for none.

    On RabbitMQ it is rounded up to whole seconds: Celery's native delayed delivery (which quorum
    queues need, relops_client.queues says why) delays by whole seconds and refuses a countdown under
    one second; rounded up, a message never arrives before its ETA, where a worker would hold it."""
    clamped = clamp_countdown(countdown_s)
    if clamped <= 0:
        return None
    return float(math.ceil(clamped)) if kind == "amqp" else clamped


@dataclass(frozen=True)
class Broker:
    """One broker as relops uses it: its URL, kind and (RabbitMQ) the queue type its server gets."""

    url: str
    kind: BrokerKind
    queue_type: QueueType | None = None

    def queue(self, name: str) -> Queue:
        return task_queue(name, self.queue_type)

    def celery_settings(self, queue_names: Sequence[str]) -> dict[str, Any]:
        """The Celery settings that differ by broker, for a process consuming or publishing to
        ``queue_names``."""
        settings: dict[str, Any] = {
            "broker_url": self.url,
            "task_queues": [self.queue(name) for name in queue_names],
        }
        if self.kind == "redis":
            settings["broker_transport_options"] = {
                # Late acks: a message taken by a worker that dies without acking comes back after
                # this long (VISIBILITY_TIMEOUT_S says why 900 s; every countdown is capped below it).
                "visibility_timeout": VISIBILITY_TIMEOUT_S,
                "socket_timeout": 10,
                "socket_connect_timeout": 5,
            }
            return settings
        settings.update(
            # A publish returns once RabbitMQ has the message (a quorum queue: a majority stored it);
            # without confirms a message in flight when the broker fails would be lost silently.
            broker_transport_options={"confirm_publish": True},
            # A queue Celery creates on the fly (a send to a queue not listed) is declared as relops
            # declares its own, or RabbitMQ would refuse the declaration as different.
            task_create_missing_queue_type=self.queue_type,
            task_create_missing_queue_exchange_type="topic",
            # Celery's delay queues for countdowns (used with quorum queues): the same durability.
            broker_native_delayed_delivery_queue_type=self.queue_type,
        )
        return settings


def shown_url(url: str) -> str:
    """A broker URL (or ``;`` failover list) as logs and errors may show it: passwords masked."""
    return ";".join(mask_password(part.strip()) for part in url.split(";"))


def prepare_broker(url: str, queue_names: Sequence[str] = (), deadline_s: float = AMQP_START_DEADLINE_S) -> Broker:
    """The broker at ``url``, ready for a process to start on; BrokerError saying what to do if not.

    Redis needs nothing. RabbitMQ is asked (within ``deadline_s``) what queue type it has, and each
    of ``queue_names`` is declared as relops declares it: a queue left by an older relops or another
    producer with other arguments is refused here, with the way out, instead of by every declaration
    Celery would retry forever."""
    try:
        kind = broker_kind(url)
    except ValueError as exc:
        raise BrokerError(f"broker URL: {exc}") from None
    if kind == "redis":
        return Broker(url, kind)
    secrets = url_credentials(url)
    connection = Connection(url, connect_timeout=min(5.0, deadline_s))
    try:
        try:
            connection.ensure_connection(max_retries=None, interval_start=0.5, interval_max=2.0, timeout=deadline_s)
        except Exception as exc:  # refused, unresolvable, bad credentials, timed out: all say "unreachable"
            raise BrokerError(
                f"cannot reach RabbitMQ at {shown_url(url)} within {deadline_s:.0f}s "
                f"({type(exc).__name__}: {scrub(str(exc), secrets, limit=300)}); relops asks it at start "
                "which queue type it has and checks its queues: start it, or fix CELERY_BROKER_URL"
            ) from None
        broker = Broker(url, kind, connection_queue_type(connection))
        if broker.queue_type == "quorum":
            _refuse_suffix_names(queue_names)
        for name in queue_names:
            try:
                declare_exactly(connection, name, broker.queue_type)
            except connection.channel_errors as exc:
                vhost = urlsplit(url.split(";")[0].strip()).path.lstrip("/") or "/"
                raise BrokerError(
                    f"queue {name!r} on RabbitMQ (vhost {vhost!r}) exists declared otherwise than relops "
                    f"declares it (durable, {broker.queue_type} queue, topic exchange {name!r}): "
                    f"{scrub(str(exc), secrets, limit=300)}. An older relops or another producer declared "
                    "it: once it is empty, delete the queue and its exchange (rabbitmqadmin, the management "
                    "UI, or a fresh vhost) and start again"
                ) from None
        return broker
    finally:
        connection.release()


def _refuse_suffix_names(queue_names: Sequence[str]) -> None:
    """Celery's native delayed delivery binds each queue's exchange to its delivery exchange by the
    pattern ``#.<queue>``, so a due countdown message for ``team.alerts`` would also match ``#.alerts``
    and be delivered to ``alerts`` too: no queue name may end with ``.`` and another's name."""
    for name in queue_names:
        for other in queue_names:
            if name != other and name.endswith(f".{other}"):
                raise BrokerError(
                    f"queue {name!r} ends with '.{other}', another relops queue: on RabbitMQ a countdown "
                    f"message for {name!r} would reach {other!r} too (Celery's delayed delivery routes by "
                    f"'#.{other}'); rename the receiver's queue in the config file"
                )


def queue_backlog(connection: Connection, queue: str) -> int:
    """Messages waiting in relops queue ``queue`` on a connected kombu ``connection`` (declared as
    relops declares it, relops_client.queues, if it does not exist yet)."""
    return declare_task_queue(connection, queue)


def waiting_messages(connection: Connection, queues: Sequence[str]) -> dict[str, int]:
    """Messages waiting in each of ``queues`` on a connected kombu ``connection``, looked up without
    declaring anything (a reader such as a metrics scrape creates no queue): a queue the broker does
    not have holds none, and Redis keeps no key for an empty queue. On RabbitMQ the count is of ready
    messages (not those a worker holds unacked); on Redis of every priority's list."""
    waiting: dict[str, int] = {}
    for name in queues:
        # A failed passive declare closes its channel on RabbitMQ: each lookup on a channel of its own.
        probe = connection.channel()
        try:
            waiting[name] = int(probe.queue_declare(queue=name, passive=True).message_count)
        except connection.channel_errors:
            waiting[name] = 0
        finally:
            with contextlib.suppress(Exception):
                probe.close()
    return waiting


def read_waiting_messages(
    url: str, transport_options: Mapping[str, Any], queues: Sequence[str], timeout_s: float
) -> dict[str, int]:
    """``waiting_messages`` of ``queues`` on the broker at ``url`` (kombu's form, with
    ``transport_options`` such as a Sentinel primary's name), over a connection of its own that gives up
    after ``timeout_s``; BrokerError, without the URL's credentials, when the broker does not answer."""
    options = {
        **transport_options,
        "max_retries": 0,
        "socket_timeout": timeout_s,
        "socket_connect_timeout": timeout_s,
        "retry_on_timeout": False,
    }
    try:
        with Connection(url, connect_timeout=timeout_s, transport_options=options) as connection:
            connection.connect()
            return waiting_messages(connection, queues)
    except Exception as exc:  # refused, timed out, a Sentinel without a primary: all mean "no answer"
        raise BrokerError(
            f"cannot read the queues of the broker at {shown_url(url)} "
            f"({type(exc).__name__}: {scrub(str(exc), url_credentials(url), limit=300)})"
        ) from None
