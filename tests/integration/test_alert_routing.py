"""Alert events through the real alerts worker and one real worker per channel, to real local HTTP
receivers: incidents, cross-process dedup, grouping, retries, dead letters and resolution."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import redis
from sqlalchemy import text

from relops.shared_state import dedup
from relops.sink import SinkResponse
from relops.timeutil import utcnow
from tests.integration.conftest import ADMIN_EMAILS, RESEND_KEY, WEBHOOK_SECRET_PATH, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("worker", "channel_workers", "clean_tables")]

DISPATCH = "relops.dispatch_alert"


def event(flow: str = "checkout", severity: str = "critical", status: str = "firing", **overrides):
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


def send(producer, payload):
    producer.send_task(DISPATCH, kwargs=payload, queue="alerts")


def outbox_settled(db) -> bool:
    with db.connect() as conn:
        open_rows = conn.execute(
            text("SELECT count(*) FROM ops_notifications WHERE status IN ('pending', 'sending')")
        ).scalar()
        total = conn.execute(text("SELECT count(*) FROM ops_notifications")).scalar()
    return total > 0 and open_rows == 0


def statuses(db, channel):
    with db.connect() as conn:
        return [
            r[0]
            for r in conn.execute(
                text("SELECT status FROM ops_notifications WHERE channel = :c ORDER BY id"), {"c": channel}
            )
        ]


def test_a_critical_alert_reaches_webhook_and_email_once(producer, db, webhook_sink, email_sink):
    send(producer, event())
    hook = webhook_sink.wait_for_requests(1, timeout_s=20)[0]
    mail = email_sink.wait_for_requests(1, timeout_s=20)[0]
    wait_for(lambda: outbox_settled(db), what="outbox settled")

    assert hook.path == WEBHOOK_SECRET_PATH
    assert hook.json["text"].startswith("CRITICAL") or "CRITICAL" in hook.json["text"]
    assert any(block["type"] == "header" for block in hook.json["blocks"])
    assert mail.path == "/emails"
    assert mail.header("Authorization") == f"Bearer {RESEND_KEY}"
    assert mail.header("Idempotency-Key")
    assert mail.json["to"] == ADMIN_EMAILS.split(",")
    assert "checkout" in mail.json["subject"]
    with db.connect() as conn:
        incident = conn.execute(text("SELECT * FROM ops_incidents")).one()
    assert (incident.status, incident.severity, incident.occurrences) == ("open", "critical", 1)
    assert sorted(incident.notified_channels) == ["email", "webhook"]
    assert statuses(db, "webhook") == ["delivered"] and statuses(db, "email") == ["delivered"]


def test_a_warning_goes_to_the_webhook_only(producer, db, webhook_sink, email_sink):
    send(producer, event(severity="warning"))
    webhook_sink.wait_for_requests(1, timeout_s=20)
    wait_for(lambda: outbox_settled(db), what="outbox settled")
    assert statuses(db, "email") == []
    assert email_sink.requests == []


def test_eight_events_with_one_key_on_two_processes_deliver_once_per_channel(producer, db, webhook_sink, email_sink):
    for _ in range(8):
        send(producer, event())
    wait_for(lambda: _occurrences(db) == 8, what="all 8 events counted on the incident")
    wait_for(lambda: outbox_settled(db), what="outbox settled")
    assert len(webhook_sink.requests) == 1
    assert len(email_sink.requests) == 1
    assert statuses(db, "webhook") == ["delivered"] and statuses(db, "email") == ["delivered"]


def _occurrences(db) -> int:
    with db.connect() as conn:
        return conn.execute(text("SELECT coalesce(max(occurrences), 0) FROM ops_incidents")).scalar()


def test_escalation_from_warning_to_critical_goes_through(producer, db, webhook_sink):
    send(producer, event(severity="warning"))
    webhook_sink.wait_for_requests(1, timeout_s=20)
    send(producer, event(severity="warning"))  # suppressed
    send(producer, event(severity="critical"))  # escalation
    webhook_sink.wait_for_requests(2, timeout_s=20)
    wait_for(lambda: _occurrences(db) == 3 and outbox_settled(db), what="three events, outbox settled")
    assert len(webhook_sink.requests) == 2
    assert "CRITICAL" in webhook_sink.requests[1].json["text"]


def test_a_500_then_200_is_retried_and_delivered_once(producer, db, webhook_sink):
    webhook_sink.respond_with(SinkResponse(status=500, body=b"upstream broke"))
    send(producer, event())
    webhook_sink.wait_for_requests(2, timeout_s=30)
    wait_for(lambda: statuses(db, "webhook") == ["delivered"], what="webhook delivered")
    assert [r.response_status for r in webhook_sink.requests] == [500, 200]
    with db.connect() as conn:
        assert conn.execute(text("SELECT attempts FROM ops_notifications WHERE channel = 'webhook'")).scalar() == 2


def test_a_429_retry_after_is_honoured(producer, db, webhook_sink):
    webhook_sink.respond_with(SinkResponse(status=429, headers={"Retry-After": "2"}))
    send(producer, event())
    first, second = webhook_sink.wait_for_requests(2, timeout_s=30)
    assert second.received_monotonic - first.received_monotonic >= 1.9
    wait_for(lambda: statuses(db, "webhook") == ["delivered"], what="webhook delivered")


def test_a_hanging_webhook_does_not_delay_email(producer, db, webhook_sink, email_sink):
    webhook_sink.respond_with(*[SinkResponse(delay_s=3.0)] * 3)
    sent_at = time.monotonic()
    send(producer, event())
    mail = email_sink.wait_for_requests(1, timeout_s=20)[0]
    first_hook = webhook_sink.wait_for_requests(1, timeout_s=20)[0]
    # Email went out while the webhook's first attempt was still waiting on its hung receiver
    # (read timeout 1 s): the channels share nothing but the outbox.
    assert mail.received_monotonic < first_hook.received_monotonic + 1.0
    assert mail.received_monotonic - sent_at < 10
    wait_for(lambda: statuses(db, "email") == ["delivered"], what="email delivered")


def test_a_4xx_is_not_retried_and_becomes_a_dead_letter(producer, db, webhook_sink, relops_env):
    webhook_sink.respond_with(SinkResponse(status=400, body=b"invalid_payload"))
    send(producer, event())
    wait_for(lambda: statuses(db, "webhook") == ["dead"], what="dead letter")
    assert len(webhook_sink.requests) == 1
    with db.connect() as conn:
        letter = conn.execute(text("SELECT * FROM ops_dead_letters")).one()
    assert letter.channel == "webhook" and letter.attempts == 1
    assert "400" in letter.reason and "invalid_payload" in letter.reason
    assert WEBHOOK_SECRET_PATH not in letter.reason
    assert letter.alerts[0]["fingerprint"] == "slo:checkout"
    output = _relops(relops_env, "alerts", "failed")
    assert "channel=webhook" in output and "slo:checkout" in output


def test_5xx_until_the_last_attempt_becomes_a_dead_letter(producer, db, email_sink):
    # Email: max_attempts = 3, below its breaker's threshold (5), so every attempt is a real send.
    email_sink.default = SinkResponse(status=503)
    send(producer, event())
    wait_for(lambda: statuses(db, "email") == ["dead"], timeout_s=30, what="dead letter after 3 attempts")
    assert len(email_sink.requests) == 3
    with db.connect() as conn:
        letter = conn.execute(text("SELECT channel, attempts, reason FROM ops_dead_letters")).one()
    assert (letter.channel, letter.attempts) == ("email", 3) and "503" in letter.reason
    assert RESEND_KEY not in letter.reason


def test_resolution_notifies_the_channels_that_were_notified_once(producer, db, webhook_sink, email_sink):
    send(producer, event(severity="warning"))
    webhook_sink.wait_for_requests(1, timeout_s=20)
    wait_for(lambda: outbox_settled(db), what="firing delivered")
    resolved = event(severity="ok", status="resolved", title="RESOLVED: checkout is no longer burning")
    send(producer, resolved)
    send(producer, {**resolved, "occurred_at": utcnow().isoformat()})
    webhook_sink.wait_for_requests(2, timeout_s=20)
    wait_for(lambda: statuses(db, "webhook") == ["delivered", "delivered"], what="resolution delivered")
    with db.connect() as conn:
        incident = conn.execute(text("SELECT status, resolved_at FROM ops_incidents")).one()
    assert incident.status == "resolved" and incident.resolved_at is not None
    assert "RESOLVED" in webhook_sink.requests[1].json["text"]
    assert email_sink.requests == []  # a warning never went to email, so neither does its resolution
    # A new firing after the resolution reopens the incident and pages at once (dedup forgotten).
    send(producer, event(severity="warning", occurred_at=utcnow().isoformat()))
    webhook_sink.wait_for_requests(3, timeout_s=20)
    with db.connect() as conn:
        assert conn.execute(text("SELECT status FROM ops_incidents")).scalar() == "open"


def test_a_storm_of_alerts_is_grouped_and_every_alert_accounted_for(producer, db, webhook_sink, email_sink):
    flows = [f"flow-{i:03d}" for i in range(60)]
    for flow in flows:
        send(producer, event(flow=flow))
    wait_for(
        lambda: _delivered(db, "webhook") == 60 and _delivered(db, "email") == 60,
        timeout_s=60,
        what="60 alerts delivered on each channel",
    )
    assert 1 <= len(webhook_sink.requests) <= 5
    assert 1 <= len(email_sink.requests) <= 5
    # Each grouped message shows the worst few in full and counts the rest.
    shown = sum(
        int(r.json["text"].split(" alerts")[0].split()[-1])
        for r in webhook_sink.requests
        if " alerts:" in r.json["text"]
    )
    singles = sum(1 for r in webhook_sink.requests if " alerts:" not in r.json["text"])
    assert shown + singles == 60
    if len(webhook_sink.requests) == 1:
        assert "55 more" in json.dumps(webhook_sink.requests[0].json)
    with db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM ops_incidents")).scalar() == 60


def _delivered(db, channel) -> int:
    with db.connect() as conn:
        return conn.execute(
            text("SELECT count(*) FROM ops_notifications WHERE channel = :c AND status = 'delivered'"), {"c": channel}
        ).scalar()


def test_acknowledged_incidents_stop_notifying_and_cli_changes_status(producer, db, webhook_sink, relops_env):
    send(producer, event())
    webhook_sink.wait_for_requests(1, timeout_s=20)
    with db.connect() as conn:
        incident_id = conn.execute(text("SELECT id FROM ops_incidents")).scalar()
    assert "checkout" in _relops(relops_env, "incidents")
    assert "status=acknowledged" in _relops(relops_env, "incidents", "ack", str(incident_id))
    # After the dedup window this would notify again; acknowledged, it does not.
    _forget_dedup(relops_env)
    send(producer, event())
    wait_for(lambda: _occurrences(db) == 2, what="second event counted")
    assert len(webhook_sink.requests) == 1
    assert "status=resolved" in _relops(relops_env, "incidents", "resolve", str(incident_id))
    assert "no open incidents" in _relops(relops_env, "incidents")


def _forget_dedup(env) -> None:
    client = redis.Redis.from_url(env["REDIS_URL"])
    keys = list(client.scan_iter("relops:dedup:*"))
    if keys:
        client.delete(*keys)
    client.close()


def _relops(env, *args) -> str:
    relops = str(Path(sys.executable).parent / "relops")
    done = subprocess.run([relops, *args], env={**os.environ, **env}, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_an_unreachable_redis_fails_dedup_open():
    closed = redis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=1)
    decisions = dedup(closed, ["webhook", "email"], "slo:x", 2, 300, uuid.uuid4().hex)
    assert all(d.deliver and d.failed_open for d in decisions.values())


def test_a_failing_webhook_opens_its_breaker_alerts_and_recovers(producer, db, webhook_sink, channel_workers):
    # Four 5xx open the webhook breaker (failure_threshold = 4); a failed trial reopens it; the
    # next trial succeeds and closes it, all within the message's six attempts.
    webhook_sink.respond_with(*[SinkResponse(status=503)] * 5)
    send(producer, event(flow="checkout", severity="warning"))
    send(producer, event(flow="login", severity="warning"))

    def breaker_incident():
        with db.connect() as conn:
            return conn.execute(text("SELECT status FROM ops_incidents WHERE fingerprint = 'breaker:webhook'")).scalar()

    wait_for(lambda: breaker_incident() == "open", timeout_s=30, what="breaker incident opened")
    wait_for(lambda: breaker_incident() == "resolved", timeout_s=60, what="breaker closed again")
    wait_for(lambda: statuses(db, "webhook").count("delivered") >= 2, timeout_s=60, what="alerts delivered")
    assert "dead" not in statuses(db, "webhook")  # waiting on an open breaker spends no attempt
    webhook_log = channel_workers[0].log_text()
    assert "event=notify.degraded" in webhook_log
