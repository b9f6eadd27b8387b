"""Server-side sessions: a hash of each session id, its user and its limits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, text

from relops.store.users import User


@dataclass(frozen=True)
class SessionUser:
    """A live session and whom it belongs to."""

    session_id: int
    user: User
    last_used_at: datetime


def create_session(
    conn: Connection, session_hash: str, user_id: int, now: datetime, expires_at: datetime, client: str
) -> None:
    conn.execute(
        text(
            "INSERT INTO ops_sessions (session_hash, user_id, created_at, expires_at, last_used_at, client) "
            "VALUES (:hash, :user_id, :now, :expires_at, :now, :client)"
        ),
        {"hash": session_hash, "user_id": user_id, "now": now, "expires_at": expires_at, "client": client[:200]},
    )


def live_session(conn: Connection, session_hash: str, now: datetime, idle_since: datetime) -> SessionUser | None:
    """The session if it is within its absolute lifetime, used since ``idle_since``, and its user is
    not revoked; None otherwise (a session past its limits is as good as absent)."""
    row = conn.execute(
        text(
            "SELECT s.id, s.last_used_at, u.id AS user_id, u.name, u.role FROM ops_sessions s "
            "JOIN ops_users u ON u.id = s.user_id "
            "WHERE s.session_hash = :hash AND s.expires_at > :now AND s.last_used_at > :idle_since "
            "AND u.revoked_at IS NULL"
        ),
        {"hash": session_hash, "now": now, "idle_since": idle_since},
    ).first()
    if row is None:
        return None
    return SessionUser(row.id, User(id=row.user_id, name=row.name, role=row.role), row.last_used_at)


def touch_session(conn: Connection, session_id: int, now: datetime) -> None:
    conn.execute(text("UPDATE ops_sessions SET last_used_at = :now WHERE id = :id"), {"id": session_id, "now": now})


def delete_session(conn: Connection, session_hash: str) -> bool:
    return bool(
        conn.execute(text("DELETE FROM ops_sessions WHERE session_hash = :hash"), {"hash": session_hash}).rowcount
    )


def delete_expired_sessions(conn: Connection, now: datetime) -> int:
    return conn.execute(text("DELETE FROM ops_sessions WHERE expires_at <= :now"), {"now": now}).rowcount
