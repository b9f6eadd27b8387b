"""PagerDuty both ways through real processes: relops' pages, acknowledgements and resolutions at a
local PagerDuty Events API v2 (tests/support/pagerduty.py, which checks each event against
PagerDuty's documented schema, https://developer.pagerduty.com/docs/events-api-v2/trigger-events/,
and answers as PagerDuty does, https://developer.pagerduty.com/docs/events-api-v2-overview
"Response Codes & Retry Logic"), delivered by real Celery workers; and PagerDuty's v3 webhooks
(signed as PagerDuty/developer-docs docs/webhooks/04-Signatures.md says) at a real `relops intake`.

The workers and the intake of this module run the config below on a Redis database of their own;
the PagerDuty receiver's routing key and the webhooks' secrets are secrets of the run, which no log
or stored text may quote.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import threading
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
from relops_client.breakers import BreakerRegistry
from sqlalchemy import Engine, create_engine, make_url, text

from relops import names
from relops.alerting.episode_keys import episode_key
from relops.application import deliver
from relops.application.audit import Actor
from relops.application.deps import Deps
from relops.application.group_windows import Destination
from relops.application.incidents import change_incident, followers_of
from relops.application.route_alert import dispatch_alert
from relops.channels.registry import build_receivers
from relops.config import parse_config
from relops.settings import Settings
from relops.timeutil import utcnow
from relops.wiring import load_checked_config
from tests.conftest import BASE_REDIS_URL, RUN_ID
from tests.integration.conftest import (
    PAGERDUTY_ROUTING_KEY,
    PAGERDUTY_WEBHOOK_SECRETS,
    BrokerProducer,
    alert_event,
    wait_for,
)
from tests.integration.inprocess import RecordingPublisher
from tests.integration.secrets_audit import secrets_written
from tests.support.celery_process import CeleryProcess, start_worker
from tests.support.pagerduty import RECEIVER_CONFIG, PagerDutyEventsApi, Scripted
from tests.support.scratch import claimed_redis_db, forget_relops_state
from tests.support.slack import INTAKE_ENV as SLACK_INTAKE_ENV
from tests.web_support import RELOPS, running_server

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("clean_tables")]

CONFIG = (
    """
dashboard_url = "http://127.0.0.1:8080/"

[alerts]
dedup_window_s = 300
group_wait_s = 0.3
critical_group_wait_s = 0.3
retry_base_s = 0.2
retry_max_s = 1

[alerts.channels.pagerduty]
# The steps of the in-process test come faster than PagerDuty's rate would let them.
burst = 10
max_attempts = 6
connect_timeout_s = 1
read_timeout_s = 1

[breakers.pagerduty]
failure_threshold = 10
open_s = 1
"""
    + RECEIVER_CONFIG
)
PD_INVALID = {
    "status": "invalid event",
    "message": "Event object is invalid",
    "errors": ["Length of 'routing_key' is incorrect (should be 32 characters)"],
}
OLD_SECRET, NEW_SECRET = PAGERDUTY_WEBHOOK_SECRETS


@dataclass
class Stack:
    api: PagerDutyEventsApi
    producer: BrokerProducer
    redis_url: str
    env: dict[str, str]
    intake: str

    def send(self, event: dict[str, Any]) -> None:
        self.producer.send_task(names.TASK_DISPATCH_ALERT, kwargs=event, queue=names.QUEUE_ALERTS)

    def cli(self, *args: str) -> str:
        """``relops ARGS`` as an operator runs it, with this stack's environment."""
        done = subprocess.run([RELOPS, *args], env=self.env, capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        return done.stdout


@pytest.fixture(scope="module")
def stack(relops_env: dict[str, str], output_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    config = tmp_path_factory.mktemp("pagerduty") / "relops-pagerduty.toml"
    config.write_text(CONFIG)
    with (
        PagerDutyEventsApi() as api,
        claimed_redis_db(BASE_REDIS_URL, f"test-{RUN_ID}-pagerduty") as redis_url,
    ):
        env = {
            **relops_env,
            "REDIS_URL": redis_url,
            "CELERY_BROKER_URL": redis_url,
            "RELOPS_CONFIG": str(config),
            "PAGERDUTY_ROUTING_KEY": PAGERDUTY_ROUTING_KEY,
            "PAGERDUTY_EVENTS_URL": api.url,
            # The new secret first, as during a rotation: PagerDuty signs with both.
            "RELOPS_PAGERDUTY_WEBHOOK_SECRETS": f"{NEW_SECRET},{OLD_SECRET}",
            # The intake takes Slack's clicks too: one clicked there reaches PagerDuty.
            **SLACK_INTAKE_ENV,
        }
        workers: list[CeleryProcess] = []
        producer = BrokerProducer(redis_url, f"producer-pd-{RUN_ID}")
        try:
            for name, queue in (("pd-alerts", names.QUEUE_ALERTS), ("pd-notify", names.QUEUE_ALERTS_PAGERDUTY)):
                process_name = f"relops-test-{name}-{RUN_ID}"
                workers.append(start_worker(env, output_dir / f"{process_name}.log", process_name, queue, 1))
            with running_server("intake", env, output_dir / "relops-test-pd-intake.log") as (url, _):
                yield Stack(api, producer, redis_url, env, url)
        finally:
            producer.close()
            for worker in workers:
                worker.stop()


@pytest.fixture
def pd(stack: Stack) -> Stack:
    """The stack with the Events API's record and script cleared and no relops state in its Redis."""
    forget_relops_state(stack.redis_url)
    stack.api.clear()
    return stack


def incident(db: Engine, flow: str) -> dict[str, Any]:
    with db.connect() as conn:
        row = conn.execute(text("SELECT * FROM ops_incidents WHERE fingerprint = :f"), {"f": f"slo:{flow}"})
        found = row.mappings().first()
    assert found is not None, f"no incident for {flow}"
    return dict(found)


def key_of(db: Engine, flow: str) -> str:
    row = incident(db, flow)
    return episode_key(row["id"], row["opened_at"])


def audit(db: Engine, incident_id: int) -> list[dict[str, Any]]:
    with db.connect() as conn:
        rows = conn.execute(
            text("SELECT actor, via, source, action FROM ops_audit WHERE target = :t ORDER BY id"),
            {"t": f"incident {incident_id}"},
        )
        return [dict(r) for r in rows.mappings()]


def owed(db: Engine, kind: str) -> int:
    with db.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM ops_notifications WHERE kind = :k"), {"k": kind}).scalar()


def paged(pd: Stack, db: Engine, flow: str, severity: str = "critical") -> str:
    """Page for ``flow``; its episode key once PagerDuty took the trigger."""
    pd.send(alert_event(flow, severity))
    wait_for(lambda: incident_open(db, flow), 20, f"{flow}'s incident open")
    key = key_of(db, flow)
    wait_for(lambda: [e for e in pd.api.events("trigger") if e["dedup_key"] == key], 20, "the trigger at PagerDuty")
    return key


def incident_open(db: Engine, flow: str) -> bool:
    with db.connect() as conn:
        found = conn.execute(text("SELECT status FROM ops_incidents WHERE fingerprint = :f"), {"f": f"slo:{flow}"})
        return found.scalar() == "open"


def of_key(pd: Stack, action: str, key: str) -> list[dict[str, Any]]:
    return [e for e in pd.api.events(action) if e["dedup_key"] == key]


def test_a_page_triggers_once_an_ack_acknowledges_and_a_resolution_resolves(pd: Stack, db: Engine) -> None:
    key = paged(pd, db, "checkout")
    [trigger] = of_key(pd, "trigger", key)
    assert trigger["routing_key"] == PAGERDUTY_ROUTING_KEY
    assert trigger["payload"]["severity"] == "critical"
    assert trigger["payload"]["summary"] == "CRITICAL: checkout burning its error budget at 20.0x over 1h"
    assert trigger["payload"]["source"] == "checkout"
    assert trigger["client"] == "relops"
    assert {link["href"] for link in trigger["links"]} >= {
        "https://runbooks.example.com/checkout.md",
        "http://127.0.0.1:8080/flows/checkout",
    }
    # The next evaluation's alert is deduplicated: nothing more is owed to PagerDuty.
    pd.send(alert_event("checkout", "critical"))
    wait_for(lambda: incident(db, "checkout")["occurrences"] == 2, 20, "the second alert routed")
    assert owed(db, "firing") == 1

    incident_id = incident(db, "checkout")["id"]
    pd.cli("incidents", "ack", str(incident_id))
    wait_for(lambda: of_key(pd, "acknowledge", key), 20, "the acknowledgement at PagerDuty")
    assert of_key(pd, "acknowledge", key) == [
        {"routing_key": PAGERDUTY_ROUTING_KEY, "event_action": "acknowledge", "dedup_key": key}
    ]

    pd.send(alert_event("checkout", "ok", status="resolved", occurred_at=utcnow().isoformat()))
    wait_for(lambda: of_key(pd, "resolve", key), 20, "the resolution at PagerDuty")
    assert len(of_key(pd, "trigger", key)) == 1

    # A re-fire after the resolution is a new PagerDuty incident, and a resolution by hand resolves it.
    second = paged(pd, db, "checkout")
    assert second != key
    pd.cli("incidents", "resolve", str(incident_id))
    wait_for(lambda: of_key(pd, "resolve", second), 20, "the resolution by hand at PagerDuty")
    assert [r.status for r in pd.api if r.status != 202] == []


def test_a_400_is_a_dead_letter_with_pagerdutys_reason(pd: Stack, db: Engine) -> None:
    pd.api.script(Scripted(400, PD_INVALID))
    pd.send(alert_event("login", "warning"))

    def dead() -> str | None:
        with db.connect() as conn:
            return conn.execute(text("SELECT reason FROM ops_dead_letters WHERE receiver = 'pagerduty'")).scalar()

    reason = wait_for(dead, 20, "the dead letter")
    assert "HTTP 400" in reason
    assert "Event object is invalid" in reason
    assert "Length of 'routing_key' is incorrect" in reason
    assert "routing key in PAGERDUTY_ROUTING_KEY" in reason
    assert len(pd.api.received) == 1


def test_429_and_5xx_are_retried_until_pagerduty_takes_the_event(pd: Stack, db: Engine) -> None:
    pd.api.script(
        Scripted(429, {"status": "throttle event", "message": "Requests for this service are arriving too quickly."}),
        Scripted(429, {"status": "throttle event"}, headers=(("Retry-After", "1"),)),
        Scripted(500, {"status": "error"}),
        Scripted(503, {"status": "error"}),
    )
    key = paged(pd, db, "search", "warning")
    assert [r.status for r in pd.api] == [429, 429, 500, 503, 202]
    assert of_key(pd, "trigger", key)[0]["payload"]["severity"] == "warning"


def test_a_hanging_pagerduty_times_out_and_the_event_is_sent_again(pd: Stack, db: Engine) -> None:
    pd.api.script(Scripted(hang=True))
    key = paged(pd, db, "billing")
    assert [r.status for r in pd.api] == [None, 202]
    assert len(of_key(pd, "trigger", key)) == 1


def signed(body: bytes, *secrets: str) -> dict[str, str]:
    entries = ",".join("v1=" + hmac.new(s.encode(), body, hashlib.sha256).hexdigest() for s in secrets)
    return {"Content-Type": "application/json", "X-PagerDuty-Signature": entries}


def webhook(event_type: str, key: str, event_id: str = "01EVT0000000000000000000A") -> bytes:
    """A v3 webhook as PagerDuty sends one (PagerDuty/developer-docs docs/webhooks/01-Overview.md)."""
    return json.dumps(
        {
            "event": {
                "id": event_id,
                "event_type": event_type,
                "resource_type": "incident",
                "occurred_at": utcnow().isoformat(),
                "agent": {"id": "PLH1HKV", "summary": "Tenex Engineer", "type": "user_reference"},
                "client": {"name": "PagerDuty"},
                "data": {"id": "PGR0VU2", "type": "incident", "status": "acknowledged", "incident_key": key},
            }
        }
    ).encode()


def post(pd: Stack, body: bytes, headers: dict[str, str]) -> requests.Response:
    return requests.post(f"{pd.intake}/api/v1/pagerduty/webhooks", data=body, headers=headers, timeout=10)


def test_a_signed_webhook_acknowledges_once_and_is_not_echoed(pd: Stack, db: Engine) -> None:
    key = paged(pd, db, "checkout")
    row = incident(db, "checkout")
    body = webhook("incident.acknowledged", key)

    answer = post(pd, body, signed(body, OLD_SECRET, NEW_SECRET))
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"event": "01EVT0000000000000000000A", "changed": True, "incident": row["id"]}
    assert incident(db, "checkout")["status"] == "acknowledged"
    # PagerDuty redelivers until it hears a 2xx: the same event again changes nothing.
    again = post(pd, body, signed(body, NEW_SECRET))
    assert again.status_code == 200
    assert again.json()["changed"] is False
    assert audit(db, row["id"]) == [
        {
            "actor": "PagerDuty: Tenex Engineer (PLH1HKV)",
            "via": "pagerduty",
            "source": "event 01EVT0000000000000000000A",
            "action": "incident.ack",
        }
    ]
    # No echo: nothing is owed to PagerDuty for an acknowledgement made there.
    assert owed(db, "acknowledged") == 0
    resolved = webhook("incident.resolved", key, "01EVT0000000000000000000B")
    assert post(pd, resolved, signed(resolved, NEW_SECRET)).json()["changed"] is True
    assert incident(db, "checkout")["status"] == "resolved"
    assert owed(db, "resolved") == 0
    # The next page (a later event at PagerDuty) comes after anything the webhooks could have echoed.
    paged(pd, db, "login")
    assert pd.api.events("acknowledge") == [] and pd.api.events("resolve") == []


@pytest.fixture
def web_engine(database_url: str) -> Iterator[Engine]:
    """The dashboard's connection: the relops_web role, with its grants and no more."""
    engine = create_engine(make_url(database_url).set(username="relops_web"))
    yield engine
    engine.dispose()


def dashboard_ack(pd: Stack, engine: Engine, incident_id: int) -> bool:
    """An acknowledgement on the dashboard, as relops.web.operations.change makes it: as relops_web,
    telling the PagerDuty receiver through the broker."""
    client = redis.Redis.from_url(pd.redis_url)
    try:

        def publish(task: str, kwargs: Any, queue: str, countdown_s: float = 0.0) -> None:
            pd.producer.send_task(task, kwargs=dict(kwargs), queue=queue)

        who = Actor(name="alice", via="web", source="127.0.0.1")
        followers = followers_of(parse_config(tomllib.loads(CONFIG), "relops-pagerduty.toml"), publish)
        assert followers.destinations == {
            "pagerduty": Destination("pagerduty", "pagerduty", names.QUEUE_ALERTS_PAGERDUTY)
        }
        changed = change_incident(engine, client, [], incident_id, "ack", utcnow(), who, followers=followers)
        return changed is not None
    finally:
        client.close()


def test_a_webhook_racing_the_dashboard_acknowledges_once(pd: Stack, db: Engine, web_engine: Engine) -> None:
    key = paged(pd, db, "checkout")
    incident_id = incident(db, "checkout")["id"]
    body = webhook("incident.acknowledged", key, "01EVT0000000000000000000C")
    results: dict[str, Any] = {}
    start = threading.Barrier(2)

    def from_pagerduty() -> None:
        start.wait()
        results["pagerduty"] = post(pd, body, signed(body, NEW_SECRET)).json()["changed"]

    def from_dashboard() -> None:
        start.wait()
        results["web"] = dashboard_ack(pd, web_engine, incident_id)

    threads = [threading.Thread(target=from_pagerduty), threading.Thread(target=from_dashboard)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(results.values()) == [False, True]
    assert [a["action"] for a in audit(db, incident_id)] == ["incident.ack"]
    # PagerDuty hears of the dashboard's acknowledgement only when the dashboard's won.
    if results["web"]:
        wait_for(lambda: of_key(pd, "acknowledge", key), 20, "the dashboard's acknowledgement at PagerDuty")
    else:
        assert owed(db, "acknowledged") == 0


def test_an_ack_on_the_dashboard_acknowledges_at_pagerduty(pd: Stack, db: Engine, web_engine: Engine) -> None:
    key = paged(pd, db, "checkout")
    assert dashboard_ack(pd, web_engine, incident(db, "checkout")["id"])
    wait_for(lambda: of_key(pd, "acknowledge", key), 20, "the acknowledgement at PagerDuty")
    assert not dashboard_ack(pd, web_engine, incident(db, "checkout")["id"])  # compare-and-set: once
    assert owed(db, "acknowledged") == 1


def test_unsigned_wrongly_signed_stale_or_unknown_webhooks_change_nothing(
    pd: Stack, db: Engine, output_dir: Path
) -> None:
    key = paged(pd, db, "checkout")
    row = incident(db, "checkout")
    body = webhook("incident.acknowledged", key, "01EVT0000000000000000000D")

    unsigned = post(pd, body, {"Content-Type": "application/json"})
    assert (unsigned.status_code, unsigned.json()["field"]) == (401, "X-PagerDuty-Signature")
    for _ in range(5):
        forged = post(pd, body, signed(body, "not-the-subscriptions-secret"))
        assert (forged.status_code, forged.json()["field"]) == (403, "X-PagerDuty-Signature")
    tampered = post(pd, body.replace(b"Tenex", b"Mallory"), signed(body, NEW_SECRET))
    assert tampered.status_code == 403
    huge = b'{"event": {"padding": "' + b"x" * (300 * 1024) + b'"}}'
    too_long = post(pd, huge, signed(huge, NEW_SECRET))
    assert (too_long.status_code, too_long.json()["field"]) == (413, "body")
    note = webhook("incident.annotated", key, "01EVT0000000000000000000E")
    ignored = post(pd, note, signed(note, NEW_SECRET))
    assert (ignored.status_code, ignored.json()["changed"]) == (200, False)
    assert "incident.annotated is ignored" in ignored.json()["reason"]
    not_an_event = b'{"event": {"id": "01EVT0000000000000000000G"}}'
    malformed = post(pd, not_an_event, signed(not_an_event, NEW_SECRET))
    assert (malformed.status_code, malformed.json()["field"]) == (400, "event.event_type")
    # An event about an earlier episode of the incident (stale) is signed, taken, and changes nothing.
    earlier = episode_key(row["id"], row["opened_at"].replace(year=row["opened_at"].year - 1))
    stale = webhook("incident.acknowledged", earlier, "01EVT0000000000000000000F")
    answer = post(pd, stale, signed(stale, NEW_SECRET))
    assert (answer.status_code, answer.json()["changed"]) == (200, False)
    # Said in the intake's log at INFO, with its level (relops' lines go through uvicorn's handler).
    intake_log = output_dir / "relops-test-pd-intake.log"
    said = "event=intake.pagerduty_unchanged event_id=01EVT0000000000000000000F"
    wait_for(lambda: said in intake_log.read_text(), 10, "the unchanged event logged")
    [line] = [line for line in intake_log.read_text().splitlines() if said in line]
    assert line.startswith("INFO:")

    assert incident(db, "checkout")["status"] == "open"
    assert audit(db, row["id"]) == []

    def refusals() -> dict[int, int]:
        with db.connect() as conn:
            rows = conn.execute(text("SELECT status, requests FROM ops_intake_totals WHERE endpoint = 'pagerduty'"))
            return {r.status: r.requests for r in rows}

    def refused() -> dict[int, int]:
        # 200s of the previous test may still be on their way (the intake adds its totals every
        # second, so this test's answers may land in more than one second's addition).
        return {status: n for status, n in refusals().items() if status != 200}

    wait_for(lambda: refused() == {400: 1, 401: 1, 403: 6, 413: 1}, 10, "the refusals counted")
    wait_for(lambda: refusals().get(200, 0) >= 1, 10, "the stale event's 200 counted")
    with db.connect() as conn:
        rows = conn.execute(text("SELECT count(*) FROM ops_rejected_inputs WHERE task = 'intake:pagerduty'")).scalar()
    assert rows < 9  # tallied per status and second, never one row per refused request


def test_no_secret_of_pagerduty_reaches_a_log_or_the_database(pd: Stack, db: Engine, output_dir: Path) -> None:
    pd.api.script(Scripted(400, {**PD_INVALID, "echo": PAGERDUTY_ROUTING_KEY}))
    pd.send(alert_event("login", "warning"))
    wait_for(lambda: pd.api.received, 20, "the event at PagerDuty")

    def dead() -> bool:
        with db.connect() as conn:
            return bool(conn.execute(text("SELECT count(*) FROM ops_dead_letters")).scalar())

    wait_for(dead, 20, "its dead letter")
    assert secrets_written(db, output_dir, (PAGERDUTY_ROUTING_KEY, *PAGERDUTY_WEBHOOK_SECRETS)) == []


@pytest.fixture
def pd_deps(pd: Stack, worker_engine: Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Deps]:
    """This module's config and PagerDuty receiver with the task logic in this process (the real
    database, Redis and Events API; the tasks it asks for are recorded, not sent): the test takes
    the steps a worker would, in the order it needs."""
    for name in ("PAGERDUTY_ROUTING_KEY", "PAGERDUTY_EVENTS_URL"):
        monkeypatch.setenv(name, pd.env[name])
    path = tmp_path / "relops.toml"
    path.write_text(CONFIG)
    config = load_checked_config(path)
    client = redis.Redis.from_url(pd.redis_url)
    yield Deps(
        engine=worker_engine,
        redis=client,
        config=config,
        receivers=build_receivers(Settings(), config),
        publish=RecordingPublisher(),
        breakers=BreakerRegistry(config.breaker_settings(), lambda: client),
    )
    client.close()


def test_a_trigger_retried_after_its_resolution_was_heard_is_not_sent_again(pd: Stack, pd_deps: Deps) -> None:
    pd.api.script(Scripted(500, {"status": "error"}))
    dispatch_alert(pd_deps, alert_event("checkout", "critical"), event_id="e-1")
    first = deliver.flush(pd_deps, pd_deps.receivers["pagerduty"])["message_key"]
    assert deliver.deliver(pd_deps, pd_deps.receivers["pagerduty"], first)["retry_in_s"] > 0

    # While the trigger waits for its retry, the alert resolves and PagerDuty hears that first.
    dispatch_alert(
        pd_deps, alert_event("checkout", "ok", status="resolved", occurred_at=utcnow().isoformat()), event_id="e-2"
    )
    second = deliver.flush(pd_deps, pd_deps.receivers["pagerduty"])["message_key"]
    assert deliver.deliver(pd_deps, pd_deps.receivers["pagerduty"], second)["delivered"] is True

    # The retry of the trigger would open a new PagerDuty incident for a problem that is over.
    assert deliver.deliver(pd_deps, pd_deps.receivers["pagerduty"], first) == {"delivered": False, "superseded": 1}
    assert [(r.event["event_action"], r.status) for r in pd.api] == [("trigger", 500), ("resolve", 202)]


def test_an_ack_clicked_in_slack_acknowledges_at_pagerduty_at_once(pd: Stack, db: Engine) -> None:
    """The intake applies a Slack click through the same change as the dashboard, and asks for the
    PagerDuty receiver's flush at once: this stack runs no beat, so no sweeper would send it later."""
    from relops.channels.slack_actions import actions_block, block_id
    from relops.channels.slack_actions import episode_key as block_episode
    from relops.localdev.sink import HttpSink
    from tests.integration.test_slack_interactions import SLACK_OK, click_body, new_slack_admin, with_sink
    from tests.integration.test_slack_interactions import signed as slack_signed

    key = paged(pd, db, "checkout")
    row = incident(db, "checkout")
    name, slack_id = new_slack_admin()
    # The buttons of the page's Slack message, as relops renders them for this episode.
    episode = block_episode(row["opened_at"].isoformat())
    message = {"text": "checkout", "blocks": [actions_block(row["id"], block=block_id(row["id"], episode))]}
    with HttpSink() as response_url:
        response_url.default = SLACK_OK
        body = with_sink(click_body(message, row["id"], slack_id), response_url)
        answer = requests.post(
            f"{pd.intake}/api/v1/slack/interactions", data=body, headers=slack_signed(body), timeout=10
        )
        assert answer.status_code == 200, answer.text
        wait_for(lambda: of_key(pd, "acknowledge", key), 20, "the Slack click's acknowledgement at PagerDuty")
        response_url.wait_for_requests(1, timeout_s=10)
    assert incident(db, "checkout")["status"] == "acknowledged"
    assert [(a["actor"], a["via"], a["action"]) for a in audit(db, row["id"])] == [(name, "slack", "incident.ack")]
    assert len(of_key(pd, "acknowledge", key)) == 1


def test_an_ack_whose_flush_the_broker_refuses_is_committed_and_left_owed_for_the_sweeper(
    pd: Stack, db: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    """The intake's Redis user may not push to alerts.pagerduty (deploy/redis/users.sh): asking for
    the flush fails after the change committed, which must not undo the answer nor lose what is owed."""
    key = paged(pd, db, "checkout")
    incident_id = incident(db, "checkout")["id"]

    def refused(task: str, kwargs: Any, queue: str, countdown_s: float = 0.0) -> None:
        raise redis.exceptions.NoPermissionError("this user has no permissions to access one of the keys")

    followers = followers_of(parse_config(tomllib.loads(CONFIG), "relops-pagerduty.toml"), refused)
    who = Actor(name="alice", via="web", source="127.0.0.1")
    client = redis.Redis.from_url(pd.redis_url)
    try:
        with caplog.at_level("WARNING", logger="relops.application.incidents"):
            changed = change_incident(db, client, [], incident_id, "ack", utcnow(), who, followers=followers)
    finally:
        client.close()
    assert changed is not None and incident(db, "checkout")["status"] == "acknowledged"
    assert owed(db, "acknowledged") == 1
    assert "event=notify.flush_not_scheduled" in caplog.text and "NoPermissionError" in caplog.text
    assert of_key(pd, "acknowledge", key) == []  # nobody asked for the flush: the sweeper's to send
