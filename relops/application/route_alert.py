"""relops.dispatch_alert's logic: validate an alert event, keep its incident, route it to its
receivers, dedup it per receiver, and put what each receiver is owed in the outbox.

``route_alert`` and ``resolve_alert`` are the rules, run inside the caller's transaction;
``dispatch_alert`` is the whole task: rejection, transaction, then the grouped flushes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from relops_client.logs import EventLog, log_event
from sqlalchemy import Connection

from relops import names
from relops.alerting.events import AlertEvent, validate_alert_event
from relops.alerting.followups import repeat_interval_s
from relops.alerting.incident_state import Heard
from relops.alerting.inhibition import dependencies_of, inhibition
from relops.alerting.routes import Route, Target, matching_routes, reach
from relops.application.deps import Deps
from relops.application.group_windows import destination_of, schedule_flush
from relops.application.rejections import reject_payload
from relops.channels.base import SEVERITY_RANK
from relops.channels.registry import resend_intervals, routed_severities
from relops.errors import InputRejected
from relops.silencing.silences import Silence
from relops.state.dedup import dedup, forget_dedup
from relops.store.alert_events import record_alert_event
from relops.store.incidents import mark_muted, resolve_incident, silenced_by, upsert_incident
from relops.store.notifications import enqueue, owe_firing
from relops.store.silences import as_silence, count_muted, silence_row
from relops.timeutil import parse_utc

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Routed:
    """What one event did: its incident (None when a resolution found none open) and the receivers
    now owed a notification for it."""

    incident_id: int | None
    receivers: list[Target] = field(default_factory=list)
    #: The silence or maintenance window that muted the event.
    silenced_by: str | None = None
    #: The dependency whose open breaker inhibited it.
    inhibited_by: str | None = None
    #: The receivers it would have reached (muted or not).
    routed: list[str] = field(default_factory=list)

    @property
    def muted(self) -> bool:
        return self.silenced_by is not None or self.inhibited_by is not None

    def as_result(self) -> dict[str, Any]:
        return {
            "incident_id": self.incident_id,
            "receivers": [t.receiver for t in self.receivers],
            "silenced_by": self.silenced_by,
            "inhibited_by": self.inhibited_by,
        }


def notification_payload(
    event: AlertEvent,
    kind: str,
    severity: str,
    *,
    incident_id: int | None = None,
    opened_at: datetime | None = None,
    labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """What a channel renders (relops.channels.base.Notification). ``labels``: the incident's, when
    they are not the event's own (a resolution event's severity label is "ok")."""
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
        "labels": dict(event.labels if labels is None else labels),
        "incident_id": incident_id,
        "opened_at": opened_at.isoformat() if opened_at is not None else None,
    }


def incident_time(event: AlertEvent, now: datetime) -> datetime:
    """When the event happened as its incident records it: never later than now, so an incident
    never opens in the future of its own notifications (a sender whose clock runs ahead)."""
    return min(parse_utc(event.occurred_at), now)


def route_label(routes: Route, event: AlertEvent) -> str:
    """The routes the event lands on, as incidents and logs name them."""
    return ", ".join(r.label for r in matching_routes(routes, event.labels))


def repeat_due(heard: Heard | None, severity: str, repeat_interval_s: int, now: datetime) -> bool:
    """Whether a receiver that heard ``heard`` of the incident is owed this firing: it never heard of
    this episode, or heard something less severe, or heard nothing since a silence or an inhibition,
    or last heard ``repeat_interval_s`` ago or more."""
    if heard is None or heard.at is None:
        return True
    if SEVERITY_RANK[severity] > SEVERITY_RANK.get(heard.severity, 0):
        return True
    return (now - heard.at).total_seconds() >= repeat_interval_s


def route_alert(
    conn: Connection,
    deps: Deps,
    event: AlertEvent,
    event_id: str,
    muted_by: Silence | None = None,
    inhibited_by: str | None = None,
) -> Routed:
    """A firing event: record it, upsert its incident, and owe each receiver its routes reach a
    notification unless a silence or an inhibition mutes it, the incident is acknowledged, dedup
    suppresses it there, or that receiver heard of it within the route's repeat interval.

    A muted event is recorded and counted on its incident (which says what mutes it) and on its
    silence, and claims no dedup window, so the first firing after the silence (or the dependency's
    outage) ends pages at once.
    The dedup call runs inside the caller's transaction: if it rolls back, the retry carries the same
    ``event_id``, which the dedup script lets through again, so no notification is lost to a window
    claimed by an attempt that never committed.
    """
    severities = {name: routed_severities(channel) for name, channel in deps.receivers.items()}
    found = reach(deps.routes, event.labels, event.severity, severities)
    reached = found.targets
    names_reached = [t.receiver for t in reached]
    muted_key = muted_by.key if muted_by else None
    record_alert_event(conn, event, silenced_by=muted_key, inhibited_by=inhibited_by)
    at = incident_time(event, deps.now())
    route = route_label(deps.routes, event)
    incident = upsert_incident(conn, event, at, silenced_by=muted_key, route=route, inhibited_by=inhibited_by)
    log = EventLog(logger, fingerprint=event.fingerprint, incident_id=incident.id)
    if muted_by is not None or inhibited_by is not None:
        if muted_by is not None and muted_by.silence_id is not None:
            count_muted(conn, muted_by.silence_id)
        mark_muted(conn, incident.id, deps.now())
        log(
            logging.INFO,
            "alert.silenced" if muted_by is not None else "alert.inhibited",
            silenced_by=muted_key,
            inhibited_by=inhibited_by,
            receivers=",".join(names_reached) or "-",
        )
        return Routed(incident.id, silenced_by=muted_key, inhibited_by=inhibited_by, routed=names_reached)
    if incident.status != "open":
        log(logging.INFO, "alert.not_notified", reason=f"incident is {incident.status}")
        return Routed(incident.id, routed=names_reached)
    if found.fell_back_from:
        log(
            logging.WARNING,
            "alert.fallback",
            route=route_label(deps.routes, event),
            unavailable=",".join(found.fell_back_from),
            receivers=",".join(names_reached) or "-",
            reason="its routes' receivers cannot deliver in this process: the root's receivers take it",
        )
    if not reached:
        # Usually the config says so (a route's severities, a receiver's): recorded, told nobody.
        undeliverable = bool(found.fell_back_from)
        log(
            logging.ERROR if undeliverable else logging.INFO,
            "alert.unrouted",
            severity=event.severity,
            route=route_label(deps.routes, event),
            reason="no receiver can deliver in this process, not even the root's"
            if undeliverable
            else "no receiver of its routes takes this severity",
        )
    resend = resend_intervals(deps.receivers)
    rank = SEVERITY_RANK[event.severity]
    decisions = dedup(deps.redis, names_reached, event.dedup_key, rank, deps.config.alerts.dedup_window_s, event_id)
    now = deps.now()
    owed: list[Target] = []
    for target in reached:
        decision = decisions[target.receiver]
        if not decision.deliver:
            log_event(
                logger,
                logging.INFO,
                "alert.suppressed",
                receiver=target.receiver,
                dedup_key=event.dedup_key,
                severity=event.severity,
                suppressed=decision.suppressed,
            )
            continue
        interval_s = repeat_interval_s(target.route, target.receiver, resend)
        if not repeat_due(incident.notified.get(target.receiver), event.severity, interval_s, now):
            log_event(
                logger,
                logging.INFO,
                "alert.repeat_not_due",
                receiver=target.receiver,
                fingerprint=event.fingerprint,
                repeat_interval_s=interval_s,
            )
            continue
        owed.append(target)
    heard = {t.receiver: Heard(now, event.severity, "route").as_json() for t in owed}
    owe_firing(
        conn,
        incident_id=incident.id,
        to=[(deps.receivers[t.receiver].name, t.receiver) for t in owed],
        severity=event.severity,
        payload=notification_payload(
            event, "firing", event.severity, incident_id=incident.id, opened_at=incident.opened_at
        ),
        heard=heard,
    )
    return Routed(incident.id, owed, routed=names_reached)


def resolve_alert(conn: Connection, deps: Deps, event: AlertEvent) -> Routed:
    """A resolved event: close the fingerprint's incident once, and owe a "resolved" notification
    to each receiver that heard of its firing."""
    record_alert_event(conn, event)
    resolved = resolve_incident(conn, event.fingerprint, incident_time(event, deps.now()))
    if resolved is None:
        log_event(
            logger, logging.INFO, "alert.resolve_ignored", fingerprint=event.fingerprint, reason="no open incident"
        )
        return Routed(None)
    # The resolution reaches whoever heard the firing, by the route that sent it there (for its
    # group timing), or by the route the resolution itself lands on.
    landed = matching_routes(deps.routes, event.labels)
    route = landed[0] if landed else deps.routes
    owed = []
    for name in resolved.notified:
        channel = deps.receivers.get(name)
        if channel is None:
            log_event(
                logger,
                logging.ERROR,
                "alert.resolution_undeliverable",
                receiver=name,
                fingerprint=event.fingerprint,
                reason="the receiver that heard the firing is not configured in this process",
            )
            continue
        payload = notification_payload(
            event,
            "resolved",
            resolved.severity,
            incident_id=resolved.id,
            opened_at=resolved.opened_at,
            labels=resolved.labels or None,
        )
        enqueue(
            conn,
            incident_id=resolved.id,
            channel=channel.name,
            receiver=name,
            kind="resolved",
            severity=resolved.severity,
            payload=payload,
        )
        owed.append(Target(name, route))
    return Routed(resolved.id, owed)


def still_silenced(conn: Connection, event: AlertEvent, now: datetime) -> Silence | None:
    """The silence another process already saw muting this incident, while it is in force and
    matches. A process sees new silences up to SILENCE_RELOAD_S late: without this, its unmuted alert
    right after another's muted one (which forgot the dedup window) paged a second time, the very
    moment the silence was added. One primary-key read per alert, and one more when it was muted."""
    key = silenced_by(conn, event.fingerprint)
    kind, _, ident = (key or "").partition(":")
    if kind != "silence" or not ident.isdigit():
        return None  # maintenance windows are read from the config, never late
    row = silence_row(conn, int(ident))
    if row is None:
        return None
    silence = as_silence(row)
    return silence if silence.active_at(now) and silence.matches(event.labels) else None


def _degraded(deps: Deps) -> Callable[[str], bool]:
    """Whether a dependency's breaker is open (or half-open) anywhere, as this process sees it (at
    most its breaker's refresh_s old). Unknown to this process, or Redis unreachable: not degraded,
    so the alert pages rather than being inhibited by a guess."""

    def degraded(dependency: str) -> bool:
        try:
            return deps.breakers.get(dependency).is_degraded()
        except KeyError:
            return False

    return degraded


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
            # its receivers the resolution; one that opened and closed inside the silence owes nobody.
            routed = resolve_alert(conn, deps, event)
        else:
            muted_by = deps.silences.muting(conn, deps.config, event.labels, deps.now())
            if muted_by is None:
                muted_by = still_silenced(conn, event, deps.now())
            inhibited_by = inhibition(dependencies_of(deps.config, event.labels), _degraded(deps))
            routed = route_alert(conn, deps, event, event_id, muted_by, inhibited_by)
    if event.status == "resolved":
        if routed.incident_id is None:
            return routed.as_result()
        # The next firing of this key opens a new episode and must page at once.
        forget_dedup(deps.redis, list(deps.receivers), event.dedup_key)
    elif routed.muted:
        # A window claimed before the silence or outage must not hold back the first firing after it.
        forget_dedup(deps.redis, routed.routed, event.dedup_key)
    for target in routed.receivers:
        route = target.route
        to = destination_of(deps.receivers[target.receiver])
        opening = route.opening_wait_s(event.severity, event.status)
        schedule_flush(deps.redis, deps.publish, to, route.group_wait_s, route.group_interval_s, opening)
    log_event(
        logger,
        logging.WARNING,
        "alert.resolved" if event.status == "resolved" else "alert.routed",
        fingerprint=event.fingerprint,
        severity=event.severity,
        incident_id=routed.incident_id,
        receivers=",".join(t.receiver for t in routed.receivers) or "-",
        silenced_by=routed.silenced_by,
        inhibited_by=routed.inhibited_by,
        title=event.title,
    )
    return routed.as_result()
