"""relops.check_incidents' logic (beat, every relops.alerting.followups.CHECK_INTERVAL_S): inhibitions whose dependency
recovered end; then the repeats, resends and escalation steps open incidents are owed
(relops.alerting.followups), each claimed by compare-and-set in PostgreSQL in the same transaction
as its outbox row, so checks racing each other, an acknowledgement, a resolution or a routed firing
never owe one twice or after it stopped applying.

A resend (to a receiver that keeps an alert only while it hears it: Alertmanager) is the alert as
it fired, without the "still firing" wording of a repeat; it is not claimed while the previous one
to that receiver is still undelivered, so an outage of the receiver does not pile up a resend per
interval per incident: the one waiting is sent when the receiver is back, with a fresh endsAt."""

from __future__ import annotations

import logging
from typing import Any

from relops_client.logs import log_event

from relops.alerting.events import validate_alert_event
from relops.alerting.followups import FollowUp, plan_followups
from relops.alerting.incident_state import Heard, OpenIncident
from relops.alerting.inhibition import inhibiting_dependency
from relops.alerting.routes import Route
from relops.application.deps import Deps
from relops.application.group_windows import destination_of, schedule_flush
from relops.application.route_alert import notification_payload
from relops.channels.registry import resend_intervals, routed_severities
from relops.errors import InputRejected
from relops.store.incidents import (
    claim_escalation,
    claim_repeat,
    followup_candidates,
    inhibiting_dependencies,
    release_inhibition,
)
from relops.store.notifications import enqueue, firing_undelivered

logger = logging.getLogger(__name__)


def _payload(incident: OpenIncident, follow_up: FollowUp, open_s: float) -> dict[str, Any] | None:
    try:
        event = validate_alert_event(incident.last_event)
    except InputRejected as exc:  # stored by relops from a validated event: never expected
        log_event(logger, logging.ERROR, "incident.followup_skipped", incident_id=incident.id, reason=str(exc))
        return None
    payload = notification_payload(
        event,
        "firing",
        incident.severity,
        incident_id=incident.id,
        opened_at=incident.opened_at,
        labels=incident.labels,
    )
    since = incident.opened_at.strftime("%Y-%m-%d %H:%M UTC")
    if follow_up.kind == "resend":
        return payload
    if follow_up.kind == "escalation":
        assert follow_up.step is not None
        payload["title"] = f"ESCALATED: {event.title}"[:300]
        payload["summary"] = (
            f"Open for {round(open_s / 60)} min (since {since}) and not acknowledged: escalated to "
            f"{follow_up.receiver} by {follow_up.route.label}. {event.summary}"
        )[:4000]
    else:
        payload["summary"] = (
            f"Still firing and not acknowledged (open since {since}, {incident.occurrences} alert(s)). {event.summary}"
        )[:4000]
    return payload


def release_inhibitions(deps: Deps) -> int:
    """Incidents inhibited by a dependency whose breaker has closed are inhibited no more: a flow
    still burning pages at its next evaluation, a job's failure an interval after its last alert."""
    released = 0
    with deps.engine.begin() as conn:
        for key in inhibiting_dependencies(conn):
            dependency = inhibiting_dependency(key)
            if dependency is None or dependency not in deps.config.breaker_settings():
                ids = release_inhibition(conn, key)  # a dependency no longer configured explains nothing
            elif not deps.breakers.get(dependency).is_degraded():
                ids = release_inhibition(conn, key)
            else:
                continue
            released += len(ids)
            log_event(logger, logging.WARNING, "incident.inhibition_ended", dependency=dependency, incidents=len(ids))
    return released


def check_incidents(deps: Deps) -> dict[str, int]:
    now = deps.now()
    severities = {name: routed_severities(channel) for name, channel in deps.receivers.items()}
    resend = resend_intervals(deps.receivers)
    released = release_inhibitions(deps)
    with deps.engine.connect() as conn:
        candidates = followup_candidates(conn)
    owed: dict[str, Route] = {}
    counts = {"repeats": 0, "resends": 0, "escalations": 0}
    for incident in candidates:
        for follow_up in plan_followups(incident, deps.routes, severities, now, resend):
            channel = deps.receivers.get(follow_up.receiver)
            if channel is None:
                log_event(
                    logger,
                    logging.ERROR,
                    "incident.escalation_undeliverable",
                    incident_id=incident.id,
                    receiver=follow_up.receiver,
                    step=follow_up.step_key,
                    reason="the receiver cannot deliver in this process (see its channel.skipped line)",
                )
                continue
            open_s = (now - incident.opened_at).total_seconds()
            payload = _payload(incident, follow_up, open_s)
            if payload is None:
                continue
            with deps.engine.begin() as conn:
                if follow_up.kind == "resend" and firing_undelivered(conn, incident.id, follow_up.receiver):
                    claimed = False
                elif follow_up.kind in ("repeat", "resend"):
                    # A resend keeps how the receiver first heard (an escalation step stays one).
                    before = incident.notified.get(follow_up.receiver)
                    heard = Heard(now, incident.severity, before.via if before is not None else "route")
                    seen_at = incident.notified_at_raw.get(follow_up.receiver)
                    claimed = claim_repeat(conn, incident.id, follow_up.receiver, seen_at, heard)
                else:
                    assert follow_up.step is not None and follow_up.step_key is not None
                    step = {
                        "step": follow_up.step_key,
                        "to": follow_up.receiver,
                        "after_s": follow_up.step.after_s,
                        "at": now.isoformat(),
                    }
                    heard = Heard(now, incident.severity, "escalation")
                    claimed = claim_escalation(conn, incident.id, step, follow_up.receiver, heard)
                if claimed:
                    enqueue(
                        conn,
                        incident_id=incident.id,
                        channel=channel.name,
                        receiver=follow_up.receiver,
                        kind="firing",
                        severity=incident.severity,
                        payload=payload,
                    )
            if not claimed:
                continue
            owed.setdefault(follow_up.receiver, follow_up.route)
            counts[f"{follow_up.kind}s"] += 1
            log_event(
                logger,
                # A resend is routine (every minute or so while an incident fires), not news.
                logging.INFO if follow_up.kind == "resend" else logging.WARNING,
                f"incident.{follow_up.kind}",
                incident_id=incident.id,
                fingerprint=incident.fingerprint,
                receiver=follow_up.receiver,
                route=follow_up.route.label,
                step=follow_up.step_key,
                open_s=round(open_s),
            )
    for receiver, route in owed.items():
        to = destination_of(deps.receivers[receiver])
        schedule_flush(deps.redis, deps.publish, to, route.group_wait_s, route.group_interval_s)
    return {"incidents": len(candidates), **counts, "released": released}
