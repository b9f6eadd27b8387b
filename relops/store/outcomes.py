"""Flow outcome counters: idempotent batch ingest into minute, hour and day buckets."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import Connection, text

from relops.slo.outcome_batch import OutcomeCount
from relops.timeutil import floor_day, floor_hour

_CLAIM_BATCH = text(
    "INSERT INTO ops_ingested_batches (batch_id, accepted, rejected) "
    "VALUES (:batch_id, :accepted, :rejected) "
    "ON CONFLICT (batch_id) DO NOTHING RETURNING batch_id"
)

# One statement per table for the whole batch. Rows arrive sorted by key so two concurrent batches
# lock shared rows in the same order and cannot deadlock.
_UPSERT = """
INSERT INTO {table} (flow, {bucket}, good, bad)
SELECT * FROM unnest(CAST(:flows AS text[]), CAST(:buckets AS timestamptz[]),
                     CAST(:goods AS bigint[]), CAST(:bads AS bigint[]))
ON CONFLICT (flow, {bucket}) DO UPDATE
SET good = {table}.good + EXCLUDED.good, bad = {table}.bad + EXCLUDED.bad
"""
_UPSERT_MINUTES = text(_UPSERT.format(table="ops_flow_minutes", bucket="minute"))
_UPSERT_HOURS = text(_UPSERT.format(table="ops_flow_hours", bucket="hour"))
_UPSERT_DAYS = text(_UPSERT.format(table="ops_flow_days", bucket="day"))


def _sum_by_key(pairs: Iterable[tuple[tuple[str, datetime], OutcomeCount]]) -> dict[str, list]:
    sums: dict[tuple[str, datetime], list[int]] = defaultdict(lambda: [0, 0])
    for key, item in pairs:
        sums[key][0] += item.good
        sums[key][1] += item.bad
    keys = sorted(sums)
    return {
        "flows": [k[0] for k in keys],
        "buckets": [k[1] for k in keys],
        "goods": [sums[k][0] for k in keys],
        "bads": [sums[k][1] for k in keys],
    }


def ingest_batch(
    conn: Connection,
    batch_id: str,
    items: list[OutcomeCount],
    *,
    rejected: int,
    minute_horizon: datetime,
) -> bool:
    """Add the batch's counts once. Returns False when the batch id was already counted.

    Minutes older than ``minute_horizon`` have been pruned from the minute table; their counts go
    to the hour and day tables only, so late data still counts toward the SLO period's budget.
    """
    claimed = conn.execute(_CLAIM_BATCH, {"batch_id": batch_id, "accepted": len(items), "rejected": rejected}).first()
    if claimed is None:
        return False
    recent = [i for i in items if i.minute >= minute_horizon]
    if recent:
        conn.execute(_UPSERT_MINUTES, _sum_by_key(((i.flow, i.minute), i) for i in recent))
    if items:
        conn.execute(_UPSERT_HOURS, _sum_by_key(((i.flow, floor_hour(i.minute)), i) for i in items))
        conn.execute(_UPSERT_DAYS, _sum_by_key(((i.flow, floor_day(i.minute)), i) for i in items))
    return True


def rebuild_days(conn: Connection, flows: Sequence[str]) -> None:
    """The day rows of ``flows`` summed again from their hour rows: for hour rows written other than
    by ``ingest_batch`` (seeded history, a restore)."""
    conn.execute(text("DELETE FROM ops_flow_days WHERE flow = ANY(:flows)"), {"flows": list(flows)})
    conn.execute(
        text(
            "INSERT INTO ops_flow_days (flow, day, good, bad) "
            "SELECT flow, date_trunc('day', hour, 'UTC'), sum(good), sum(bad) FROM ops_flow_hours "
            "WHERE flow = ANY(:flows) GROUP BY 1, 2"
        ),
        {"flows": list(flows)},
    )
