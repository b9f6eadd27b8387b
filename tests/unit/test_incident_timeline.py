"""An incident's timeline: every notification, hand changes with who made them, escalations, and a
resolution by recovery when nobody resolved it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from relops.alerting.timeline import incident_timeline

T0 = datetime(2026, 11, 30, 12, tzinfo=UTC)


def incident(**fields: object) -> dict:
    row = {
        "title": "checkout burns",
        "severity": "critical",
        "status": "open",
        "opened_at": T0,
        "resolved_at": None,
        "last_seen": T0 + timedelta(minutes=30),
        "occurrences": 7,
        "escalations": [],
    }
    return {**row, **fields}


def notification(minutes: int, status: str = "delivered", kind: str = "firing") -> dict:
    at = T0 + timedelta(minutes=minutes)
    return {
        "created_at": at,
        "channel": "webhook",
        "receiver": "team-a",
        "kind": kind,
        "severity": "warning",
        "status": status,
        "attempts": 1,
        "delivered_at": at if status == "delivered" else None,
    }


def test_events_come_in_time_order_with_their_details() -> None:
    escalation = {"at": (T0 + timedelta(minutes=15)).isoformat(), "to": "oncall", "after_s": 900}
    audit = [
        {"at": T0 + timedelta(minutes=20), "actor": "alice", "via": "web", "action": "incident.ack"},
        {"at": T0 + timedelta(minutes=21), "actor": "alice", "via": "web", "action": "silence.add"},
    ]
    events = incident_timeline(incident(escalations=[escalation]), [notification(1), notification(16, "dead")], audit)
    assert [e.kind for e in events] == ["opened", "notification", "escalated", "notification", "acknowledged", "seen"]
    assert events[3].status == "dead" and "dead, 1 attempt(s)" in events[3].detail
    assert events[4].detail == "by alice via web" and events[5].detail == "seen 7 times since it opened"


def test_a_recovered_incident_says_so_and_a_hand_resolution_names_who() -> None:
    recovered = incident(status="resolved", resolved_at=T0 + timedelta(hours=1))
    assert incident_timeline(recovered, [], [])[-1].detail == "recovered (no longer firing)"
    by_hand = [{"at": T0 + timedelta(hours=1), "actor": "bob", "via": "cli", "action": "incident.resolve"}]
    resolved = [e for e in incident_timeline(recovered, [], by_hand) if e.kind == "resolved"]
    assert [e.detail for e in resolved] == ["by bob via cli"]
