"""Redis (the broker and the shared state) unreachable for a while: the worker reconnects on its
own and goes on consuming; dedup fails open meanwhile (tested in test_alert_routing)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from celery import Celery
from sqlalchemy.engine import make_url

from relops.timeutil import floor_minute, iso_minute, utcnow
from tests.conftest import BASE_REDIS_URL, RUN_ID
from tests.integration.conftest import wait_for
from tests.integration.queries import batch_landed
from tests.integration.test_database_outage import free_port
from tests.support.celery_process import start_worker
from tests.support.scratch import claimed_redis_db
from tests.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("clean_tables")]


def send(producer: Celery, broker: str, batch_id: str) -> None:
    minute = iso_minute(floor_minute(utcnow()) - timedelta(minutes=1))
    with producer.connection_for_write(broker) as connection:
        producer.send_task(
            "relops.record_flow_outcomes",
            queue="ingest",
            connection=connection,
            kwargs={"batch_id": batch_id, "counts": [{"flow": "search", "minute": minute, "good": 5, "bad": 0}]},
        )


def test_a_worker_recovers_by_itself_after_redis_comes_back(relops_env, db, output_dir):
    with claimed_redis_db(BASE_REDIS_URL, f"test-{RUN_ID}-redis-outage") as broker:
        url = make_url(broker)
        proxy = TcpProxy((url.host, url.port), free_port())
        proxy.start()
        through_proxy = f"redis://127.0.0.1:{proxy.port}/{url.database}"
        env = {**relops_env, "REDIS_URL": through_proxy, "CELERY_BROKER_URL": through_proxy}
        name = f"relops-redis-outage-{RUN_ID}"
        worker = start_worker(env, output_dir / f"{name}.log", name, "ingest", 1)
        producer = Celery("redis-outage-producer", broker=broker, set_as_current=False)

        try:
            before = uuid.uuid4().hex
            send(producer, broker, before)
            wait_for(lambda: batch_landed(db, before), what="a batch before the outage")
            proxy.stop()  # every connection the worker holds is cut; new ones are refused
            wait_for(
                lambda: (
                    "Connection to broker lost" in worker.log_text()
                    or "Cannot connect" in worker.log_text()
                    or "connection" in worker.log_text().lower().split("a batch")[-1]
                ),
                timeout_s=30,
                what="the worker noticing the outage",
            )
            during = uuid.uuid4().hex
            send(producer, broker, during)  # queued in Redis while the worker cannot reach it
            proxy.start()
            wait_for(lambda: batch_landed(db, during), timeout_s=90, what="the worker consuming again after the outage")
            assert worker.alive()
        finally:
            producer.close()
            worker.stop()
            proxy.stop()
