"""What relops declares and relies on when RabbitMQ is the broker, read back from RabbitMQ itself:
durable quorum queues behind topic exchanges, countdowns held by the broker and not by a worker,
publisher confirms behind every 202 of the intake, a refusal to start on queues declared otherwise,
and no password in Flower. The pipeline, routing, kill and restart tests run on RabbitMQ as well
(conftest.broker); these are the properties only RabbitMQ has."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from kombu import Connection, Exchange, Queue
from relops_client.producer import TaskProducer
from sqlalchemy import Engine

from relops import names
from relops.timeutil import utcnow
from tests.conftest import RABBITMQ_PASSWORD, RUN_ID, run_vhost
from tests.integration.conftest import DELAY_QUEUES, wait_for
from tests.integration.queries import flow_totals
from tests.integration.test_intake import bearer, new_key, running_intake
from tests.support.celery_process import REPO, CeleryProcess, poll_until
from tests.support.rabbitmq import ScratchVhost, rabbitmqctl
from tests.web_support import free_port

pytestmark = [pytest.mark.integration, pytest.mark.parametrize("broker", ["rabbitmq"], indirect=True)]
CELERY = str(Path(sys.executable).parent / "celery")
#: Long enough that the checks below (each rabbitmqctl call takes about a second) see it waiting.
COUNTDOWN_S = 5.5


def listed(vhost: str, what: str, *columns: str) -> dict[str, list[str]]:
    """``rabbitmqctl list_<what>`` of ``vhost``: the other columns by the first."""
    out = rabbitmqctl(f"list_{what}", "-p", vhost, "--no-table-headers", *columns)
    rows = [line.split("\t") for line in out.splitlines() if line.strip()]
    return {row[0]: row[1:] for row in rows}


def minute_now() -> str:
    return utcnow().strftime("%Y-%m-%dT%H:%M:00Z")


def test_every_relops_queue_is_a_durable_quorum_queue_behind_a_topic_exchange(
    broker, broker_worker, broker_channel_workers
):
    queues = listed(broker.vhost.vhost, "queues", "name", "type", "durable")
    exchanges = listed(broker.vhost.vhost, "exchanges", "name", "type", "durable")
    for name in names.ALL_QUEUES:
        assert queues[name] == ["quorum", "true"], name
        assert exchanges[name] == ["topic", "true"], name
    # Celery's delay queues for countdowns: as durable, dead-lettering level by level.
    delays = [name for name in queues if name.startswith("celery_delayed_")]
    assert len(delays) == 28 and all(queues[name] == ["quorum", "true"] for name in delays)
    # Quorum queues allow no global QoS: the worker said it uses a static per-consumer prefetch.
    assert "Global QoS is disabled" in broker_worker.log_text()


def test_a_countdown_waits_in_rabbitmq_and_not_in_a_worker(broker, broker_worker, db: Engine, clean_tables) -> None:
    """relops' own publish path (tasks.base.celery_publish), in a process of its own on RabbitMQ: a
    message with a countdown sits in Celery's delay queues, not unacked in the consuming worker
    (where it would hold one of the quorum queue's fixed prefetch slots), and runs once due."""

    def received() -> int:  # Celery logs each message a worker takes
        return len(re.findall(r"Task relops\.record_flow_outcomes\[[0-9a-f-]+\] received", broker_worker.log_text()))

    received_before = received()
    batch_id = uuid.uuid4().hex
    kwargs = {"batch_id": batch_id, "counts": [{"flow": "signup", "minute": minute_now(), "good": 3, "bad": 1}]}
    code = (
        "import sys, json; from tasks.base import celery_publish; "
        f"celery_publish('relops.record_flow_outcomes', json.loads(sys.argv[1]), 'ingest', {COUNTDOWN_S})"
    )
    subprocess.run(
        [sys.executable, "-c", code, json.dumps(kwargs)],
        env={**os.environ, **broker.env},
        cwd=REPO,
        check=True,
        timeout=60,
    )
    sent_at = time.monotonic()
    assert broker.vhost.ready(*DELAY_QUEUES) == 1 and broker.vhost.ready(names.QUEUE_INGEST) == 0
    assert received() == received_before, "the worker must not be holding it"
    wait_for(lambda: flow_totals(db, "signup") == (3, 1), timeout_s=30, what="the batch run once due")
    assert received() == received_before + 1
    # Whole seconds, rounded up (relops.broker.publish_countdown): never before the ETA.
    assert time.monotonic() - sent_at >= COUNTDOWN_S - 1.0  # measured from after the sender exited


@pytest.fixture
def private_vhost() -> Iterator[ScratchVhost]:
    """A vhost of the test's own, where no worker consumes."""
    with run_vhost(f"private-{uuid.uuid4().hex[:6]}") as vhost:
        yield vhost


def test_the_intake_answers_202_only_once_rabbitmq_has_confirmed_the_message(
    broker, private_vhost: ScratchVhost, relops_env: dict[str, str], output_dir: Path, clean_tables
) -> None:
    """Publisher confirms: the intake's 202 comes after RabbitMQ has stored the message in a durable
    quorum queue; when RabbitMQ refuses it (the queue full, with reject-publish), the answer is 503."""
    key = new_key("--scope", "outcomes")
    env = {**relops_env, "CELERY_BROKER_URL": private_vhost.url}
    with running_intake(env, output_dir / f"intake-rabbitmq-{RUN_ID}.log") as url:

        def post() -> requests.Response:
            """A new batch each time: the intake answers a batch id it already sent without sending it."""
            counts = [{"flow": "login", "minute": minute_now(), "good": 1, "bad": 0}]
            batch = {"batch_id": uuid.uuid4().hex, "counts": counts}
            return requests.post(f"{url}/api/v1/outcomes", json=batch, headers=bearer(key), timeout=10)

        wait_for(lambda: post().status_code == 202, what="the intake knowing the new key")
        assert listed(private_vhost.vhost, "queues", "name", "type", "durable")["ingest"] == ["quorum", "true"]
        held = private_vhost.ready("ingest")
        assert held >= 1  # the 202 came once RabbitMQ had confirmed it: it is in the queue now
        # RabbitMQ refuses every new message on the queue from now (a queue over its length limit,
        # rejecting publishes): with confirms it says so, a nack, and the intake answers 503.
        rabbitmqctl("set_policy", "-p", private_vhost.vhost, "--apply-to", "queues", "full", "^ingest$",
                    '{"max-length": 0, "overflow": "reject-publish"}')  # fmt: skip
        answers: list[requests.Response] = []
        wait_for(lambda: answers.append(post()) or answers[-1].status_code == 503, what="a refusal once applied")
        assert "broker" in answers[-1].json()["error"]
        held = private_vhost.ready("ingest")  # what was accepted before the policy applied, and no more
        rabbitmqctl("clear_policy", "-p", private_vhost.vhost, "full")
        wait_for(lambda: post().status_code == 202, timeout_s=15, what="accepted again once RabbitMQ takes messages")
        assert private_vhost.ready("ingest") == held + 1


def test_a_message_no_queue_takes_fails_the_send_instead_of_vanishing(
    broker, private_vhost: ScratchVhost, clean_tables
) -> None:
    """The client and the intake publish with ``mandatory``: with the queue gone after the producer
    declared it (deleted by hand), RabbitMQ returns the message and the send raises; the next send
    declares the queue again and is stored."""
    producer = TaskProducer(private_vhost.url, 3.0)
    try:
        producer.send("relops.cron_run", {"name": "x"}, names.QUEUE_CRON)
        rabbitmqctl("delete_queue", "-p", private_vhost.vhost, names.QUEUE_CRON)
        with pytest.raises(Exception, match="NO_ROUTE"):
            producer.send("relops.cron_run", {"name": "y"}, names.QUEUE_CRON)
        producer.send("relops.cron_run", {"name": "z"}, names.QUEUE_CRON)
    finally:
        producer.close()
    assert private_vhost.ready(names.QUEUE_CRON) == 1  # the last send; the first went with the queue


def test_a_worker_refuses_to_start_on_a_queue_declared_otherwise(
    broker, private_vhost: ScratchVhost, relops_env: dict[str, str]
) -> None:
    """An ``ingest`` queue left by an older relops (a classic queue, a direct exchange): every
    declaration of Celery's would be refused, so the worker stops at once and says what to do."""
    with Connection(private_vhost.url) as connection:
        Queue("ingest", Exchange("ingest", "direct"), "ingest").bind(connection.default_channel).declare()
    done = subprocess.run(
        [CELERY, "-A", "workers", "worker", "-Q", "ingest"],
        env={**os.environ, **relops_env, "CELERY_BROKER_URL": private_vhost.url},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("relops: cannot start: queue 'ingest' on RabbitMQ")
    assert "declared otherwise" in done.stderr and "delete the queue and its exchange" in done.stderr
    assert RABBITMQ_PASSWORD not in done.stderr + done.stdout and "Traceback" not in done.stderr


@pytest.fixture
def flower_on_rabbitmq(broker, output_dir: Path) -> Iterator[str]:
    port = free_port()
    process = CeleryProcess(
        ["flower", f"--port={port}", "--address=127.0.0.1", "--basic-auth=flower:rabbit-test-auth"],
        broker.env,
        output_dir / f"flower-rabbitmq-{RUN_ID}.log",
    )
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return not process.alive() or requests.get(url + "/healthcheck", timeout=1).ok
        except requests.ConnectionError:
            return False

    try:
        poll_until(up, 60, what="flower answering")
        assert process.alive(), process.log_text()[-3000:]
        yield url
    finally:
        process.stop()


def test_flower_on_rabbitmq_never_shows_its_password(broker, broker_worker, flower_on_rabbitmq: str) -> None:
    """Flower on RabbitMQ, with the worker it shows: no page or API answer quotes the broker password
    (the session's audit reads Flower's log and every worker's for it too)."""
    auth = ("flower", "rabbit-test-auth")

    def workers() -> dict[str, Any] | None:
        answer = requests.get(f"{flower_on_rabbitmq}/api/workers", params={"refresh": "true"}, auth=auth, timeout=30)
        found = answer.json() if answer.ok else {}
        return found if any(f"relops-test-rabbitmq-{RUN_ID}" in name for name in found) else None

    shown = wait_for(workers, timeout_s=60, what="flower showing the worker")
    pages = {"/api/workers": str(shown)}
    for path in ("/", "/workers", "/tasks", "/broker", *(f"/worker/{name}" for name in shown)):
        pages[path] = requests.get(flower_on_rabbitmq + path, auth=auth, timeout=30).text
    leaks = [path for path, body in pages.items() if RABBITMQ_PASSWORD in body or broker.url in body]
    assert not leaks, f"the RabbitMQ password appears in Flower at {leaks}"
    assert "virtual_host" in pages["/api/workers"]  # the broker connection is shown, without its password


def test_relops_services_checks_rabbitmq_and_says_how_to_start_it(broker) -> None:
    from relops.cli import cli

    reachable = CliRunner().invoke(cli, ["services", "check", "--rabbitmq", broker.url])
    assert reachable.exit_code == 0, reachable.output
    assert f"service=rabbitmq url={broker.url.replace(RABBITMQ_PASSWORD, '***')} status=reachable" in reachable.output
    down = f"amqp://relops:{RABBITMQ_PASSWORD}@127.0.0.1:{free_port()}/relops"
    refused = CliRunner().invoke(cli, ["services", "up", "--rabbitmq", down])
    assert refused.exit_code == 1
    assert "status=failed" in refused.output and "relops does not start RabbitMQ itself" in refused.output
    assert RABBITMQ_PASSWORD not in refused.output + reachable.output
