"""relops.cron_run and relops.cron_run_batch (cron-run events from services) and relops.check_cron_health (beat)
(relops.application.cron_health)."""

from __future__ import annotations

import logging
from typing import Any

from relops_client.logs import log_event

from relops import names
from relops.application import cron_health
from relops.broker import queue_backlog
from tasks.base import RelopsTask, worker_deps
from workers import app

logger = logging.getLogger(__name__)


@app.task(name=names.TASK_CRON_RUN, base=RelopsTask)
def cron_run(*args: Any, **payload: Any) -> dict[str, Any]:
    return cron_health.record_cron_run(worker_deps(), payload, args=args)


@app.task(name=names.TASK_CRON_RUN_BATCH, base=RelopsTask)
def cron_run_batch(*args: Any, **payload: Any) -> dict[str, Any]:
    return cron_health.record_cron_runs(worker_deps(), payload, args=args)


def _cron_backlog() -> int | None:
    try:
        with app.connection_for_read() as connection:
            return queue_backlog(connection, names.QUEUE_CRON)
    except Exception as exc:  # the broker answered the task that is running; an error here is odd, not fatal
        log_event(logger, logging.WARNING, "cron.backlog_unknown", error=type(exc).__name__)
        return None


@app.task(name=names.TASK_CHECK_CRON_HEALTH, base=RelopsTask)
def check_cron_health(**_: Any) -> dict[str, Any]:
    return cron_health.check_cron_health(worker_deps(), _cron_backlog())
