"""relops.cron_run (cron-run events from services) and relops.check_cron_health (beat)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from celery.utils.log import get_task_logger

from relops import names, redis_keys
from relops.alert_event import AlertEvent
from relops.cron_alerts import cron_fingerprint, cron_resolved, failing_alert, missed_alert, overrun_alert
from relops.cron_event import CronRun, parse_cron_run
from relops.cron_schedule import overrun_deadline, start_deadline
from relops.errors import InputRejected
from relops.logs import log_event
from relops.outcome_batch import Rejection, excerpt
from relops.runtime import engine, get_config, redis
from relops.shared_state import REDIS_FAULTS
from relops.slo_config import JobConfig, RelopsConfig
from relops.store import cron as store
from relops.store.incidents import open_fingerprints
from relops.timeutil import utcnow
from tasks.base import RelopsTask
from tasks.rejections import reject_payload
from workers import app

logger = get_task_logger(__name__)


def _publish(events: list[AlertEvent]) -> None:
    for event in events:
        app.send_task(names.TASK_DISPATCH_ALERT, kwargs=event.as_kwargs(), queue=names.QUEUE_ALERTS)


def _health_events(conn: Any, config: RelopsConfig, job: JobConfig, run: CronRun, merged: store.MergedRun) -> list:
    """Update the job's state for this event; the alerts and resolutions it calls for."""
    runbook = config.runbook_url(job)
    store.ensure_job(conn, job.name, start_deadline(job, run.at))
    events: list[AlertEvent] = []
    clears: dict[str, str] = {}
    if not run.finished:
        if merged.finished_at is None and merged.started_at is not None:  # not an end that arrived first
            store.job_started(
                conn,
                job.name,
                run.run_id,
                merged.started_at,
                start_deadline(job, merged.started_at),
                overrun_deadline(job, merged.started_at),
            )
        clears["missed"] = f"{job.name} started at {run.at.isoformat()}."
    else:
        outcomes = store.recent_outcomes(conn, job.name, 100)
        streak = store.failure_streak(outcomes)
        failing = streak >= job.failure_threshold
        store.job_finished(conn, job.name, run, streak, failing, start_deadline(job, run.at))
        if failing:
            errors = [o["error"] for o in outcomes[:streak] if o["error"]]
            events.append(failing_alert(job, streak, errors, run.at, runbook))
        elif streak == 0:
            clears["failing"] = f"{job.name} succeeded at {run.at.isoformat()}."
        clears["overrun"] = f"{job.name} run {run.run_id} finished at {run.at.isoformat()}."
        clears.setdefault("missed", f"{job.name} ran at {run.at.isoformat()}.")
    fingerprints = {cron_fingerprint(job.name, problem): problem for problem in clears}
    for fingerprint in sorted(open_fingerprints(conn, list(fingerprints))):
        problem = fingerprints[fingerprint]
        events.append(cron_resolved(job, problem, run.at, runbook, clears[problem]))
    return events


@app.task(name=names.TASK_CRON_RUN, base=RelopsTask)
def cron_run(*args: Any, **payload: Any) -> dict[str, Any]:
    """Persist one cron-run event (start and end merge per run) and update the job's health."""
    config = get_config()
    try:
        if args:
            raise InputRejected("args", "cron-run events are sent as kwargs, not positional arguments")
        run = parse_cron_run(payload, now=utcnow(), result_max_bytes=config.cron.result_max_bytes)
    except InputRejected as exc:
        name = payload.get("name")
        reference = {"job": name if isinstance(name, str) else None}
        reject_payload(
            logger,
            names.TASK_CRON_RUN,
            "cron.rejected",
            reference,
            Rejection(None, exc.field, exc.reason, excerpt(payload)),
        )
        return {"rejected": True}
    job = config.jobs_by_name.get(run.name)
    with engine().begin() as conn:
        merged = store.merge_run(conn, run)
        events = _health_events(conn, config, job, run, merged) if job else []
        # Published before the commit, as for burn-rate alerts: a failure rolls back and retries.
        _publish(events)
    log_event(
        logger,
        logging.INFO if run.status != "failure" else logging.WARNING,
        "cron.run",
        job=run.name,
        run_id=run.run_id,
        status=run.status,
        monitored=job is not None,
        alerts=len(events),
    )
    return {"status": merged.status, "alerts": len(events)}


def queue_backlog(connection: Any, queue: str) -> int:
    """Messages waiting in ``queue``. Not a passive declare: Redis keeps no key for an empty queue,
    so a passive declare of an empty queue fails with NOT_FOUND instead of answering 0."""
    return connection.default_channel.queue_declare(queue=queue).message_count


def _lagging(config: RelopsConfig, now: datetime) -> str | None:
    """Why relops cannot tell a missed run from its own delay, or None when it can."""
    interval = config.cron.check_interval_s
    try:
        previous = redis().getset(redis_keys.cron_heartbeat(), now.timestamp())
    except REDIS_FAULTS:
        previous = None
    if previous is not None and now.timestamp() - float(previous) > 3 * interval:
        return f"no health check for {now.timestamp() - float(previous):.0f} s (workers or beat were down)"
    try:
        with app.connection_for_read() as connection:
            backlog = queue_backlog(connection, names.QUEUE_CRON)
    except Exception as exc:  # the broker answered the task that is running; an error here is odd, not fatal
        log_event(logger, logging.WARNING, "cron.backlog_unknown", error=type(exc).__name__)
        backlog = 0
    if backlog > config.cron.lag_backlog:
        return f"{backlog} cron events are waiting to be processed"
    return None


@app.task(name=names.TASK_CHECK_CRON_HEALTH, base=RelopsTask)
def check_cron_health(**_: Any) -> dict[str, Any]:
    """Missed starts and overrunning runs of the monitored jobs; state lives in PostgreSQL."""
    config = get_config()
    now = utcnow()
    lagging = _lagging(config, now)
    jobs = config.jobs_by_name
    events: list[AlertEvent] = []
    unknown: list[str] = []
    with engine().begin() as conn:
        for job in config.jobs:
            store.ensure_job(conn, job.name, start_deadline(job, now))
        for name in store.due_deadlines(conn, now):
            job = jobs.get(name)
            if job is None:  # no longer in the config: stop watching it
                store.rearm(conn, name, None, "ok")
                continue
            if lagging:
                store.rearm(conn, name, start_deadline(job, now), "unknown")
                unknown.append(name)
                continue
            store.rearm(conn, name, start_deadline(job, now), "missed")
            events.append(missed_alert(job, now, now, config.runbook_url(job)))
        if not lagging:  # an end event may be waiting in the backlog; look again next time
            for row in store.due_overruns(conn, now):
                job = jobs.get(row["name"])
                if job is not None:
                    events.append(
                        overrun_alert(job, row["running_run_id"], row["running_since"], now, config.runbook_url(job))
                    )
        _publish(events)
    for name in unknown:
        log_event(logger, logging.WARNING, "cron.unknown", job=name, reason=f"relops lagging: {lagging}")
    if events:
        log_event(
            logger,
            logging.WARNING,
            "cron.problems",
            alerts=len(events),
            jobs=",".join(e.details["job"] for e in events),
        )
    return {"alerts": len(events), "unknown": len(unknown), "lagging": lagging}
