"""relops.check_incidents' logic (beat, every CHECK_INTERVAL_S): inhibitions whose dependency
recovered end; then the repeats and escalation steps open incidents are owed
(relops.alerting.followups), each claimed by compare-and-set in PostgreSQL in the same transaction
as its outbox row, so checks racing each other, an acknowledgement, a resolution or a routed firing
never owe one twice or after it stopped applying."""

from __future__ import annotations

import logging
from typing import Any

from relops_client.logs import log_event

from relops.alerting.events import validate_alert_event
from relops.alerting.followups import FollowUp, plan_followups
from relops.alerting.inhibition import inhibiting_dependency
from relops.alerting.routes import Route
from relops.application.deps import Deps
from relops.application.group_windows import destination_of, schedule_flush
from relops.application.route_alert import notification_payload
from relops.channels.registry import routed_severities
from relops.errors import InputRejected
from relops.store.incidents import (
    Heard,
    OpenIncident,
    claim_escalation,
    claim_repeat,
    followup_candidates,
    inhibiting_dependencies,
    release_inhibition,
)
from relops.store.notifications import enqueue

logger = logging.getLogger(__name__)

#: Beat sends relops.check_incidents this often: a repeat or an escalation is at most this late.
CHECK_INTERVAL_S = 15


def _payload(incident: OpenIncident, follow_up: FollowUp, open_s: float) -> dict[str, Any] | None:
    try:
        event = validate_alert_event(incident.last_event)
    except InputRejected as exc:  # stored by relops from a validated event: never expected
        log_event(logger, logging.ERROR, "incident.followup_skipped", incident_id=incident.id, reason=str(exc))
        return None
    payload = notification_payload(event, "firing", incident.severity)
    since = incident.opened_at.strftime("%Y-%m-%d %H:%M UTC")
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
    released = release_inhibitions(deps)
    with deps.engine.connect() as conn:
        candidates = followup_candidates(conn)
    owed: dict[str, Route] = {}
    counts = {"repeats": 0, "escalations": 0}
    for incident in candidates:
        for follow_up in plan_followups(incident, deps.routes, severities, now):
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
                if follow_up.kind == "repeat":
                    heard = Heard(now, incident.severity, "route")
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
            counts["repeats" if follow_up.kind == "repeat" else "escalations"] += 1
            log_event(
                logger,
                logging.WARNING,
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
