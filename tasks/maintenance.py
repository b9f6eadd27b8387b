"""relops.prune_history: keeps history tables bounded."""

from __future__ import annotations

import logging
from typing import Any

from celery.utils.log import get_task_logger

from relops import names
from relops.logs import log_event
from relops.runtime import engine, get_config
from relops.store.retention import horizons, prune
from relops.timeutil import utcnow
from tasks.base import RelopsTask
from workers import app

logger = get_task_logger(__name__)


@app.task(name=names.TASK_PRUNE_HISTORY, base=RelopsTask)
def prune_history(**_: Any) -> dict[str, int]:
    with engine().begin() as conn:
        deleted = prune(conn, horizons(get_config(), utcnow()))
    log_event(logger, logging.INFO, "prune.done", **deleted)
    return deleted
