"""Worker processes killed with SIGKILL in the middle of a task: every message is redelivered and
processed once in effect (late acks, requeue on worker loss, idempotent keys), with exact accounting.

Each task is caught provably mid-flight: the test holds a lock on the table the task writes, waits
until PostgreSQL reports the task's statement waiting on it, kills, and only then lets go.
"""

from __future__ import annotations

import os
import signal
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
import redis
from celery import Celery
from sqlalchemy import Engine, text

from relops.devtools.celery_process import CeleryProcess, start_worker
from relops.devtools.scratch import claimed_redis_db
from relops.devtools.sink import SinkResponse
from relops.timeutil import evaluation_end, floor_minute, iso_minute, utcnow
from tests.conftest import BASE_REDIS_URL, RUN_ID
from tests.integration.conftest import alert_event, wait_for
from tests.integration.queries import scalar

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("clean_tables")]


def pool_children(pid: int) -> list[int]:
    done = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, timeout=10)
    return [int(p) for p in done.stdout.split()]


def kill_pool(worker: CeleryProcess) -> None:
    children = pool_children(worker.pid)
    assert children, "the worker has no pool processes"
    for child in children:
        os.kill(child, signal.SIGKILL)


def blocked_on(db: Engine, table: str) -> int:
    with db.connect() as conn:
        return conn.execute(
            text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query ILIKE :q"),
            {"q": f"%{table}%"},
        ).scalar()


@contextmanager
def writes_held(db: Engine, table: str) -> Iterator[None]:
    """Reads of ``table`` go on; any write waits until the block ends (the transaction rolls back)."""
    with db.connect() as conn:
        transaction = conn.begin()
        conn.execute(text(f"LOCK TABLE {table} IN EXCLUSIVE MODE"))
        try:
            yield
        finally:
            transaction.rollback()


def lost_processes(worker: CeleryProcess) -> int:
    return worker.log_text().count("WorkerLostError")


def kill_mid_write(db: Engine, worker: CeleryProcess, table: str, send) -> None:
    """Send a task, wait until it is blocked writing ``table``, SIGKILL the pool, then release."""
    lost_before = lost_processes(worker)
    with writes_held(db, table):
        send()
        wait_for(lambda: blocked_on(db, table), what=f"the task blocked writing {table}")
        kill_pool(worker)
    wait_for(lambda: lost_processes(worker) > lost_before, what="the worker logging its lost task")


def minute_ago(minutes: int) -> str:
    return iso_minute(floor_minute(utcnow()) - timedelta(minutes=minutes))


def ingest(producer: Celery, batch_id: str, counts: list[dict]) -> None:
    producer.send_task("relops.record_flow_outcomes", queue="ingest", kwargs={"batch_id": batch_id, "counts": counts})


def delivered_once_per_channel(db: Engine, webhook_sink, email_sink) -> None:
    """Exactly one notification per channel, delivered, and each receiver got exactly one request."""

    def delivered() -> bool:
        with db.connect() as conn:
            rows = conn.execute(text("SELECT channel, delivered_at FROM ops_notifications")).all()
        return len(rows) == 2 and all(r.delivered_at for r in rows)

    wait_for(delivered, timeout_s=60, what="one notification per channel delivered")
    assert scalar(db, "SELECT string_agg(channel, ',' ORDER BY channel) FROM ops_notifications") == "email,webhook"
    assert (webhook_sink.received, email_sink.received) == (1, 1)


def test_an_ingest_killed_mid_task_is_redelivered_and_counted_once(worker, producer, db):
    batch_id = uuid.uuid4().hex
    counts = [{"flow": "login", "minute": minute_ago(1), "good": 40, "bad": 2}]
    kill_mid_write(db, worker, "ops_ingested_batches", lambda: ingest(producer, batch_id, counts))

    def counted():
        with db.connect() as conn:
            return conn.execute(text("SELECT good, bad FROM ops_flow_minutes WHERE flow = 'login'")).first()

    wait_for(lambda: counted() is not None, timeout_s=60, what="the redelivered batch counted")
    assert tuple(counted()) == (40, 2)
    assert scalar(db, "SELECT good + bad FROM ops_flow_hours WHERE flow = 'login'") == 42
    assert scalar(db, "SELECT accepted FROM ops_ingested_batches WHERE batch_id = :b", b=batch_id) == 1
    assert worker.alive()


@pytest.mark.usefixtures("channel_workers")
def test_an_evaluation_killed_mid_chunk_saves_one_snapshot_and_pages_once(
    worker, producer, db, webhook_sink, email_sink
):
    batch_id = uuid.uuid4().hex
    ingest(producer, batch_id, [{"flow": "checkout", "minute": minute_ago(m), "good": 98, "bad": 2} for m in range(10)])
    wait_for(lambda: scalar(db, "SELECT count(*) FROM ops_ingested_batches") == 1, what="the breach ingested")
    as_of = evaluation_end(utcnow()).isoformat()
    kill_mid_write(
        db,
        worker,
        "ops_burn_rate_snapshots",
        lambda: producer.send_task(
            "relops.evaluate_flows", queue="evaluate", kwargs={"as_of": as_of, "flows": ["checkout", "login"]}
        ),
    )
    wait_for(lambda: scalar(db, "SELECT count(*) FROM ops_burn_rate_snapshots"), timeout_s=60, what="the snapshot")
    delivered_once_per_channel(db, webhook_sink, email_sink)
    assert scalar(db, "SELECT count(*) FROM ops_burn_rate_snapshots") == 1
    assert scalar(db, "SELECT severity FROM ops_burn_rate_snapshots WHERE flow = 'checkout'") == "critical"
    assert scalar(db, "SELECT count(*) FROM ops_alert_events") == 1
    assert scalar(db, "SELECT occurrences FROM ops_incidents WHERE fingerprint = 'slo:checkout'") == 1


@pytest.mark.usefixtures("channel_workers")
def test_a_cron_event_killed_mid_task_is_stored_once_and_pages_once(worker, producer, db, webhook_sink, email_sink):
    def failure() -> dict:
        return {"name": "nightly-export", "run_id": uuid.uuid4().hex, "status": "failure", "at": utcnow().isoformat()}

    producer.send_task("relops.cron_run", queue="cron", kwargs=failure())
    wait_for(lambda: scalar(db, "SELECT count(*) FROM ops_cron_executions") == 1, what="the first failure stored")
    # The second failure completes the streak of 2: it owes exactly one page.
    second = failure()
    kill_mid_write(
        db, worker, "ops_cron_executions", lambda: producer.send_task("relops.cron_run", queue="cron", kwargs=second)
    )
    wait_for(lambda: scalar(db, "SELECT count(*) FROM ops_cron_executions") == 2, timeout_s=60, what="redelivered")
    delivered_once_per_channel(db, webhook_sink, email_sink)
    assert scalar(db, "SELECT count(*) FROM ops_cron_executions WHERE run_id = :r", r=second["run_id"]) == 1
    assert scalar(db, "SELECT consecutive_failures FROM ops_cron_jobs WHERE name = 'nightly-export'") == 2
    assert scalar(db, "SELECT occurrences FROM ops_incidents WHERE fingerprint = 'cron:nightly-export:failing'") == 1


@pytest.mark.usefixtures("channel_workers")
def test_an_alert_killed_after_its_dedup_claim_still_pages_exactly_once(worker, producer, db, webhook_sink, email_sink):
    # The outbox insert comes after the Redis dedup claim: the redelivery must re-claim its own
    # window (same task id), or the alert would be lost as a "duplicate" of itself.
    kill_mid_write(
        db,
        worker,
        "ops_notifications",
        lambda: producer.send_task("relops.dispatch_alert", queue="alerts", kwargs=alert_event("login")),
    )
    delivered_once_per_channel(db, webhook_sink, email_sink)
    assert scalar(db, "SELECT count(*) FROM ops_alert_events") == 1
    assert scalar(db, "SELECT occurrences FROM ops_incidents WHERE fingerprint = 'slo:login'") == 1


def test_an_email_killed_mid_send_is_resent_with_the_same_idempotency_key(
    channel_workers, producer, db, webhook_sink, email_sink
):
    email_worker = channel_workers[1]
    retries_before = email_worker.log_text().count("event=notify.retry")
    lost_before = lost_processes(email_worker)
    email_sink.respond_with(SinkResponse(hang=True))  # the first send is in flight when its process dies
    producer.send_task("relops.dispatch_alert", queue="alerts", kwargs=alert_event("signup"))
    email_sink.wait_for_requests(1, timeout_s=30)
    kill_pool(email_worker)
    wait_for(lambda: lost_processes(email_worker) > lost_before, what="the worker logging its lost task")
    wait_for(lambda: email_sink.received >= 2, timeout_s=60, what="the email sent again after the kill")
    wait_for(
        lambda: scalar(db, "SELECT count(*) FROM ops_notifications WHERE delivered_at IS NOT NULL") == 2,
        timeout_s=60,
        what="both channels delivered",
    )
    first, second = email_sink.requests[:2]
    # Resend keeps one email per Idempotency-Key: the provider delivers it once.
    assert first.header("Idempotency-Key") == second.header("Idempotency-Key") is not None
    assert first.json == second.json
    assert (email_sink.received, webhook_sink.received) == (2, 1)
    assert scalar(db, "SELECT count(*) FROM ops_dead_letters") == 0
    # Resent because of the kill, not because the hung send timed out and retried.
    assert email_worker.log_text().count("event=notify.retry") == retries_before


def test_a_whole_worker_killed_mid_task_hands_its_message_to_another_worker(relops_env, db, output_dir):
    """The main process dies too, so nobody requeues the message: Redis keeps it in the unacked
    set, and a live worker restores it once the visibility timeout has passed."""
    with claimed_redis_db(BASE_REDIS_URL, f"test-{RUN_ID}-whole-kill") as broker:
        env = {**relops_env, "REDIS_URL": broker, "CELERY_BROKER_URL": broker}
        first = start_worker(env, output_dir / f"whole-kill-a-{RUN_ID}.log", f"whole-kill-a-{RUN_ID}", "ingest", 1)
        producer = Celery("whole-kill-producer", broker=broker, set_as_current=False)
        second = None
        try:
            batch_id = uuid.uuid4().hex
            counts = [{"flow": "search", "minute": minute_ago(1), "good": 7, "bad": 3}]

            def send() -> None:
                with producer.connection_for_write(broker) as connection:
                    producer.send_task(
                        "relops.record_flow_outcomes",
                        queue="ingest",
                        connection=connection,
                        kwargs={"batch_id": batch_id, "counts": counts},
                    )

            with writes_held(db, "ops_ingested_batches"):
                send()
                wait_for(lambda: blocked_on(db, "ops_ingested_batches"), what="the task blocked mid-transaction")
                os.killpg(first.pid, signal.SIGKILL)
                wait_for(lambda: not first.alive(), what="the whole worker gone")
            client = redis.Redis.from_url(broker)
            assert client.zcard("unacked_index") == 1, "the message is held unacked by the dead worker"
            # The 900 s visibility timeout is real; age the delivery record instead of waiting it out.
            for tag, delivered_at in client.zrange("unacked_index", 0, -1, withscores=True):
                client.zadd("unacked_index", {tag: delivered_at - 3600})
            client.close()
            second = start_worker(env, output_dir / f"whole-kill-b-{RUN_ID}.log", f"whole-kill-b-{RUN_ID}", "ingest", 1)
            wait_for(
                lambda: scalar(db, "SELECT count(*) FROM ops_ingested_batches WHERE batch_id = :b", b=batch_id),
                timeout_s=60,
                what="the message restored and processed by the other worker",
            )
            assert scalar(db, "SELECT good FROM ops_flow_minutes WHERE flow = 'search'") == 7
            assert scalar(db, "SELECT bad FROM ops_flow_minutes WHERE flow = 'search'") == 3
        finally:
            producer.close()
            first.stop()
            if second is not None:
                second.stop()
