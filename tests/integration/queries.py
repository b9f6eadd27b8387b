"""What the tests read back from the run's database, in one place (one copy of each query)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, text


def scalar(db: Engine, sql: str, **params: Any) -> Any:
    with db.connect() as conn:
        return conn.execute(text(sql), params).scalar()


def notification_statuses(db: Engine, channel: str, fingerprint_like: str = "%") -> list[str]:
    """The status of each notification owed to ``channel``, oldest first."""
    with db.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT status FROM ops_notifications WHERE channel = :c AND payload->>'fingerprint' LIKE :f "
                "ORDER BY id"
            ),
            {"c": channel, "f": fingerprint_like},
        )
        return [r[0] for r in rows]


def outbox_settled(db: Engine) -> bool:
    """Something was owed, and nothing is pending or being sent any more."""
    with db.connect() as conn:
        unsettled, total = conn.execute(
            text("SELECT count(*) FILTER (WHERE status IN ('pending', 'sending')), count(*) FROM ops_notifications")
        ).one()
    return total > 0 and unsettled == 0


def delivered_count(db: Engine, channel: str) -> int:
    return scalar(db, "SELECT count(*) FROM ops_notifications WHERE channel = :c AND status = 'delivered'", c=channel)


def batch_landed(db: Engine, batch_id: str) -> bool:
    return bool(scalar(db, "SELECT 1 FROM ops_ingested_batches WHERE batch_id = :b", b=batch_id))


def batches_landed(db: Engine) -> int:
    return scalar(db, "SELECT count(*) FROM ops_ingested_batches")


def incident_status(db: Engine, fingerprint: str) -> str | None:
    return scalar(db, "SELECT status FROM ops_incidents WHERE fingerprint = :f", f=fingerprint)


def occurrences(db: Engine) -> int:
    """Events counted on the run's incidents (the most on any one)."""
    return scalar(db, "SELECT coalesce(max(occurrences), 0) FROM ops_incidents")


def dead_letter_count(db: Engine) -> int:
    return scalar(db, "SELECT count(*) FROM ops_dead_letters")


def rejected_fields(db: Engine, task: str) -> list[str]:
    """The field of each rejection recorded for ``task``, oldest first."""
    with db.connect() as conn:
        rows = conn.execute(text("SELECT field FROM ops_rejected_inputs WHERE task = :t ORDER BY id"), {"t": task})
        return [r[0] for r in rows]


def owed(db: Engine, fingerprint: str) -> list[tuple[str, str]]:
    """(receiver, kind) of every notification owed for the incident ``fingerprint``, sorted."""
    with db.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT receiver, kind FROM ops_notifications WHERE payload->>'fingerprint' = :f "
                "ORDER BY receiver, kind"
            ),
            {"f": fingerprint},
        )
        return [(r.receiver, r.kind) for r in rows]


def incident_row(db: Engine, fingerprint: str) -> Any:
    """The incident of ``fingerprint``, every column."""
    with db.connect() as conn:
        return conn.execute(text("SELECT * FROM ops_incidents WHERE fingerprint = :f"), {"f": fingerprint}).one()


def flow_totals(db: Engine, flow: str) -> tuple[int, int]:
    """(good, bad) counted for ``flow`` over every minute."""
    with db.connect() as conn:
        row = conn.execute(
            text("SELECT coalesce(sum(good), 0), coalesce(sum(bad), 0) FROM ops_flow_minutes WHERE flow = :flow"),
            {"flow": flow},
        ).one()
    return int(row[0]), int(row[1])
