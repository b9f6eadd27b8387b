"""What every relops task shares: retry on infrastructure faults, never on bad input."""

from __future__ import annotations

import logging
from typing import Any

from celery import Task
from celery.utils.log import get_task_logger
from kombu.exceptions import OperationalError as BrokerOperationalError
from sqlalchemy.exc import InterfaceError, OperationalError

#: Faults of the database or the broker that a later attempt can get past (lost connections,
#: restarts, timeouts). Not DBAPIError as a whole: a DataError or IntegrityError would fail the same
#: way on every retry. Bad input is rejected once, recorded, and acked.
TRANSIENT_ERRORS = (OperationalError, InterfaceError, BrokerOperationalError, ConnectionError, TimeoutError)


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
    """Retries and final failures are counted per task in Redis (relops cron status shows them)."""
    from relops import redis_keys
    from relops.logs import log_event
    from relops.runtime import redis
    from relops.shared_state import REDIS_FAULTS

    log_event(
        _logger,
        logging.ERROR if kind == "failure" else logging.WARNING,
        f"task.{kind}",
        task=task,
        task_id=task_id,
        error=f"{type(exc).__name__}: {str(exc)[:300]}",
    )
    try:
        redis().hincrby(redis_keys.task_faults(), f"{kind}:{task}", 1)
    except REDIS_FAULTS:
        log_event(_logger, logging.WARNING, "task.fault_not_counted", task=task, reason="redis unreachable")


_logger = get_task_logger(__name__)
