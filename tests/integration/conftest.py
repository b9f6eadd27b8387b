"""Real parts for integration tests: a migrated database, a Redis index, and real Celery processes."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from celery import Celery
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from relops.celery_process import CeleryProcess, poll_until, start_worker
from relops.sink import HttpSink, SinkResponse
from relops.timeutil import utcnow

TEST_CONFIG = """
dashboard_url = "http://127.0.0.1:8080/"

[evaluation]
tick_interval_s = {tick_interval_s}
chunk_size = 2

[alerts]
dedup_window_s = 300
group_wait_s = 1
retry_base_s = 0.2
retry_max_s = 1

[alerts.channels.webhook]
rate_per_s = 20
burst = 5
max_attempts = 6
read_timeout_s = 1

[alerts.channels.email]
rate_per_s = 20
burst = 5
max_attempts = 3
read_timeout_s = 1
sender = "relops <alerts@example.com>"

[cron]
check_interval_s = 5

[breakers.webhook]
failure_threshold = 4
open_s = 1

[[jobs]]
name = "nightly-export"
period_s = 3600
grace_s = 60
max_runtime_s = 600
failure_threshold = 2
runbook = "nightly-export.md"

[[flows]]
name = "checkout"
objective_percent = 99.9
runbook = "checkout.md"

[[flows]]
name = "login"
objective_percent = 99.5

[[flows]]
name = "search"
objective_percent = 99.0
period_days = 7

[[flows]]
name = "signup"
objective_percent = 99.5

[[flows]]
name = "<script>alert(1)</script> & \\"quotes\\""
objective_percent = 99.0
"""


def wait_for(predicate: Callable[[], Any], timeout_s: float = 30.0, what: str = "") -> Any:
    """Poll until ``predicate`` returns something truthy; fail the test at the deadline."""
    try:
        return poll_until(predicate, timeout_s, what=what)
    except TimeoutError as exc:
        pytest.fail(str(exc))


def alert_event(flow: str, severity: str = "critical") -> dict[str, Any]:
    """A minimal SLO alert event for ``flow``, as a service sends relops.dispatch_alert its kwargs."""
    key = f"slo:{flow}"
    return {
        "dedup_key": key,
        "fingerprint": key,
        "severity": severity,
        "source": "slo",
        "title": f"{severity.upper()}: {flow}",
        "summary": "burning",
        "details": {},
        "runbook_url": "",
        "occurred_at": utcnow().isoformat(),
    }


def write_config(path: Path, tick_interval_s: int = 300) -> Path:
    path.write_text(TEST_CONFIG.format(tick_interval_s=tick_interval_s))
    return path


@pytest.fixture(scope="session")
def config_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_config(tmp_path_factory.mktemp("config") / "relops-test.toml")


WEBHOOK_SECRET_PATH = "/services/T0001/B0001/s3cr3tT0k3n"
RESEND_KEY = "re_test_5ecret_key"
WORKER_DB_PASSWORD = "wkr-db-pa55word"
ADMIN_EMAILS = "oncall@example.com,lead@example.com"


@pytest.fixture(scope="session")
def webhook_sink() -> Iterator[HttpSink]:
    """Stands in for the Slack webhook: a real HTTP server on 127.0.0.1 recording every request."""
    with HttpSink() as sink:
        yield sink


@pytest.fixture(scope="session")
def email_sink() -> Iterator[HttpSink]:
    """Stands in for the Resend API."""
    with HttpSink() as sink:
        yield sink


@pytest.fixture(scope="session")
def relops_env(
    redis_url: str, database_url: str, config_path: Path, webhook_sink: HttpSink, email_sink: HttpSink
) -> dict[str, str]:
    """The environment every relops process of this run gets; also applied to this process."""
    env = {
        "REDIS_URL": redis_url,
        "CELERY_BROKER_URL": redis_url,
        # As deployed: workers and CLI as relops_worker; migrations and users as the owner.
        # The password is never asked for under trust auth; it is here so the suite can prove that
        # no log, page or stored error ever quotes it.
        "DATABASE_URL": make_url(database_url)
        .set(username="relops_worker", password=WORKER_DB_PASSWORD)
        .render_as_string(hide_password=False),
        "RELOPS_ADMIN_DATABASE_URL": database_url,
        "RELOPS_CONFIG": str(config_path),
        "MONITORING_ALERT_WEBHOOK_URL": webhook_sink.url + WEBHOOK_SECRET_PATH,
        "RESEND_API_KEY": RESEND_KEY,
        "RESEND_API_URL": email_sink.url,
        "ADMIN_EMAILS": ADMIN_EMAILS,
    }
    os.environ.update(env)
    from relops.runtime import get_channels, get_config
    from relops.settings import get_settings

    get_settings.cache_clear()
    get_config.cache_clear()
    get_channels.cache_clear()
    return env


@pytest.fixture(scope="session")
def db(relops_env: dict[str, str], database_url: str) -> Iterator[Engine]:
    """The owner's connection: tests seed and truncate what the roles may not."""
    engine = create_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def producer(relops_env: dict[str, str]) -> Iterator[Celery]:
    """A plain Celery client, as another service would have: it knows relops only by task names.

    It needs relops_env: Celery lets CELERY_BROKER_URL in the environment override ``broker=``.
    """
    app = Celery("producer", broker=relops_env["CELERY_BROKER_URL"], set_as_current=False)
    app.conf.update(task_serializer="json", accept_content=["json"], broker_connection_retry_on_startup=True)
    yield app
    app.close()


@pytest.fixture(scope="session")
def worker(relops_env: dict[str, str], output_dir: Path, run_id: str) -> Iterator[CeleryProcess]:
    """One worker on every queue with two prefork processes, for the whole session."""
    name = f"relops-test-{run_id}"
    process = start_worker(relops_env, output_dir / f"{name}.log", name)
    yield process
    process.stop()


@pytest.fixture(scope="session")
def channel_workers(relops_env: dict[str, str], output_dir: Path, run_id: str) -> Iterator[list[CeleryProcess]]:
    """One worker per channel queue, as in production: a hanging receiver stalls only its own."""
    started = []
    try:
        for channel in ("webhook", "email"):
            name = f"relops-test-{channel}-{run_id}"
            started.append(start_worker(relops_env, output_dir / f"{name}.log", name, f"alerts.{channel}", 1))
        yield started
    finally:
        for process in started:
            process.stop()


@pytest.fixture
def clean_tables(db: Engine, redis_url: str, webhook_sink: HttpSink, email_sink: HttpSink) -> None:
    """Empty tables, no relops keys in Redis (dedup windows, rate limits), sinks cleared."""
    with db.begin() as conn:
        conn.execute(
            text(
                "TRUNCATE ops_flow_minutes, ops_flow_hours, ops_ingested_batches, ops_rejected_inputs, "
                "ops_evaluation_ticks, ops_burn_rate_snapshots, ops_alert_events, ops_notifications, "
                "ops_dead_letters, ops_incidents, ops_cron_executions, ops_cron_jobs"
            )
        )
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter("relops:*"))
    if keys:
        client.delete(*keys)
    client.close()
    for sink in (webhook_sink, email_sink):
        sink.default = SinkResponse()
        sink.respond_with()
        sink.clear()
