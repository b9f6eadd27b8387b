"""relops.prune_history (history tables stay bounded) and relops.check_breakers (breakers opened
anywhere page; relops.application.watch_breakers)."""

from __future__ import annotations

import logging
from typing import Any

from relops_client.logs import log_event

from relops import names
from relops.application.watch_breakers import check_breakers as check_breaker_states
from relops.slo.retention import horizons
from relops.store.corrections import flows_with_corrections
from relops.store.retention import prune
from tasks.base import RelopsTask, worker_deps
from workers import app

logger = logging.getLogger(__name__)


@app.task(name=names.TASK_PRUNE_HISTORY, base=RelopsTask)
def prune_history(**_: Any) -> dict[str, int]:
    deps = worker_deps()
    limits = horizons(deps.config, deps.now())
    with deps.engine.begin() as conn:
        corrected = {f.name for f in deps.config.flows if f.exclude_maintenance}
        corrected |= flows_with_corrections(conn, limits.hours)
        deleted = prune(conn, limits, corrected)
    log_event(logger, logging.INFO, "prune.done", **deleted)
    return deleted


@app.task(name=names.TASK_CHECK_BREAKERS, base=RelopsTask)
def check_breakers(**_: Any) -> dict[str, Any]:
    return check_breaker_states(worker_deps())
