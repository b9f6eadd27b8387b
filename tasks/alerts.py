"""relops.dispatch_alert: validates an alert event, keeps its incident, dedups, routes to channels."""

from __future__ import annotations

import logging
from typing import Any

from celery.utils.log import get_task_logger

from relops import names
from relops.alert_event import AlertEvent, validate_alert_event
from relops.channels.base import SEVERITY_RANK
from relops.channels.registry import routed_severities
from relops.errors import InputRejected
from relops.logs import log_event
from relops.outcome_batch import Rejection, excerpt
from relops.runtime import engine, get_channels, get_config, redis
from relops.shared_state import dedup, forget_dedup
from relops.store.alerts import record_alert_event
from relops.store.incidents import mark_notified, resolve_incident, upsert_incident
from relops.store.notifications import enqueue
from relops.timeutil import parse_utc
from tasks.base import RelopsTask
from tasks.notify import schedule_flush
from tasks.rejections import reject_payload
from workers import app

logger = get_task_logger(__name__)


def _payload(event: AlertEvent, kind: str, severity: str) -> dict[str, Any]:
    """What a channel renders (relops.channels.base.Notification)."""
    return {
        "fingerprint": event.fingerprint,
        "kind": kind,
        "severity": severity,
        "source": event.source,
        "title": event.title,
        "summary": event.summary,
        "details": event.details,
        "runbook_url": event.runbook_url,
        "occurred_at": event.occurred_at,
    }


def _fire(event: AlertEvent, event_id: str) -> dict[str, Any]:
    config = get_config()
    routed = [c for c in get_channels().values() if event.severity in routed_severities(c)]
    at = parse_utc(event.occurred_at)
    delivered: list[str] = []
    # One transaction with the dedup calls inside: if it rolls back, the retry carries the same
    # event id, which the dedup script lets through again, so no notification is lost to a
    # window claimed by an attempt that never committed.
    with engine().begin() as conn:
        record_alert_event(conn, event)
        incident = upsert_incident(conn, event, at)
        if incident.status != "open":
            log_event(
                logger,
                logging.INFO,
                "alert.not_notified",
                fingerprint=event.fingerprint,
                incident_id=incident.id,
                reason=f"incident is {incident.status}",
            )
            return {"incident_id": incident.id, "channels": []}
        decisions = dedup(
            redis(),
            [c.name for c in routed],
            event.dedup_key,
            SEVERITY_RANK[event.severity],
            config.alerts.dedup_window_s,
            event_id,
        )
        for channel, decision in decisions.items():
            if not decision.deliver:
                log_event(
                    logger,
                    logging.INFO,
                    "alert.suppressed",
                    channel=channel,
                    dedup_key=event.dedup_key,
                    severity=event.severity,
                    suppressed=decision.suppressed,
                )
                continue
            enqueue(
                conn,
                incident_id=incident.id,
                channel=channel,
                kind="firing",
                severity=event.severity,
                payload=_payload(event, "firing", event.severity),
            )
            delivered.append(channel)
        mark_notified(conn, incident.id, delivered)
    for name in delivered:
        schedule_flush(name, config.alerts.group_wait_s, config.alerts.group_interval_s)
    log_event(
        logger,
        logging.WARNING,
        "alert.routed",
        fingerprint=event.fingerprint,
        severity=event.severity,
        incident_id=incident.id,
        channels=",".join(delivered) or "-",
        title=event.title,
    )
    return {"incident_id": incident.id, "channels": delivered}


def _resolve(event: AlertEvent) -> dict[str, Any]:
    channels = get_channels()
    with engine().begin() as conn:
        record_alert_event(conn, event)
        resolved = resolve_incident(conn, event.fingerprint, parse_utc(event.occurred_at))
        if resolved is None:
            log_event(
                logger,
                logging.INFO,
                "alert.resolve_ignored",
                fingerprint=event.fingerprint,
                reason="no unresolved incident",
            )
            return {"incident_id": None, "channels": []}
        notify = [name for name in resolved.notified_channels if name in channels]
        for name in notify:
            enqueue(
                conn,
                incident_id=resolved.id,
                channel=name,
                kind="resolved",
                severity=resolved.severity,
                payload=_payload(event, "resolved", resolved.severity),
            )
    # The next firing of this key opens a new episode and must page at once.
    forget_dedup(redis(), list(channels), event.dedup_key)
    for name in notify:
        schedule_flush(name, get_config().alerts.group_wait_s, get_config().alerts.group_interval_s)
    log_event(
        logger,
        logging.WARNING,
        "alert.resolved",
        fingerprint=event.fingerprint,
        incident_id=resolved.id,
        channels=",".join(notify) or "-",
    )
    return {"incident_id": resolved.id, "channels": notify}


@app.task(name=names.TASK_DISPATCH_ALERT, base=RelopsTask, bind=True)
def dispatch_alert(self: Any, *args: Any, **payload: Any) -> dict[str, Any]:
    """Route one alert event; a malformed one is rejected once with the field and the reason."""
    try:
        if args:
            raise InputRejected("args", "alert events are sent as kwargs, not positional arguments")
        event = validate_alert_event(payload)
    except InputRejected as exc:
        dedup_key = payload.get("dedup_key")
        reference = {"dedup_key": dedup_key if isinstance(dedup_key, str) else None}
        rejection = Rejection(None, exc.field, exc.reason, excerpt(payload))
        reject_payload(logger, names.TASK_DISPATCH_ALERT, "alert.rejected", reference, rejection)
        return {"rejected": True}
    if event.status == "resolved":
        return _resolve(event)
    return _fire(event, self.request.id or "")
