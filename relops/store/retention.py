"""Retention: deletes history rows older than their horizon (relops.slo.retention says which)."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import Connection, text

from relops.slo.retention import Horizons

_DELETES = (
    ("ops_flow_minutes", "minute", "minutes"),
    ("ops_flow_hours", "hour", "hours"),
    ("ops_flow_days", "day", "days"),
    ("ops_burn_rate_snapshots", "evaluated_at", "snapshots"),
    ("ops_ingested_batches", "received_at", "batch_ids"),
    ("ops_rejected_inputs", "received_at", "rejections"),
    ("ops_evaluation_ticks", "slot", "snapshots"),
)


def prune(conn: Connection, limits: Horizons, keep_minutes_of: Collection[str] = ()) -> dict[str, int]:
    """Delete rows older than their horizon; returns rows deleted per table.

    The minute rows of ``keep_minutes_of`` (flows with corrections: maintenance windows or one-off
    corrections) are kept as long as hour rows, so the minutes at a correction's edges stay exact
    over the whole SLO period.
    """
    deleted = {}
    for table, column, horizon in _DELETES:
        sql = f"DELETE FROM {table} WHERE {column} < :horizon"
        params: dict[str, object] = {"horizon": getattr(limits, horizon)}
        if table == "ops_flow_minutes" and keep_minutes_of:
            sql += " AND NOT (flow = ANY(:keep) AND minute >= :hours)"
            params.update(keep=list(keep_minutes_of), hours=limits.hours)
        deleted[table] = conn.execute(text(sql), params).rowcount
    return deleted
