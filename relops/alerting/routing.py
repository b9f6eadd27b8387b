"""relops.dispatch_alert's logic: validate an alert event, keep its incident, dedup it per channel,
and put what each channel is owed in the outbox.

``route_alert`` and ``resolve_alert`` are the rules, run inside the caller's transaction;
``dispatch_alert`` is the whole task: rejection, transaction, then the grouped flushes.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from redis import Redis
from sqlalchemy import Connection

from relops import names
from relops.alerting.dedup import dedup, forget_dedup
from relops.alerting.events import AlertEvent, validate_alert_event
from relops.alerting.grouping import schedule_flush
from relops.channels.base import SEVERITY_RANK, Channel
from relops.channels.registry import routed_severities
from relops.config import RelopsConfig
from relops.deps import Deps
from relops.errors import InputRejected
from relops.logs import log_event
from relops.rejections import reject_payload
from relops.silencing.silences import Silence
from relops.store.alerts import record_alert_event
from relops.store.incidents import mark_notified, resolve_incident, upsert_incident
from relops.store.notifications import enqueue
from relops.store.silences import count_muted
from relops.timeutil import parse_utc

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Routed:
    """What one event did: its incident (None when a resolution found none open) and the channels
    now owed a notification for it."""

    incident_id: int | None
    channels: list[str] = field(default_factory=list)
    #: The silence or maintenance window that muted the event.
    silenced_by: str | None = None

    def as_result(self) -> dict[str, Any]:
        return {"incident_id": self.incident_id, "channels": self.channels, "silenced_by": self.silenced_by}


def notification_payload(event: AlertEvent, kind: str, severity: str) -> dict[str, Any]:
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


def route_alert(
    conn: Connection,
    redis: Redis,
    config: RelopsConfig,
    channels: Mapping[str, Channel],
    event: AlertEvent,
    event_id: str,
    muted_by: Silence | None = None,
) -> Routed:
    """A firing event: record it, upsert its incident, and owe each routed channel a notification
    unless a silence mutes it, the incident is acknowledged, or dedup suppresses it there.

    A muted event is recorded and counted on its incident (which says what mutes it) and on its
    silence, and claims no dedup window, so the first firing after the silence ends pages at once.
    The dedup call runs inside the caller's transaction: if it rolls back, the retry carries the same
    ``event_id``, which the dedup script lets through again, so no notification is lost to a window
    claimed by an attempt that never committed.
    """
    routed = [c.name for c in channels.values() if event.severity in routed_severities(c)]
    muted_key = muted_by.key if muted_by else None
    record_alert_event(conn, event, silenced_by=muted_key)
    incident = upsert_incident(conn, event, parse_utc(event.occurred_at), silenced_by=muted_key)
    if muted_by is not None:
        if muted_by.silence_id is not None:
            count_muted(conn, muted_by.silence_id)
        log_event(
            logger,
            logging.INFO,
            "alert.silenced",
            fingerprint=event.fingerprint,
            incident_id=incident.id,
            silenced_by=muted_by.key,
            channels=",".join(routed) or "-",
        )
        return Routed(incident.id, silenced_by=muted_by.key)
    if incident.status != "open":
        log_event(
            logger,
            logging.INFO,
            "alert.not_notified",
            fingerprint=event.fingerprint,
            incident_id=incident.id,
            reason=f"incident is {incident.status}",
        )
        return Routed(incident.id)
    decisions = dedup(
        redis, routed, event.dedup_key, SEVERITY_RANK[event.severity], config.alerts.dedup_window_s, event_id
    )
    owed = []
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
        payload = notification_payload(event, "firing", event.severity)
        enqueue(conn, incident_id=incident.id, channel=channel, kind="firing", severity=event.severity, payload=payload)
        owed.append(channel)
    mark_notified(conn, incident.id, owed)
    return Routed(incident.id, owed)


def resolve_alert(conn: Connection, channels: Sequence[str], event: AlertEvent) -> Routed:
    """A resolved event: close the fingerprint's incident once, and owe a "resolved" notification
    to each of ``channels`` that was notified of it."""
    record_alert_event(conn, event)
    resolved = resolve_incident(conn, event.fingerprint, parse_utc(event.occurred_at))
    if resolved is None:
        log_event(
            logger, logging.INFO, "alert.resolve_ignored", fingerprint=event.fingerprint, reason="no open incident"
        )
        return Routed(None)
    owed = [name for name in resolved.notified_channels if name in channels]
    for name in owed:
        payload = notification_payload(event, "resolved", resolved.severity)
        enqueue(
            conn, incident_id=resolved.id, channel=name, kind="resolved", severity=resolved.severity, payload=payload
        )
    return Routed(resolved.id, owed)


def dispatch_alert(
    deps: Deps, payload: Mapping[str, Any], *, event_id: str, args: Sequence[Any] = ()
) -> dict[str, Any]:
    """Route one alert event; a malformed one is rejected once with the field and the reason."""
    try:
        if args:
            raise InputRejected("args", "alert events are sent as kwargs, not positional arguments")
        event = validate_alert_event(payload)
    except InputRejected as exc:
        reference = ("dedup_key", payload.get("dedup_key"))
        task = names.TASK_DISPATCH_ALERT
        reject_payload(
            deps.engine,
            logger,
            task=task,
            event="alert.rejected",
            reference=reference,
            error=exc,
            payload=dict(payload),
        )
        return {"rejected": True}
    with deps.engine.begin() as conn:
        if event.status == "resolved":
            # Never muted: an incident whose firing was notified before a silence began still owes
            # its channels the resolution; one that opened and closed inside the silence owes nobody.
            routed = resolve_alert(conn, list(deps.channels), event)
        else:
            muted_by = deps.silences.index(conn, deps.config, deps.now()).first_match(event.labels, deps.now())
            routed = route_alert(conn, deps.redis, deps.config, deps.channels, event, event_id, muted_by)
    if event.status == "resolved":
        if routed.incident_id is None:
            return routed.as_result()
        # The next firing of this key opens a new episode and must page at once.
        forget_dedup(deps.redis, list(deps.channels), event.dedup_key)
    alerts = deps.config.alerts
    for name in routed.channels:
        schedule_flush(deps.redis, deps.publish, name, alerts.group_wait_s, alerts.group_interval_s)
    log_event(
        logger,
        logging.WARNING,
        "alert.resolved" if event.status == "resolved" else "alert.routed",
        fingerprint=event.fingerprint,
        severity=event.severity,
        incident_id=routed.incident_id,
        channels=",".join(routed.channels) or "-",
        silenced_by=routed.silenced_by,
        title=event.title,
    )
    return routed.as_result()
