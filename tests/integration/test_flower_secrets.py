"""Flower shows every task's arguments, result, exception and traceback to whoever signs in: none
of that may hold a secret, and nobody reads it without the password.

A real Flower process watches this run's broker while real workers route alerts to failing and
then answering receivers (whose error bodies echo the webhook URL and the API key back, as real
receivers do), ingest batches and take cron runs. The test waits until Flower shows those tasks,
with their retries, dead letters and a failure, so it cannot pass because Flower showed nothing.
"""

from __future__ import annotations

import html
import json
import secrets
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from celery import Celery
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from relops.localdev.sink import HttpSink, SinkResponse
from relops.timeutil import floor_minute, iso_minute, utcnow
from tests.integration.conftest import RESEND_KEY, WEBHOOK_SECRET_PATH, WORKER_DB_PASSWORD, wait_for
from tests.support.servers import running_flower
from tests.web_support import new_user

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("worker", "channel_workers", "clean_tables")]

FLOWER_USER = "flower"
# Random per run, so no other test or log can hold it by accident.
FLOWER_PASSWORD = secrets.token_urlsafe(12)
AUTH = (FLOWER_USER, FLOWER_PASSWORD)
TIMEOUT_S = 10


@pytest.fixture(scope="module")
def flower(relops_env: dict[str, str], output_dir: Path, run_id: str) -> Iterator[str]:
    """A Flower process on a free port, as the Procfile runs it (basic auth), on this run's broker."""
    with running_flower(relops_env, output_dir / f"flower-{run_id}.log", f"{FLOWER_USER}:{FLOWER_PASSWORD}") as url:
        yield url


def flower_tasks(flower: str) -> dict[str, dict[str, Any]]:
    response = requests.get(flower + "/api/tasks", auth=AUTH, timeout=TIMEOUT_S)
    response.raise_for_status()
    return response.json()


def wait_until_flower_sees_events(flower: str, producer: Celery) -> None:
    """Flower only knows tasks whose events arrive after its receiver is connected: send a small
    batch until one shows, so the tasks below are all seen (a first event could be missed)."""
    minute = iso_minute(floor_minute(utcnow()) - timedelta(minutes=1))
    sent: list[str] = []
    last_sent = [0.0]

    def seen() -> bool:
        if time.monotonic() - last_sent[0] >= 1.0:  # one probe a second, not one per poll
            last_sent[0] = time.monotonic()
            counts = [{"flow": "login", "minute": minute, "good": 1, "bad": 0}]
            probe = producer.send_task(
                "relops.record_flow_outcomes", kwargs={"batch_id": uuid.uuid4().hex, "counts": counts}, queue="ingest"
            )
            sent.append(probe.id)
        return bool(set(sent) & set(flower_tasks(flower)))

    wait_for(seen, timeout_s=60, what="flower receiving task events")


def alert(dedup_key: str) -> dict[str, Any]:
    return {
        "dedup_key": dedup_key,
        "fingerprint": dedup_key,
        "severity": "critical",
        "source": "slo",
        "title": f"CRITICAL: {dedup_key}",
        "summary": "burning",
        "details": {"burn_rate": 42.0},
        "runbook_url": "",
        "occurred_at": utcnow().isoformat(),
    }


def notifications_settled(db: Engine, expected: int) -> bool:
    with db.connect() as conn:
        done = conn.execute(
            text("SELECT count(*) FROM ops_notifications WHERE status IN ('delivered', 'dead')")
        ).scalar()
    return done == expected


def test_flower_shows_the_tasks_but_no_secret(
    flower: str,
    producer: Celery,
    db: Engine,
    relops_env: dict[str, str],
    webhook_sink: HttpSink,
    email_sink: HttpSink,
) -> None:
    webhook_url = relops_env["MONITORING_ALERT_WEBHOOK_URL"]
    assert make_url(relops_env["DATABASE_URL"]).password == WORKER_DB_PASSWORD
    tokens = [new_user(relops_env, "admin"), new_user(relops_env, "viewer")]
    forbidden = {
        "webhook secret path segment": WEBHOOK_SECRET_PATH.rsplit("/", 1)[-1],
        "webhook URL": webhook_url,
        "webhook path": WEBHOOK_SECRET_PATH,
        "Resend key": RESEND_KEY,
        "admin token": tokens[0],
        "viewer token": tokens[1],
        "database URL": relops_env["DATABASE_URL"],
        "admin database URL": relops_env["RELOPS_ADMIN_DATABASE_URL"],
        "Flower password": FLOWER_PASSWORD,
        "worker database password": WORKER_DB_PASSWORD,
    }
    wait_until_flower_sees_events(flower, producer)

    # Receivers that fail first, quoting the credentials back in their error bodies.
    echo = f"no such hook {webhook_url} for key {RESEND_KEY}".encode()
    webhook_sink.respond_with(SinkResponse(status=500, body=echo), SinkResponse(status=503, body=echo))
    email_sink.respond_with(SinkResponse(status=500, body=echo))
    sent = {"first alert": producer.send_task("relops.dispatch_alert", kwargs=alert("slo:flower-a"), queue="alerts")}
    wait_for(lambda: notifications_settled(db, 2), timeout_s=60, what="both channels delivered after retries")
    # Then a key the receiver refuses for good: a dead letter.
    email_sink.respond_with(SinkResponse(status=401, body=echo))
    sent["second alert"] = producer.send_task("relops.dispatch_alert", kwargs=alert("slo:flower-b"), queue="alerts")
    wait_for(lambda: notifications_settled(db, 4), timeout_s=60, what="a delivered webhook and a dead email")

    minute = iso_minute(floor_minute(utcnow()) - timedelta(minutes=1))
    sent["batch"] = producer.send_task(
        "relops.record_flow_outcomes",
        kwargs={"batch_id": uuid.uuid4().hex, "counts": [{"flow": "checkout", "minute": minute, "good": 9, "bad": 1}]},
        queue="ingest",
    )
    sent["rejected batch"] = producer.send_task(
        "relops.record_flow_outcomes",
        kwargs={"batch_id": uuid.uuid4().hex, "counts": [{"flow": "nope", "minute": minute, "good": -1, "bad": 0}]},
        queue="ingest",
    )
    for n in range(2):  # two failures in a row: nightly-export's threshold, so a cron alert too
        sent[f"cron failure {n}"] = producer.send_task(
            "relops.cron_run",
            kwargs={
                "name": "nightly-export",
                "run_id": uuid.uuid4().hex,
                "status": "failure",
                "at": utcnow().isoformat(),
                "duration_ms": 1200,
                "result": None,
                "error": "exit 3: upstream refused",
            },
            queue="cron",
        )
    # A task that raises: Flower shows its exception and traceback.
    sent["failing task"] = producer.send_task("relops.notify_webhook", args=["a", "b"], queue="alerts.webhook")
    ids = {name: result.id for name, result in sent.items()}

    def everything_shown() -> dict[str, dict[str, Any]] | None:
        tasks = flower_tasks(flower)
        finished = all(tasks.get(i, {}).get("state") in ("SUCCESS", "FAILURE") for i in ids.values())
        results = [str(t.get("result")) for t in tasks.values()]
        names = [t.get("name") for t in tasks.values()]
        shown = (
            finished
            and any("retry_in_s" in r for r in results)  # a retried send
            and any("'dead_letter': True" in r for r in results)
            and any("'delivered': True" in r for r in results)
            and names.count("relops.dispatch_alert") >= 3  # the cron alert, sent by a worker
            and tasks[ids["failing task"]].get("exception")
        )
        return tasks if shown else None

    tasks = wait_for(everything_shown, timeout_s=90, what="flower showing every task, retry and failure")
    assert tasks[ids["failing task"]]["state"] == "FAILURE" and tasks[ids["failing task"]]["traceback"]
    assert "burning" in str(tasks[ids["first alert"]]["kwargs"])  # Flower does show arguments

    # Every view of the tasks: the API list, each task's API record and page, the task table; and
    # the worker views, which show each worker's configuration and broker connection.
    pages: dict[str, str] = {}

    def read(path: str, **params: Any) -> str:
        response = requests.get(flower + path, params=params, auth=AUTH, timeout=30)
        assert response.status_code == 200, f"{path}: {response.status_code}"  # a refusal would hide a leak
        pages[path] = response.text
        return response.text

    read("/api/tasks")
    read("/tasks")
    table = {"order[0][column]": 0, "order[0][dir]": "desc", "columns[0][data]": "received"}
    read("/tasks/datatable", draw=1, start=0, length=1000, **table)
    for task_id in tasks:
        read(f"/api/task/info/{task_id}")
        read(f"/task/{task_id}")
    for name in json.loads(read("/api/workers")):
        read(f"/worker/{name}")
    assert "relops.notify_email" in pages["/tasks/datatable"] and "Traceback" in pages["/api/tasks"]
    for what, secret in forbidden.items():
        # Pages are HTML-escaped: a secret with "&" or "'" in it would otherwise slip past.
        leaks = [path for path, body in pages.items() if secret in body or secret in html.unescape(body)]
        assert not leaks, f"the {what} appears in Flower at {leaks[:5]}"


def test_flower_refuses_without_the_password(flower: str) -> None:
    for path in ("/", "/tasks", "/tasks/datatable", "/api/tasks", "/api/workers", "/task/x", "/api/task/info/x"):
        assert requests.get(flower + path, timeout=TIMEOUT_S).status_code == 401, path
        wrong = requests.get(flower + path, auth=(FLOWER_USER, "wrong"), timeout=TIMEOUT_S)
        assert wrong.status_code == 401, path
