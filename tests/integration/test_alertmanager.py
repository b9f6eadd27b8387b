"""relops' alerts in a real Prometheus Alertmanager (Debian's 0.25), through real Celery workers,
Redis and PostgreSQL.

The workers of this module run the config below (an ``alertmanager`` receiver on the root route,
re-sending every 2 s; no flows: the test sends alert events as a service or an evaluation would)
on a broker and Redis index of their own; the test plays beat, sending ``relops.check_incidents``
every half second (beat does every 15 s). Alertmanager routes every alert
to its webhook receiver, a local recording server, with a group wait of 1 s (ROUTE_CONFIG in
tests/support/alertmanager.py, which docs/guides/prometheus.md shows). Alertmanager is reached
under a secret path, and nothing the workers log or store may quote it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from relops import names
from relops.channels.alertmanager_webhook_format import ZERO_TIME, fingerprint
from relops.localdev.sink import HttpSink
from relops.timeutil import parse_utc, utcnow
from tests.conftest import BASE_REDIS_URL, RUN_ID
from tests.integration.conftest import (
    ALERTMANAGER_SECRET_PREFIX,
    PRIVATE_STACK_CONFIG,
    BrokerProducer,
    alert_event,
    wait_for,
)
from tests.samples import ALERTMANAGER_WEBHOOK_ALERT_KEYS, ALERTMANAGER_WEBHOOK_KEYS
from tests.support.alertmanager import Alertmanager, notifications, running_alertmanager
from tests.support.celery_process import CeleryProcess, start_worker
from tests.support.scratch import claimed_redis_db, forget_relops_state

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("clean_tables")]

CONFIG = (
    PRIVATE_STACK_CONFIG
    + """
[alerts.channels.alertmanager]
max_attempts = 20
connect_timeout_s = 1
read_timeout_s = 2

[receivers.alertmanager]
type = "alertmanager"
url_env = "RELOPS_TEST_ALERTMANAGER_URLS"
resend_interval_s = 2

[breakers.alertmanager]
failure_threshold = 3
open_s = 1

[route]
receivers = ["alertmanager"]
"""
)
#: How often this module's stand-in for beat sends relops.check_incidents.
CHECK_EVERY_S = 0.5


@dataclass
class Stack:
    alertmanager: Alertmanager
    hook: HttpSink
    producer: BrokerProducer
    redis_url: str

    def send(self, event: dict[str, Any]) -> None:
        self.producer.send_task(names.TASK_DISPATCH_ALERT, kwargs=event, queue=names.QUEUE_ALERTS)

    def told(self, flow: str, status: str) -> list[dict[str, Any]]:
        """The webhook notifications Alertmanager sent about ``flow`` with ``status``."""
        return [
            n
            for n in notifications(self.hook.requests)
            if n["status"] == status and any(a["labels"].get("flow") == flow for a in n["alerts"])
        ]

    def active(self, flow: str) -> list[dict[str, Any]]:
        return self.alertmanager.alerts(flow=flow)


def _play_beat(url: str, stop: threading.Event) -> None:
    producer = BrokerProducer(url, f"beat-{RUN_ID}")
    try:
        while not stop.wait(CHECK_EVERY_S):
            producer.send_task(names.TASK_CHECK_INCIDENTS, kwargs={}, queue=names.QUEUE_ALERTS)
    finally:
        producer.close()


@pytest.fixture(scope="module")
def stack(relops_env: dict[str, str], output_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("alertmanager")
    config = root / "relops-alertmanager.toml"
    config.write_text(CONFIG)
    with (
        HttpSink() as hook,
        running_alertmanager(root / "am", hook.url + "/alertmanager-hook", ALERTMANAGER_SECRET_PREFIX) as am,
        claimed_redis_db(BASE_REDIS_URL, f"test-{RUN_ID}-alertmanager") as redis_url,
    ):
        env = {
            **relops_env,
            "REDIS_URL": redis_url,
            "CELERY_BROKER_URL": redis_url,
            "RELOPS_CONFIG": str(config),
            "RELOPS_TEST_ALERTMANAGER_URLS": am.url,
        }
        workers: list[CeleryProcess] = []
        stop = threading.Event()
        beat = threading.Thread(target=_play_beat, args=(redis_url, stop), daemon=True)
        producer = BrokerProducer(redis_url, f"producer-am-{RUN_ID}")
        try:
            for name, queue in (("am-alerts", names.QUEUE_ALERTS), ("am-notify", names.QUEUE_ALERTS_ALERTMANAGER)):
                process_name = f"relops-test-{name}-{RUN_ID}"
                workers.append(start_worker(env, output_dir / f"{process_name}.log", process_name, queue, 1))
            beat.start()
            yield Stack(am, hook, producer, redis_url)
        finally:
            stop.set()
            beat.join(5)
            producer.close()
            for worker in workers:
                worker.stop()


@pytest.fixture
def am(stack: Stack) -> Stack:
    """The stack with the webhook's record cleared and no relops state left in its Redis."""
    forget_relops_state(stack.redis_url)
    stack.hook.clear()
    return stack


def test_a_page_reaches_alertmanager_once_and_its_resolution_follows(am: Stack) -> None:
    am.send(alert_event("checkout", "critical"))
    [firing] = wait_for(lambda: am.told("checkout", "firing"), 20, "Alertmanager's webhook told of the page")
    # What a real Alertmanager's webhook posts is what relops' webhook format = "alertmanager" posts:
    # the same fields, and the same fingerprint for the same labels.
    assert set(firing) == ALERTMANAGER_WEBHOOK_KEYS
    [alert] = firing["alerts"]
    assert set(alert) == ALERTMANAGER_WEBHOOK_ALERT_KEYS
    assert alert["fingerprint"] == fingerprint(alert["labels"])
    assert alert["endsAt"] == ZERO_TIME
    assert alert["labels"] == {
        "alertname": "RelopsErrorBudgetBurn",
        "flow": "checkout",
        "severity": "critical",
        "source": "slo",
        "relops_fingerprint": "slo:checkout",
    }
    assert alert["annotations"]["summary"].startswith("CRITICAL: checkout burning")
    assert alert["annotations"]["runbook_url"] == "https://runbooks.example.com/checkout.md"
    assert alert["annotations"]["dashboard_url"].startswith("http://127.0.0.1:8080/incidents/")
    assert alert["generatorURL"] == "http://127.0.0.1:8080/flows/checkout"

    # While it fires relops re-sends it, each time with endsAt further ahead: Alertmanager never
    # times it out, and tells its receiver nothing new.
    first_end = parse_utc(am.active("checkout")[0]["endsAt"])
    wait_for(lambda: parse_utc(am.active("checkout")[0]["endsAt"]) > first_end, 15, "a re-send moving endsAt")
    am.send(alert_event("checkout", "critical"))  # the next evaluation: deduplicated
    time.sleep(3)  # three group intervals
    assert len(am.told("checkout", "firing")) == 1

    am.send(alert_event("checkout", "ok", status="resolved", occurred_at=utcnow().isoformat()))
    [resolved] = wait_for(lambda: am.told("checkout", "resolved"), 20, "the resolution at the webhook")
    [ended] = resolved["alerts"]
    assert ended["labels"] == alert["labels"]
    assert parse_utc(ended["endsAt"]) <= utcnow()
    assert len(am.told("checkout", "firing")) == 1
    assert am.active("checkout") == []


def test_an_alertmanager_silence_mutes_it_there(am: Stack) -> None:
    silence = am.alertmanager.post_silence(["flow=login"])
    am.send(alert_event("login", "warning"))

    def suppressed() -> bool:
        found = am.active("login")
        return bool(found) and found[0]["status"]["state"] == "suppressed"

    wait_for(suppressed, 20, "Alertmanager holding the alert, silenced")
    assert am.active("login")[0]["status"]["silencedBy"] == [silence]
    time.sleep(3)  # group wait and two group intervals: nothing may be sent
    assert am.told("login", "firing") == []

    # Still firing (relops keeps re-sending it): once the silence ends, Alertmanager tells its receiver.
    am.alertmanager.expire_silence(silence)
    wait_for(lambda: am.told("login", "firing"), 20, "the page once the silence expired")
    am.send(alert_event("login", "ok", status="resolved", occurred_at=utcnow().isoformat()))
    wait_for(lambda: am.told("login", "resolved"), 20, "the resolution")


def test_an_alertmanager_restart_loses_nothing_that_was_firing(am: Stack) -> None:
    am.send(alert_event("search", "critical"))
    wait_for(lambda: am.told("search", "firing"), 20, "the first page")
    manager = am.alertmanager
    manager.stop()
    # Paged while Alertmanager is down: relops retries until it is back.
    am.send(alert_event("signup", "warning"))
    time.sleep(2)
    manager.start()

    # Alertmanager keeps alerts in memory only: relops' re-send puts back the one it had, and the
    # retried delivery brings the one it missed.
    wait_for(lambda: am.active("search") and am.active("signup"), 30, "both alerts in Alertmanager again")
    wait_for(lambda: am.told("signup", "firing"), 20, "the page sent while Alertmanager was down")
    time.sleep(3)
    # Its notification log survived the restart (the storage directory): the first page is not repeated.
    assert len(am.told("search", "firing")) == 1

    for flow in ("search", "signup"):
        am.send(alert_event(flow, "ok", status="resolved", occurred_at=utcnow().isoformat()))
    wait_for(lambda: am.told("search", "resolved") and am.told("signup", "resolved"), 20, "both resolutions")
    assert manager.starts == 2
