"""PostgreSQL unreachable while events flow: tasks retry with backoff and land when it is back;
nothing lost, nothing doubled, and the outage shows in the logs and the task fault counts.

The outage is a TCP proxy between a dedicated worker and the shared server, switched off and on:
the real PostgreSQL that other tests (and CI runs) use is never restarted."""

from __future__ import annotations

import socket
import uuid
from datetime import timedelta

import pytest
import redis
from celery import Celery
from sqlalchemy import text
from sqlalchemy.engine import make_url

from relops.timeutil import floor_minute, iso_minute, utcnow
from tests.conftest import BASE_REDIS_URL, RUN_ID
from tests.integration.conftest import wait_for
from tests.integration.queries import batches_landed
from tests.support.celery_process import start_worker
from tests.support.scratch import claimed_redis_db
from tests.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("clean_tables")]
BATCHES = 20


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_events_sent_during_a_database_outage_land_once_it_is_back(relops_env, db, output_dir):
    worker_url = make_url(relops_env["DATABASE_URL"])
    proxy = TcpProxy((worker_url.host, worker_url.port), free_port())
    proxy.start()
    with claimed_redis_db(BASE_REDIS_URL, f"test-{RUN_ID}-outage") as broker:
        env = {
            **relops_env,
            "REDIS_URL": broker,
            "CELERY_BROKER_URL": broker,
            "DATABASE_URL": worker_url.set(port=proxy.port).render_as_string(hide_password=False),
        }
        name = f"relops-outage-{RUN_ID}"
        worker = start_worker(env, output_dir / f"{name}.log", name, "ingest", 2)
        producer = Celery("outage-producer", broker=broker, set_as_current=False)
        try:
            proxy.stop()  # PostgreSQL is now unreachable for the worker
            minute = iso_minute(floor_minute(utcnow()) - timedelta(minutes=1))
            batch_ids = [uuid.uuid4().hex for _ in range(BATCHES)]
            for batch_id in batch_ids:
                with producer.connection_for_write(broker) as connection:
                    producer.send_task(
                        "relops.record_flow_outcomes",
                        queue="ingest",
                        connection=connection,
                        kwargs={
                            "batch_id": batch_id,
                            "counts": [{"flow": "signup", "minute": minute, "good": 3, "bad": 1}],
                        },
                    )
            wait_for(
                lambda: worker.log_text().count("event=task.retry") >= 4,
                timeout_s=30,
                what="tasks retrying while the database is down",
            )
            proxy.start()  # back

            wait_for(lambda: batches_landed(db) == BATCHES, timeout_s=120, what="every batch landed after the outage")
            with db.connect() as conn:
                good, bad = conn.execute(text("SELECT good, bad FROM ops_flow_minutes WHERE flow = 'signup'")).one()
            assert (good, bad) == (3 * BATCHES, 1 * BATCHES)
            assert worker.alive()
            faults = redis.Redis.from_url(broker).hget("relops:task-faults", "retry:relops.record_flow_outcomes")
            assert int(faults) >= 4
        finally:
            producer.close()
            worker.stop()
            proxy.stop()
