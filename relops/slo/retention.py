"""Retention, pure: how far back each history table is kept so it stays bounded while the SLO
period's budget stays computable (relops.store.retention deletes what is older)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

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
