"""relops.cron_run's and relops.check_cron_health's logic: a monitored job's health from its runs,
its deadlines and relops' own lag.

``job_events``, ``apply_runs`` and ``deadline_events`` are the rules, run inside the caller's
transaction; ``record_cron_run``, ``record_cron_runs`` and ``check_cron_health`` are the whole tasks.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from redis import Redis
from relops_client.logs import log_event
from relops_client.redis_scripts import REDIS_FAULTS
from sqlalchemy import Connection
from sqlalchemy.exc import DataError, IntegrityError

from relops import names, redis_keys
from relops.alerting.events import AlertEvent, publish_alert
from relops.application.deps import Deps
from relops.application.rejections import reject_payload
from relops.config import JobConfig, RelopsConfig
from relops.cron.events import CronRun, parse_cron_run
from relops.cron.job_alerts import cron_fingerprint, cron_resolved, failing_alert, missed_alert, overrun_alert
from relops.cron.schedule import overrun_deadline, start_deadline
from relops.errors import InputRejected, listed_items
from relops.store import cron as store
from relops.store.incidents import open_fingerprints

logger = logging.getLogger(__name__)
#: What the database answers about one event's values (not about itself): that event is rejected.
DATABASE_REFUSALS = (DataError, IntegrityError)


def job_events(
    conn: Connection, config: RelopsConfig, job: JobConfig, run: CronRun, merged: store.MergedRun
) -> tuple[list[AlertEvent], dict[str, str]]:
    """Update the job's state for this event: the alerts it calls for, and the problems it clears
    (problem -> why), whose incidents are resolved if open."""
    runbook = config.runbook_url(job)
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
        errors = store.failure_streak_errors(conn, job.name)
        streak = len(errors)
        failing = streak >= job.failure_threshold
        store.job_finished(conn, job.name, run, streak, failing, start_deadline(job, run.at))
        if failing:
            events.append(failing_alert(job, streak, [e for e in errors if e], run.at, runbook))
        elif streak == 0:
            clears["failing"] = f"{job.name} succeeded at {run.at.isoformat()}."
        clears["overrun"] = f"{job.name} run {run.run_id} finished at {run.at.isoformat()}."
        clears.setdefault("missed", f"{job.name} ran at {run.at.isoformat()}.")
    return events, clears


def apply_runs(conn: Connection, config: RelopsConfig, runs: Sequence[CronRun]) -> list[AlertEvent]:
    """Merge each run and update its job's health, in order, inside the caller's transaction: the
    same state and alerts as one transaction per event, with one look at the open incidents for
    all of them (nothing here opens or resolves one, so it cannot change in between)."""
    ensured: set[str] = set()
    steps: list[tuple[JobConfig, CronRun, list[AlertEvent], dict[str, str]]] = []
    for run in runs:
        job = config.jobs_by_name.get(run.name)
        if job is not None and job.name not in ensured:
            store.ensure_job(conn, job.name, start_deadline(job, run.at))
            ensured.add(job.name)
        merged = store.merge_run(conn, run)
        if job is not None:
            steps.append((job, run, *job_events(conn, config, job, run, merged)))
    wanted = {cron_fingerprint(job.name, problem) for job, _, _, clears in steps for problem in clears}
    open_now = open_fingerprints(conn, sorted(wanted)) if wanted else set()
    events: list[AlertEvent] = []
    for job, run, alerts, clears in steps:
        events.extend(alerts)
        for problem in sorted(clears, key=lambda p: cron_fingerprint(job.name, p)):
            if cron_fingerprint(job.name, problem) in open_now:
                events.append(cron_resolved(job, problem, run.at, config.runbook_url(job), clears[problem]))
    return events


def record_cron_run(
    deps: Deps, payload: Mapping[str, Any], *, args: Sequence[Any] = (), task: str = names.TASK_CRON_RUN
) -> dict[str, Any]:
    """relops.cron_run: persist one cron-run event (start and end merge per run) and update the
    job's health; a rejection is recorded under ``task``, the task the event came with."""
    if args:
        positional = InputRejected("args", "cron-run events are sent as kwargs, not positional arguments")
        _reject(deps, task, positional, dict(payload))
        return {"rejected": True}
    run = _parse(deps, payload, task)
    if run is None:
        return {"rejected": True}
    events, refused = _apply_one_by_one(deps, [run], task)
    _log_run(run, deps.config, len(events))
    return {"rejected": True} if refused else {"alerts": len(events)}


def record_cron_runs(deps: Deps, payload: Mapping[str, Any], *, args: Sequence[Any] = ()) -> dict[str, Any]:
    """relops.cron_run_batch: each event of ``events`` handled as relops.cron_run handles one, in
    order, all in one transaction. A redelivered batch changes nothing (every merge is idempotent).
    A bad event is rejected and recorded alone, the others still land; so is an event the database
    refuses: the batch is then applied again one event per transaction."""
    task = names.TASK_CRON_RUN_BATCH
    try:
        items = listed_items(payload, args, "events", names.MAX_CRON_EVENTS_PER_BATCH, "cron-run events")
    except InputRejected as exc:
        _reject(deps, task, exc, dict(payload))
        return {"rejected": 1, "recorded": 0}
    runs: list[CronRun] = []
    for item in items:
        if not isinstance(item, Mapping):
            not_object = InputRejected("events", f"each event must be an object, not {type(item).__name__}")
            _reject(deps, task, not_object, item)
            continue
        run = _parse(deps, item, task)
        if run is not None:
            runs.append(run)
    try:
        with deps.engine.begin() as conn:
            events = _apply_and_publish(deps, conn, runs)
    except DATABASE_REFUSALS as exc:
        log_event(logger, logging.WARNING, "cron.batch_refused", events=len(runs), error=type(exc.orig).__name__)
        events, refused = _apply_one_by_one(deps, runs, task)
        runs = [run for run in runs if not any(run is r for r in refused)]
    for run in runs:
        _log_run(run, deps.config, None)
    return {"recorded": len(runs), "rejected": len(items) - len(runs), "alerts": len(events)}


def _apply_and_publish(deps: Deps, conn: Connection, runs: Sequence[CronRun]) -> list[AlertEvent]:
    events = apply_runs(conn, deps.config, runs)
    # Published before the commit, as for burn-rate alerts: a failure rolls back and retries, and
    # relops.dispatch_alert reads no cron row this transaction writes, so it cannot run ahead of it.
    for event in events:
        publish_alert(deps.publish, event)
    return events


def _apply_one_by_one(deps: Deps, runs: Sequence[CronRun], task: str) -> tuple[list[AlertEvent], list[CronRun]]:
    """Each run in its own transaction; one the database refuses is rejected alone. Returns the
    alerts published and the runs refused."""
    events: list[AlertEvent] = []
    refused: list[CronRun] = []
    for run in runs:
        try:
            with deps.engine.begin() as conn:
                events += _apply_and_publish(deps, conn, [run])
        except DATABASE_REFUSALS as exc:
            refused.append(run)
            refusal = InputRejected("event", f"the database refused it ({type(exc.orig).__name__})")
            _reject(deps, task, refusal, {"name": run.name, "run_id": run.run_id, "status": run.status})
    return events, refused


def _parse(deps: Deps, payload: Mapping[str, Any], task: str) -> CronRun | None:
    try:
        return parse_cron_run(payload, now=deps.now(), result_max_bytes=deps.config.cron.result_max_bytes)
    except InputRejected as exc:
        _reject(deps, task, exc, dict(payload))
        return None


def _log_run(run: CronRun, config: RelopsConfig, alerts: int | None) -> None:
    log_event(
        logger,
        logging.INFO if run.status != "failure" else logging.WARNING,
        "cron.run",
        job=run.name,
        run_id=run.run_id,
        status=run.status,
        monitored=run.name in config.jobs_by_name,
        **({} if alerts is None else {"alerts": alerts}),
    )


def _reject(deps: Deps, task: str, error: InputRejected, payload: Any) -> None:
    name = payload.get("name") if isinstance(payload, Mapping) else None
    reject_payload(
        deps.engine, logger, task=task, event="cron.rejected", reference=("job", name), error=error, payload=payload
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
