"""Reporting runs of scheduled jobs to relops: ``with_cron_tracking`` and the reporter behind it.

It never changes the wrapped function's result or exception, and a report that cannot be sent
is logged as an error (never raised into the job, never silent).
"""

from __future__ import annotations

import functools
import json
import logging
import time
import traceback
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, ParamSpec, TypeVar

from relops_client.environment import broker_url as configured_broker_url
from relops_client.logs import log_event
from relops_client.names import QUEUE_CRON, TASK_CRON_RUN
from relops_client.producer import TaskProducer

logger = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")
#: A send of one cron-run event: kwargs in, raises on failure.
Sender = Callable[[dict[str, Any]], None]
RESULT_SUMMARY_CHARS = 2000
ERROR_TAIL_CHARS = 4000


def broker_sender(broker_url: str | None = None, timeout_s: float = 3.0) -> Sender:
    """Send to relops' broker (default: CELERY_BROKER_URL / REDIS_URL, as relops reads them)."""
    if broker_url is None:
        broker_url = configured_broker_url()
    producer = TaskProducer(broker_url, timeout_s)
    return lambda kwargs: producer.send(TASK_CRON_RUN, kwargs, QUEUE_CRON)


def summarize(value: Any) -> Any:
    """A result small enough to store: JSON as it is when short, else a truncated repr."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError, RecursionError):
        return {"repr": repr(value)[:RESULT_SUMMARY_CHARS]}
    return value if len(text) <= RESULT_SUMMARY_CHARS else {"repr": text[:RESULT_SUMMARY_CHARS] + "..."}


class with_cron_tracking:  # lower case: used as a decorator and a context manager, like contextlib's
    """Report start, then success or failure with duration, result summary and error, of a job run.

    As a decorator (on a plain function or under ``@app.task``) each call is one run; as a context
    manager the block is one run and ``tracker.result`` may be set inside it.
    """

    def __init__(self, name: str, *, sender: Sender | None = None) -> None:
        self.name = name
        self._sender = sender
        self.run_id = ""
        self.result: Any = None
        self._started = 0.0

    def _send(self, **fields: Any) -> None:
        event = {"name": self.name, "run_id": self.run_id, "at": datetime.now(UTC).isoformat(), **fields}
        try:
            if self._sender is None:
                self._sender = broker_sender()
            self._sender(event)
        except Exception as exc:  # a lost report is an error to log, never one to raise into the job
            log_event(
                logger,
                logging.ERROR,
                "cron.report_failed",
                job=self.name,
                run_id=self.run_id,
                status=fields.get("status"),
                error=f"{type(exc).__name__}: {str(exc)[:200]}",
            )

    def __enter__(self) -> with_cron_tracking:
        self.run_id = uuid.uuid4().hex
        self._started = time.monotonic()
        self._send(status="started", duration_ms=None, result=None, error=None)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        duration_ms = int((time.monotonic() - self._started) * 1000)
        if exc is None:
            self._send(status="success", duration_ms=duration_ms, result=summarize(self.result), error=None)
        else:
            text = "".join(traceback.format_exception(exc_type, exc, tb))
            self._send(status="failure", duration_ms=duration_ms, result=None, error=text[-ERROR_TAIL_CHARS:])

    def __call__(self, function: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(function)
        def tracked(*args: P.args, **kwargs: P.kwargs) -> R:
            with with_cron_tracking(self.name, sender=self._sender) as run:
                value = function(*args, **kwargs)
                run.result = value
                return value

        return tracked
