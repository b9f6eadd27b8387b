"""A worker process killed with SIGKILL in the middle of a task: the message is redelivered and
processed once in effect (late acks, requeue on worker loss, idempotent batch ids)."""

from __future__ import annotations

import os
import signal
import subprocess
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import text

from relops.timeutil import floor_minute, iso_minute, utcnow
from tests.integration.conftest import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("clean_tables")]


def pool_children(pid: int) -> list[int]:
    done = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, timeout=10)
    return [int(p) for p in done.stdout.split()]


def test_an_ingest_killed_mid_task_is_redelivered_and_counted_once(worker, producer, db):
    batch_id = uuid.uuid4().hex
    minute = iso_minute(floor_minute(utcnow()) - timedelta(minutes=1))
    with db.connect() as blocker:
        # Hold the batch id's unique-index entry in an open transaction: the worker's insert of the
        # same id waits on it, so the task is provably mid-flight when its process is killed.
        transaction = blocker.begin()
        blocker.execute(
            text("INSERT INTO ops_ingested_batches (batch_id, accepted, rejected) VALUES (:b, 0, 0)"), {"b": batch_id}
        )
        producer.send_task(
            "relops.record_flow_outcomes",
            queue="ingest",
            kwargs={"batch_id": batch_id, "counts": [{"flow": "login", "minute": minute, "good": 40, "bad": 2}]},
        )

        def waiting_on_lock():
            with db.connect() as conn:
                return conn.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                        "AND query LIKE 'INSERT INTO ops_ingested_batches%'"
                    )
                ).scalar()

        wait_for(waiting_on_lock, what="the ingest task blocked mid-transaction")
        children = pool_children(worker.pid)
        assert children, "the worker has no pool processes"
        for child in children:
            os.kill(child, signal.SIGKILL)
        transaction.rollback()

    def counted():
        with db.connect() as conn:
            return conn.execute(text("SELECT good, bad FROM ops_flow_minutes WHERE flow = 'login'")).first()

    wait_for(lambda: counted() is not None, timeout_s=60, what="the redelivered batch counted")
    assert tuple(counted()) == (40, 2)
    with db.connect() as conn:
        assert (
            conn.execute(
                text("SELECT accepted FROM ops_ingested_batches WHERE batch_id = :b"), {"b": batch_id}
            ).scalar()
            == 1
        )
    assert worker.alive()
    wait_for(
        lambda: "SIGKILL" in worker.log_text() or "WorkerLostError" in worker.log_text(), what="the lost process logged"
    )
