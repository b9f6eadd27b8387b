"""What the dashboard adds to the snapshot: flows in the order asked for, and each job's strip of
its last runs (healthchecks.io's status strip). Pure: rows and the clock are arguments."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from relops.config import JobConfig
from relops.cron.history import job_history

#: How the flow table may be ordered; budget (least left first) unless asked otherwise.
FLOW_SORTS = ("budget", "severity", "name")
_SEVERITY_RANK = {"critical": 0, "warning": 1, "ok": 2, "no_data": 3}
#: Runs (and missed starts) a job's strip shows.
STRIP_CELLS = 20


def sorted_flows(flows: Sequence[Mapping[str, Any]], sort: str) -> list[Mapping[str, Any]]:
    if sort == "name":
        return sorted(flows, key=lambda f: f["flow"])
    if sort == "severity":
        return sorted(flows, key=lambda f: (_SEVERITY_RANK.get(f["severity"], 4), f["flow"]))
    # Least budget left first; flows without data last.
    return sorted(flows, key=lambda f: (f["budget_remaining"] is None, f["budget_remaining"] or 0, f["flow"]))


@dataclass(frozen=True, slots=True)
class StripCell:
    #: ok, critical (failed), running, overrun, missed
    state: str
    at: datetime | None
    label: str


def run_strip(job: JobConfig, runs: Sequence[Mapping[str, Any]], now: datetime) -> list[StripCell]:
    """The job's last runs and the starts missed between them, oldest first."""
    if not runs:
        return []
    first = runs[0]["started_at"] or runs[0]["finished_at"] or now
    rows = [{**run, "result": None, "error": None} for run in runs]
    history = job_history(job, rows, first, now)
    cells = [
        StripCell(
            "overrun" if run.overran else {"success": "ok", "failure": "critical"}.get(run.status, "running"),
            run.started_at or run.finished_at,
            f"{run.status}{' (overran)' if run.overran else ''}",
        )
        for run in history.runs
    ]
    cells += [StripCell("missed", moment, "missed start") for moment in history.missed]
    cells.sort(key=lambda cell: cell.at or now)
    return cells[-STRIP_CELLS:]
