"""Incidents: one row per fingerprint, status changes as compare-and-set."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, RowMapping, bindparam, text
from sqlalchemy.dialects.postgresql import JSONB

from relops.alerting.events import AlertEvent

# Concurrent workers upserting one fingerprint meet at the unique index, so there is one row.
# A resolved incident reopens only for an event newer than its resolution: a firing event
# redelivered after the flow recovered must not reopen it.
_UPSERT = text("""
INSERT INTO ops_incidents AS i (fingerprint, status, severity, source, title, runbook_url,
                               first_seen, last_seen, opened_at, occurrences, last_event, labels, silenced_by)
VALUES (:fingerprint, 'open', :severity, :source, :title, :runbook_url, :at, :at, :at, 1, :event, :labels,
        :silenced_by)
ON CONFLICT (fingerprint) DO UPDATE SET
    occurrences = i.occurrences + 1,
    labels = EXCLUDED.labels,
    silenced_by = EXCLUDED.silenced_by,
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
    resolved_at = CASE WHEN i.status = 'resolved' AND EXCLUDED.last_seen > i.resolved_at
                       THEN NULL ELSE i.resolved_at END
RETURNING i.id, i.status
""").bindparams(bindparam("event", type_=JSONB), bindparam("labels", type_=JSONB))

# Only an unresolved incident resolves, once: the row lock taken by the CTE makes two concurrent
# resolutions of one fingerprint produce one "resolved" notification, not two.
_RESOLVE = text("""
WITH current AS (
    SELECT id, notified_channels, severity FROM ops_incidents
    WHERE fingerprint = :fingerprint AND status <> 'resolved' FOR UPDATE
)
UPDATE ops_incidents i
SET status = 'resolved', resolved_at = :at, last_seen = greatest(i.last_seen, :at), notified_channels = '{}'
FROM current WHERE i.id = current.id
RETURNING i.id, current.notified_channels, current.severity
""")

_MARK_NOTIFIED = text("""
UPDATE ops_incidents SET notified_channels = ARRAY(
    SELECT DISTINCT unnest(notified_channels || CAST(:channels AS text[])))
WHERE id = :id
""")


@dataclass(frozen=True)
class UpsertedIncident:
    id: int
    status: str


@dataclass(frozen=True)
class ResolvedIncident:
    id: int
    notified_channels: list[str]
    severity: str


def upsert_incident(
    conn: Connection, event: AlertEvent, at: datetime, silenced_by: str | None = None
) -> UpsertedIncident:
    """Open or update the fingerprint's incident; ``silenced_by`` says what mutes it now (None: nothing)."""
    row = conn.execute(
        _UPSERT,
        {
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
    return UpsertedIncident(id=row.id, status=row.status)


def resolve_incident(conn: Connection, fingerprint: str, at: datetime) -> ResolvedIncident | None:
    """Close the fingerprint's open incident; None when there is none (already resolved, or never opened)."""
    row = conn.execute(_RESOLVE, {"fingerprint": fingerprint, "at": at}).first()
    if row is None:
        return None
    return ResolvedIncident(id=row.id, notified_channels=list(row.notified_channels), severity=row.severity)


def mark_notified(conn: Connection, incident_id: int, channels: Sequence[str]) -> None:
    if channels:
        conn.execute(_MARK_NOTIFIED, {"id": incident_id, "channels": list(channels)})


def open_fingerprints(conn: Connection, fingerprints: Sequence[str]) -> set[str]:
    """Which of these fingerprints have an incident that is not resolved."""
    rows = conn.execute(
        text("SELECT fingerprint FROM ops_incidents WHERE status <> 'resolved' AND fingerprint = ANY(:fps)"),
        {"fps": list(fingerprints)},
    )
    return {r[0] for r in rows}


def set_status(conn: Connection, incident_id: int, status: str, at: datetime) -> RowMapping | None:
    """An operator's ack or resolve. Returns the changed row, or None when it did not apply.

    Compare-and-set: acknowledging a resolved incident, or resolving twice, changes nothing.
    """
    column = {"acknowledged": "acknowledged_at", "resolved": "resolved_at"}[status]
    allowed_from = {"acknowledged": ("open",), "resolved": ("open", "acknowledged")}[status]
    extra = ", notified_channels = '{}'" if status == "resolved" else ""
    row = conn.execute(
        text(
            f"UPDATE ops_incidents SET status = :status, {column} = :at{extra} "
            "WHERE id = :id AND status = ANY(:allowed) RETURNING id, fingerprint, status"
        ),
        {"status": status, "at": at, "id": incident_id, "allowed": list(allowed_from)},
    ).first()
    return None if row is None else row._mapping


def list_incidents(conn: Connection, include_resolved: bool = False, limit: int = 100) -> list[RowMapping]:
    where = "" if include_resolved else "WHERE status <> 'resolved'"
    return list(
        conn.execute(
            text(
                "SELECT id, fingerprint, status, severity, source, title, runbook_url, opened_at, last_seen, "
                f"occurrences, labels, silenced_by FROM ops_incidents {where} "
                "ORDER BY (status = 'resolved'), (severity = 'critical') DESC, last_seen DESC LIMIT :limit"
            ),
            {"limit": limit},
        ).mappings()
    )
