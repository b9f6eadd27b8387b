"""relops' pages through Apprise, by real Celery workers, Redis and PostgreSQL, to a local ntfy server
and a local receiver of Apprise's JSON (tests/support/apprise.py: each checks what its vendor
documents and answers as the vendor does).

The workers of this module (``alerts`` and ``alerts.apprise``) run RECEIVER_CONFIG, which
docs/guides/apprise.md shows: one receiver, ``phones``, on the root route, with both URLs in its
variable, on a broker and Redis index of their own. The test sends alert events as a service or an
evaluation would. The URLs carry a token, a secret path and a secret topic: no log or stored row
may quote any of them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import Engine, text

from relops import names, redis_keys
from relops.localdev.sink import HttpSink, SinkRequest, SinkResponse
from tests.conftest import BASE_REDIS_URL, RUN_ID
from tests.integration.conftest import (
    APPRISE_JSON_SECRET,
    APPRISE_NTFY_TOKEN,
    APPRISE_NTFY_TOPIC,
    PRIVATE_STACK_CONFIG,
    SECRETS,
    BrokerProducer,
    alert_event,
    wait_for,
)
from tests.integration.secrets_audit import secrets_written
from tests.support.apprise import (
    NTFY_INTERNAL_ERROR,
    NTFY_PUBLISHED,
    NTFY_TOO_MANY_REQUESTS,
    NTFY_TOPIC_INVALID,
    RECEIVER_CONFIG,
    apprise_json_check,
    ntfy_check,
    ntfy_problem,
)
from tests.support.celery_process import CeleryProcess, start_worker
from tests.support.scratch import claimed_redis_db, forget_relops_state

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("clean_tables")]

CONFIG = PRIVATE_STACK_CONFIG + "\n" + RECEIVER_CONFIG


@dataclass
class Stack:
    ntfy: HttpSink
    hook: HttpSink
    producer: BrokerProducer
    redis_url: str
    workers: list[CeleryProcess]
    env: dict[str, str]
    output_dir: Path

    def send(self, event: dict[str, Any]) -> None:
        self.producer.send_task(names.TASK_DISPATCH_ALERT, kwargs=event, queue=names.QUEUE_ALERTS)

    def start_worker(self, name: str, queue: str) -> CeleryProcess:
        process_name = f"relops-test-{name}-{RUN_ID}"
        worker = start_worker(self.env, self.output_dir / f"{process_name}.log", process_name, queue, 1)
        self.workers.append(worker)
        return worker


def about(requests: list[SinkRequest], flow: str, status: int | None = 200) -> list[SinkRequest]:
    """The requests about ``flow`` (its title names it) the server answered with ``status``."""
    return [r for r in requests if r.response_status == status and flow in (r.json or {}).get("title", "")]


@contextmanager
def apprise_stack(relops_env: dict[str, str], output_dir: Path, config: Path, label: str) -> Iterator[Stack]:
    """The local ntfy and JSON receivers, and an ``alerts`` and an ``alerts.apprise`` worker running
    ``config`` on a broker and Redis index of their own (``label`` names them)."""
    with (
        HttpSink(default=NTFY_PUBLISHED, check=ntfy_check(APPRISE_NTFY_TOKEN)) as ntfy,
        HttpSink(check=apprise_json_check) as hook,
        claimed_redis_db(BASE_REDIS_URL, f"test-{RUN_ID}-{label}") as redis_url,
    ):
        urls = (
            f"json://127.0.0.1:{hook.port}/hooks/{APPRISE_JSON_SECRET}, "
            f"ntfy://{APPRISE_NTFY_TOKEN}@127.0.0.1:{ntfy.port}/{APPRISE_NTFY_TOPIC}"
        )
        env = {
            **relops_env,
            "REDIS_URL": redis_url,
            "CELERY_BROKER_URL": redis_url,
            "RELOPS_CONFIG": str(config),
            "ONCALL_APPRISE_URLS": urls,
        }
        stack = Stack(
            ntfy, hook, BrokerProducer(redis_url, f"producer-{label}-{RUN_ID}"), redis_url, [], env, output_dir
        )
        try:
            stack.start_worker(f"{label}-alerts", names.QUEUE_ALERTS)
            stack.start_worker(f"{label}-notify", names.QUEUE_ALERTS_APPRISE)
            yield stack
        finally:
            stack.producer.close()
            for worker in stack.workers:
                worker.stop()


@pytest.fixture(scope="module")
def stack(relops_env: dict[str, str], output_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    config = tmp_path_factory.mktemp("apprise") / "relops-apprise.toml"
    config.write_text(CONFIG)
    with apprise_stack(relops_env, output_dir, config, "apprise") as running:
        yield running


@pytest.fixture
def phones(stack: Stack) -> Stack:
    """The stack with both servers' records and plans cleared and no relops state left in its Redis."""
    forget_relops_state(stack.redis_url)
    for sink in (stack.ntfy, stack.hook):
        sink.respond_with()
        sink.clear()
    return stack


def settled(db: Engine, flow: str) -> str | None:
    """The status of the notification about ``flow`` once delivered or dead, else None."""
    with db.connect() as conn:
        status = conn.execute(
            text("SELECT status FROM ops_notifications WHERE receiver = 'phones' AND payload->>'fingerprint' = :f"),
            {"f": f"slo:{flow}"},
        ).scalar()
    return status if status in ("delivered", "dead") else None


def test_a_page_and_its_resolution_reach_ntfy_and_the_json_receiver(phones: Stack, db: Engine) -> None:
    phones.send(alert_event("checkout", "critical"))
    [published] = wait_for(lambda: about(phones.ntfy.requests, "checkout"), 20, "the page at ntfy")
    [posted] = wait_for(lambda: about(phones.hook.requests, "checkout"), 20, "the page at the JSON receiver")
    # ntfy's JSON publishing (https://docs.ntfy.sh/publish/#publish-as-json): the root URL, the topic,
    # the access token (https://docs.ntfy.sh/publish/#access-tokens); the check refused nothing.
    assert ntfy_problem(published, APPRISE_NTFY_TOKEN) is None
    assert published.json["topic"] == APPRISE_NTFY_TOPIC
    assert published.json["title"].startswith("🔴 CRITICAL: checkout burning")
    assert "checkout: 20 bad of 1000 events in the last 1h." in published.json["message"]
    assert "Runbook: https://runbooks.example.com/checkout.md" in published.json["message"]
    assert "Dashboard: http://127.0.0.1:8080/" in published.json["message"]
    # Apprise's JSON (https://github.com/caronc/apprise/wiki/Notify_Custom_JSON), Markdown body.
    assert posted.path == f"/hooks/{APPRISE_JSON_SECRET}"
    assert posted.json["type"] == "failure" and posted.json["version"] == "1.0"
    assert "[Runbook](https://runbooks.example.com/checkout.md)" in posted.json["message"]
    wait_for(lambda: settled(db, "checkout") == "delivered", 20, "the page delivered")

    phones.send(alert_event("checkout", "ok", status="resolved"))
    [resolved] = wait_for(
        lambda: [r for r in about(phones.hook.requests, "checkout") if r.json["type"] == "success"], 20, "resolution"
    )
    assert resolved.json["title"].startswith("✅ RESOLVED: ") and "checkout" in resolved.json["title"]
    wait_for(lambda: len(about(phones.ntfy.requests, "checkout")) == 2, 20, "the resolution at ntfy")


def test_a_400_is_a_dead_letter_with_its_reason_and_is_not_retried(phones: Stack, db: Engine) -> None:
    phones.ntfy.respond_with(NTFY_TOPIC_INVALID)
    phones.send(alert_event("login", "warning"))
    wait_for(lambda: settled(db, "login") == "dead", 20, "the dead letter")
    with db.connect() as conn:
        reason, attempts = conn.execute(
            text("SELECT reason, attempts FROM ops_dead_letters WHERE receiver = 'phones'")
        ).one()
    assert reason == "apprise ntfy (URL 2 of 2): HTTP 400: Bad Request (1 of 2 URLs took it)"
    assert attempts == 1
    assert len(about(phones.ntfy.requests, "login", 400)) == 1 and not about(phones.ntfy.requests, "login")
    assert len(about(phones.hook.requests, "login")) == 1


def test_429_and_5xx_are_retried_until_delivered_and_each_url_hears_it_once(phones: Stack, db: Engine) -> None:
    phones.hook.respond_with(SinkResponse(status=429, body=b"slow down"))
    phones.ntfy.respond_with(NTFY_INTERNAL_ERROR, NTFY_TOO_MANY_REQUESTS)
    phones.send(alert_event("search", "critical"))
    wait_for(lambda: settled(db, "search") == "delivered", 30, "the page delivered after the retries")
    assert [r.response_status for r in phones.hook.requests] == [429, 200]
    # The retry after the JSON receiver took it went to ntfy alone.
    assert [r.response_status for r in phones.ntfy.requests] == [500, 429, 200]
    with db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM ops_dead_letters")).scalar() == 0


#: Retries this long after a failure (jittered between half and all of it): time enough to stop the
#: worker that made the first attempt before its retry is due, so another process runs the retry.
SLOW_RETRY_S = 8
SLOW_RETRY_CONFIG = CONFIG.replace(
    "retry_base_s = 0.2\nretry_max_s = 1", f"retry_base_s = {SLOW_RETRY_S}\nretry_max_s = {SLOW_RETRY_S}"
)


@pytest.fixture(scope="module")
def slow_retries(
    relops_env: dict[str, str], output_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    assert SLOW_RETRY_CONFIG != CONFIG
    config = tmp_path_factory.mktemp("apprise-slow") / "relops-apprise-slow.toml"
    config.write_text(SLOW_RETRY_CONFIG)
    with apprise_stack(relops_env, output_dir, config, "apprise-slow") as running:
        yield running


def test_a_retry_run_by_another_worker_process_sends_only_to_the_url_that_did_not_take_it(
    slow_retries: Stack, db: Engine
) -> None:
    first = slow_retries.workers[-1]
    slow_retries.ntfy.respond_with(NTFY_INTERNAL_ERROR)
    slow_retries.send(alert_event("checkout", "critical"))
    wait_for(lambda: about(slow_retries.ntfy.requests, "checkout", 500), 20, "ntfy's 500 to the first attempt")
    wait_for(lambda: "event=notify.retry" in first.log_text(), 10, "the retry scheduled")
    assert len(about(slow_retries.hook.requests, "checkout")) == 1
    # The first worker goes (its warm shutdown hands the retry, not yet due, back to the queue), and a
    # new process, which never saw the first attempt, runs the retry.
    first.stop()
    second = slow_retries.start_worker("apprise-slow-notify-2", names.QUEUE_ALERTS_APPRISE)
    wait_for(lambda: settled(db, "checkout") == "delivered", 3 * SLOW_RETRY_S + 20, "the page delivered by the retry")
    assert "event=notify.delivered" in second.log_text() and "event=notify.delivered" not in first.log_text()
    # Each URL heard the page exactly once: the JSON receiver at the first attempt, ntfy at the retry.
    assert [r.response_status for r in slow_retries.hook.requests] == [200]
    assert [r.response_status for r in slow_retries.ntfy.requests] == [500, 200]
    # Once every URL took it, the record of who did is gone.
    client = redis.Redis.from_url(slow_retries.redis_url)
    try:
        assert list(client.scan_iter(redis_keys.delivered_parts("phones", "*"))) == []
    finally:
        client.close()


def test_a_hanging_receiver_times_out_and_the_retry_delivers(phones: Stack, db: Engine) -> None:
    phones.hook.respond_with(SinkResponse(hang=True))
    phones.send(alert_event("signup", "critical"))
    wait_for(lambda: settled(db, "signup") == "delivered", 30, "the page delivered after the timeout")
    hung, answered = phones.hook.requests
    assert hung.response_status is None and answered.response_status == 200
    # read_timeout_s = 1, then a backoff of at most retry_max_s: never the sink's five-minute hang.
    assert answered.received_monotonic - hung.received_monotonic < 5
    assert len(about(phones.ntfy.requests, "signup")) == 1


def test_nothing_secret_is_in_any_log_or_stored_row(phones: Stack, db: Engine, output_dir: Path) -> None:
    # A refusal whose body quotes the URL's secrets, so a careless error would store them.
    phones.hook.respond_with(
        SinkResponse(status=403, body=f"forbidden {APPRISE_JSON_SECRET} {APPRISE_NTFY_TOKEN}".encode())
    )
    phones.send(alert_event("catalog", "critical"))
    wait_for(lambda: settled(db, "catalog") == "dead", 20, "the refused page")
    logs = [w.log_text() for w in phones.workers]
    assert any("destination=" in log and "apprise: json, ntfy" in log for log in logs)
    assert secrets_written(db, output_dir, SECRETS) == []
