"""Cron health through real processes: events through a worker, relops' lag seen by the worker, the
broker's backlog, and ``relops cron exec`` running a command. The rules (streaks, missed and
overrunning runs, bad events) are proven in process by test_cron_rules.py."""

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
from tests.integration.conftest import CRON_JOB, cron_run_event, wait_for
from tests.integration.queries import incident_status

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("worker", "channel_workers", "clean_tables")]

JOB = CRON_JOB


def send(producer, payload):
    producer.send_task("relops.cron_run", kwargs=payload, queue="cron")


def executions(db):
    with db.connect() as conn:
        return conn.execute(text("SELECT * FROM ops_cron_executions ORDER BY id")).all()


def job_row(db):
    with db.connect() as conn:
        return conn.execute(text("SELECT * FROM ops_cron_jobs WHERE name = :n"), {"n": JOB}).first()


def test_start_and_end_merge_in_any_order_and_redelivery_changes_nothing(producer, db, worker):
    run_id = uuid.uuid4().hex
    started = utcnow() - timedelta(seconds=5)
    end = cron_run_event(
        "success", run_id=run_id, at=started + timedelta(seconds=3), duration_ms=3000, result={"rows": 42}
    )
    send(producer, end)
    send(producer, cron_run_event("started", run_id=run_id, at=started))
    send(producer, end)  # redelivered
    wait_for(lambda: worker.log_text().count(f"run_id={run_id}") == 3, what="all three events processed")
    [row] = executions(db)
    assert (row.status, row.duration_ms, row.result) == ("success", 3000, {"rows": 42})
    assert row.started_at == started
    assert row.finished_at == started + timedelta(seconds=3)
    job = job_row(db)
    assert (job.state, job.running_run_id, job.last_status) == ("ok", None, "success")


def test_the_cron_backlog_is_measured_when_empty_and_when_not(bare_redis_url):
    from celery import Celery

    from relops.broker import queue_backlog

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
    assert incident_status(db, f"cron:{JOB}:missed") is None
    assert "event=cron.backlog_unknown" not in worker.log_text()  # the backlog was measured, not guessed


def test_cron_exec_reports_and_keeps_the_exit_code(db, relops_env, worker, clean_tables):
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
