"""relops.dispatch_alert: the alert queue's consumer. Validates and records every alert event."""

from __future__ import annotations

import logging
from typing import Any

from celery.utils.log import get_task_logger

from relops import names
from relops.alert_event import validate_alert_event
from relops.errors import InputRejected
from relops.logs import log_event
from relops.outcome_batch import Rejection, excerpt
from relops.runtime import engine
from relops.store.alerts import record_alert_event
from tasks.base import RelopsTask
from tasks.rejections import reject_payload
from workers import app

logger = get_task_logger(__name__)


@app.task(name=names.TASK_DISPATCH_ALERT, base=RelopsTask)
def dispatch_alert(*args: Any, **payload: Any) -> dict[str, Any]:
    """Record the alert event; a malformed one is rejected once with the field and the reason."""
    try:
        if args:
            raise InputRejected("args", "alert events are sent as kwargs, not positional arguments")
        event = validate_alert_event(payload)
    except InputRejected as exc:
        dedup_key = payload.get("dedup_key")
        reference = {"dedup_key": dedup_key if isinstance(dedup_key, str) else None}
        rejection = Rejection(None, exc.field, exc.reason, excerpt(payload))
        reject_payload(logger, names.TASK_DISPATCH_ALERT, "alert.rejected", reference, rejection)
        return {"recorded": False}
    with engine().begin() as conn:
        alert_id = record_alert_event(conn, event)
    log_event(
        logger,
        logging.WARNING,
        "alert.received",
        alert_id=alert_id,
        severity=event.severity,
        fingerprint=event.fingerprint,
        source=event.source,
        title=event.title,
    )
    return {"recorded": True, "alert_id": alert_id}
