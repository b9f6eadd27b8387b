"""A monitored job's history for its page: each run with its failure streak and whether it
overran, and the starts it missed. Pure: the clock and the rows are arguments.

Missed starts are found as the monitor finds them: after a run starts, the next must start by
``start_deadline`` (the next scheduled start plus grace); each deadline that passed with no start
is one missed start, and the schedule moves on from the start that was missed (healthchecks.io
marks its "down" periods the same way).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from relops.config import JobConfig
from relops.cron.schedule import next_start, start_deadline

#: Characters of a run's result or error shown with it: the end, where tracebacks say what failed.
TAIL_CHARS = 300
#: Missed starts reported between two runs at most (a job silent for a year on a one-minute period).
MAX_MISSED_PER_GAP = 1000


@dataclass(frozen=True, slots=True)
class RunView:
    run_id: str
    status: str
    started_at: datetime | None
    finished_at: datetime | None
    duration_s: float | None
    #: Ran longer than max_runtime_s (or is running past it at ``now``).
    overran: bool
    #: Consecutive failures ending with this run (0 for a success or a run still going).
    streak: int
    result_tail: str | None
    error_tail: str | None


@dataclass(frozen=True, slots=True)
class JobHistory:
    runs: list[RunView]
    missed: list[datetime]
    #: The first missed start ``missed`` leaves out when a gap held more than MAX_MISSED_PER_GAP.
    truncated: bool


def tail(value: Any) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= TAIL_CHARS else "…" + text[-TAIL_CHARS:]


def _duration_s(row: Mapping[str, Any], now: datetime) -> float | None:
    if row["duration_ms"] is not None:
        return row["duration_ms"] / 1000
    if row["started_at"] is None:
        return None
    end = row["finished_at"] or (now if row["status"] == "running" else None)
    return None if end is None else (end - row["started_at"]).total_seconds()


def job_history(job: JobConfig, rows: Sequence[Mapping[str, Any]], start: datetime, now: datetime) -> JobHistory:
    """``rows`` are the job's executions (run_id, status, started_at, finished_at, duration_ms,
    result, error), oldest first, the last run before ``start`` among them so a gap across the
    range's edge is seen; what lies before ``start`` is not returned."""
    runs: list[RunView] = []
    streak = 0
    for row in rows:
        if row["status"] == "failure":
            streak += 1
        elif row["status"] == "success":
            streak = 0
        duration = _duration_s(row, now)
        runs.append(
            RunView(
                run_id=row["run_id"],
                status=row["status"],
                started_at=row["started_at"],
                finished_at=row["finished_at"],
                duration_s=duration,
                overran=duration is not None and duration > job.max_runtime_s,
                streak=streak if row["status"] == "failure" else 0,
                result_tail=tail(row["result"]),
                error_tail=tail(row["error"]),
            )
        )
    missed, truncated = _missed(job, [r.started_at or r.finished_at for r in runs], now)
    shown = [run for run in runs if (run.started_at or run.finished_at or now) >= start]
    return JobHistory(runs=shown, missed=[m for m in missed if m >= start], truncated=truncated)


def _missed(job: JobConfig, starts: Sequence[datetime | None], now: datetime) -> tuple[list[datetime], bool]:
    known = sorted(moment for moment in starts if moment is not None)
    missed: list[datetime] = []
    truncated = False
    for index, began in enumerate(known):
        following = known[index + 1] if index + 1 < len(known) else now
        after = began
        for _ in range(MAX_MISSED_PER_GAP):
            if start_deadline(job, after) >= following:
                break
            expected = next_start(job, after)
            missed.append(expected)
            after = expected
        else:
            truncated = True
    return missed, truncated
