"""Incidents: one row per fingerprint, status changes as compare-and-set."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, bindparam, text
from sqlalchemy.dialects.postgresql import JSONB

from relops.alerting.events import AlertEvent
from relops.alerting.incident_state import Heard, OpenIncident

# Concurrent workers upserting one fingerprint meet at the unique index, so there is one row.
# A resolved incident reopens only for an event newer than its resolution: a firing event
# redelivered after the flow recovered must not reopen it.
_UPSERT = text("""
INSERT INTO ops_incidents AS i (fingerprint, status, severity, source, title, runbook_url,
                               first_seen, last_seen, opened_at, occurrences, last_event, labels, silenced_by,
                               inhibited_by, route)
VALUES (:fingerprint, 'open', :severity, :source, :title, :runbook_url, :at, :at, :at, 1, :event, :labels,
        :silenced_by, :inhibited_by, :route)
ON CONFLICT (fingerprint) DO UPDATE SET
    occurrences = i.occurrences + 1,
    labels = EXCLUDED.labels,
    silenced_by = EXCLUDED.silenced_by,
    inhibited_by = EXCLUDED.inhibited_by,
    route = EXCLUDED.route,
    last_seen = greatest(i.last_seen, EXCLUDED.last_seen),
    severity = EXCLUDED.severity,
    title = EXCLUDED.title,
    runbook_url = EXCLUDED.runbook_url,
    last_event = EXCLUDED.last_event,
    status = CASE WHEN i.status = 'resolved' AND EXCLUDED.last_seen > i.resolved_at THEN 'open' ELSE i.status END,
    opened_at = CASE WHEN i.status = 'resolved' AND EXCLUDED.last_seen > i.resolved_at
                     THEN EXCLUDED.opened_at ELSE i.opened_at END,
    acknowledged_at = CASE WHEN i.status = 'resolved' AND EXCLUDED.last_seen > i.resolved_at
                           THEN NULL ELSE i.acknowledged_at END,
    escalations = CASE WHEN i.status = 'resolved' AND EXCLUDED.last_seen > i.resolved_at
                       THEN '[]'::jsonb ELSE i.escalations END,
    resolved_at = CASE WHEN i.status = 'resolved' AND EXCLUDED.last_seen > i.resolved_at
                       THEN NULL ELSE i.resolved_at END
RETURNING i.id, i.status, i.notified, i.opened_at
""").bindparams(bindparam("event", type_=JSONB), bindparam("labels", type_=JSONB))

# Only an unresolved incident resolves, once: the row lock taken by the CTE makes two concurrent
# resolutions of one fingerprint produce one "resolved" notification, not two.
_RESOLVE = text("""
WITH current AS (
    SELECT id, notified, severity FROM ops_incidents
    WHERE fingerprint = :fingerprint AND status <> 'resolved' FOR UPDATE
)
UPDATE ops_incidents i
SET status = 'resolved', resolved_at = :at, last_seen = greatest(i.last_seen, :at), notified = '{}'
FROM current WHERE i.id = current.id
RETURNING i.id, current.notified, current.severity, i.opened_at, i.labels
""")

# A muted alert makes the next unmuted one due at once: each receiver keeps its place (it still
# gets the resolution) but loses the time it last heard; a repeat of what does not fire again
# counts from the last muted alert instead (muted_at).
_MARK_MUTED = text("""
UPDATE ops_incidents SET notified = coalesce(
    (SELECT jsonb_object_agg(k, v || jsonb_build_object('at', null, 'muted_at', CAST(:now AS text)))
     FROM jsonb_each(notified) AS e(k, v)), '{}'::jsonb)
WHERE id = :id AND notified <> '{}'::jsonb
""")


def _moment(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def _heard(raw: dict[str, Any]) -> dict[str, Heard]:
    return {
        receiver: Heard(
            at=_moment(v.get("at")),
            severity=v.get("severity", "warning"),
            via=v.get("via", "route"),
            muted_at=_moment(v.get("muted_at")),
        )
        for receiver, v in (raw or {}).items()
    }


@dataclass(frozen=True)
class UpsertedIncident:
    id: int
    status: str
    notified: dict[str, Heard]
    #: When its current episode opened.
    opened_at: datetime


@dataclass(frozen=True)
class ResolvedIncident:
    id: int
    #: The receivers that heard the current episode's firing: they are owed its resolution.
    notified: dict[str, Heard]
    severity: str
    opened_at: datetime
    #: The labels of its last firing alert.
    labels: dict[str, str]


def upsert_incident(
    conn: Connection,
    event: AlertEvent,
    at: datetime,
    silenced_by: str | None = None,
    route: str | None = None,
    inhibited_by: str | None = None,
) -> UpsertedIncident:
    """Open or update the fingerprint's incident; ``silenced_by`` and ``inhibited_by`` say what mutes
    it now (None: nothing), ``route`` which routes its alert landed on."""
    row = conn.execute(
        _UPSERT,
        {
            "route": route,
            "inhibited_by": inhibited_by,
            "labels": event.labels,
            "silenced_by": silenced_by,
            "fingerprint": event.fingerprint,
            "severity": event.severity,
            "source": event.source,
            "title": event.title,
            "runbook_url": event.runbook_url,
            "at": at,
            "event": event.as_kwargs(),
        },
    ).one()
    return UpsertedIncident(id=row.id, status=row.status, notified=_heard(row.notified), opened_at=row.opened_at)


def resolve_incident(conn: Connection, fingerprint: str, at: datetime) -> ResolvedIncident | None:
    """Close the fingerprint's open incident; None when there is none (already resolved, or never opened)."""
    row = conn.execute(_RESOLVE, {"fingerprint": fingerprint, "at": at}).first()
    if row is None:
        return None
    return ResolvedIncident(
        id=row.id,
        notified=_heard(row.notified),
        severity=row.severity,
        opened_at=row.opened_at,
        labels=dict(row.labels or {}),
    )


def mark_muted(conn: Connection, incident_id: int, now: datetime) -> None:
    """A muted alert: the next unmuted one is due at every receiver at once."""
    conn.execute(_MARK_MUTED, {"id": incident_id, "now": now.isoformat()})


def open_fingerprints(conn: Connection, fingerprints: Sequence[str]) -> set[str]:
    """Which of these fingerprints have an incident that is not resolved."""
    rows = conn.execute(
        text("SELECT fingerprint FROM ops_incidents WHERE status <> 'resolved' AND fingerprint = ANY(:fps)"),
        {"fps": list(fingerprints)},
    )
    return {r[0] for r in rows}


def set_status(
    conn: Connection, incident_id: int, status: str, at: datetime, *, opened_at: datetime | None = None
) -> RowMapping | None:
    """An operator's ack or resolve. Returns the changed row, or None when it did not apply.
    ``opened_at``: only if the incident is still in the episode that opened then (a change asked
    for from a receiver's page of an earlier episode changes nothing).

    Compare-and-set: acknowledging a resolved incident, or resolving twice, changes nothing; with
    ``opened_at``, neither does a change meant for an episode of the incident that has ended (a
    button of an old Slack message or a PagerDuty event, after the incident resolved and fired again).
    The row lock of the CTE makes two racing changes apply once; the row returned carries what the
    episode was before the change (``notified``: the receivers that heard it, which a resolution clears;
    ``opened_at``, ``severity``, ``labels``, ``last_event``) for the receivers that follow it.
    """
    column = {"acknowledged": "acknowledged_at", "resolved": "resolved_at"}[status]
    allowed_from = {"acknowledged": ("open",), "resolved": ("open", "acknowledged")}[status]
    extra = ", notified = '{}'" if status == "resolved" else ""
    row = conn.execute(
        text(
            "WITH current AS (SELECT id, notified FROM ops_incidents WHERE id = :id AND status = ANY(:allowed) "
            "AND (CAST(:opened_at AS timestamptz) IS NULL OR opened_at = :opened_at) FOR UPDATE) "
            f"UPDATE ops_incidents i SET status = :status, {column} = :at{extra} FROM current "
            "WHERE i.id = current.id "
            "RETURNING i.id, i.fingerprint, i.status, current.notified, i.opened_at, i.severity, i.labels, "
            "i.last_event"
        ),
        {"status": status, "at": at, "id": incident_id, "allowed": list(allowed_from), "opened_at": opened_at},
    ).first()
    return None if row is None else row._mapping


def list_incidents(conn: Connection, include_resolved: bool = False, limit: int = 100) -> list[RowMapping]:
    where = "" if include_resolved else "WHERE status <> 'resolved'"
    return list(
        conn.execute(
            text(
                "SELECT id, fingerprint, status, severity, source, title, runbook_url, opened_at, last_seen, "
                "occurrences, labels, silenced_by, inhibited_by, route, notified, escalations "
                f"FROM ops_incidents {where} "
                "ORDER BY (status = 'resolved'), (severity = 'critical') DESC, last_seen DESC LIMIT :limit"
            ),
            {"limit": limit},
        ).mappings()
    )


def followup_candidates(conn: Connection, limit: int = 5000) -> list[OpenIncident]:
    """Open (not acknowledged) incidents nothing mutes: the ones that may repeat or escalate."""
    rows = conn.execute(
        text(
            "SELECT id, fingerprint, severity, labels, opened_at, occurrences, last_event, notified, escalations "
            "FROM ops_incidents WHERE status = 'open' AND silenced_by IS NULL AND inhibited_by IS NULL "
            "ORDER BY id LIMIT :limit"
        ),
        {"limit": limit},
    )
    return [
        OpenIncident(
            id=r.id,
            fingerprint=r.fingerprint,
            severity=r.severity,
            labels=dict(r.labels or {}),
            opened_at=r.opened_at,
            occurrences=r.occurrences,
            last_event=dict(r.last_event or {}),
            notified=_heard(r.notified),
            notified_at_raw={k: v.get("at") for k, v in (r.notified or {}).items()},
            escalated=frozenset(str(step.get("step")) for step in r.escalations or ()),
        )
        for r in rows
    ]


# Compare-and-set: the receiver's entry must still be what the check saw (a firing routed meanwhile,
# an ack, a resolution or a silence wins), so a repeat is owed once however many checks race.
_CLAIM_REPEAT = text("""
UPDATE ops_incidents SET notified = notified || :heard
WHERE id = :id AND status = 'open' AND silenced_by IS NULL AND inhibited_by IS NULL
  AND (notified -> :receiver ->> 'at') IS NOT DISTINCT FROM :seen_at
RETURNING id
""").bindparams(bindparam("heard", type_=JSONB))

# Each step once per episode; only while the incident is open, unacknowledged and unmuted. An
# escalation receiver that already heard of it by a route keeps that entry (its repeats go on).
_CLAIM_ESCALATION = text("""
UPDATE ops_incidents SET
    escalations = escalations || :step,
    notified = CASE WHEN notified ? :receiver THEN notified ELSE notified || :heard END
WHERE id = :id AND status = 'open' AND silenced_by IS NULL AND inhibited_by IS NULL
  AND NOT escalations @> :step_key
RETURNING id
""").bindparams(bindparam("step", type_=JSONB), bindparam("step_key", type_=JSONB), bindparam("heard", type_=JSONB))


def claim_repeat(conn: Connection, incident_id: int, receiver: str, seen_at: str | None, heard: Heard) -> bool:
    """Record a repeat to ``receiver`` if nothing changed its entry since it was read as ``seen_at``."""
    params = {"id": incident_id, "receiver": receiver, "seen_at": seen_at, "heard": {receiver: heard.as_json()}}
    return conn.execute(_CLAIM_REPEAT, params).first() is not None


def claim_escalation(conn: Connection, incident_id: int, step: dict[str, Any], receiver: str, heard: Heard) -> bool:
    """Record an escalation step unless it was taken already or the incident is no longer escalating."""
    params = {
        "id": incident_id,
        "receiver": receiver,
        "step": [step],
        "step_key": [{"step": step["step"]}],
        "heard": {receiver: heard.as_json()},
    }
    return conn.execute(_CLAIM_ESCALATION, params).first() is not None


def inhibiting_dependencies(conn: Connection) -> list[str]:
    """The inhibitions ("dependency:<name>") some unresolved incident still records."""
    rows = conn.execute(
        text("SELECT DISTINCT inhibited_by FROM ops_incidents WHERE inhibited_by IS NOT NULL AND status <> 'resolved'")
    )
    return [r[0] for r in rows]


def release_inhibition(conn: Connection, key: str) -> list[int]:
    """Incidents ``key`` inhibited are inhibited no more; returns their ids."""
    rows = conn.execute(
        text("UPDATE ops_incidents SET inhibited_by = NULL WHERE inhibited_by = :key RETURNING id"), {"key": key}
    )
    return [r[0] for r in rows]


def incident_row(conn: Connection, incident_id: int) -> RowMapping | None:
    return conn.execute(text("SELECT * FROM ops_incidents WHERE id = :id"), {"id": incident_id}).mappings().first()


def incident_notifications(conn: Connection, incident_id: int, limit: int = 500) -> list[RowMapping]:
    """The incident's notifications, oldest first (their payload and last error stay out: a
    delivery error may quote a destination)."""
    return list(
        conn.execute(
            text(
                "SELECT created_at, channel, receiver, kind, severity, status, attempts, delivered_at "
                "FROM ops_notifications WHERE incident_id = :id ORDER BY created_at, id LIMIT :limit"
            ),
            {"id": incident_id, "limit": limit},
        ).mappings()
    )


def incident_audit(conn: Connection, incident_id: int) -> list[RowMapping]:
    """Who acknowledged or resolved the incident, and how."""
    return list(
        conn.execute(
            text(
                "SELECT at, actor, via, action FROM ops_audit WHERE target = :target "
                "AND action IN ('incident.ack', 'incident.resolve') ORDER BY at, id"
            ),
            {"target": f"incident {incident_id}"},
        ).mappings()
    )


def silenced_by(conn: Connection, fingerprint: str) -> str | None:
    """What the fingerprint's incident was last recorded muted by (a silence or window key), if anything."""
    return conn.execute(
        text("SELECT silenced_by FROM ops_incidents WHERE fingerprint = :f"), {"f": fingerprint}
    ).scalar()
