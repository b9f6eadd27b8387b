"""An incident's events in time order, for its page: opened, seen, every notification with its
delivery status, acknowledgements and resolutions (who, how), escalations. Pure: the rows are
arguments.

The incident row keeps only its latest episode and its current severity; the severity of each
notification says how the incident's severity moved while it was notified.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from relops.timeutil import parse_utc


@dataclass(frozen=True, slots=True)
class TimelineEvent:
    at: datetime
    #: opened, seen, notification, acknowledged, resolved, escalated
    kind: str
    detail: str
    #: A notification's delivery status (pending, sending, delivered, dead); "" for other events.
    status: str = ""
    severity: str = ""


_AUDIT_KINDS = {"incident.ack": "acknowledged", "incident.resolve": "resolved"}


def incident_timeline(
    incident: Mapping[str, Any], notifications: Sequence[Mapping[str, Any]], audit: Sequence[Mapping[str, Any]]
) -> list[TimelineEvent]:
    events = [
        TimelineEvent(incident["opened_at"], "opened", str(incident["title"]), severity=str(incident["severity"]))
    ]
    for row in notifications:
        delivered = f", delivered {row['delivered_at']:%H:%M:%S}" if row["delivered_at"] else ""
        events.append(
            TimelineEvent(
                row["created_at"],
                "notification",
                f"{row['kind']} to {row['receiver']} ({row['channel']}): {row['status']}, "
                f"{row['attempts']} attempt(s){delivered}",
                status=str(row["status"]),
                severity=str(row["severity"]),
            )
        )
    changed_by_hand = set()
    for row in audit:
        kind = _AUDIT_KINDS.get(row["action"])
        if kind is None:
            continue
        changed_by_hand.add(kind)
        events.append(TimelineEvent(row["at"], kind, f"by {row['actor']} via {row['via']}"))
    for step in incident["escalations"] or ():
        events.append(
            TimelineEvent(
                parse_utc(step["at"]), "escalated", f"to {step['to']} after {step['after_s']} s unacknowledged"
            )
        )
    if incident["status"] == "resolved" and incident["resolved_at"] and "resolved" not in changed_by_hand:
        events.append(TimelineEvent(incident["resolved_at"], "resolved", "recovered (no longer firing)"))
    events.append(TimelineEvent(incident["last_seen"], "seen", f"seen {incident['occurrences']} times since it opened"))
    return sorted(events, key=lambda event: event.at)
