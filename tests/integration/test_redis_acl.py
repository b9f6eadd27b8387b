"""docker-compose.yml's Redis users (deploy/redis/users.sh), on a real redis-server started with the
ACL file that script writes: the intake and services can push to the queues they report to and keep
their own state, and nothing else; relops' workers run as relops and do their work."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from celery import Celery
from redis.exceptions import NoPermissionError, ResponseError
from relops_client.breakers import BreakerRegistry, BreakerSettings
from relops_client.producer import TaskProducer

from relops.access.report_keys import ReportKey
from relops.intake.shared_state import SharedState, UnpairedPing
from relops.names import QUEUE_ALERTS, QUEUE_CRON, QUEUE_EVALUATE, QUEUE_INGEST, TASK_RECORD_FLOW_OUTCOME_BATCHES
from relops.timeutil import floor_minute, iso_minute, utcnow
from tests.integration.conftest import wait_for
from tests.integration.queries import batch_landed
from tests.support.celery_process import start_worker
from tests.support.redis_sentinel import free_port

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
USERS = ("admin", "relops", "intake", "service")


@dataclass(frozen=True)
class AclRedis:
    port: int
    passwords: dict[str, str]

    def url(self, user: str) -> str:
        name = "default" if user == "admin" else user
        return f"redis://{name}:{self.passwords[user]}@127.0.0.1:{self.port}/0"

    def client(self, user: str) -> redis.Redis:
        return redis.Redis.from_url(self.url(user), socket_timeout=5)


@pytest.fixture(scope="module")
def acl_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AclRedis]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed (Debian/Ubuntu: apt-get install redis-server)")
    folder = tmp_path_factory.mktemp("acl-redis")
    passwords = {user: secrets.token_urlsafe(24) for user in USERS}
    env = {**os.environ, **{f"REDIS_{user.upper()}_PASSWORD": password for user, password in passwords.items()}}
    acl = subprocess.run(
        ["sh", str(ROOT / "deploy" / "redis" / "users.sh")], env=env, capture_output=True, text=True, timeout=30
    )
    assert acl.returncode == 0, acl.stderr
    assert not any(password in acl.stdout for password in passwords.values()), "stored hashed"
    (folder / "users.acl").write_text(acl.stdout)
    port = free_port()
    config = folder / "redis.conf"
    config.write_text(
        f'port {port}\nbind 127.0.0.1\ndir {folder}\nsave ""\nappendonly no\naclfile {folder}/users.acl\n'
    )
    with (folder / "redis.log").open("ab") as log:
        proc = subprocess.Popen([binary, str(config)], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    server = AclRedis(port, passwords)
    try:
        wait_for(lambda: _answers(server), timeout_s=20, what="the ACL redis-server answering")
        yield server
    finally:
        proc.terminate()
        proc.wait(10)


def _answers(server: AclRedis) -> bool:
    try:
        return bool(server.client("admin").ping())
    except redis.ConnectionError:
        return False


def _outcome_batch() -> dict:
    minute = iso_minute(floor_minute(utcnow()))
    return {"batch_id": uuid.uuid4().hex, "counts": [{"flow": "login", "minute": minute, "good": 1, "bad": 0}]}


def _denied(client: redis.Redis, *command: str) -> bool:
    try:
        client.execute_command(*command)
    except NoPermissionError:
        return True
    except ResponseError as exc:  # a script's call refused: Redis reports it as a script error
        return "can't access" in str(exc) or "no permissions" in str(exc)
    return False


def test_a_wrong_password_or_no_user_is_refused(acl_redis):
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(port=acl_redis.port, username="intake", password="guess").ping()
    with pytest.raises((redis.AuthenticationError, redis.ResponseError)):
        redis.Redis(port=acl_redis.port).ping()  # the default user has a password too


def test_the_intake_pushes_to_its_queues_and_keeps_its_state_and_nothing_else(acl_redis):
    admin, intake = acl_redis.client("admin"), acl_redis.client("intake")
    admin.set("relops:dedup:webhook:slo:checkout", "secret state")
    producer = TaskProducer(acl_redis.url("intake"), 5.0)
    try:
        producer.send("relops.record_flow_outcome_batches", {"batches": []}, QUEUE_INGEST)
        producer.send("relops.cron_run_batch", {"events": []}, QUEUE_CRON)
    finally:
        producer.close()
    assert admin.llen(QUEUE_INGEST) >= 1 and admin.llen(QUEUE_CRON) >= 1

    state = SharedState(intake, open_run_ttl_s=60)
    key = ReportKey(7, "svc", frozenset({"cron"}), None, None, 10.0, 20)
    ping = UnpairedPing("nightly", starts=True, key_id=7, rank=1)
    quotas = state.settle({7: (key, 1)}, [ping])
    assert quotas[7].granted == 1 and not state.fallbacks, "the intake's script ran as intake"
    assert admin.exists("relops:intake:quota:7") and admin.exists("relops:intake:open-run:nightly")

    assert _denied(intake, "LRANGE", QUEUE_INGEST, "0", "-1"), "the intake may not read what others report"
    assert _denied(intake, "RPOP", QUEUE_INGEST)
    assert _denied(intake, "LPUSH", QUEUE_EVALUATE, "x") and _denied(intake, "LPUSH", QUEUE_ALERTS, "x")
    assert _denied(intake, "GET", "relops:dedup:webhook:slo:checkout")
    # A resolution clicked in Slack forgets the incident's dedup windows: it may delete one, and neither
    # write one (which would hold back a page) nor read one.
    assert _denied(intake, "SET", "relops:dedup:webhook:slo:checkout", "forged")
    assert _denied(intake, "HSET", "relops:dedup:webhook:slo:other", "rank", "9")
    assert intake.delete("relops:dedup:webhook:slo:checkout") == 1
    assert not admin.exists("relops:dedup:webhook:slo:checkout")
    assert _denied(intake, "HGETALL", "relops:breaker:postgres")
    assert _denied(intake, "EVAL", "return redis.call('GET', 'relops:dedup:webhook:slo:checkout')", "0")
    assert _denied(intake, "SCAN", "0") and _denied(intake, "KEYS", "*") and _denied(intake, "FLUSHALL")
    assert _denied(intake, "CONFIG", "GET", "*") and _denied(intake, "PUBLISH", "/0.celeryev", "x")


def test_a_service_guards_calls_with_the_shared_breakers_and_reports_and_nothing_else(acl_redis, monkeypatch):
    admin, service = acl_redis.client("admin"), acl_redis.client("service")
    breakers = BreakerRegistry({"payments": BreakerSettings()}, lambda: service)
    breaker = breakers.get("payments")
    ticket = breaker.admit()
    assert ticket is not None and not ticket.offline, "the breaker's script ran as service"
    breaker.record(ticket, ok=False)
    assert admin.exists("relops:breaker:payments")
    producer = TaskProducer(acl_redis.url("service"), 5.0)
    try:
        for queue in (QUEUE_INGEST, QUEUE_CRON, QUEUE_ALERTS):
            producer.send("relops.record_flow_outcomes", {}, queue)
    finally:
        producer.close()

    # A service with plain Celery, as the integration guide's "From any codebase" sends (Celery would take a
    # CELERY_BROKER_URL of this process's environment over the broker given).
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    queued = admin.llen(QUEUE_CRON)
    celery = Celery("service", broker=acl_redis.url("service"), set_as_current=False)
    try:
        celery.send_task("relops.cron_run", kwargs={"name": "nightly"}, queue=QUEUE_CRON)
    finally:
        celery.close()
    assert admin.llen(QUEUE_CRON) == queued + 1

    assert _denied(service, "HSET", "relops:intake:quota:7", "tokens", "1000000"), "no forged intake quota"
    assert _denied(service, "RPOP", QUEUE_ALERTS) and _denied(service, "LPUSH", QUEUE_EVALUATE, "x")
    assert _denied(service, "GET", "relops:dedup:webhook:slo:checkout")
    assert _denied(service, "SCAN", "0") and _denied(service, "FLUSHALL") and _denied(service, "SCRIPT", "FLUSH")


def test_a_worker_runs_as_relops_and_reads_what_the_intake_pushed(acl_redis, relops_env, db, output_dir, run_id):
    relops = acl_redis.client("relops")
    assert _denied(relops, "FLUSHALL") and _denied(relops, "CONFIG", "GET", "*") and _denied(relops, "ACL", "LIST")
    acl_redis.client("admin").delete(QUEUE_INGEST, QUEUE_CRON, QUEUE_ALERTS)
    env = {**relops_env, "REDIS_URL": acl_redis.url("relops"), "CELERY_BROKER_URL": acl_redis.url("relops")}
    name = f"relops-acl-{run_id}"
    worker = start_worker(env, output_dir / f"{name}.log", name, queues=QUEUE_INGEST, concurrency=1)
    try:
        batch = _outcome_batch()
        producer = TaskProducer(acl_redis.url("intake"), 5.0)
        try:
            producer.send(TASK_RECORD_FLOW_OUTCOME_BATCHES, {"batches": [batch]}, QUEUE_INGEST)
        finally:
            producer.close()
        wait_for(lambda: batch_landed(db, batch["batch_id"]), what="the batch counted by the worker as relops")
        assert worker.alive()
        assert "NOPERM" not in worker.log_text() and "NoPermission" not in worker.log_text()
    finally:
        worker.stop()
