"""Retention: history tables stay bounded while the SLO period's budget stays computable."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, text

from relops.config import RelopsConfig
from relops.timeutil import floor_day, floor_hour

#: A batch id must outlive every redelivery or client resend of that batch.
BATCH_ID_RETENTION = timedelta(days=7)
REJECTION_RETENTION = timedelta(days=30)
HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class Horizons:
    """Oldest timestamps each table keeps."""

    minutes: datetime
    hours: datetime
    #: The day that holds ``hours``: a day row is read only for a day the period holds whole.
    days: datetime
    snapshots: datetime
    batch_ids: datetime
    rejections: datetime


#: The longest SLO period of a config's flows, by the identity of its flows tuple: every ingested
#: batch asks, and a config holds thousands of flows (the tuple is kept so its id stays its own).
_LONGEST_PERIOD: dict[int, tuple[tuple[Any, ...], int]] = {}


def _longest_period_days(flows: tuple[Any, ...]) -> int:
    cached = _LONGEST_PERIOD.get(id(flows))
    if cached is None or cached[0] is not flows:
        if len(_LONGEST_PERIOD) > 8:
            _LONGEST_PERIOD.clear()
        cached = _LONGEST_PERIOD[id(flows)] = (flows, max((f.period_days for f in flows), default=30))
    return cached[1]


@dataclass(frozen=True, slots=True)
class _Countable:
    flows: tuple[Any, ...]
    hour: datetime
    oldest: datetime


_LAST_COUNTABLE: list[_Countable] = []


def oldest_countable(config: RelopsConfig, now: datetime) -> datetime:
    """The oldest minute an outcome may still count for (``horizons(...).hours``), alone: the
    intake asks for every batch it takes. It moves once an hour, so it is kept for the hour."""
    last = _LAST_COUNTABLE[0] if _LAST_COUNTABLE else None
    if last is not None and last.flows is config.flows and last.hour <= now < last.hour + HOUR:
        return last.oldest
    hour = floor_hour(now)
    # Whole days back from a whole hour: the same as flooring after subtracting.
    oldest = hour - timedelta(days=_longest_period_days(config.flows) + 1)
    _LAST_COUNTABLE[:] = [_Countable(config.flows, hour, oldest)]
    return oldest


def horizons(config: RelopsConfig, now: datetime) -> Horizons:
    oldest = oldest_countable(config, now)
    return Horizons(
        # Whole hours, so the minute table never keeps a partial hour at its old edge.
        minutes=floor_hour(now - timedelta(seconds=config.evaluation.minute_retention_s)),
        hours=oldest,
        days=floor_day(oldest),
        snapshots=now - timedelta(days=config.evaluation.snapshot_retention_days),
        batch_ids=now - BATCH_ID_RETENTION,
        rejections=now - REJECTION_RETENTION,
    )


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
