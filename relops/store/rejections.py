"""The record of every rejected input: what, which field, why."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, insert

from models import RejectedInput
from relops.outcome_batch import Rejection


def record_rejections(conn: Connection, task: str, reference: str | None, rejections: Sequence[Rejection]) -> None:
    if not rejections:
        return
    conn.execute(
        insert(RejectedInput),
        [
            {
                "task": task,
                "reference": reference,
                "item_index": r.item_index,
                "field": r.field,
                "reason": r.reason,
                "excerpt": r.excerpt,
            }
            for r in rejections
        ],
    )
