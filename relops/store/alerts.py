"""Alert events as the alert queue received them."""

from __future__ import annotations

from sqlalchemy import Connection, RowMapping, insert, select

from models import AlertEvent as AlertEventRow
from relops.alert_event import AlertEvent
from relops.timeutil import parse_utc


def record_alert_event(conn: Connection, event: AlertEvent) -> int:
    row = event.as_kwargs()
    row["occurred_at"] = parse_utc(event.occurred_at)
    return conn.execute(insert(AlertEventRow).values(**row).returning(AlertEventRow.id)).scalar_one()


def recent_alert_events(conn: Connection, limit: int = 50) -> list[RowMapping]:
    """The newest alert events first."""
    table = AlertEventRow.__table__
    return list(conn.execute(select(table).order_by(table.c.id.desc()).limit(limit)).mappings())
