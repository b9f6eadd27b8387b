"""Silences as stored, and the incidents they mute."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, bindparam, text
from sqlalchemy.dialects.postgresql import JSONB

from relops.matchers import stored_matcher
from relops.silencing.silences import Silence, silence_key

_INSERT = text(
    "INSERT INTO ops_silences (matchers, match_all, starts_at, ends_at, reason, created_by, created_via) "
    "VALUES (:matchers, :match_all, :starts_at, :ends_at, :reason, :created_by, :created_via) RETURNING id"
).bindparams(bindparam("matchers", type_=JSONB))


def insert_silence(
    conn: Connection,
    *,
    matchers: list[dict[str, str]],
    match_all: bool,
    starts_at: datetime,
    ends_at: datetime,
    reason: str,
    created_by: str,
    created_via: str,
) -> int:
    values = {
        "matchers": matchers,
        "match_all": match_all,
        "starts_at": starts_at,
        "ends_at": ends_at,
        "reason": reason,
        "created_by": created_by,
        "created_via": created_via,
    }
    return conn.execute(_INSERT, values).scalar_one()


def as_silence(row: RowMapping) -> Silence:
    """A stored row as the router sees it (an expired silence ends when it was expired). Never
    refuses a stored matcher: one the engine cannot use matches nothing (see stored_matcher)."""
    ends_at = min(row["ends_at"], row["expired_at"]) if row["expired_at"] else row["ends_at"]
    return Silence(
        key=silence_key(row["id"]),
        matchers=tuple(stored_matcher(m) for m in row["matchers"]),
        starts_at=row["starts_at"],
        ends_at=ends_at,
        reason=row["reason"],
        match_all=row["match_all"],
    )


_COLUMNS = (
    "id, matchers, match_all, starts_at, ends_at, reason, created_by, created_via, created_at, expired_at, "
    "expired_by, muted, start_noticed_at, end_noticed_at"
)


def active_silence_rows(conn: Connection, now: datetime) -> list[RowMapping]:
    """Silences not over at ``now``: in progress, or yet to start."""
    return list(
        conn.execute(
            text(f"SELECT {_COLUMNS} FROM ops_silences WHERE ends_at > :now AND expired_at IS NULL ORDER BY id"),
            {"now": now},
        ).mappings()
    )


def unfinished_silences_locked(conn: Connection, now: datetime) -> int:
    """How many silences are not over at ``now`` (active or pending), counted under a lock held until
    the transaction ends, so that two adds racing cannot both pass the cap on them. (An advisory
    lock, not a table lock: the router's updates of ``muted`` must not wait for an add.)"""
    conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('relops.silences.add'))"))
    return conn.execute(
        text("SELECT count(*) FROM ops_silences WHERE ends_at > :now AND expired_at IS NULL"), {"now": now}
    ).scalar_one()


def silence_rows(conn: Connection, *, include_past: bool, limit: int = 200) -> list[RowMapping]:
    where = "" if include_past else "WHERE ends_at > now() AND expired_at IS NULL"
    return list(
        conn.execute(text(f"SELECT {_COLUMNS} FROM ops_silences {where} ORDER BY id DESC LIMIT :n"), {"n": limit})
        .mappings()
        .all()
    )


def silence_row(conn: Connection, silence_id: int) -> RowMapping | None:
    return (
        conn.execute(text(f"SELECT {_COLUMNS} FROM ops_silences WHERE id = :id"), {"id": silence_id}).mappings().first()
    )


def expire_silence(conn: Connection, silence_id: int, at: datetime, by: str) -> RowMapping | None:
    """End a silence now; None when it does not exist or is over already (compare-and-set)."""
    return (
        conn.execute(
            text(
                f"UPDATE ops_silences SET expired_at = :at, expired_by = :by "
                f"WHERE id = :id AND expired_at IS NULL AND ends_at > :at RETURNING {_COLUMNS}"
            ),
            {"id": silence_id, "at": at, "by": by},
        )
        .mappings()
        .first()
    )


def count_muted(conn: Connection, silence_id: int) -> None:
    conn.execute(text("UPDATE ops_silences SET muted = muted + 1 WHERE id = :id"), {"id": silence_id})


def unnoticed_starts(conn: Connection) -> list[RowMapping]:
    """Silences the channels have not been told about yet."""
    return list(
        conn.execute(text(f"SELECT {_COLUMNS} FROM ops_silences WHERE start_noticed_at IS NULL ORDER BY id")).mappings()
    )


def unnoticed_ends(conn: Connection, now: datetime) -> list[RowMapping]:
    """Silences over (expired, or past their end) whose end the channels have not been told."""
    return list(
        conn.execute(
            text(
                f"SELECT {_COLUMNS} FROM ops_silences WHERE end_noticed_at IS NULL "
                "AND (expired_at IS NOT NULL OR ends_at <= :now) ORDER BY id"
            ),
            {"now": now},
        ).mappings()
    )


def mark_noticed(conn: Connection, silence_id: int, which: str, at: datetime) -> bool:
    """Compare-and-set, so two checks racing notice a silence once."""
    column = {"start": "start_noticed_at", "end": "end_noticed_at"}[which]
    return bool(
        conn.execute(
            text(f"UPDATE ops_silences SET {column} = :at WHERE id = :id AND {column} IS NULL"),
            {"id": silence_id, "at": at},
        ).rowcount
    )


def unresolved_incidents(conn: Connection) -> list[RowMapping]:
    """Every incident that is not resolved, with its labels (what a new silence matches now)."""
    return list(
        conn.execute(
            text(
                "SELECT id, fingerprint, status, severity, title, labels, silenced_by FROM ops_incidents "
                "WHERE status <> 'resolved' ORDER BY id"
            )
        ).mappings()
    )


def release_incidents(conn: Connection, keys: list[str]) -> list[dict[str, Any]]:
    """Incidents muted by these silences (now over) are muted no more; returns their fingerprints
    and dedup keys, whose windows the caller forgets so the next firing pages at once."""
    if not keys:
        return []
    rows = conn.execute(
        text(
            "UPDATE ops_incidents SET silenced_by = NULL WHERE silenced_by = ANY(:keys) "
            "RETURNING fingerprint, coalesce(last_event->>'dedup_key', fingerprint) AS dedup_key, status"
        ),
        {"keys": keys},
    ).mappings()
    return [dict(r) for r in rows]


def silenced_incident_keys(conn: Connection) -> list[str]:
    """Every silence or window key some incident is muted by right now."""
    return [
        r[0] for r in conn.execute(text("SELECT DISTINCT silenced_by FROM ops_incidents WHERE silenced_by IS NOT NULL"))
    ]


def silences_overlapping(conn: Connection, start: datetime, end: datetime, limit: int = 500) -> list[RowMapping]:
    """Silences that were in force at some moment of [start, end), expired ones included."""
    return list(
        conn.execute(
            text(
                f"SELECT {_COLUMNS} FROM ops_silences WHERE starts_at < :end "
                "AND least(ends_at, coalesce(expired_at, ends_at)) > :start ORDER BY starts_at LIMIT :n"
            ),
            {"start": start, "end": end, "n": limit},
        ).mappings()
    )
