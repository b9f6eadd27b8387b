"""The audit trail: appended here, read by the dashboard and `relops audit`, never changed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, bindparam, text
from sqlalchemy.dialects.postgresql import JSONB

_RECORD = text(
    "INSERT INTO ops_audit (actor, via, source, action, target, details) "
    "VALUES (:actor, :via, :source, :action, :target, :details)"
).bindparams(bindparam("details", type_=JSONB))


def record_audit(
    conn: Connection, *, actor: str, via: str, source: str, action: str, target: str, details: dict[str, Any]
) -> None:
    conn.execute(
        _RECORD,
        {"actor": actor, "via": via, "source": source[:200], "action": action, "target": target, "details": details},
    )


def recent_audit(conn: Connection, limit: int = 50) -> list[RowMapping]:
    """The newest entries first."""
    return list(
        conn.execute(
            text("SELECT id, at, actor, via, source, action, target, details FROM ops_audit ORDER BY id DESC LIMIT :n"),
            {"n": limit},
        ).mappings()
    )


def last_actor(conn: Connection, *, action: str, target: str, since: datetime) -> str | None:
    """Who last did ``action`` to ``target`` at or after ``since``, or None (the index on ``at``
    bounds the search to the rows since then)."""
    return conn.execute(
        text(
            "SELECT actor FROM ops_audit WHERE at >= :since AND action = :action AND target = :target "
            "ORDER BY id DESC LIMIT 1"
        ),
        {"since": since, "action": action, "target": target},
    ).scalar()
