"""What every relops task shares: retry on infrastructure faults, never on bad input; and the
dependencies its logic runs with, built from this process's settings."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from celery import Task
from kombu.exceptions import OperationalError as BrokerOperationalError
from relops_client.breakers import process_breakers
from relops_client.logs import log_event
from relops_client.queues import broker_kind
from relops_client.redis_scripts import REDIS_FAULTS
from sqlalchemy.exc import InterfaceError, OperationalError

from relops import redis_keys
from relops.application.deps import Deps, TaskMessage
from relops.broker import publish_countdown
from relops.settings import get_settings
from relops.wiring import active_silences, engine, get_config, get_receivers, redis, task_producer
from workers import app

#: Faults of the database, the broker or Redis that a later attempt can get past (lost connections,
#: restarts, timeouts, a Sentinel failover's refused writes). Not DBAPIError as a whole: a DataError
#: or IntegrityError would fail the same way on every retry. Bad input is rejected once, recorded,
#: and acked. Shared-state calls that fail open catch REDIS_FAULTS themselves; one that reaches the
#: task retries it rather than failing it for good.
TRANSIENT_ERRORS = (
    OperationalError,
    InterfaceError,
    BrokerOperationalError,
    ConnectionError,
    TimeoutError,
    *REDIS_FAULTS,
)

logger = logging.getLogger(__name__)


def celery_publish(task: str, kwargs: Mapping[str, Any], queue: str, countdown_s: float = 0.0) -> None:
    """relops.application.deps.Publisher through this process's Celery app. Countdowns are clamped below the
    broker's visibility timeout (a longer one would be delivered twice), and on RabbitMQ rounded up
    to the whole seconds its delayed delivery counts (relops.broker.publish_countdown)."""
    countdown = publish_countdown(countdown_s, broker_kind(get_settings().broker_url))
    app.send_task(task, kwargs=dict(kwargs), queue=queue, countdown=countdown)


def celery_publish_many(messages: Sequence[TaskMessage]) -> None:
    """relops.application.deps.BatchPublisher: Celery's message format, written by this process's TaskProducer in
    one publish batch. Without Celery's task-sent event: Flower sees each task when a worker takes it."""
    task_producer().send_many([(task, dict(kwargs), queue) for task, kwargs, queue in messages])


def worker_deps() -> Deps:
    """This process's engine, Redis, config, channels, breakers and publisher. Built per task: the
    pieces are cached per process (and rebuilt after a fork), the bundle costs nothing."""
    return Deps(
        engine=engine(),
        redis=redis(),
        config=get_config(),
        receivers=get_receivers(),
        publish=celery_publish,
        publish_many=celery_publish_many,
        breakers=process_breakers(),
        silences=active_silences(),
    )


class RelopsTask(Task):
    """Retries transient faults with exponential backoff and jitter for about an hour, then fails loudly."""

    abstract = True
    autoretry_for = TRANSIENT_ERRORS
    retry_backoff = 2
    retry_backoff_max = 60
    retry_jitter = True
    max_retries = 60

    def on_retry(self, exc: Exception, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        _count_fault("retry", self.name, task_id, exc)

    def on_failure(self, exc: Exception, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        _count_fault("failure", self.name, task_id, exc)


def _count_fault(kind: str, task: str, task_id: str, exc: Exception) -> None:
    """Retries and final failures are counted per task in Redis (relops status shows them)."""
    log_event(
        logger,
        logging.ERROR if kind == "failure" else logging.WARNING,
        f"task.{kind}",
        task=task,
        task_id=task_id,
        error=f"{type(exc).__name__}: {str(exc)[:300]}",
    )
    try:
        redis().hincrby(redis_keys.task_faults(), f"{kind}:{task}", 1)
    except REDIS_FAULTS:
        log_event(logger, logging.WARNING, "task.fault_not_counted", task=task, reason="redis unreachable")
