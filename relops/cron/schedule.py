"""When a monitored job should next start. Pure: the clock is an argument.

Cron expressions are evaluated in the job's own time zone, so a DST change neither skips nor
doubles a daily run (cronsim follows the zone's rules; healthchecks.io does the same).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cronsim import CronSim

from relops.config import JobConfig


def next_start(job: JobConfig, after: datetime) -> datetime:
    """The first scheduled start strictly after ``after`` (UTC)."""
    if job.period_s is not None:
        return after + timedelta(seconds=job.period_s)
    local = after.astimezone(job.zone)
    return next(iter(CronSim(job.schedule or "", local))).astimezone(UTC)


def start_deadline(job: JobConfig, after: datetime) -> datetime:
    """The next start plus grace: past this with no start, the run is missed."""
    return next_start(job, after) + timedelta(seconds=job.grace_s)


def overrun_deadline(job: JobConfig, started_at: datetime) -> datetime:
    return started_at + timedelta(seconds=job.max_runtime_s)
