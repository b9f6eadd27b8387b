"""One-off SLO corrections: spans of a flow's events left out of its burn rates and budget."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, RowMapping, text


def insert_correction(
    conn: Connection, *, flow: str, starts_at: datetime, ends_at: datetime, reason: str, created_by: str
) -> int:
    return conn.execute(
        text(
            "INSERT INTO ops_slo_corrections (flow, starts_at, ends_at, reason, created_by) "
            "VALUES (:flow, :starts_at, :ends_at, :reason, :created_by) RETURNING id"
        ),
        {"flow": flow, "starts_at": starts_at, "ends_at": ends_at, "reason": reason, "created_by": created_by},
    ).scalar_one()


def correction_spans(
    conn: Connection, flows: Sequence[str], since: datetime
) -> dict[str, list[tuple[datetime, datetime]]]:
    """Each flow's corrections that end after ``since``."""
    found: dict[str, list[tuple[datetime, datetime]]] = defaultdict(list)
    rows = conn.execute(
        text(
            "SELECT flow, starts_at, ends_at FROM ops_slo_corrections WHERE flow = ANY(:flows) AND ends_at > :since "
            "ORDER BY starts_at"
        ),
        {"flows": list(flows), "since": since},
    )
    for row in rows:
        found[row.flow].append((row.starts_at, row.ends_at))
    return found


def list_corrections(conn: Connection, limit: int = 100) -> list[RowMapping]:
    return list(
        conn.execute(
            text(
                "SELECT id, flow, starts_at, ends_at, reason, created_by, created_at FROM ops_slo_corrections "
                "ORDER BY id DESC LIMIT :n"
            ),
            {"n": limit},
        ).mappings()
    )


def flows_with_corrections(conn: Connection, since: datetime) -> set[str]:
    return {
        r[0]
        for r in conn.execute(text("SELECT DISTINCT flow FROM ops_slo_corrections WHERE ends_at > :s"), {"s": since})
    }
