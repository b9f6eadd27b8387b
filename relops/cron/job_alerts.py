"""Alert events for monitored jobs: failure streaks, missed runs, overruns. Pure: no I/O."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from relops.alerting.events import SOURCE_CRON, AlertEvent
from relops.config import JobConfig


def cron_fingerprint(job: str, problem: str) -> str:
    return f"{SOURCE_CRON}:{job}:{problem}"


def _event(
    job: JobConfig,
    problem: str,
    severity: str,
    title: str,
    summary: str,
    details: dict[str, Any],
    runbook_url: str,
    at: datetime,
    status: str = "firing",
) -> AlertEvent:
    key = cron_fingerprint(job.name, problem)
    return AlertEvent(
        dedup_key=key,
        fingerprint=key,
        severity=severity,
        source=SOURCE_CRON,
        title=title,
        summary=summary,
        details={"job": job.name, "problem": problem, **details},
        runbook_url=runbook_url,
        occurred_at=at.isoformat(),
        status=status,
        labels={**job.labels, "source": SOURCE_CRON, "severity": severity, "job": job.name, "problem": problem},
    )


def failing_alert(job: JobConfig, streak: int, errors: list[str], at: datetime, runbook_url: str) -> AlertEvent:
    last = errors[0] if errors else "no error text"
    return _event(
        job,
        "failing",
        "critical",
        f"CRITICAL: {job.name} failed {streak} time{'s' if streak != 1 else ''} in a row",
        f"{job.name} failed its last {streak} run{'s' if streak != 1 else ''} "
        f"(threshold {job.failure_threshold}). Last error: {last[:500]}",
        {
            "consecutive_failures": streak,
            "failure_threshold": job.failure_threshold,
            "last_errors": [e[:500] for e in errors[:5]],
        },
        runbook_url,
        at,
    )


def missed_alert(job: JobConfig, deadline: datetime, at: datetime, runbook_url: str) -> AlertEvent:
    schedule = job.schedule or f"every {job.period_s} s"
    return _event(
        job,
        "missed",
        "critical",
        f"CRITICAL: {job.name} did not start on schedule",
        f"{job.name} ({schedule}, {job.timezone}) should have started by {deadline.isoformat()} "
        f"(including {job.grace_s} s grace) and did not.",
        {"schedule": schedule, "timezone": job.timezone, "deadline": deadline.isoformat(), "grace_s": job.grace_s},
        runbook_url,
        at,
    )


def overrun_alert(job: JobConfig, run_id: str, since: datetime, at: datetime, runbook_url: str) -> AlertEvent:
    return _event(
        job,
        "overrun",
        "warning",
        f"WARNING: {job.name} is still running after {job.max_runtime_s} s",
        f"{job.name} run {run_id} started at {since.isoformat()} and has not finished "
        f"(max runtime {job.max_runtime_s} s).",
        {"run_id": run_id, "started_at": since.isoformat(), "max_runtime_s": job.max_runtime_s},
        runbook_url,
        at,
    )


def cron_resolved(job: JobConfig, problem: str, at: datetime, runbook_url: str, why: str) -> AlertEvent:
    return _event(
        job, problem, "ok", f"RESOLVED: {job.name} is no longer {problem}", why, {}, runbook_url, at, "resolved"
    )
