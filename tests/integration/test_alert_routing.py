"""Alert events through the real alerts worker and one real worker per channel, to real local HTTP
receivers: what needs processes. Celery's wiring end to end, dedup across two processes, a storm
grouped while it arrives, channels that never wait on each other, and a worker's breaker alerting.
The rules themselves (routing, retries, dead letters, resolution, acknowledgement) are proven in
process by test_alert_rules.py."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import text

from relops.localdev.sink import SinkResponse
from tests.integration.conftest import ADMIN_EMAILS, RESEND_KEY, WEBHOOK_SECRET_PATH, alert_event, wait_for
from tests.integration.queries import delivered_count, notification_statuses, occurrences, outbox_settled

# Each test runs on Redis and on RabbitMQ (conftest.broker).
pytestmark = [
    pytest.mark.integration,
    pytest.mark.usefixtures("broker_worker", "broker_channel_workers", "clean_tables"),
]

DISPATCH = "relops.dispatch_alert"


def send(producer, payload):
    producer.send_task(DISPATCH, kwargs=payload, queue="alerts")


def test_a_critical_alert_reaches_webhook_and_email_once(broker_producer, db, webhook_sink, email_sink):
    send(broker_producer, alert_event())
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
    assert sorted(incident.notified) == ["email", "webhook"]
    assert notification_statuses(db, "webhook") == ["delivered"] and notification_statuses(db, "email") == ["delivered"]


def test_eight_events_with_one_key_on_two_processes_deliver_once_per_channel(
    broker_producer, db, webhook_sink, email_sink
):
    for _ in range(8):
        send(broker_producer, alert_event())
    wait_for(lambda: occurrences(db) == 8, what="all 8 events counted on the incident")
    wait_for(lambda: outbox_settled(db), what="outbox settled")
    assert len(webhook_sink.requests) == 1
    assert len(email_sink.requests) == 1
    assert notification_statuses(db, "webhook") == ["delivered"] and notification_statuses(db, "email") == ["delivered"]


def test_a_hanging_webhook_does_not_delay_email(broker_producer, db, webhook_sink, email_sink):
    webhook_sink.respond_with(*[SinkResponse(delay_s=3.0)] * 3)
    sent_at = time.monotonic()
    send(broker_producer, alert_event())
    mail = email_sink.wait_for_requests(1, timeout_s=20)[0]
    first_hook = webhook_sink.wait_for_requests(1, timeout_s=20)[0]
    # Email went out while the webhook's first attempt was still waiting on its hung receiver
    # (read timeout 1 s): the channels share nothing but the outbox.
    assert mail.received_monotonic < first_hook.received_monotonic + 1.0
    assert mail.received_monotonic - sent_at < 10
    wait_for(lambda: notification_statuses(db, "email") == ["delivered"], what="email delivered")


def test_a_storm_of_alerts_is_grouped_and_every_alert_accounted_for(broker_producer, db, webhook_sink, email_sink):
    flows = [f"flow-{i:03d}" for i in range(60)]
    for flow in flows:
        send(broker_producer, alert_event(flow=flow))
    wait_for(
        lambda: delivered_count(db, "webhook") == 60 and delivered_count(db, "email") == 60,
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


def test_a_failing_webhook_opens_its_breaker_alerts_and_recovers(
    broker_producer, db, webhook_sink, broker_channel_workers
):
    # Four 5xx open the webhook breaker (failure_threshold = 4); a failed trial reopens it; the
    # next trial succeeds and closes it, all within the message's six attempts.
    webhook_sink.respond_with(*[SinkResponse(status=503)] * 5)
    send(broker_producer, alert_event(flow="checkout", severity="warning"))
    send(broker_producer, alert_event(flow="login", severity="warning"))

    def breaker_incident():
        with db.connect() as conn:
            return conn.execute(text("SELECT status FROM ops_incidents WHERE fingerprint = 'breaker:webhook'")).scalar()

    wait_for(lambda: breaker_incident() == "open", timeout_s=30, what="breaker incident opened")
    wait_for(lambda: breaker_incident() == "resolved", timeout_s=60, what="breaker closed again")
    wait_for(
        lambda: notification_statuses(db, "webhook").count("delivered") >= 2, timeout_s=60, what="alerts delivered"
    )
    assert "dead" not in notification_statuses(db, "webhook")  # waiting on an open breaker spends no attempt
    webhook_log = broker_channel_workers[0].log_text()
    assert "event=notify.degraded" in webhook_log
