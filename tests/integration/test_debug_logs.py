"""A worker run at DEBUG writes no receiver's secret: urllib3 logs every request it makes, and
relops.http_log keeps the host and the status of those lines and masks the path and query.

A real worker at DEBUG (set by Celery's --loglevel flag, or by RELOPS_LOG_LEVEL over the Procfile's
--loglevel=INFO) on a broker and Redis index of its own delivers a page to a local webhook whose
URL path and query hold secrets; then every log the run wrote is searched for them
(tests/integration/secrets_audit.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from relops import names
from relops.localdev.sink import HttpSink
from tests.conftest import BASE_REDIS_URL, RUN_ID
from tests.integration.conftest import PRIVATE_STACK_CONFIG, BrokerProducer, alert_event, wait_for
from tests.integration.secrets_audit import secrets_written
from tests.support.celery_process import CeleryProcess, start_worker
from tests.support.scratch import claimed_redis_db

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("clean_tables")]

#: A Slack-style webhook path's token, and a signature in the query as Teams' Workflows URLs carry.
PATH_SECRET = "d3bugP4thT0ken"
QUERY_SECRET = "d3bugS1gnatur3"
WEBHOOK_PATH = f"/services/T0009/B0009/{PATH_SECRET}?sig={QUERY_SECRET}"


@pytest.fixture(params=["flag", "environment"])
def debug_worker(
    request: pytest.FixtureRequest, relops_env: dict[str, str], output_dir: Path, tmp_path: Path
) -> Iterator[tuple[CeleryProcess, HttpSink, BrokerProducer]]:
    config = tmp_path / "relops-debug.toml"
    config.write_text(PRIVATE_STACK_CONFIG)
    with HttpSink() as hook, claimed_redis_db(BASE_REDIS_URL, f"test-{RUN_ID}-debug-logs") as redis_url:
        env = {
            **relops_env,
            "REDIS_URL": redis_url,
            "CELERY_BROKER_URL": redis_url,
            "RELOPS_CONFIG": str(config),
            "MONITORING_ALERT_WEBHOOK_URL": hook.url + WEBHOOK_PATH,
            "ADMIN_EMAILS": "",
        }
        loglevel = "DEBUG"
        if request.param == "environment":
            env["RELOPS_LOG_LEVEL"] = "DEBUG"
            loglevel = "INFO"  # as the Procfile starts workers: the environment decides over it
        name = f"relops-test-debug-logs-{request.param}-{RUN_ID}"
        queues = f"{names.QUEUE_ALERTS},{names.channel_queue('webhook')}"
        worker = start_worker(env, output_dir / f"{name}.log", name, queues, 1, loglevel=loglevel)
        producer = BrokerProducer(redis_url, f"producer-debug-logs-{RUN_ID}")
        try:
            yield worker, hook, producer
        finally:
            producer.close()
            worker.stop()


def delivered(db: Engine) -> bool:
    with db.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM ops_notifications WHERE status = 'delivered'")).scalar() == 1


def test_a_worker_at_debug_logs_the_webhooks_host_and_status_and_never_its_path_or_query(
    debug_worker: tuple[CeleryProcess, HttpSink, BrokerProducer], db: Engine, output_dir: Path
) -> None:
    worker, hook, producer = debug_worker
    producer.send_task(names.TASK_DISPATCH_ALERT, kwargs=alert_event("checkout"), queue=names.QUEUE_ALERTS)
    wait_for(lambda: delivered(db), 30, "the page delivered")
    [request] = hook.requests
    assert request.path == WEBHOOK_PATH and request.response_status == 200
    log = worker.log_text()
    # urllib3 did log the request at DEBUG (so the check below can fail), with its target masked.
    assert "urllib3.connectionpool" in log
    assert f'http://127.0.0.1:{hook.port} "POST /*** HTTP/1.1" 200' in log
    assert secrets_written(db, output_dir, (PATH_SECRET, QUERY_SECRET)) == []
