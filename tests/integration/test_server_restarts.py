"""Real server restarts while events flow, with exact accounting, on Redis and on RabbitMQ as the
broker (each test takes conftest.broker).

The shared PostgreSQL, Redis and RabbitMQ (other tests, other runs) are never restarted: each test
starts a private server on a free port, points a dedicated worker at it, and restarts that one.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from kombu import Connection
from relops_client.breakers import CircuitBreaker
from relops_client.recorder import OutcomeRecorder
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from relops.broker import queue_backlog
from relops.config import BreakerSettings
from relops.localdev import local_servers as services
from tests.conftest import BASE_REDIS_URL, RUN_ID
from tests.integration.conftest import BrokerProducer, alert_event, private_broker, run_vhost, wait_for
from tests.integration.queries import scalar
from tests.integration.test_database_outage import free_port
from tests.support.celery_process import CeleryProcess, poll_until, start_worker
from tests.support.scratch import claimed_redis_db, scratch_database

pytestmark = pytest.mark.integration
RELOPS = str(Path(sys.executable).parent / "relops")


@contextmanager
def private_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="relops-restart-", dir="/tmp"))
    path.chmod(0o755)  # PostgreSQL runs as its own user when the tests run as root
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@dataclass
class PrivatePostgres:
    endpoint: services.Endpoint
    var: Path

    @property
    def base_url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.endpoint.port}"

    def start(self) -> None:
        services.start_pg_ctl(self.endpoint, self.var)

    def stop(self, mode: str = "fast") -> None:
        """``fast``: roll back open transactions and cut every connection, as a restart does."""
        pg_ctl = str(services.pg_bindir() / "pg_ctl")
        data = str(self.var / "pgdata")
        services.run(services.as_pg_user([pg_ctl, "-D", data, "-m", mode, "-w", "stop"]), timeout=60)


@contextmanager
def private_postgres(var: Path) -> Iterator[PrivatePostgres]:
    if services.pg_bindir() is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    port = free_port()
    url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    server = PrivatePostgres(services.Endpoint("postgres", "postgres", url, "127.0.0.1", port), var)
    server.start()
    try:
        yield server
    finally:
        server.stop("immediate")


class PrivateRedis:
    """A redis-server child process; ``appendonly`` as docker-compose runs it, or nothing on disk."""

    def __init__(self, var: Path, appendonly: bool) -> None:
        self.port = free_port()
        self.var = var
        self.appendonly = appendonly
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("redis-server is not installed")
        argv = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--dir", str(self.var)]
        argv += ["--appendonly", "yes", "--appendfsync", "always"] if self.appendonly else ["--appendonly", "no"]
        log = (self.var / "redis.log").open("ab")
        self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        client = redis.Redis.from_url(self.url, socket_connect_timeout=1)
        poll_until(lambda: self._pings(client), 20, what="private redis up")
        client.close()

    @staticmethod
    def _pings(client: redis.Redis) -> bool:
        try:
            return bool(client.ping())
        except redis.ConnectionError:
            return False

    def stop(self) -> None:
        """SIGTERM: Redis's clean shutdown (the append-only file is flushed when there is one)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def restart(self) -> None:
        self.stop()
        self.start()

    def queued(self, queue: str) -> int:
        client = redis.Redis.from_url(self.url)
        try:
            return int(client.llen(queue))
        finally:
            client.close()


#: Debian's rabbitmq-server package: the server script itself (/usr/sbin's wrapper would log to
#: /var/log/rabbitmq and take the system node's settings).
RABBITMQ_SERVER = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")
RABBITMQ_USER = "rabbitmq"


class PrivateRabbitMQ:
    """A RabbitMQ node of its own (rabbitmq-server, as the rabbitmq user, data under ``var``) on free
    ports, named for the run; the node that other tests and runs use is never restarted."""

    def __init__(self, var: Path) -> None:
        self.port = free_port()
        self.dist_port = free_port()
        self.node = f"relops-restart-{RUN_ID}@localhost"
        self.var = var / "rabbitmq"
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    def _argv(self) -> list[str]:
        if not RABBITMQ_SERVER.exists():
            pytest.fail(f"{RABBITMQ_SERVER} is missing: this test needs the rabbitmq-server package", pytrace=False)
        try:
            user = pwd.getpwnam(RABBITMQ_USER)
        except KeyError:
            pytest.fail(f"no {RABBITMQ_USER!r} user: this test needs the rabbitmq-server package", pytrace=False)
        settings = {
            # The rabbitmq user's Erlang cookie, so that the node starts as the package's nodes do.
            "HOME": user.pw_dir,
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_CONFIG_FILE": str(self.var / "rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.var / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(self.var / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.var / "log"),
            "RABBITMQ_PID_FILE": str(self.var / "rabbitmq.pid"),
        }
        argv = ["env", *(f"{name}={value}" for name, value in settings.items()), str(RABBITMQ_SERVER)]
        if os.geteuid() == user.pw_uid:
            return argv
        if os.geteuid() != 0 or shutil.which("runuser") is None:
            pytest.fail(f"this test starts a RabbitMQ node: run it as root (with runuser) or as {RABBITMQ_USER}")
        return ["runuser", "-u", RABBITMQ_USER, "--", *argv]

    def start(self) -> None:
        argv = self._argv()
        if not self.var.exists():
            self.var.mkdir(parents=True)
            (self.var / "rabbitmq.conf").write_text(f"listeners.tcp.local = 127.0.0.1:{self.port}\n")
            (self.var / "enabled_plugins").write_text("[].\n")
            if os.geteuid() == 0:
                user = pwd.getpwnam(RABBITMQ_USER)
                for path in (self.var, *self.var.rglob("*")):
                    os.chown(path, user.pw_uid, user.pw_gid)
        log = (self.var.parent / "rabbitmq-server.log").open("ab")
        self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        poll_until(
            lambda: services.rabbitmq_problem(self.url) is None or self.proc.poll() is not None, 90, 0.5, "rabbitmq up"
        )
        assert self.proc.poll() is None, (self.var.parent / "rabbitmq-server.log").read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        """SIGTERM to the node: RabbitMQ's clean shutdown (quorum queues flush their logs)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        pid_file = self.var / "rabbitmq.pid"
        try:
            os.kill(int(pid_file.read_text().split()[0]), signal.SIGTERM)
        except (OSError, ValueError, IndexError):
            # No pid file yet or any more: the launcher's process group holds the node.
            self.proc.terminate()
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)

    def restart(self) -> None:
        self.stop()
        self.start()

    def queued(self, queue: str) -> int:
        with Connection(self.url, connect_timeout=5) as connection:
            return queue_backlog(connection, queue)


def flow_totals(db: Engine, flow: str) -> tuple[tuple[int, int], tuple[int, int]]:
    """(good, bad) summed over the minute rows and over the hour rows."""
    with db.connect() as conn:
        minutes = conn.execute(
            text("SELECT coalesce(sum(good), 0), coalesce(sum(bad), 0) FROM ops_flow_minutes WHERE flow = :f"),
            {"f": flow},
        ).one()
        hours = conn.execute(
            text("SELECT coalesce(sum(good), 0), coalesce(sum(bad), 0) FROM ops_flow_hours WHERE flow = :f"),
            {"f": flow},
        ).one()
    return (int(minutes[0]), int(minutes[1])), (int(hours[0]), int(hours[1]))


class SteadyOutcomes:
    """A service recording outcomes of one flow at a steady pace in a thread, counting what it recorded."""

    def __init__(self, broker_url: str, flow: str) -> None:
        self.recorder = OutcomeRecorder(broker_url=broker_url, flush_interval_s=0.2, send_timeout_s=1.0)
        self.flow = flow
        self.recorded: Counter[bool] = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        i = 0
        while not self._stop.wait(0.002):
            ok = i % 10 != 0
            self.recorder.record(self.flow, ok=ok)
            self.recorded[ok] += 1
            i += 1

    def finish(self) -> tuple[int, int]:
        """Stop recording, ship everything pending; the (good, bad) that was recorded."""
        if self._stop.is_set():
            return self.recorded[True], self.recorded[False]
        self._stop.set()
        self._thread.join(10)
        assert self.recorder.flush(timeout_s=60), "the client could not ship its pending batches"
        self.recorder.close()
        return self.recorded[True], self.recorded[False]


def retries_logged(worker: CeleryProcess) -> int:
    return worker.log_text().count("event=task.retry")


def test_postgres_restarted_while_events_flow_loses_and_doubles_nothing(broker, relops_env, output_dir):
    with (
        private_dir() as var,
        private_postgres(var) as postgres,
        scratch_database(postgres.base_url, "relops_restart") as owner_url,
        private_broker(broker, f"pg-restart-{broker.name}") as urls,
    ):
        worker_url = make_url(owner_url).set(username="relops_worker").render_as_string(hide_password=False)
        env = {**relops_env, **urls, "DATABASE_URL": worker_url, "RELOPS_ADMIN_DATABASE_URL": owner_url}
        name = f"relops-pg-restart-{broker.name}-{RUN_ID}"
        worker = start_worker(env, output_dir / f"{name}.log", name, "ingest", 2)
        db = create_engine(owner_url)
        service = SteadyOutcomes(urls["CELERY_BROKER_URL"], "checkout")
        try:
            wait_for(lambda: flow_totals(db, "checkout")[0][0] > 0, what="events landing before the restart")
            db.dispose()
            postgres.stop("fast")  # every connection the worker holds is cut; new ones are refused
            wait_for(lambda: retries_logged(worker) >= 3, timeout_s=60, what="tasks retrying while it is down")
            postgres.start()
            landed_at_restart = flow_totals(db, "checkout")[0][0]
            wait_for(
                lambda: flow_totals(db, "checkout")[0][0] > landed_at_restart,
                timeout_s=60,
                what="events landing again",
            )
            recorded = service.finish()
            wait_for(
                lambda: flow_totals(db, "checkout") == (recorded, recorded),
                timeout_s=120,
                what=f"every recorded outcome counted once: {recorded}",
            )
            with db.connect() as conn:
                batches = conn.execute(text("SELECT count(*), sum(accepted) FROM ops_ingested_batches")).one()
            assert batches[0] == service.recorder.stats.sent_batches
            assert worker.alive()
            assert "OperationalError" in worker.log_text()  # the log says what failed
            status = subprocess.run(
                [RELOPS, "status"], env={**env, "PATH": "/usr/bin:/bin"}, capture_output=True, text=True, timeout=60
            )
            assert status.returncode == 0, status.stderr
            assert "retry:relops.record_flow_outcomes" in status.stdout
        finally:
            service.finish()
            worker.stop()
            db.dispose()


def send_alert(broker_url: str, flow: str) -> None:
    producer = BrokerProducer(broker_url, "restart-producer")
    try:
        producer.send_task("relops.dispatch_alert", queue="alerts", kwargs=alert_event(flow))
    finally:
        producer.close()


@contextmanager
def workers_on(env: dict[str, str], output_dir: Path, label: str) -> Iterator[list[CeleryProcess]]:
    started: list[CeleryProcess] = []
    try:
        for queues, concurrency in (("ingest,alerts", 2), ("alerts.webhook,alerts.email", 1)):
            name = f"relops-{label}-{queues.split(',')[0].replace('.', '-')}-{RUN_ID}"
            started.append(start_worker(env, output_dir / f"{name}.log", name, queues, concurrency))
        yield started
    finally:
        for process in started:
            process.stop()


@contextmanager
def broker_beside(broker, redis_url: str, label: str) -> Iterator[str]:
    """The broker URL for a test's own Redis at ``redis_url``: that Redis itself, or on RabbitMQ a
    vhost of the test's own (the shared state stays in the Redis)."""
    if broker.name == "redis":
        yield redis_url
        return
    with run_vhost(label) as vhost:
        yield vhost.url


@pytest.mark.usefixtures("clean_tables")
def test_redis_restarted_with_nothing_on_disk_recovers_by_itself(broker, relops_env, db, webhook_sink, output_dir):
    """As this machine runs Redis: breaker and dedup state are gone after the restart (breakers read
    CLOSED), a repeated alert is still held to its repeat interval (who heard of an incident, and
    when, is in PostgreSQL), and the stack goes on without anyone touching it. On Redis as the broker
    what was queued is lost too, and the client keeps what it could not send; on RabbitMQ the broker
    takes the service's events all along and holds them until the workers can store them."""
    with private_dir() as var:
        server = PrivateRedis(var, appendonly=False)
        server.start()
        try:
            label = f"redis-restart-{broker.name}"
            with broker_beside(broker, server.url, label) as broker_url:
                env = {**relops_env, "REDIS_URL": server.url, "CELERY_BROKER_URL": broker_url}
                with workers_on(env, output_dir, label) as workers:
                    send_alert(broker_url, "login")
                    wait_for(lambda: webhook_sink.received == 1, what="the first page")
                    shared_state = redis.Redis.from_url(server.url)
                    breaker = CircuitBreaker(
                        "webhook", BreakerSettings(failure_threshold=1, open_s=600), lambda: shared_state
                    )
                    breaker.record(breaker.admit(), ok=False)
                    assert breaker.is_degraded()
                    shared_state.close()

                    before = SteadyOutcomes(broker_url, "search")
                    before_counts = before.finish()
                    wait_for(lambda: flow_totals(db, "search")[0] == before_counts, what="events before the restart")

                    server.stop()
                    during = SteadyOutcomes(broker_url, "search")  # the service goes on recording meanwhile
                    if broker.name == "redis":
                        wait_for(lambda: during.recorder.stats.send_failures > 0, what="the client noticing the outage")
                    else:
                        wait_for(
                            lambda: during.recorder.stats.sent_batches >= 3, what="RabbitMQ taking events meanwhile"
                        )
                        assert during.recorder.stats.send_failures == 0
                    server.start()
                    during_counts = during.finish()
                    expected = (before_counts[0] + during_counts[0], before_counts[1] + during_counts[1])
                    wait_for(
                        lambda: flow_totals(db, "search") == (expected, expected),
                        timeout_s=90,
                        what="the worker consuming again by itself; every recorded outcome counted once",
                    )

                    breaker_state = subprocess.run(
                        [RELOPS, "breakers"],
                        env={**env, "PATH": "/usr/bin:/bin"},
                        capture_output=True,
                        text=True,
                        timeout=60,
                    )
                    assert breaker_state.returncode == 0, breaker_state.stderr
                    webhook_line = next(line for line in breaker_state.stdout.splitlines() if "webhook" in line)
                    assert "closed" in webhook_line.lower(), breaker_state.stdout
                    # The dedup window of slo:login was in Redis and is gone; the incident remembers.
                    send_alert(broker_url, "login")
                    occurrences = "SELECT occurrences FROM ops_incidents WHERE fingerprint = 'slo:login'"
                    wait_for(lambda: scalar(db, occurrences) == 2, timeout_s=60, what="the repeat recorded")
                    owed = (
                        "SELECT count(*) FROM ops_notifications "
                        "WHERE receiver = 'webhook' AND payload->>'fingerprint' = 'slo:login'"
                    )
                    assert scalar(db, owed) == 1 and webhook_sink.received == 1  # decided in the same transaction
                    assert all(w.alive() for w in workers)
        finally:
            server.stop()


@contextmanager
def private_broker_server(broker, var: Path) -> Iterator[PrivateRedis | PrivateRabbitMQ]:
    """A broker server of the test's own: Redis with an append-only file (fsync always), as
    docker-compose runs it, or a RabbitMQ node."""
    server = PrivateRedis(var, appendonly=True) if broker.name == "redis" else PrivateRabbitMQ(var)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.usefixtures("clean_tables")
def test_the_broker_restarted_keeps_what_was_queued(broker, relops_env, db, output_dir):
    """Events queued at the moment of the restart survive it: Redis as docker-compose runs it (an
    append-only file), RabbitMQ by its durable quorum queues and persistent messages.

    The ingest worker is down across the restart, so the queue provably holds events then; the
    service keeps recording throughout (its sends fail while the broker is down, and are made again),
    and every outcome is counted exactly once in the end.
    """
    with (
        private_dir() as var,
        private_broker_server(broker, var) as server,
        claimed_redis_db(BASE_REDIS_URL, f"test-{RUN_ID}-broker-restart") as redis_url,
    ):
        # On Redis the broker is the shared state too; on RabbitMQ the run's Redis keeps that.
        env = {**relops_env, "REDIS_URL": server.url if broker.name == "redis" else redis_url}
        env["CELERY_BROKER_URL"] = server.url
        name = f"relops-broker-restart-{broker.name}-{RUN_ID}"
        worker = start_worker(env, output_dir / f"{name}.log", name, "ingest", 2)
        service = SteadyOutcomes(server.url, "signup")
        try:
            wait_for(lambda: flow_totals(db, "signup")[0][0] > 0, what="events landing before the restart")
            worker.stop()
            wait_for(lambda: server.queued("ingest") >= 3, what="events queued while no worker consumes")
            queued = server.queued("ingest")
            server.restart()
            # A restarted RabbitMQ answers before its quorum queues have recovered their logs: poll.
            wait_for(lambda: server.queued("ingest") >= queued, what=f"the {queued} queued events after the restart")
            worker = start_worker(env, output_dir / f"{name}.log", name, "ingest", 2)
            recorded = service.finish()
            wait_for(
                lambda: flow_totals(db, "signup") == (recorded, recorded),
                timeout_s=90,
                what=f"every recorded outcome counted once: {recorded}",
            )
            assert worker.alive()
        finally:
            service.finish()
            worker.stop()
