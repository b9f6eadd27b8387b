"""The record of every rejected input: what, which field, why."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, insert

from models import RejectedInput
from relops.errors import Rejection


def printable(text: str, limit: int) -> str:
    """Control characters escaped (PostgreSQL text cannot hold NUL; logs must not be forged), truncated."""
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text[:limit])


def record_rejections(conn: Connection, task: str, reference: str | None, rejections: Sequence[Rejection]) -> None:
    record_rejection_rows(conn, [(task, reference, r) for r in rejections])


def record_rejection_rows(conn: Connection, rows: Sequence[tuple[str, str | None, Rejection]]) -> None:
    """Rejections of several tasks and inputs, (task, reference, rejection) each, in one statement."""
    if not rows:
        return
    conn.execute(
        insert(RejectedInput),
        [
            {
                "task": task,
                "reference": None if reference is None else printable(reference, 200),
                "item_index": r.item_index,
                "field": printable(r.field, 100),
                "reason": printable(r.reason, 500),
                "excerpt": printable(r.excerpt, 400),
            }
            for task, reference, r in rows
        ],
    )
