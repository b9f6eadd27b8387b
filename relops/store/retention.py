"""Retention: history tables stay bounded while the SLO period's budget stays computable."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, text

from relops.config import RelopsConfig
from relops.timeutil import floor_hour

#: A batch id must outlive every redelivery or client resend of that batch.
BATCH_ID_RETENTION = timedelta(days=7)
REJECTION_RETENTION = timedelta(days=30)


@dataclass(frozen=True)
class Horizons:
    """Oldest timestamps each table keeps."""

    minutes: datetime
    hours: datetime
    snapshots: datetime
    batch_ids: datetime
    rejections: datetime


def horizons(config: RelopsConfig, now: datetime) -> Horizons:
    longest_period_days = max((f.period_days for f in config.flows), default=30)
    return Horizons(
        # Whole hours, so the minute table never keeps a partial hour at its old edge.
        minutes=floor_hour(now - timedelta(seconds=config.evaluation.minute_retention_s)),
        hours=floor_hour(now - timedelta(days=longest_period_days + 1)),
        snapshots=now - timedelta(days=config.evaluation.snapshot_retention_days),
        batch_ids=now - BATCH_ID_RETENTION,
        rejections=now - REJECTION_RETENTION,
    )


_DELETES = (
    ("ops_flow_minutes", "minute", "minutes"),
    ("ops_flow_hours", "hour", "hours"),
    ("ops_burn_rate_snapshots", "evaluated_at", "snapshots"),
    ("ops_ingested_batches", "received_at", "batch_ids"),
    ("ops_rejected_inputs", "received_at", "rejections"),
    ("ops_evaluation_ticks", "slot", "snapshots"),
)


def prune(conn: Connection, limits: Horizons) -> dict[str, int]:
    """Delete rows older than their horizon; returns rows deleted per table."""
    deleted = {}
    for table, column, horizon in _DELETES:
        result = conn.execute(
            text(f"DELETE FROM {table} WHERE {column} < :horizon"), {"horizon": getattr(limits, horizon)}
        )
        deleted[table] = result.rowcount
    return deleted
