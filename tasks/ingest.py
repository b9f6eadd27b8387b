"""relops.record_flow_outcomes: flow outcome batches from services."""

from __future__ import annotations

import logging
from typing import Any

from celery.utils.log import get_task_logger

from relops import names
from relops.errors import InputRejected
from relops.logs import log_event
from relops.outcome_batch import Rejection, excerpt, parse_counts, validate_batch_id
from relops.runtime import engine, get_config
from relops.store.outcomes import ingest_batch
from relops.store.rejections import record_rejections
from relops.store.retention import horizons
from relops.timeutil import utcnow
from tasks.base import RelopsTask
from tasks.rejections import log_rejections, reject_payload
from workers import app

logger = get_task_logger(__name__)


@app.task(name=names.TASK_RECORD_FLOW_OUTCOMES, base=RelopsTask)
def record_flow_outcomes(*args: Any, batch_id: Any = None, counts: Any = None, **unknown: Any) -> dict[str, int]:
    """Validate a batch, then add its valid counts once (a redelivered batch id changes nothing)."""
    config = get_config()
    now = utcnow()
    for name in unknown:
        log_event(logger, logging.WARNING, "ingest.unknown_field", batch_id=batch_id, field=name)
    try:
        if args:
            raise InputRejected("args", "outcome batches are sent as kwargs, not positional arguments")
        batch_id = validate_batch_id(batch_id)
        limits = horizons(config, now)
        items, rejections = parse_counts(counts, known_flows=config.flows_by_name, now=now, oldest=limits.hours)
    except InputRejected as exc:
        rejection = Rejection(None, exc.field, exc.reason, excerpt({"batch_id": batch_id, "counts": counts}))
        reference = {"batch_id": batch_id if isinstance(batch_id, str) else None}
        reject_payload(logger, names.TASK_RECORD_FLOW_OUTCOMES, "ingest.rejected", reference, rejection)
        return {"accepted": 0, "rejected": 1}

    with engine().begin() as conn:
        fresh = ingest_batch(conn, batch_id, items, rejected=len(rejections), minute_horizon=limits.minutes)
        if fresh:
            record_rejections(conn, names.TASK_RECORD_FLOW_OUTCOMES, batch_id, rejections)
    if not fresh:
        log_event(logger, logging.INFO, "ingest.duplicate_batch", batch_id=batch_id)
        return {"accepted": 0, "rejected": 0}
    log_rejections(logger, "ingest.rejected", {"batch_id": batch_id}, rejections)
    log_event(logger, logging.INFO, "ingest.batch", batch_id=batch_id, accepted=len(items), rejected=len(rejections))
    return {"accepted": len(items), "rejected": len(rejections)}
