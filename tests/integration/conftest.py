"""Real parts for integration tests: a migrated database, a Redis index, a RabbitMQ vhost, and real
Celery processes.

The tests of Celery's wiring, kills and restarts run on each broker relops supports: they take the
``broker`` fixture (params redis, rabbitmq) and the processes on it, ``broker_worker``,
``broker_channel_workers`` and ``broker_producer``. On Redis those are the session's ``worker``,
``channel_workers`` and ``producer``; on RabbitMQ, processes of their own on the run's vhost, sharing
the run's database and Redis (the shared state), as a deployment on RabbitMQ does."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import redis
from celery import Celery
from click.testing import CliRunner
from relops_client.breakers import BreakerRegistry
from relops_client.queues import connection_queue_type
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from relops.application.deps import Deps
from relops.channels.registry import build_receivers
from relops.localdev.sink import HttpSink, SinkResponse
from relops.names import ALL_QUEUES
from relops.timeutil import utcnow
from tests.conftest import BASE_REDIS_URL, RABBITMQ_PASSWORD, RUN_ID, run_vhost
from tests.integration.inprocess import InProcessWorker, RecordingPublisher
from tests.integration.secrets_audit import secrets_written, stored_text
from tests.support.celery_process import CeleryProcess, poll_until, start_worker
from tests.support.rabbitmq import ScratchVhost, ready_messages
from tests.support.scratch import claimed_redis_db
from tests.support.slack import RESPONSE_TOKEN as SLACK_RESPONSE_TOKEN
from tests.support.slack import SIGNING_SECRET as SLACK_SIGNING_SECRET

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

# Two teams with webhooks of their own and an escalation email; only alerts labelled with a team
# reach them, so every other test sees the default receivers alone.
[[flows]]
name = "payments"
objective_percent = 99.9
labels = {{ team = "a" }}

[[flows]]
name = "catalog"
objective_percent = 99.5
labels = {{ team = "b" }}

# Two flows that depend on the inventory service: its open breaker explains their failures.
[[flows]]
name = "booking"
objective_percent = 99.9
depends_on = ["inventory"]

[[flows]]
name = "stock"
objective_percent = 99.5
depends_on = ["inventory"]

[breakers.inventory]
failure_threshold = 2
open_s = 1

# A service's own dependency, guarded by the service alone: declared so relops watches it.
[breakers.google_calendar]

[receivers.team-a]
type = "webhook"
url_env = "TEAM_A_WEBHOOK_URL"

[receivers.team-b]
type = "webhook"
url_env = "TEAM_B_WEBHOOK_URL"

[receivers.escalation]
type = "email"
to = ["escalation@example.com"]

[breakers.team-a]
failure_threshold = 3
open_s = 1

[[route.routes]]
name = "team a"
matchers = ["team=a"]
receivers = ["team-a"]
repeat_interval_s = 4
escalate_after_s = 3
escalate_to = "escalation"

[[route.routes]]
name = "team b"
matchers = ["team=b"]
receivers = ["team-b"]
"""


#: The start of the config of a module that runs workers of its own (test_alertmanager.py,
#: test_alertmanager_in.py, test_apprise.py): quick grouping and retries, no flows.
PRIVATE_STACK_CONFIG = """
dashboard_url = "http://127.0.0.1:8080/"

[alerts]
dedup_window_s = 300
group_wait_s = 0.5
retry_base_s = 0.2
retry_max_s = 1
"""

#: One worker per channel queue, as in production (Procfile, docker-compose.yml).
CHANNEL_WORKERS = ("webhook", "email", "alertmanager", "apprise", "pagerduty", "teams")
#: The test config's monitored job (period 1 h, failure_threshold 2).
CRON_JOB = "nightly-export"
#: How long clean_tables lets the previous test's messages finish before it empties the tables.
SETTLE_S = 5.0


def wait_for(predicate: Callable[[], Any], timeout_s: float = 30.0, what: str = "") -> Any:
    """Poll until ``predicate`` returns something truthy; fail the test at the deadline."""
    try:
        return poll_until(predicate, timeout_s, what=what)
    except TimeoutError as exc:
        pytest.fail(str(exc))


def alert_event(flow: str = "checkout", severity: str = "critical", status: str = "firing", **overrides: Any) -> dict:
    """An SLO alert event for ``flow``, as a service sends relops.dispatch_alert its kwargs."""
    key = f"slo:{flow}"
    base = {
        "dedup_key": key,
        "fingerprint": key,
        "severity": severity,
        "source": "slo",
        "title": f"{severity.upper()}: {flow} burning its error budget at 20.0x over 1h",
        "summary": f"{flow}: 20 bad of 1000 events in the last 1h.",
        "details": {
            "flow": flow,
            "objective_percent": 99.9,
            "windows": {"1h": {"window_s": 3600, "events": 1000, "errors": 20, "burn_rate": 20.0, "status": severity}},
            "budget_remaining": 0.5,
            "time_to_exhaustion_s": 3600,
        },
        "runbook_url": f"https://runbooks.example.com/{flow}.md",
        "occurred_at": utcnow().isoformat(),
        "status": status,
    }
    return {**base, **overrides}


def cron_run_event(status: str, run_id: str | None = None, at: datetime | None = None, **fields: Any) -> dict:
    """A cron-run event of the test config's monitored job, as a service sends relops.cron_run."""
    return {
        "name": CRON_JOB,
        "run_id": run_id or uuid.uuid4().hex,
        "status": status,
        "at": (at or utcnow()).isoformat(),
        "duration_ms": fields.pop("duration_ms", None if status == "started" else 1200),
        "result": fields.pop("result", None),
        "error": fields.pop("error", None),
        **fields,
    }


def write_config(path: Path, tick_interval_s: int = 300) -> Path:
    path.write_text(TEST_CONFIG.format(tick_interval_s=tick_interval_s))
    return path


@pytest.fixture(scope="session")
def config_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_config(tmp_path_factory.mktemp("config") / "relops-test.toml")


WEBHOOK_SECRET_PATH = "/services/T0001/B0001/s3cr3tT0k3n"
TEAM_A_PATH = "/services/T0002/B0002/t3amAs3cr3t"
TEAM_B_PATH = "/services/T0003/B0003/t3amBs3cr3t"
RESEND_KEY = "re_test_5ecret_key"
WORKER_DB_PASSWORD = "wkr-db-pa55word"
ADMIN_EMAILS = "oncall@example.com,lead@example.com"
#: The path an Alertmanager is reached under (behind a proxy that takes a secret path), and the
#: credentials of alertmanager receivers.
ALERTMANAGER_SECRET_PREFIX = "/am7f3a9c2e1b8d4f60a1"
ALERTMANAGER_TOKEN = "amt0ken-5ecret-b3arer"
ALERTMANAGER_PASSWORD = "amPa55-w0rd-5ecret"
#: What the apprise receiver's URLs carry (tests/integration/test_apprise.py): an ntfy access token,
#: an ntfy topic (whoever knows it can read the pages) and a JSON receiver's secret path.
APPRISE_NTFY_TOKEN = "tk_w0rker5ecrett0kenx"
APPRISE_NTFY_TOPIC = "pager-4b8e1d9c2a"
APPRISE_JSON_SECRET = "wjh00k5ecretpath7q"
#: A PagerDuty receiver's routing key, and the signing secrets of PagerDuty's webhooks (two: a rotation).
PAGERDUTY_ROUTING_KEY = "pdR0ut1ngK3y5ecret0123456789abcd"
PAGERDUTY_WEBHOOK_SECRETS = ("pdWh00kS3cret-0ld-aaaa", "pdWh00kS3cret-n3w-bbbb")
#: What no log, stored payload, error or page of the run may ever quote.
SECRETS = (
    *(path.rsplit("/", 1)[-1] for path in (WEBHOOK_SECRET_PATH, TEAM_A_PATH, TEAM_B_PATH)),
    RESEND_KEY,
    WORKER_DB_PASSWORD,
    RABBITMQ_PASSWORD,
    ALERTMANAGER_SECRET_PREFIX.strip("/"),
    ALERTMANAGER_TOKEN,
    ALERTMANAGER_PASSWORD,
    SLACK_SIGNING_SECRET,
    SLACK_RESPONSE_TOKEN,
    APPRISE_NTFY_TOKEN,
    APPRISE_NTFY_TOPIC,
    APPRISE_JSON_SECRET,
    PAGERDUTY_ROUTING_KEY,
    *PAGERDUTY_WEBHOOK_SECRETS,
)


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
def team_a_sink() -> Iterator[HttpSink]:
    """Team A's webhook ([receivers.team-a])."""
    with HttpSink() as sink:
        yield sink


@pytest.fixture(scope="session")
def team_b_sink() -> Iterator[HttpSink]:
    """Team B's webhook ([receivers.team-b])."""
    with HttpSink() as sink:
        yield sink


@pytest.fixture(scope="session")
def relops_env(
    redis_url: str,
    database_url: str,
    config_path: Path,
    webhook_sink: HttpSink,
    email_sink: HttpSink,
    team_a_sink: HttpSink,
    team_b_sink: HttpSink,
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
        "TEAM_A_WEBHOOK_URL": team_a_sink.url + TEAM_A_PATH,
        "TEAM_B_WEBHOOK_URL": team_b_sink.url + TEAM_B_PATH,
        "RESEND_API_KEY": RESEND_KEY,
        "RESEND_API_URL": email_sink.url,
        "ADMIN_EMAILS": ADMIN_EMAILS,
    }
    os.environ.update(env)
    from relops.settings import get_settings
    from relops.wiring import get_config, get_receivers

    get_settings.cache_clear()
    get_config.cache_clear()
    get_receivers.cache_clear()
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


#: The brokers relops runs on; each test taking ``broker`` runs once on each.
BROKERS = ("redis", "rabbitmq")


@dataclass(frozen=True)
class BrokerUnderTest:
    """The broker a test runs on: ``name`` (a BROKERS entry), this run's ``url`` on it, and ``env``,
    the run's environment (relops_env) with CELERY_BROKER_URL set to it."""

    name: str
    url: str
    env: dict[str, str]
    vhost: ScratchVhost | None = None

    def idle(self, redis_url: str) -> bool:
        """No message of this run waits on the broker, and none is held unacknowledged."""
        if self.vhost is not None:
            return rabbitmq_idle(self.url)
        client = redis.Redis.from_url(redis_url)
        try:
            with client.pipeline(transaction=False) as pipe:
                for queue in ALL_QUEUES:
                    pipe.llen(queue)
                pipe.hlen("unacked")
                return not any(pipe.execute())
        finally:
            client.close()


#: Celery's delay queues on RabbitMQ (native delayed delivery): a countdown message waits in one.
DELAY_QUEUES = tuple(f"celery_delayed_{level}" for level in range(28))


def rabbitmq_idle(url: str) -> bool:
    """No message waits in a relops or delay queue (read over AMQP, exact), and no worker on the
    vhost runs or holds one: asked with Celery's inspect, since RabbitMQ's own unacked counts come
    from statistics that lag by seconds."""
    if ready_messages(url, (*ALL_QUEUES, *DELAY_QUEUES)):
        return False
    app = Celery("settle", broker=url, set_as_current=False)
    try:
        with app.connection_for_write(url) as connection:
            inspect = app.control.inspect(timeout=0.3, connection=connection)
            replies = [inspect.active() or {}, inspect.reserved() or {}]
    finally:
        app.close()
    return not any(tasks for reply in replies for tasks in reply.values())


@pytest.fixture(scope="session", params=BROKERS)
def broker(request: pytest.FixtureRequest, relops_env: dict[str, str]) -> BrokerUnderTest:
    if request.param == "redis":
        return BrokerUnderTest("redis", relops_env["CELERY_BROKER_URL"], relops_env)
    vhost: ScratchVhost = request.getfixturevalue("rabbitmq_vhost")
    return BrokerUnderTest("rabbitmq", vhost.url, {**relops_env, "CELERY_BROKER_URL": vhost.url}, vhost)


class BrokerProducer:
    """A plain Celery client of one broker, set up as docs/guides/integrate.md tells a service to be, that
    sends every task over one connection to that broker: Celery would otherwise take the broker from
    CELERY_BROKER_URL in this process's environment (the run's Redis), whatever ``broker=`` says."""

    def __init__(self, url: str, name: str) -> None:
        self.app = Celery(name, broker=url, set_as_current=False)
        self.app.conf.update(task_serializer="json", accept_content=["json"], broker_connection_retry_on_startup=True)
        self.connection = self.app.connection_for_write(url)
        queue_type = connection_queue_type(self.connection)
        if queue_type is not None:
            self.app.conf.update(
                task_create_missing_queue_type=queue_type,
                task_create_missing_queue_exchange_type="topic",
                broker_transport_options={"confirm_publish": True},
            )

    def send_task(self, name: str, **options: Any) -> Any:
        return self.app.send_task(name, connection=self.connection, **options)

    def close(self) -> None:
        self.connection.release()
        self.app.close()


@pytest.fixture(scope="session")
def broker_producer(request: pytest.FixtureRequest, broker: BrokerUnderTest) -> Iterator[Any]:
    """A service's plain Celery client of the test's broker (on Redis: ``producer``)."""
    if broker.name == "redis":
        yield request.getfixturevalue("producer")
        return
    producer = BrokerProducer(broker.url, f"producer-{broker.name}")
    yield producer
    producer.close()


@pytest.fixture(scope="session")
def broker_worker(
    request: pytest.FixtureRequest, broker: BrokerUnderTest, output_dir: Path, run_id: str
) -> Iterator[CeleryProcess]:
    """``worker`` on the test's broker."""
    if broker.name == "redis":
        yield request.getfixturevalue("worker")
        return
    name = f"relops-test-{broker.name}-{run_id}"
    process = start_worker(broker.env, output_dir / f"{name}.log", name)
    yield process
    process.stop()


@pytest.fixture(scope="session")
def broker_channel_workers(
    request: pytest.FixtureRequest, broker: BrokerUnderTest, output_dir: Path, run_id: str
) -> Iterator[list[CeleryProcess]]:
    """``channel_workers`` on the test's broker."""
    if broker.name == "redis":
        yield request.getfixturevalue("channel_workers")
        return
    started = []
    try:
        for channel in CHANNEL_WORKERS:
            name = f"relops-test-{broker.name}-{channel}-{run_id}"
            started.append(start_worker(broker.env, output_dir / f"{name}.log", name, f"alerts.{channel}", 1))
        yield started
    finally:
        for process in started:
            process.stop()


@contextmanager
def private_broker(broker: BrokerUnderTest, label: str) -> Iterator[dict[str, str]]:
    """REDIS_URL and CELERY_BROKER_URL for the processes of one test alone, on the test's broker: a
    Redis database index of its own (the broker too, on Redis) and, on RabbitMQ, a vhost of its own.
    No session worker consumes there, so every message goes to the test's own workers."""
    with claimed_redis_db(BASE_REDIS_URL, f"test-{RUN_ID}-{label}") as redis_url:
        if broker.name == "redis":
            yield {"REDIS_URL": redis_url, "CELERY_BROKER_URL": redis_url}
            return
        with run_vhost(label) as vhost:
            yield {"REDIS_URL": redis_url, "CELERY_BROKER_URL": vhost.url}


@pytest.fixture(scope="session")
def channel_workers(relops_env: dict[str, str], output_dir: Path, run_id: str) -> Iterator[list[CeleryProcess]]:
    """One worker per channel queue, as in production: a hanging receiver stalls only its own."""
    started = []
    try:
        for channel in CHANNEL_WORKERS:
            name = f"relops-test-{channel}-{run_id}"
            started.append(start_worker(relops_env, output_dir / f"{name}.log", name, f"alerts.{channel}", 1))
        yield started
    finally:
        for process in started:
            process.stop()


#: The broker of the previous test that ran on RabbitMQ, until a test on another broker has let its
#: messages settle (asking RabbitMQ costs about a second, so only the tests that need it ask).
_unsettled_rabbitmq: list[BrokerUnderTest] = []


@pytest.fixture
def clean_tables(
    request: pytest.FixtureRequest,
    db: Engine,
    relops_env: dict[str, str],
    redis_url: str,
    webhook_sink: HttpSink,
    email_sink: HttpSink,
    team_a_sink: HttpSink,
    team_b_sink: HttpSink,
) -> Iterator[None]:
    """Empty tables, no relops keys in Redis (dedup windows, rate limits), sinks cleared. Afterwards,
    before the next test empties them again: nothing the test stored quotes a secret.

    First, for up to SETTLE_S, the previous test's messages are let finish (no queue holds one and the
    broker holds none unacknowledged): a late message of one test must not land in the next one's
    tables, whichever broker either ran on. A worker that is down or a long countdown only shortens
    the wait, never fails it."""
    brokers = [BrokerUnderTest("redis", relops_env["CELERY_BROKER_URL"], relops_env), *_unsettled_rabbitmq]
    current = request.getfixturevalue("broker") if "broker" in request.fixturenames else None
    if current is not None and current.vhost is not None and current not in brokers:
        brokers.append(current)
    _unsettled_rabbitmq[:] = [current] if current is not None and current.vhost is not None else []
    with contextlib.suppress(TimeoutError):
        poll_until(
            lambda: all(b.idle(redis_url) for b in brokers), SETTLE_S, what="messages of the previous test handled"
        )
    client = redis.Redis.from_url(redis_url)
    with db.begin() as conn:
        conn.execute(
            text(
                "TRUNCATE ops_flow_minutes, ops_flow_hours, ops_flow_days, ops_ingested_batches, ops_rejected_inputs, "
                "ops_evaluation_ticks, ops_burn_rate_snapshots, ops_alert_events, ops_notifications, "
                "ops_dead_letters, ops_incidents, ops_cron_executions, ops_cron_jobs, ops_silences, "
                "ops_slo_corrections, ops_audit, ops_intake_totals"
            )
        )
    keys = list(client.scan_iter("relops:*"))
    if keys:
        client.delete(*keys)
    client.close()
    for sink in (webhook_sink, email_sink, team_a_sink, team_b_sink):
        sink.default = SinkResponse()
        sink.respond_with()
        sink.clear()
    yield
    stored = stored_text(db)
    leaked = [i for i, secret in enumerate(SECRETS) if secret in stored]
    assert not leaked, f"secrets #{leaked} stored by this test (an error, a payload or a dead letter)"


@pytest.fixture(scope="session")
def worker_engine(relops_env: dict[str, str]) -> Iterator[Engine]:
    """The workers' connection (the relops_worker role), for task logic run in this process."""
    engine = create_engine(relops_env["DATABASE_URL"])
    yield engine
    engine.dispose()


@pytest.fixture
def inproc(
    relops_env: dict[str, str], worker_engine: Engine, redis_url: str, clean_tables: None
) -> Iterator[InProcessWorker]:
    """Task logic in this process with the run's database, Redis, config and receivers; fresh
    breakers and an empty outbox for each test."""
    from relops.settings import get_settings
    from relops.wiring import get_config

    client = redis.Redis.from_url(redis_url)
    config = get_config()
    deps = Deps(
        engine=worker_engine,
        redis=client,
        config=config,
        receivers=build_receivers(get_settings(), config),
        publish=RecordingPublisher(),
        breakers=BreakerRegistry(config.breaker_settings(), lambda: client),
    )
    yield InProcessWorker(deps, client)
    client.close()


def run_cli(*args: str) -> str:
    """``relops ARGS`` in this process (the environment is the run's, set by relops_env); its output."""
    from relops.cli import cli

    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="session", autouse=True)
def no_secret_written(db: Engine, output_dir: Path) -> Iterator[None]:
    """Once every test of the session has run (after the workers stopped, before the database is
    dropped): no log the run wrote and nothing it stored quotes a secret. Works in any order and
    with any -k selection; a leak fails the session."""
    yield
    found = secrets_written(db, output_dir, SECRETS)
    if found:
        pytest.fail(f"this run wrote secrets: {', '.join(found)}", pytrace=False)
