"""Worker processes killed with SIGKILL in the middle of a task: every message is redelivered and
processed once in effect (late acks, requeue on worker loss, idempotent keys), with exact accounting,
on Redis and on RabbitMQ (each test takes conftest.broker).

Each task is caught provably mid-flight: the test holds a lock on the table the task writes, waits
until PostgreSQL reports the task's statement waiting on it, kills, and only then lets go.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
import redis
from sqlalchemy import Engine, text

from relops.localdev.sink import SinkResponse
from relops.timeutil import evaluation_end, floor_minute, iso_minute, utcnow
from tests.conftest import RUN_ID
from tests.integration.conftest import BrokerProducer, alert_event, private_broker, wait_for
from tests.integration.queries import scalar
from tests.support.celery_process import CeleryProcess, start_worker

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


def ingest(producer: Any, batch_id: str, counts: list[dict]) -> None:
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


def test_an_ingest_killed_mid_task_is_redelivered_and_counted_once(broker_worker, broker_producer, db):
    batch_id = uuid.uuid4().hex
    counts = [{"flow": "login", "minute": minute_ago(1), "good": 40, "bad": 2}]
    kill_mid_write(db, broker_worker, "ops_ingested_batches", lambda: ingest(broker_producer, batch_id, counts))

    def counted():
        with db.connect() as conn:
            return conn.execute(text("SELECT good, bad FROM ops_flow_minutes WHERE flow = 'login'")).first()

    wait_for(lambda: counted() is not None, timeout_s=60, what="the redelivered batch counted")
    assert tuple(counted()) == (40, 2)
    assert scalar(db, "SELECT good + bad FROM ops_flow_hours WHERE flow = 'login'") == 42
    assert scalar(db, "SELECT accepted FROM ops_ingested_batches WHERE batch_id = :b", b=batch_id) == 1
    assert broker_worker.alive()


@pytest.mark.usefixtures("broker_channel_workers")
def test_an_evaluation_killed_mid_chunk_saves_one_snapshot_and_pages_once(
    broker_worker, broker_producer, db, webhook_sink, email_sink
):
    batch_id = uuid.uuid4().hex
    ingest(
        broker_producer,
        batch_id,
        [{"flow": "checkout", "minute": minute_ago(m), "good": 98, "bad": 2} for m in range(10)],
    )
    wait_for(lambda: scalar(db, "SELECT count(*) FROM ops_ingested_batches") == 1, what="the breach ingested")
    as_of = evaluation_end(utcnow()).isoformat()
    kill_mid_write(
        db,
        broker_worker,
        "ops_burn_rate_snapshots",
        lambda: broker_producer.send_task(
            "relops.evaluate_flows", queue="evaluate", kwargs={"as_of": as_of, "flows": ["checkout", "login"]}
        ),
    )
    wait_for(lambda: scalar(db, "SELECT count(*) FROM ops_burn_rate_snapshots"), timeout_s=60, what="the snapshot")
    delivered_once_per_channel(db, webhook_sink, email_sink)
    assert scalar(db, "SELECT count(*) FROM ops_burn_rate_snapshots") == 1
    assert scalar(db, "SELECT severity FROM ops_burn_rate_snapshots WHERE flow = 'checkout'") == "critical"
    assert scalar(db, "SELECT count(*) FROM ops_alert_events") == 1
    assert scalar(db, "SELECT occurrences FROM ops_incidents WHERE fingerprint = 'slo:checkout'") == 1


@pytest.mark.usefixtures("broker_channel_workers")
def test_a_cron_event_killed_mid_task_is_stored_once_and_pages_once(
    broker_worker, broker_producer, db, webhook_sink, email_sink
):
    def failure() -> dict:
        return {"name": "nightly-export", "run_id": uuid.uuid4().hex, "status": "failure", "at": utcnow().isoformat()}

    broker_producer.send_task("relops.cron_run", queue="cron", kwargs=failure())
    wait_for(lambda: scalar(db, "SELECT count(*) FROM ops_cron_executions") == 1, what="the first failure stored")
    # The second failure completes the streak of 2: it owes exactly one page.
    second = failure()
    kill_mid_write(
        db,
        broker_worker,
        "ops_cron_executions",
        lambda: broker_producer.send_task("relops.cron_run", queue="cron", kwargs=second),
    )
    wait_for(lambda: scalar(db, "SELECT count(*) FROM ops_cron_executions") == 2, timeout_s=60, what="redelivered")
    delivered_once_per_channel(db, webhook_sink, email_sink)
    assert scalar(db, "SELECT count(*) FROM ops_cron_executions WHERE run_id = :r", r=second["run_id"]) == 1
    assert scalar(db, "SELECT consecutive_failures FROM ops_cron_jobs WHERE name = 'nightly-export'") == 2
    assert scalar(db, "SELECT occurrences FROM ops_incidents WHERE fingerprint = 'cron:nightly-export:failing'") == 1


@pytest.mark.usefixtures("broker_channel_workers")
def test_an_alert_killed_after_its_dedup_claim_still_pages_exactly_once(
    broker_worker, broker_producer, db, webhook_sink, email_sink
):
    # The outbox insert comes after the Redis dedup claim: the redelivery must re-claim its own
    # window (same task id), or the alert would be lost as a "duplicate" of itself.
    kill_mid_write(
        db,
        broker_worker,
        "ops_notifications",
        lambda: broker_producer.send_task("relops.dispatch_alert", queue="alerts", kwargs=alert_event("login")),
    )
    delivered_once_per_channel(db, webhook_sink, email_sink)
    assert scalar(db, "SELECT count(*) FROM ops_alert_events") == 1
    assert scalar(db, "SELECT occurrences FROM ops_incidents WHERE fingerprint = 'slo:login'") == 1


def test_an_email_killed_mid_send_is_resent_with_the_same_idempotency_key(
    broker_channel_workers, broker_producer, db, webhook_sink, email_sink
):
    email_worker = broker_channel_workers[1]
    retries_before = email_worker.log_text().count("event=notify.retry")
    lost_before = lost_processes(email_worker)
    email_sink.respond_with(SinkResponse(hang=True))  # the first send is in flight when its process dies
    broker_producer.send_task("relops.dispatch_alert", queue="alerts", kwargs=alert_event("signup"))
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


#: A whole worker killed on RabbitMQ: its message runs on another worker within this long.
REDELIVERY_BOUND_S = 30.0


def test_a_whole_worker_killed_mid_task_hands_its_message_to_another_worker(broker, relops_env, db, output_dir):
    """The main process dies with its pool, so no worker rejects the message: the broker alone can
    bring it back. RabbitMQ: the dead worker's connection closes with it (its kernel closes the
    socket), RabbitMQ requeues what it held at once, and the other worker, already consuming, runs it
    within REDELIVERY_BOUND_S. Redis keeps it in the unacked set until the visibility timeout (900 s)
    has passed and a live worker restores it: the test ages the delivery record instead of waiting
    (``python -m bench redelivery`` measures both brokers with the real settings)."""
    label = f"whole-kill-{broker.name}"
    with private_broker(broker, label) as urls:
        env = {**relops_env, **urls}

        def start(suffix: str) -> CeleryProcess:
            name = f"{label}-{suffix}-{RUN_ID}"
            return start_worker(env, output_dir / f"{name}.log", name, "ingest", 1)

        started = [start("a")]
        producer = BrokerProducer(urls["CELERY_BROKER_URL"], f"{label}-producer")
        try:
            batch_id = uuid.uuid4().hex
            counts = [{"flow": "search", "minute": minute_ago(1), "good": 7, "bad": 3}]
            with writes_held(db, "ops_ingested_batches"):
                sent = producer.send_task(
                    "relops.record_flow_outcomes", queue="ingest", kwargs={"batch_id": batch_id, "counts": counts}
                )
                wait_for(lambda: blocked_on(db, "ops_ingested_batches"), what="the task blocked mid-transaction")
                if broker.name == "rabbitmq":
                    # Started once the first worker holds the message, so that it is the first's
                    # (RabbitMQ would share messages between two consumers); consuming at the kill.
                    started.append(start("b"))
                killed_at = time.monotonic()
                os.killpg(started[0].pid, signal.SIGKILL)
                wait_for(lambda: not started[0].alive(), what="the whole worker gone")
            if broker.name == "redis":
                client = redis.Redis.from_url(urls["CELERY_BROKER_URL"])
                assert client.zcard("unacked_index") == 1, "the message is held unacked by the dead worker"
                # The 900 s visibility timeout is real; age the delivery record instead of waiting it out.
                for tag, delivered_at in client.zrange("unacked_index", 0, -1, withscores=True):
                    client.zadd("unacked_index", {tag: delivered_at - 3600})
                client.close()
                started.append(start("b"))  # a starting worker restores what is past the timeout at once
            wait_for(
                lambda: scalar(db, "SELECT count(*) FROM ops_ingested_batches WHERE batch_id = :b", b=batch_id),
                timeout_s=REDELIVERY_BOUND_S if broker.name == "rabbitmq" else 60,
                what="the message redelivered and processed by the other worker",
            )
            redelivered_in_s = time.monotonic() - killed_at
            assert sent.id in started[1].log_text(), "the other worker ran it"
            if broker.name == "rabbitmq":
                assert redelivered_in_s < REDELIVERY_BOUND_S
            assert scalar(db, "SELECT good FROM ops_flow_minutes WHERE flow = 'search'") == 7
            assert scalar(db, "SELECT bad FROM ops_flow_minutes WHERE flow = 'search'") == 3
            assert scalar(db, "SELECT accepted FROM ops_ingested_batches WHERE batch_id = :b", b=batch_id) == 1
        finally:
            producer.close()
            for process in started:
                process.stop()
