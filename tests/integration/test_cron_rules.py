"""Cron health's rules, run in this process against the real PostgreSQL and Redis: failure streaks,
runs merged from events in any order, missed and overrunning runs, relops' own lag, bad events.

test_cron_health.py keeps what needs processes: events through a real worker, the broker's
backlog, and ``relops cron exec`` running a command.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import text

from relops import names, redis_keys
from relops.timeutil import utcnow
from tests.integration.conftest import CRON_JOB, cron_run_event
from tests.integration.inprocess import InProcessWorker
from tests.integration.queries import incident_status, rejected_fields

pytestmark = pytest.mark.integration

JOB = CRON_JOB


def report(inproc: InProcessWorker, **event) -> None:
    inproc.send(names.TASK_CRON_RUN, **event)
    inproc.settle()


def check(inproc: InProcessWorker) -> None:
    inproc.send(names.TASK_CHECK_CRON_HEALTH)
    inproc.settle()


def job_row(db):
    with db.connect() as conn:
        return conn.execute(text("SELECT * FROM ops_cron_jobs WHERE name = :n"), {"n": JOB}).first()


def problem_status(db, problem: str) -> str | None:
    return incident_status(db, f"cron:{JOB}:{problem}")


def test_a_failure_streak_alerts_once_it_reaches_the_threshold_and_resolves_on_success(inproc, db, webhook_sink):
    report(inproc, **cron_run_event("failure", error="disk full"))
    assert problem_status(db, "failing") is None  # threshold 2
    report(inproc, **cron_run_event("failure", error="disk still full"))
    assert problem_status(db, "failing") == "open"
    report(inproc, **cron_run_event("failure", error="disk full again"))  # in the dedup window: counted only
    assert job_row(db).consecutive_failures == 3
    report(inproc, **cron_run_event("success"))
    assert problem_status(db, "failing") == "resolved"
    texts = [r.json["text"] for r in webhook_sink.requests]
    assert texts == [
        "🔴 CRITICAL: nightly-export failed 2 times in a row",
        "✅ RESOLVED: nightly-export is no longer failing",
    ]
    assert "Last error: disk still full" in str(webhook_sink.requests[0].json["blocks"])
    assert (job_row(db).state, job_row(db).consecutive_failures) == ("ok", 0)


def test_start_and_end_merge_in_any_order_and_a_redelivery_changes_nothing(inproc, db):
    run_id = uuid.uuid4().hex
    started = utcnow() - timedelta(seconds=5)
    end = cron_run_event(
        "success", run_id=run_id, at=started + timedelta(seconds=3), duration_ms=3000, result={"rows": 42}
    )
    report(inproc, **end)
    report(inproc, **cron_run_event("started", run_id=run_id, at=started))  # its result is null
    with db.connect() as conn:
        kept = conn.execute(text("SELECT result FROM ops_cron_executions")).scalar_one()
    assert kept == {"rows": 42}, "a start arriving after its end leaves the end's result"
    report(inproc, **end)  # redelivered
    with db.connect() as conn:
        [row] = conn.execute(text("SELECT * FROM ops_cron_executions")).all()
    assert (row.status, row.duration_ms, row.result) == ("success", 3000, {"rows": 42})
    assert (row.started_at, row.finished_at) == (started, started + timedelta(seconds=3))
    job = job_row(db)
    assert (job.state, job.running_run_id, job.last_status) == ("ok", None, "success")


def test_a_missed_start_alerts_with_its_deadline_and_the_next_start_resolves_it(inproc, db, webhook_sink):
    check(inproc)
    deadline = utcnow().replace(microsecond=0) - timedelta(minutes=3)
    with db.begin() as conn:
        conn.execute(text("UPDATE ops_cron_jobs SET next_deadline = :d"), {"d": deadline})
    check(inproc)
    assert problem_status(db, "missed") == "open"
    assert job_row(db).state == "missed"
    assert job_row(db).next_deadline > utcnow() + timedelta(minutes=50)  # re-armed for the next period
    with db.connect() as conn:
        details = conn.execute(text("SELECT details FROM ops_alert_events WHERE severity = 'critical'")).scalar()
    assert details["deadline"] == deadline.isoformat()  # the deadline that passed, not the time of the check
    assert f"should have started by {deadline.isoformat()}" in str(webhook_sink.requests[0].json)
    report(inproc, **cron_run_event("started"))
    assert problem_status(db, "missed") == "resolved"


def test_relops_lagging_reports_unknown_not_missed(inproc, db):
    check(inproc)
    inproc.redis.set(redis_keys.cron_heartbeat(), (utcnow() - timedelta(minutes=10)).timestamp())  # workers were down
    with db.begin() as conn:
        conn.execute(text("UPDATE ops_cron_jobs SET next_deadline = now() - interval '1 second'"))
    check(inproc)
    assert job_row(db).state == "unknown"
    assert problem_status(db, "missed") is None


def test_an_overrun_alerts_once_per_run_and_its_end_resolves_it(inproc, db):
    run_id = uuid.uuid4().hex
    report(inproc, **cron_run_event("started", run_id=run_id))
    assert job_row(db).running_run_id == run_id
    with db.begin() as conn:
        conn.execute(text("UPDATE ops_cron_jobs SET overrun_at = now() - interval '1 second'"))
    check(inproc)
    check(inproc)  # reported once per run
    assert problem_status(db, "overrun") == "open"
    report(inproc, **cron_run_event("success", run_id=run_id))
    assert problem_status(db, "overrun") == "resolved"
    with db.connect() as conn:
        assert (
            conn.execute(text("SELECT occurrences FROM ops_incidents WHERE fingerprint LIKE '%overrun'")).scalar() == 1
        )


def test_bad_cron_events_are_rejected_with_their_field_and_nothing_valid_is_lost(inproc, db):
    bad_events = {
        "status": {**cron_run_event("success"), "status": "exploded"},
        "duration_ms": {**cron_run_event("success"), "duration_ms": -5},
        "name": {k: v for k, v in cron_run_event("success").items() if k != "name"},
        "result": {**cron_run_event("success"), "result": {"blob": "x" * 20_000}},
        "at": {**cron_run_event("success"), "at": (utcnow() + timedelta(days=1)).isoformat()},
    }
    for event in bad_events.values():
        report(inproc, **event)
    report(inproc, **cron_run_event("success"))
    assert rejected_fields(db, names.TASK_CRON_RUN) == list(bad_events)
    with db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM ops_cron_executions")).scalar() == 1


def test_a_batch_of_events_lands_event_by_event_and_a_bad_one_is_rejected_alone(inproc, db):
    run_id = uuid.uuid4().hex
    events = [
        cron_run_event("started", run_id=run_id),
        "not an event",
        {**cron_run_event("success"), "status": "done"},
        cron_run_event("success", run_id=run_id),
    ]
    inproc.send(names.TASK_CRON_RUN_BATCH, events=events)
    inproc.settle()
    inproc.send(names.TASK_CRON_RUN_BATCH, events=events)  # redelivered: changes nothing
    inproc.settle()
    with db.connect() as conn:
        runs = conn.execute(text("SELECT run_id, status, started_at FROM ops_cron_executions")).all()
    assert [(r.run_id, r.status) for r in runs] == [(run_id, "success")] and runs[0].started_at is not None
    assert rejected_fields(db, names.TASK_CRON_RUN_BATCH) == ["events", "status"] * 2
    inproc.send(names.TASK_CRON_RUN_BATCH, events={"name": JOB})
    inproc.send(names.TASK_CRON_RUN_BATCH, events=[], extra=1)
    inproc.settle()
    assert rejected_fields(db, names.TASK_CRON_RUN_BATCH)[4:] == ["events", "extra"]
