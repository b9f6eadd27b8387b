"""The intake's request totals (ops_intake_totals): added to by each intake, read for /metrics;
never pruned, so the counters read from it only go up."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import Connection, text

from relops.metrics.facts import IntakeTotal

# One statement for a second's counts of every (endpoint, status), whatever their number.
_ADD = text("""
INSERT INTO ops_intake_totals AS t (endpoint, status, requests)
SELECT * FROM unnest(CAST(:endpoints AS text[]), CAST(:statuses AS integer[]), CAST(:counts AS bigint[]))
ON CONFLICT (endpoint, status) DO UPDATE SET requests = t.requests + EXCLUDED.requests, updated_at = now()
""")


def add_intake_totals(conn: Connection, counts: Mapping[tuple[str, int], int]) -> None:
    """Add ``counts`` {(endpoint, status): requests} to the totals."""
    if not counts:
        return
    keys = sorted(counts)  # one order for every intake: concurrent upserts never wait on each other in a cycle
    conn.execute(
        _ADD,
        {
            "endpoints": [endpoint for endpoint, _ in keys],
            "statuses": [status for _, status in keys],
            "counts": [counts[key] for key in keys],
        },
    )


def intake_totals(conn: Connection) -> list[IntakeTotal]:
    rows = conn.execute(text("SELECT endpoint, status, requests, since FROM ops_intake_totals ORDER BY 1, 2"))
    return [IntakeTotal(row.endpoint, row.status, row.requests, row.since) for row in rows]
