"""relops.cron_run's and relops.check_cron_health's logic: a monitored job's health from its runs,
its deadlines and relops' own lag.

``job_events`` and ``deadline_events`` are the rules, run inside the caller's transaction;
``record_cron_run`` and ``check_cron_health`` are the whole tasks.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from redis import Redis
from sqlalchemy import Connection

from relops import names, redis_keys
from relops.alerting.events import AlertEvent, publish_alert
from relops.config import JobConfig, RelopsConfig
from relops.cron.alerts import cron_fingerprint, cron_resolved, failing_alert, missed_alert, overrun_alert
from relops.cron.events import CronRun, parse_cron_run
from relops.cron.schedule import overrun_deadline, start_deadline
from relops.deps import Deps
from relops.errors import InputRejected, listed_items
from relops.logs import log_event
from relops.redis_state import REDIS_FAULTS
from relops.rejections import reject_payload
from relops.store import cron as store
from relops.store.incidents import open_fingerprints

logger = logging.getLogger(__name__)


def job_events(
    conn: Connection, config: RelopsConfig, job: JobConfig, run: CronRun, merged: store.MergedRun
) -> list[AlertEvent]:
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


def record_cron_run(
    deps: Deps, payload: Mapping[str, Any], *, args: Sequence[Any] = (), task: str = names.TASK_CRON_RUN
) -> dict[str, Any]:
    """Persist one cron-run event (start and end merge per run) and update the job's health; a
    rejection is recorded under ``task``, the task the event came with."""
    config = deps.config
    try:
        if args:
            raise InputRejected("args", "cron-run events are sent as kwargs, not positional arguments")
        run = parse_cron_run(payload, now=deps.now(), result_max_bytes=config.cron.result_max_bytes)
    except InputRejected as exc:
        reference = ("job", payload.get("name"))
        reject_payload(
            deps.engine, logger, task=task, event="cron.rejected", reference=reference, error=exc, payload=dict(payload)
        )
        return {"rejected": True}
    job = config.jobs_by_name.get(run.name)
    with deps.engine.begin() as conn:
        merged = store.merge_run(conn, run)
        events = job_events(conn, config, job, run, merged) if job else []
        # Published before the commit, as for burn-rate alerts: a failure rolls back and retries.
        for event in events:
            publish_alert(deps.publish, event)
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


def record_cron_runs(deps: Deps, payload: Mapping[str, Any], *, args: Sequence[Any] = ()) -> dict[str, Any]:
    """relops.cron_run_batch: each event of ``events`` handled as relops.cron_run handles one, in
    order and in its own transaction. A redelivered batch changes nothing (every merge is
    idempotent); a bad event is rejected and recorded alone, the others still land."""
    try:
        events = listed_items(payload, args, "events", names.MAX_CRON_EVENTS_PER_BATCH, "cron-run events")
    except InputRejected as exc:
        _reject_from_batch(deps, exc, dict(payload))
        return {"rejected": 1, "recorded": 0}
    recorded = rejected = 0
    for event in events:
        if not isinstance(event, Mapping):
            _reject_from_batch(
                deps, InputRejected("events", f"each event must be an object, not {type(event).__name__}"), event
            )
            rejected += 1
            continue
        outcome = record_cron_run(deps, event, task=names.TASK_CRON_RUN_BATCH)
        rejected += bool(outcome.get("rejected"))
        recorded += not outcome.get("rejected")
    return {"recorded": recorded, "rejected": rejected}


def _reject_from_batch(deps: Deps, error: InputRejected, payload: Any) -> None:
    reject_payload(
        deps.engine,
        logger,
        task=names.TASK_CRON_RUN_BATCH,
        event="cron.rejected",
        reference=("job", None),
        error=error,
        payload=payload,
    )


def relops_lag(client: Redis, config: RelopsConfig, now: datetime, backlog: int | None) -> str | None:
    """Why relops cannot tell a missed run from its own delay, or None when it can: its health
    checks stalled (workers or beat were down), or more cron events wait than it can be behind."""
    interval = config.cron.check_interval_s
    try:
        previous = client.getset(redis_keys.cron_heartbeat(), now.timestamp())
    except REDIS_FAULTS:
        previous = None
    if previous is not None and now.timestamp() - float(previous) > 3 * interval:
        return f"no health check for {now.timestamp() - float(previous):.0f} s (workers or beat were down)"
    if backlog is not None and backlog > config.cron.lag_backlog:
        return f"{backlog} cron events are waiting to be processed"
    return None


def deadline_events(
    conn: Connection, config: RelopsConfig, now: datetime, lagging: str | None
) -> tuple[list[AlertEvent], list[str]]:
    """Missed starts and overrunning runs as of ``now``: the alerts they call for, and the jobs
    whose state is unknown because relops itself is lagging."""
    jobs = config.jobs_by_name
    events: list[AlertEvent] = []
    unknown: list[str] = []
    for job in config.jobs:
        store.ensure_job(conn, job.name, start_deadline(job, now))
    for name, deadline in store.due_deadlines(conn, now):
        job = jobs.get(name)
        if job is None:  # no longer in the config: stop watching it
            store.rearm(conn, name, None, "ok")
            continue
        if lagging:
            store.rearm(conn, name, start_deadline(job, now), "unknown")
            unknown.append(name)
            continue
        store.rearm(conn, name, start_deadline(job, now), "missed")
        events.append(missed_alert(job, deadline, now, config.runbook_url(job)))
    if not lagging:  # an end event may be waiting in the backlog; look again next time
        for row in store.due_overruns(conn, now):
            job = jobs.get(row["name"])
            if job is not None:
                events.append(
                    overrun_alert(job, row["running_run_id"], row["running_since"], now, config.runbook_url(job))
                )
    return events, unknown


def check_cron_health(deps: Deps, backlog: int | None) -> dict[str, Any]:
    """Missed starts and overrunning runs of the monitored jobs; ``backlog`` is the number of
    messages waiting on the cron queue (None: unknown)."""
    now = deps.now()
    lagging = relops_lag(deps.redis, deps.config, now, backlog)
    with deps.engine.begin() as conn:
        events, unknown = deadline_events(conn, deps.config, now, lagging)
        for event in events:
            publish_alert(deps.publish, event)
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
