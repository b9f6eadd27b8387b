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
from relops.application import cron_health
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


def _cron_state(db) -> tuple[list, list]:
    with db.connect() as conn:
        jobs = conn.execute(
            text(
                "SELECT name, state, running_run_id, running_since, overrun_at, last_run_id, last_status, "
                "last_finished_at, consecutive_failures, next_deadline FROM ops_cron_jobs ORDER BY name"
            )
        ).all()
        runs = conn.execute(
            text(
                "SELECT name, run_id, status, started_at, finished_at, duration_ms, result, error "
                "FROM ops_cron_executions ORDER BY name, run_id"
            )
        ).all()
    return jobs, runs


def _forget_runs(db) -> None:
    with db.begin() as conn:
        conn.execute(text("TRUNCATE ops_cron_executions, ops_cron_jobs"))


def test_a_batch_leaves_the_state_and_sends_the_alerts_its_events_would_one_by_one(inproc, db):
    report(inproc, **cron_run_event("failure", error="disk full"))
    report(inproc, **cron_run_event("failure", error="disk full"))
    assert problem_status(db, "failing") == "open"
    _forget_runs(db)  # the open incident stays: a success in the batch must resolve it
    at = utcnow() - timedelta(minutes=30)
    ids = [uuid.uuid4().hex for _ in range(6)]
    events = [
        cron_run_event("started", run_id=ids[0], at=at),
        cron_run_event("failure", run_id=ids[0], at=at + timedelta(seconds=5), error="first"),
        cron_run_event("failure", run_id=ids[1], at=at + timedelta(seconds=10), error="second"),
        cron_run_event("failure", run_id=ids[2], at=at + timedelta(seconds=15), error=None),
        cron_run_event("success", run_id=ids[3], at=at + timedelta(seconds=20)),
        cron_run_event("success", run_id=ids[4], at=at + timedelta(seconds=30), duration_ms=4000),
        cron_run_event("started", run_id=ids[4], at=at + timedelta(seconds=26)),  # its end came first
        cron_run_event("started", run_id=ids[5], at=at + timedelta(seconds=40)),
        {**cron_run_event("success"), "name": "not-monitored"},
    ]
    inproc.publisher.take()

    for event in events:
        cron_health.record_cron_run(inproc.deps, event)
    one_by_one = [(s.task, s.kwargs) for s in inproc.publisher.take()]
    state_one_by_one = _cron_state(db)
    _forget_runs(db)
    outcome = cron_health.record_cron_runs(inproc.deps, {"events": events})
    batched = [(s.task, s.kwargs) for s in inproc.publisher.take()]

    assert outcome == {"recorded": len(events), "rejected": 0, "alerts": len(batched)}
    assert _cron_state(db) == state_one_by_one
    assert batched == one_by_one
    fingerprints = [kwargs["fingerprint"] for _, kwargs in batched]
    assert fingerprints.count(f"cron:{JOB}:failing") == 4  # two failing alerts, then resolutions of it
    assert state_one_by_one[0][0].running_run_id == ids[5]


def test_an_event_the_database_refuses_is_rejected_alone_and_the_rest_of_its_batch_lands(inproc, db):
    # A constraint an operator added, say: the batch's transaction fails, then each event gets its own.
    with db.begin() as conn:
        conn.execute(
            text("ALTER TABLE ops_cron_executions ADD CONSTRAINT no_refused CHECK (run_id <> 'refused-by-db')")
        )
    try:
        events = [
            cron_run_event("success"),
            cron_run_event("success", run_id="refused-by-db"),
            cron_run_event("success"),
        ]
        outcome = cron_health.record_cron_runs(inproc.deps, {"events": events})
        assert outcome["recorded"] == 2 and outcome["rejected"] == 1
        assert rejected_fields(db, names.TASK_CRON_RUN_BATCH) == ["event"]
        with db.connect() as conn:
            landed = conn.execute(text("SELECT run_id FROM ops_cron_executions ORDER BY run_id")).scalars().all()
        assert sorted(landed) == sorted([events[0]["run_id"], events[2]["run_id"]])
        assert cron_health.record_cron_run(inproc.deps, events[1]) == {"rejected": True}
        assert rejected_fields(db, names.TASK_CRON_RUN) == ["event"]
    finally:
        with db.begin() as conn:
            conn.execute(text("ALTER TABLE ops_cron_executions DROP CONSTRAINT no_refused"))
