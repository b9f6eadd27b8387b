"""The notification outbox: every alert owed to a receiver, from pending to delivered or dead."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, bindparam, text
from sqlalchemy.dialects.postgresql import JSONB

_ENQUEUE = text(
    "INSERT INTO ops_notifications (incident_id, channel, receiver, kind, severity, payload, status) "
    "VALUES (:incident_id, :channel, :receiver, :kind, :severity, :payload, 'pending')"
).bindparams(bindparam("payload", type_=JSONB))

# SKIP LOCKED: two flushes of one receiver racing each take disjoint rows instead of waiting.
_CLAIM = text("""
UPDATE ops_notifications SET status = 'sending', message_key = :key, claimed_at = :now, next_attempt_at = :now
WHERE id IN (
    SELECT id FROM ops_notifications WHERE receiver = :receiver AND status = 'pending'
    ORDER BY id LIMIT :limit FOR UPDATE SKIP LOCKED
)
RETURNING id
""")


def enqueue(
    conn: Connection,
    *,
    incident_id: int | None,
    channel: str,
    receiver: str,
    kind: str,
    severity: str,
    payload: dict[str, Any],
) -> None:
    """Owe ``receiver`` (of type ``channel``) one notification (``incident_id`` None: a notice that
    belongs to no incident)."""
    conn.execute(
        _ENQUEUE,
        {
            "incident_id": incident_id,
            "channel": channel,
            "receiver": receiver,
            "kind": kind,
            "severity": severity,
            "payload": payload,
        },
    )


# One statement for a routed firing: the outbox rows of every receiver it reaches, and the incident's
# record of who heard it when (a storm routes 1,000 of these: one round trip each, not two).
_OWE_FIRING = text("""
WITH owed AS (
    INSERT INTO ops_notifications (incident_id, channel, receiver, kind, severity, payload, status)
    SELECT :incident_id, t.channel, t.receiver, 'firing', :severity, :payload, 'pending'
    FROM unnest(CAST(:channels AS text[]), CAST(:receivers AS text[])) AS t(channel, receiver)
    RETURNING 1
)
UPDATE ops_incidents SET notified = notified || :heard WHERE id = :incident_id
""").bindparams(bindparam("payload", type_=JSONB), bindparam("heard", type_=JSONB))


def owe_firing(
    conn: Connection,
    *,
    incident_id: int,
    to: Sequence[tuple[str, str]],
    severity: str,
    payload: dict[str, Any],
    heard: dict[str, Any],
) -> None:
    """Owe each (channel, receiver) of ``to`` this firing, and record on the incident that they heard
    it (``heard``: receiver -> its entry in ops_incidents.notified)."""
    if not to:
        return
    conn.execute(
        _OWE_FIRING,
        {
            "incident_id": incident_id,
            "channels": [channel for channel, _ in to],
            "receivers": [receiver for _, receiver in to],
            "severity": severity,
            "payload": payload,
            "heard": heard,
        },
    )


def firing_undelivered(conn: Connection, incident_id: int, receiver: str) -> bool:
    """Whether ``receiver`` is still owed a firing of the incident (pending, or being sent)."""
    return (
        conn.execute(
            text(
                "SELECT 1 FROM ops_notifications WHERE incident_id = :id AND receiver = :receiver "
                "AND kind = 'firing' AND status IN ('pending', 'sending') LIMIT 1"
            ),
            {"id": incident_id, "receiver": receiver},
        ).first()
        is not None
    )


def claim_pending(conn: Connection, receiver: str, key: str, now: datetime, limit: int = 10_000) -> int:
    """Move the receiver's pending notifications into message ``key``; returns how many."""
    return len(conn.execute(_CLAIM, {"receiver": receiver, "key": key, "now": now, "limit": limit}).all())


def release_claim(conn: Connection, key: str) -> int:
    """Undo a claim whose delivery could not be asked for: its notifications are pending again."""
    return conn.execute(
        text(
            "UPDATE ops_notifications SET status = 'pending', message_key = NULL, claimed_at = NULL, "
            "next_attempt_at = NULL WHERE message_key = :key AND status = 'sending' AND attempts = 0"
        ),
        {"key": key},
    ).rowcount


def message_payloads(conn: Connection, key: str) -> list[dict[str, Any]]:
    """The notifications of a message still being sent (none once it is delivered or dead)."""
    rows = conn.execute(
        text("SELECT payload FROM ops_notifications WHERE message_key = :key AND status = 'sending' ORDER BY id"),
        {"key": key},
    )
    return [r[0] for r in rows]


def resolutions_delivered(conn: Connection, receiver: str, incident_ids: Sequence[int]) -> set[tuple[int, str]]:
    """(incident id, episode start as its payload says) of the episodes among ``incident_ids`` whose
    resolution ``receiver`` has been delivered."""
    rows = conn.execute(
        text(
            "SELECT incident_id, payload->>'opened_at' FROM ops_notifications WHERE incident_id = ANY(:ids) "
            "AND receiver = :receiver AND kind = 'resolved' AND status = 'delivered'"
        ),
        {"ids": list(incident_ids), "receiver": receiver},
    )
    return {(r[0], r[1]) for r in rows if r[1] is not None}


def start_attempt(conn: Connection, key: str, now: datetime) -> tuple[datetime | None, int]:
    """Note that the message is being handed to its receiver; returns when that first happened
    (None when the message is no longer being sent) and the attempts spent so far."""
    rows = conn.execute(
        text(
            "UPDATE ops_notifications SET first_attempt_at = coalesce(first_attempt_at, :now) "
            "WHERE message_key = :key AND status = 'sending' RETURNING first_attempt_at, attempts"
        ),
        {"key": key, "now": now},
    ).all()
    return min((r[0] for r in rows), default=None), max((r[1] for r in rows), default=0)


def mark_delivered(conn: Connection, key: str, now: datetime) -> int:
    return conn.execute(
        text(
            "UPDATE ops_notifications SET status = 'delivered', delivered_at = :now, attempts = attempts + 1 "
            "WHERE message_key = :key AND status = 'sending'"
        ),
        {"key": key, "now": now},
    ).rowcount


def record_failure(conn: Connection, key: str, error: str, next_attempt_at: datetime) -> int:
    """Count a failed attempt; returns the message's attempts so far."""
    attempts = conn.execute(
        text(
            "UPDATE ops_notifications SET attempts = attempts + 1, last_error = :error, "
            "next_attempt_at = :next WHERE message_key = :key AND status = 'sending' RETURNING attempts"
        ),
        {"key": key, "error": error[:1000], "next": next_attempt_at},
    ).all()
    return max((r[0] for r in attempts), default=0)


def record_outage(
    conn: Connection, key: str, error: str | None, next_attempt_at: datetime, now: datetime
) -> tuple[float, int]:
    """Note a wait on a known outage without spending an attempt (``error``: a failed trial call's,
    or None); returns how long the message's oldest notification has waited, in seconds, and the
    attempts spent so far."""
    rows = conn.execute(
        text(
            "UPDATE ops_notifications SET last_error = coalesce(:error, last_error), next_attempt_at = :next "
            "WHERE message_key = :key AND status = 'sending' RETURNING created_at, attempts"
        ),
        {"key": key, "error": error[:1000] if error is not None else None, "next": next_attempt_at},
    ).all()
    waited_s = max(((now - r.created_at).total_seconds() for r in rows), default=0.0)
    return waited_s, max((r.attempts for r in rows), default=0)


def dead_letter(conn: Connection, *, channel: str, receiver: str, key: str, reason: str, attempts: int) -> int:
    """Give up on a message: its notifications become dead and one dead letter records why."""
    alerts = (
        conn.execute(
            text(
                "UPDATE ops_notifications SET status = 'dead', last_error = :reason "
                "WHERE message_key = :key AND status = 'sending' "
                "RETURNING payload->>'fingerprint' AS fingerprint, payload->>'title' AS title, kind"
            ),
            {"key": key, "reason": reason[:1000]},
        )
        .mappings()
        .all()
    )
    if alerts:
        conn.execute(
            text(
                "INSERT INTO ops_dead_letters "
                "(channel, receiver, message_key, notifications, attempts, reason, alerts) "
                "VALUES (:channel, :receiver, :key, :n, :attempts, :reason, :alerts) "
                "ON CONFLICT (message_key) DO NOTHING"
            ).bindparams(bindparam("alerts", type_=JSONB)),
            {
                "channel": channel,
                "receiver": receiver,
                "key": key,
                "n": len(alerts),
                "attempts": attempts,
                "reason": reason[:1000],
                "alerts": [dict(a) for a in alerts],
            },
        )
    return len(alerts)


def receivers_with_pending(conn: Connection, created_before: datetime) -> list[str]:
    rows = conn.execute(
        text("SELECT DISTINCT receiver FROM ops_notifications WHERE status = 'pending' AND created_at < :before"),
        {"before": created_before},
    )
    return [r[0] for r in rows]


def stalled_messages(conn: Connection, due_before: datetime) -> list[tuple[str, str]]:
    """(receiver, message_key) of messages whose next attempt is long overdue: their task was lost."""
    rows = conn.execute(
        text(
            "SELECT DISTINCT receiver, message_key FROM ops_notifications "
            "WHERE status = 'sending' AND next_attempt_at < :before"
        ),
        {"before": due_before},
    )
    return [(r[0], r[1]) for r in rows]


def touch_message(conn: Connection, key: str, next_attempt_at: datetime) -> None:
    conn.execute(
        text("UPDATE ops_notifications SET next_attempt_at = :next WHERE message_key = :key AND status = 'sending'"),
        {"key": key, "next": next_attempt_at},
    )


def dead_letters(conn: Connection, limit: int = 50) -> list[RowMapping]:
    return list(
        conn.execute(
            text(
                "SELECT id, channel, receiver, message_key, notifications, attempts, reason, alerts, failed_at "
                "FROM ops_dead_letters ORDER BY id DESC LIMIT :limit"
            ),
            {"limit": limit},
        ).mappings()
    )
