"""Cron health end to end: events from services, failure streaks, missed and overrunning runs."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from sqlalchemy import text

from relops.timeutil import utcnow
from tests.integration.conftest import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("worker", "channel_workers", "clean_tables")]

JOB = "nightly-export"


def run_event(status, run_id=None, at=None, **fields):
    return {
        "name": JOB,
        "run_id": run_id or uuid.uuid4().hex,
        "status": status,
        "at": (at or utcnow()).isoformat(),
        "duration_ms": fields.pop("duration_ms", None if status == "started" else 1200),
        "result": fields.pop("result", None),
        "error": fields.pop("error", None),
        **fields,
    }


def send(producer, payload):
    producer.send_task("relops.cron_run", kwargs=payload, queue="cron")


def executions(db):
    with db.connect() as conn:
        return conn.execute(text("SELECT * FROM ops_cron_executions ORDER BY id")).all()


def incident(db, problem):
    with db.connect() as conn:
        return conn.execute(
            text("SELECT status, occurrences FROM ops_incidents WHERE fingerprint = :f"), {"f": f"cron:{JOB}:{problem}"}
        ).first()


def job_row(db):
    with db.connect() as conn:
        return conn.execute(text("SELECT * FROM ops_cron_jobs WHERE name = :n"), {"n": JOB}).first()


def test_a_failure_streak_alerts_once_and_resolves_on_success(producer, db, webhook_sink):
    send(producer, run_event("failure", error="disk full"))
    wait_for(lambda: len(executions(db)) == 1, what="first failure stored")
    assert incident(db, "failing") is None  # threshold is 2
    send(producer, run_event("failure", error="disk still full"))
    wait_for(lambda: incident(db, "failing") is not None, what="failing incident")
    send(producer, run_event("failure", error="disk full again"))
    wait_for(lambda: incident(db, "failing").occurrences == 2, what="third failure counted on the incident")
    wait_for(lambda: webhook_sink.received >= 1, what="one page")
    send(producer, run_event("success"))
    wait_for(lambda: incident(db, "failing").status == "resolved", what="resolved by the success")
    webhook_sink.wait_for_requests(2, timeout_s=20)
    texts = [r.json["text"] for r in webhook_sink.requests]
    assert len(texts) == 2, texts  # the third failure fell in the dedup window
    assert "failed 2 times in a row" in texts[0] and "RESOLVED" in texts[1]
    assert job_row(db).consecutive_failures == 0


def test_start_and_end_merge_in_any_order_and_redelivery_changes_nothing(producer, db, worker):
    run_id = uuid.uuid4().hex
    started = utcnow() - timedelta(seconds=5)
    end = run_event("success", run_id=run_id, at=started + timedelta(seconds=3), duration_ms=3000, result={"rows": 42})
    send(producer, end)
    send(producer, run_event("started", run_id=run_id, at=started))
    send(producer, end)  # redelivered
    wait_for(lambda: worker.log_text().count(f"run_id={run_id}") == 3, what="all three events processed")
    [row] = executions(db)
    assert (row.status, row.duration_ms, row.result) == ("success", 3000, {"rows": 42})
    assert row.started_at == started
    assert row.finished_at == started + timedelta(seconds=3)
    job = job_row(db)
    assert (job.state, job.running_run_id, job.last_status) == ("ok", None, "success")


def test_a_missed_start_is_detected_and_resolved_by_the_next_start(producer, db, redis_url):
    producer.send_task("relops.check_cron_health", queue="cron")
    wait_for(lambda: job_row(db) is not None, what="job row created from the config")
    with db.begin() as conn:
        conn.execute(text("UPDATE ops_cron_jobs SET next_deadline = now() - interval '1 second'"))
    producer.send_task("relops.check_cron_health", queue="cron")
    wait_for(lambda: incident(db, "missed") is not None, what="missed incident")
    assert job_row(db).state == "missed"
    assert job_row(db).next_deadline > utcnow() + timedelta(minutes=50)  # re-armed for the next period
    send(producer, run_event("started"))
    wait_for(lambda: incident(db, "missed").status == "resolved", what="missed resolved by a start")


def test_the_cron_backlog_is_measured_when_empty_and_when_not(bare_redis_url):
    from celery import Celery

    from tasks.cron import queue_backlog

    app = Celery("backlog", broker=bare_redis_url, set_as_current=False)
    try:
        # The URL again: Celery lets CELERY_BROKER_URL in the environment override broker=.
        with app.connection_for_write(bare_redis_url) as connection:
            assert queue_backlog(connection, "cron") == 0  # Redis has no key for an empty queue
            for _ in range(3):
                app.send_task("relops.cron_run", kwargs={}, queue="cron", connection=connection)
            assert queue_backlog(connection, "cron") == 3
    finally:
        redis.Redis.from_url(bare_redis_url).delete("cron")
        app.close()


def test_relops_lagging_reports_unknown_not_missed(producer, db, redis_url, worker):
    producer.send_task("relops.check_cron_health", queue="cron")
    wait_for(lambda: job_row(db) is not None, what="job row")
    client = redis.Redis.from_url(redis_url)
    client.set("relops:cron:last-check", (utcnow() - timedelta(minutes=10)).timestamp())  # workers were down
    client.close()
    with db.begin() as conn:
        conn.execute(text("UPDATE ops_cron_jobs SET next_deadline = now() - interval '1 second'"))
    producer.send_task("relops.check_cron_health", queue="cron")
    wait_for(lambda: job_row(db).state == "unknown", what="unknown state")
    assert incident(db, "missed") is None
    assert "event=cron.backlog_unknown" not in worker.log_text()  # the backlog was measured, not guessed


def test_an_overrun_is_detected_and_resolved_when_the_run_ends(producer, db):
    run_id = uuid.uuid4().hex
    send(producer, run_event("started", run_id=run_id))
    wait_for(lambda: job_row(db) is not None and job_row(db).running_run_id == run_id, what="running")
    with db.begin() as conn:
        conn.execute(text("UPDATE ops_cron_jobs SET overrun_at = now() - interval '1 second'"))
    producer.send_task("relops.check_cron_health", queue="cron")
    wait_for(lambda: incident(db, "overrun") is not None, what="overrun incident")
    producer.send_task("relops.check_cron_health", queue="cron")  # reported once per run
    send(producer, run_event("success", run_id=run_id))
    wait_for(lambda: incident(db, "overrun").status == "resolved", what="overrun resolved")
    assert incident(db, "overrun").occurrences == 1


def test_bad_cron_events_are_rejected_and_nothing_valid_is_lost(producer, db):
    good = run_event("success")
    for bad in (
        {**run_event("success"), "status": "exploded"},
        {**run_event("success"), "duration_ms": -5},
        {k: v for k, v in run_event("success").items() if k != "name"},
        {**run_event("success"), "result": {"blob": "x" * 20_000}},
        {**run_event("success"), "at": (utcnow() + timedelta(days=1)).isoformat()},
    ):
        send(producer, bad)
    send(producer, good)
    wait_for(lambda: len(executions(db)) == 1, what="the valid event stored")

    def rejected():
        with db.connect() as conn:
            return [
                r[0]
                for r in conn.execute(
                    text("SELECT field FROM ops_rejected_inputs WHERE task = 'relops.cron_run' ORDER BY id")
                )
            ]

    wait_for(lambda: len(rejected()) == 5, what="five rejections")
    assert sorted(rejected()) == sorted(["status", "duration_ms", "name", "result", "at"])


def test_cron_exec_reports_and_keeps_the_exit_code(db, relops_env):
    relops = str(Path(sys.executable).parent / "relops")
    done = subprocess.run(
        [relops, "cron", "exec", JOB, "--", "sh", "-c", "echo working; echo 'boom: no space left' >&2; exit 3"],
        env={**os.environ, **relops_env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 3
    assert "working" in done.stdout and "boom: no space left" in done.stderr
    wait_for(lambda: executions(db) and executions(db)[0].status == "failure", what="failed run stored")
    row = executions(db)[0]
    assert row.result == {"exit_code": 3}
    assert "boom: no space left" in row.error
    ok = subprocess.run([relops, "cron", "exec", JOB, "--", "true"], env={**os.environ, **relops_env}, timeout=60)
    assert ok.returncode == 0
