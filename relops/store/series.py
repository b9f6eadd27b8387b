"""What a flow's charts read: its minute and hour counters over a span, its incident and its corrections."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text

from relops.slo.burn_alerts import slo_fingerprint
from relops.slo.burnrate import Counts
from relops.slo.series import CounterRow
from relops.slo.spans import split_span


def hour_rows(conn: Connection, flow: str, start: datetime, end: datetime) -> list[CounterRow]:
    """Every hour row of ``flow`` in [start, end): one index range scan of the primary key."""
    return _counter_rows(conn, "ops_flow_hours", "hour", flow, start, end)


def minute_rows(conn: Connection, flow: str, start: datetime, end: datetime) -> list[CounterRow]:
    """Every minute row of ``flow`` in [start, end): one index range scan of the primary key."""
    return _counter_rows(conn, "ops_flow_minutes", "minute", flow, start, end)


def _counter_rows(
    conn: Connection, table: str, column: str, flow: str, start: datetime, end: datetime
) -> list[CounterRow]:
    # Epoch seconds and plain tuples, not timestamptz and Counts: parsing a timestamptz and making
    # a datetime and a Counts per row cost several times the query (a year of hours is 17,520 rows).
    rows = conn.execute(
        text(
            f"SELECT extract(epoch FROM {column})::bigint, good, bad FROM {table} "
            f"WHERE flow = :flow AND {column} >= :start AND {column} < :end"
        ),
        {"flow": flow, "start": start, "end": end},
    )
    return [tuple(row) for row in rows.all()]


def first_counted(conn: Connection, flow: str, since: datetime) -> datetime | None:
    """The oldest moment since ``since`` that ``flow`` counted events in: its first hour row, made
    exact to the minute by the minute rows of that hour while they are kept. Two index probes."""
    return conn.execute(
        text(
            "SELECT coalesce((SELECT min(m.minute) FROM ops_flow_minutes m WHERE m.flow = :flow "
            "AND m.minute >= h.first AND m.minute < h.first + interval '1 hour'), h.first) "
            "FROM (SELECT min(hour) AS first FROM ops_flow_hours WHERE flow = :flow AND hour >= :since) h"
        ),
        {"flow": flow, "since": since},
    ).scalar()


def flow_incident(conn: Connection, flow: str, since: datetime) -> dict[str, Any] | None:
    """The flow's burn-rate incident, when its episode was open at any time since ``since``."""
    row = (
        conn.execute(
            text(
                "SELECT id, status, severity, opened_at, acknowledged_at, resolved_at FROM ops_incidents "
                "WHERE fingerprint = :fingerprint AND (resolved_at IS NULL OR resolved_at > :since)"
            ),
            {"fingerprint": slo_fingerprint(flow), "since": since},
        )
        .mappings()
        .first()
    )
    return None if row is None else dict(row)


def flow_corrections(conn: Connection, flow: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """The flow's one-off budget corrections that overlap [start, end)."""
    rows = conn.execute(
        text(
            "SELECT starts_at, ends_at, reason FROM ops_slo_corrections "
            "WHERE flow = :flow AND ends_at > :start AND starts_at < :end ORDER BY starts_at"
        ),
        {"flow": flow, "start": start, "end": end},
    )
    return [dict(row) for row in rows.mappings()]


def daily_counts(conn: Connection, since: Mapping[str, datetime], end: datetime) -> dict[str, dict[datetime, Counts]]:
    """Each flow's good and bad events per UTC day in [its ``since``, ``end``): one query."""
    names = list(since)
    rows = conn.execute(
        text(
            "SELECT h.flow, date_trunc('day', h.hour, 'UTC') AS day, sum(h.good) AS good, sum(h.bad) AS bad "
            "FROM unnest(CAST(:names AS text[]), CAST(:sinces AS timestamptz[])) AS f(name, since) "
            "JOIN ops_flow_hours h ON h.flow = f.name AND h.hour >= f.since AND h.hour < :end "
            "GROUP BY h.flow, day"
        ),
        {"names": names, "sinces": [since[name] for name in names], "end": end},
    )
    found: dict[str, dict[datetime, Counts]] = {name: {} for name in names}
    for row in rows:
        found[row.flow][row.day] = Counts(good=int(row.good), bad=int(row.bad))
    return found


def excluded_by_hour(conn: Connection, flow: str, spans: Sequence[tuple[datetime, datetime]]) -> dict[datetime, Counts]:
    """The events of ``spans`` (merged, whole minutes) that the flow's evaluation leaves out, summed
    by the hour they fall in: whole hours from the hour rows, the minutes of partial hours from the
    minute rows while they are kept (as the evaluation reads them). Two queries."""
    pieces = [piece for start, end in spans for piece in split_span(start, end)]
    found: dict[datetime, Counts] = {}
    for table, bucket in (("ops_flow_hours", "hour"), ("ops_flow_minutes", "date_trunc('hour', minute, 'UTC')")):
        chosen = [piece for piece in pieces if piece.table == table]
        if not chosen:
            continue
        column = "hour" if table == "ops_flow_hours" else "minute"
        rows = conn.execute(
            text(
                f"SELECT {bucket} AS hour, sum(good) AS good, sum(bad) AS bad FROM {table} "
                "JOIN unnest(CAST(:starts AS timestamptz[]), CAST(:ends AS timestamptz[])) AS p(s, e) "
                f"ON {column} >= p.s AND {column} < p.e WHERE flow = :flow GROUP BY 1"
            ),
            {"flow": flow, "starts": [p.start for p in chosen], "ends": [p.end for p in chosen]},
        )
        for row in rows:
            before = found.get(row.hour, Counts())
            found[row.hour] = Counts(good=before.good + int(row.good), bad=before.bad + int(row.bad))
    return found
