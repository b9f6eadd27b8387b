"""Flow outcome counters: idempotent batch ingest into minute, hour and day buckets, and the counts
of flows with a source (Prometheus), set rather than added."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import NamedTuple

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


class _Delta(NamedTuple):
    good: int
    bad: int


def _sum_by_key(pairs: Iterable[tuple[tuple[str, datetime], OutcomeCount | _Delta]]) -> dict[str, list]:
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


# A Prometheus-sourced flow's minutes are set, not added to: a re-pull writes what Prometheus says
# now. The hour and day rows take the difference from what the minute held before, so they stay
# the sums of their minutes. The caller holds the flow's lock (lock_flow), so no other pull of the
# flow reads the same old values.
_REPLACE_MINUTES = text(
    """
WITH new AS (
    SELECT * FROM unnest(CAST(:flows AS text[]), CAST(:minutes AS timestamptz[]),
                         CAST(:goods AS bigint[]), CAST(:bads AS bigint[])) AS n(flow, minute, good, bad)
), old AS (
    SELECT m.flow, m.minute, m.good, m.bad FROM ops_flow_minutes m JOIN new n USING (flow, minute)
), written AS (
    INSERT INTO ops_flow_minutes (flow, minute, good, bad) SELECT flow, minute, good, bad FROM new
    ON CONFLICT (flow, minute) DO UPDATE SET good = EXCLUDED.good, bad = EXCLUDED.bad
)
SELECT n.minute, n.good - coalesce(o.good, 0), n.bad - coalesce(o.bad, 0)
FROM new n LEFT JOIN old o USING (flow, minute)
"""
)
_REPLACE_HOUR = text(
    """
WITH old AS (SELECT good, bad FROM ops_flow_hours WHERE flow = :flow AND hour = :hour),
written AS (
    INSERT INTO ops_flow_hours (flow, hour, good, bad)
    VALUES (:flow, :hour, CAST(:good AS bigint), CAST(:bad AS bigint))
    ON CONFLICT (flow, hour) DO UPDATE SET good = EXCLUDED.good, bad = EXCLUDED.bad
)
SELECT CAST(:good AS bigint) - coalesce((SELECT good FROM old), 0),
       CAST(:bad AS bigint) - coalesce((SELECT bad FROM old), 0)
"""
)
_LOCK_FLOW = text("SELECT pg_advisory_xact_lock(hashtext('relops.flow-counts'), hashtext(:flow))")


def lock_flow(conn: Connection, flow: str) -> None:
    """Hold ``flow``'s counter lock until the transaction ends: one writer of its replaced counts at a time."""
    conn.execute(_LOCK_FLOW, {"flow": flow})


def replace_minutes(conn: Connection, flow: str, minutes: Sequence[tuple[datetime, int, int]]) -> None:
    """Set ``flow``'s (minute, good, bad) rows to these counts; its hour and day rows follow."""
    if not minutes:
        return
    ordered = sorted(minutes)
    rows = conn.execute(
        _REPLACE_MINUTES,
        {
            "flows": [flow] * len(ordered),
            "minutes": [m[0] for m in ordered],
            "goods": [m[1] for m in ordered],
            "bads": [m[2] for m in ordered],
        },
    ).all()
    changed = [((flow, floor_hour(minute)), _Delta(good, bad)) for minute, good, bad in rows if good or bad]
    if changed:
        conn.execute(_UPSERT_HOURS, _sum_by_key(changed))
        conn.execute(_UPSERT_DAYS, _sum_by_key(((flow, floor_day(key[1])), delta) for key, delta in changed))


def replace_hour(conn: Connection, flow: str, hour: datetime, good: int, bad: int) -> None:
    """Set ``flow``'s hour row to these counts (its minutes are gone: older than the minute table
    keeps); its day row follows."""
    delta_good, delta_bad = conn.execute(_REPLACE_HOUR, {"flow": flow, "hour": hour, "good": good, "bad": bad}).one()
    if delta_good or delta_bad:
        conn.execute(_UPSERT_DAYS, _sum_by_key([((flow, floor_day(hour)), _Delta(delta_good, delta_bad))]))
