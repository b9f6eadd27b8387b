"""What a scrape of /metrics reads from PostgreSQL: each flow's latest evaluation, each job's last
runs, and counts of incidents, silences, the outbox and dead letters. Each is one query whatever
the number of flows or jobs, and reads the latest row per flow by its index, never the history."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import msgspec
from sqlalchemy import Connection, text

from relops.metrics.facts import FlowFacts, IncidentCount, JobFacts, WindowFacts

# The newest snapshot of each configured flow: a backward scan of the (flow, evaluated_at) unique
# index per flow, LIMIT 1, so the cost does not grow with the history kept (DISTINCT ON would read
# every row of every flow). Budgets come as float8 and the windows as JSON text, decoded below by
# msgspec into just the fields used: for 10,000 flows, Decimals and the driver's JSON decoding cost
# more than the query.
_LATEST = text("""
SELECT f.flow, s.evaluated_at, s.severity, s.budget_remaining::float8 AS budget_remaining,
       s.budget_remaining_uncorrected::float8 AS budget_remaining_uncorrected, s.period_events, s.period_errors,
       s.windows::text AS windows
FROM unnest(CAST(:flows AS text[])) AS f(flow)
CROSS JOIN LATERAL (
    SELECT evaluated_at, severity, budget_remaining, budget_remaining_uncorrected, period_events, period_errors,
           windows
    FROM ops_burn_rate_snapshots b WHERE b.flow = f.flow ORDER BY b.evaluated_at DESC LIMIT 1
) s
""")


class _Window(msgspec.Struct):
    """A window as a snapshot stores it (relops.slo.burn_alerts.snapshot_window), the fields read."""

    window: str
    events: int
    errors: int
    burn_rate: float | None = None


_decode_windows = msgspec.json.Decoder(list[_Window]).decode

_JOBS = text("""
SELECT j.name, j.state, j.consecutive_failures, j.next_deadline,
       (SELECT e.started_at FROM ops_cron_executions e
        WHERE e.name = j.name AND e.started_at IS NOT NULL
        ORDER BY coalesce(e.started_at, e.finished_at, e.received_at) DESC LIMIT 1) AS last_start,
       (SELECT e.finished_at FROM ops_cron_executions e
        WHERE e.name = j.name AND e.status = 'success' AND e.finished_at IS NOT NULL
        ORDER BY e.finished_at DESC LIMIT 1) AS last_success,
       (SELECT coalesce(e.duration_ms / 1000.0, extract(epoch FROM e.finished_at - e.started_at))
        FROM ops_cron_executions e
        WHERE e.name = j.name AND e.status <> 'running' AND e.finished_at IS NOT NULL
        ORDER BY e.finished_at DESC LIMIT 1) AS last_duration_s
FROM ops_cron_jobs j WHERE j.name = ANY(CAST(:names AS text[])) ORDER BY j.name
""")


def _float(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


def latest_flow_facts(conn: Connection, flows: Sequence[str]) -> dict[str, FlowFacts]:
    """The latest evaluation of each of ``flows`` that has one (what the dashboard shows)."""
    found: dict[str, FlowFacts] = {}
    for flow, evaluated_at, severity, budget, uncorrected, events, errors, windows in conn.execute(
        _LATEST, {"flows": list(flows)}
    ).all():
        found[flow] = FlowFacts(
            evaluated_at,
            severity,
            budget,
            uncorrected,
            events,
            errors,
            {w.window: WindowFacts(w.events, w.errors, w.burn_rate) for w in _decode_windows(windows)},
        )
    return found


def job_facts(conn: Connection, names: Sequence[str]) -> list[JobFacts]:
    """The health of each of ``names`` that relops has checked, with its last start, last success
    and last run's duration (three index lookups per job)."""
    return [
        JobFacts(
            name=row.name,
            state=row.state,
            last_start=row.last_start,
            last_success=row.last_success,
            last_duration_s=_float(row.last_duration_s),
            consecutive_failures=row.consecutive_failures,
            next_deadline=row.next_deadline,
        )
        for row in conn.execute(_JOBS, {"names": list(names)})
    ]


def unresolved_incident_counts(conn: Connection) -> list[IncidentCount]:
    rows = conn.execute(
        text(
            "SELECT status, severity, coalesce(labels->>'team', '') AS team, count(*) AS n "
            "FROM ops_incidents WHERE status <> 'resolved' GROUP BY 1, 2, 3"
        )
    )
    return [IncidentCount(row.status, row.severity, row.team, row.n) for row in rows]


def silence_counts(conn: Connection, now: datetime) -> tuple[int, int]:
    """(active, pending): silences muting now, and those yet to start."""
    row = conn.execute(
        text(
            "SELECT count(*) FILTER (WHERE starts_at <= :now) AS active, "
            "       count(*) FILTER (WHERE starts_at > :now) AS pending "
            "FROM ops_silences WHERE ends_at > :now AND expired_at IS NULL"
        ),
        {"now": now},
    ).one()
    return row.active, row.pending


def undelivered_notifications(conn: Connection) -> dict[tuple[str, str], int]:
    """(receiver, status) -> notifications pending or sending."""
    rows = conn.execute(
        text(
            "SELECT receiver, status, count(*) AS n FROM ops_notifications "
            "WHERE status IN ('pending', 'sending') GROUP BY 1, 2"
        )
    )
    return {(row.receiver, row.status): row.n for row in rows}


def dead_letter_counts(conn: Connection) -> dict[str, int]:
    """receiver -> dead letters ever (the table is never pruned)."""
    rows = conn.execute(text("SELECT receiver, count(*) AS n FROM ops_dead_letters GROUP BY 1"))
    return {row.receiver: row.n for row in rows}


def last_tick_at(conn: Connection) -> datetime | None:
    """When the newest evaluation tick was claimed."""
    return conn.execute(text("SELECT created_at FROM ops_evaluation_ticks ORDER BY slot DESC LIMIT 1")).scalar()
