"""Cron executions (start and end merged per run) and the monitored jobs' health state."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, RowMapping, bindparam, text
from sqlalchemy.dialects.postgresql import JSONB

from relops.cron.events import CronRun

# Start and end of one run arrive in any order and may be redelivered: the earliest start wins,
# an end (success/failure) wins over "running", and the same event twice changes nothing.
_MERGE = text("""
INSERT INTO ops_cron_executions AS e (name, run_id, status, started_at, finished_at, duration_ms, result, error)
VALUES (:name, :run_id, :status, :started_at, :finished_at, :duration_ms, :result, :error)
ON CONFLICT (name, run_id) DO UPDATE SET
    started_at = least(e.started_at, EXCLUDED.started_at),
    finished_at = coalesce(EXCLUDED.finished_at, e.finished_at),
    status = CASE WHEN EXCLUDED.status <> 'running' THEN EXCLUDED.status ELSE e.status END,
    duration_ms = coalesce(EXCLUDED.duration_ms, e.duration_ms),
    result = coalesce(EXCLUDED.result, e.result),
    error = coalesce(EXCLUDED.error, e.error),
    updated_at = now()
RETURNING e.status, e.started_at, e.finished_at
""").bindparams(bindparam("result", type_=JSONB(none_as_null=True)))


@dataclass(frozen=True)
class MergedRun:
    status: str
    started_at: datetime | None
    finished_at: datetime | None


def merge_run(conn: Connection, run: CronRun) -> MergedRun:
    if run.finished:
        started = run.at - timedelta(milliseconds=run.duration_ms) if run.duration_ms is not None else None
        values = {"status": run.status, "started_at": started, "finished_at": run.at}
    else:
        values = {"status": "running", "started_at": run.at, "finished_at": None}
    row = conn.execute(
        _MERGE,
        {
            "name": run.name,
            "run_id": run.run_id,
            "duration_ms": run.duration_ms,
            "result": run.result,
            "error": run.error,
            **values,
        },
    ).one()
    return MergedRun(status=row.status, started_at=row.started_at, finished_at=row.finished_at)


#: A failure streak is counted over at most this many of a job's newest finished runs.
STREAK_LOOKBACK = 100

# The newest finished runs, newest first, cut at the first that did not fail: only the streak's
# rows cross the wire (none while a job is healthy).
_STREAK = text("""
SELECT error FROM (
    SELECT status, error, finished_at,
           count(*) FILTER (WHERE status <> 'failure') OVER (ORDER BY finished_at DESC) AS passes_since
    FROM (SELECT status, error, finished_at FROM ops_cron_executions
          WHERE name = :name AND status <> 'running' ORDER BY finished_at DESC LIMIT :limit) newest
) runs
WHERE passes_since = 0 ORDER BY finished_at DESC
""")


def failure_streak_errors(conn: Connection, name: str, limit: int = STREAK_LOOKBACK) -> list[str | None]:
    """The error text of each run in the job's current failure streak, newest first (its length is
    the streak)."""
    return [row[0] for row in conn.execute(_STREAK, {"name": name, "limit": limit})]


def ensure_job(conn: Connection, name: str, next_deadline: datetime) -> None:
    """A job seen for the first time (config or event) starts healthy with its first deadline."""
    conn.execute(
        text(
            "INSERT INTO ops_cron_jobs (name, state, next_deadline) VALUES (:name, 'ok', :deadline) "
            "ON CONFLICT (name) DO NOTHING"
        ),
        {"name": name, "deadline": next_deadline},
    )


def job_started(
    conn: Connection, name: str, run_id: str, started_at: datetime, next_deadline: datetime, overrun_at: datetime
) -> None:
    conn.execute(
        text(
            "UPDATE ops_cron_jobs SET state = 'running', running_run_id = :run_id, running_since = :started, "
            "overrun_at = :overrun_at, next_deadline = greatest(next_deadline, :deadline), updated_at = now() "
            "WHERE name = :name"
        ),
        {"name": name, "run_id": run_id, "started": started_at, "deadline": next_deadline, "overrun_at": overrun_at},
    )


def job_finished(
    conn: Connection, name: str, run: CronRun, streak: int, failing: bool, next_deadline: datetime
) -> None:
    """Record the end; the run stops being "running" only if it is the one that was."""
    conn.execute(
        text(
            "UPDATE ops_cron_jobs SET "
            "state = CASE WHEN :failing THEN 'failing' WHEN running_run_id = :run_id OR running_run_id IS NULL "
            "             THEN 'ok' ELSE state END, "
            "running_since = CASE WHEN running_run_id = :run_id THEN NULL ELSE running_since END, "
            "overrun_at = CASE WHEN running_run_id = :run_id THEN NULL ELSE overrun_at END, "
            "running_run_id = CASE WHEN running_run_id = :run_id THEN NULL ELSE running_run_id END, "
            "last_run_id = :run_id, last_status = :status, last_finished_at = :at, "
            "consecutive_failures = :streak, "
            "next_deadline = CASE WHEN next_deadline IS NULL THEN :deadline ELSE next_deadline END, "
            "updated_at = now() WHERE name = :name AND (last_finished_at IS NULL OR last_finished_at <= :at)"
        ),
        {
            "name": name,
            "run_id": run.run_id,
            "status": run.status,
            "at": run.at,
            "streak": streak,
            "failing": failing,
            "deadline": next_deadline,
        },
    )


def due_deadlines(conn: Connection, now: datetime) -> list[tuple[str, datetime]]:
    """Jobs whose start deadline has passed, with that deadline: one indexed range query."""
    rows = conn.execute(
        text(
            "SELECT name, next_deadline FROM ops_cron_jobs WHERE next_deadline < :now "
            "ORDER BY next_deadline FOR UPDATE SKIP LOCKED"
        ),
        {"now": now},
    )
    return [(r[0], r[1]) for r in rows]


def rearm(conn: Connection, name: str, next_deadline: datetime | None, state: str) -> None:
    conn.execute(
        text(
            "UPDATE ops_cron_jobs SET next_deadline = :deadline, state = :state, updated_at = now() WHERE name = :name"
        ),
        {"name": name, "deadline": next_deadline, "state": state},
    )


def due_overruns(conn: Connection, now: datetime) -> list[RowMapping]:
    """Running jobs past their max runtime; each is reported once (overrun_at is cleared)."""
    return list(
        conn.execute(
            text(
                "UPDATE ops_cron_jobs SET overrun_at = NULL, state = 'overrun', updated_at = now() "
                "WHERE overrun_at < :now AND running_run_id IS NOT NULL "
                "RETURNING name, running_run_id, running_since"
            ),
            {"now": now},
        ).mappings()
    )


def job_states(conn: Connection) -> list[RowMapping]:
    return list(conn.execute(text("SELECT * FROM ops_cron_jobs ORDER BY name")).mappings())


def runs_since(conn: Connection, name: str, start: datetime, limit: int) -> list[RowMapping]:
    """The job's runs from ``start`` (the newest ``limit`` of them) and the one run before it,
    oldest first; a run is placed by its start, or its end when no start was reported."""
    placed = "coalesce(started_at, finished_at, received_at)"
    columns = f"run_id, status, started_at, finished_at, duration_ms, result, error, {placed} AS placed"
    rows = conn.execute(
        text(
            f"(SELECT {columns} FROM ops_cron_executions WHERE name = :name AND {placed} < :start "
            f"ORDER BY {placed} DESC LIMIT 1) UNION ALL "
            f"(SELECT {columns} FROM ops_cron_executions WHERE name = :name AND {placed} >= :start "
            f"ORDER BY {placed} DESC LIMIT :limit)"
        ),
        {"name": name, "start": start, "limit": limit},
    )
    return sorted(rows.mappings(), key=lambda row: row["placed"])


def job_state(conn: Connection, name: str) -> RowMapping | None:
    return conn.execute(text("SELECT * FROM ops_cron_jobs WHERE name = :name"), {"name": name}).mappings().first()


def last_runs(conn: Connection, names: Sequence[str], per_job: int) -> dict[str, list[RowMapping]]:
    """Each job's newest ``per_job`` runs, oldest first: one index range scan per job."""
    rows = conn.execute(
        text(
            "SELECT j.name, r.status, r.started_at, r.finished_at, r.duration_ms, r.run_id "
            "FROM unnest(CAST(:names AS text[])) AS j(name) CROSS JOIN LATERAL ("
            "  SELECT status, started_at, finished_at, duration_ms, run_id, "
            "         coalesce(started_at, finished_at, received_at) AS placed "
            "  FROM ops_cron_executions e WHERE e.name = j.name "
            "  ORDER BY coalesce(started_at, finished_at, received_at) DESC LIMIT :per_job) r "
            "ORDER BY j.name, r.placed"
        ),
        {"names": list(names), "per_job": per_job},
    ).mappings()
    found: dict[str, list[RowMapping]] = {name: [] for name in names}
    for row in rows:
        found[row["name"]].append(row)
    return found
