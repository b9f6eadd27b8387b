"""The alert path's rules, run in this process against the real PostgreSQL, Redis and local HTTP
receivers: routing, dedup, grouping, retries, dead letters, resolution, acknowledgement, breakers.

test_alert_routing.py sends the same kind of events through real worker processes; this file
proves each rule by itself, with exact payloads and counts, in milliseconds.
"""

from __future__ import annotations

import dataclasses
import json

import pytest
import redis
from kombu.exceptions import OperationalError as BrokerError
from relops_client.breakers import BreakerRegistry, CircuitBreaker
from sqlalchemy import text

from relops import names, redis_keys
from relops.broker import MAX_COUNTDOWN_S
from relops.channels.email import IDEMPOTENCY_WINDOW_S
from relops.config import BreakerSettings
from relops.localdev.sink import SinkResponse
from relops.redaction import MASK
from relops.state.rate_limit import take_token
from relops.timeutil import utcnow
from tests.integration.conftest import (
    ADMIN_EMAILS,
    RESEND_KEY,
    WEBHOOK_SECRET_PATH,
    alert_event,
    run_cli,
    wait_for,
)
from tests.integration.inprocess import InProcessWorker
from tests.integration.queries import (
    dead_letter_count,
    delivered_count,
    incident_status,
    notification_statuses,
    scalar,
)

pytestmark = pytest.mark.integration


def dispatch(inproc: InProcessWorker, **event) -> None:
    inproc.send(names.TASK_DISPATCH_ALERT, **event)
    inproc.drain()


def test_a_lone_critical_alert_is_delivered_to_both_channels_at_once(inproc, db, webhook_sink, email_sink):
    dispatch(inproc, **alert_event("checkout"))
    # [alerts] critical_group_wait_s = 0: a page that opens a group waits for nothing.
    assert inproc.delayed == []
    [hook], [mail] = webhook_sink.requests, email_sink.requests
    assert hook.path == WEBHOOK_SECRET_PATH
    assert hook.json["text"] == "🔴 CRITICAL: checkout burning its error budget at 20.0x over 1h"
    assert hook.json["blocks"][0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "🔴 CRITICAL · checkout", "emoji": True},
    }
    assert mail.path == "/emails"
    assert mail.header("Authorization") == f"Bearer {RESEND_KEY}"
    assert mail.json["to"] == ADMIN_EMAILS.split(",")
    assert mail.json["subject"] == "[relops] CRITICAL: checkout burning its error budget at 20.0x over 1h"
    assert mail.header("Idempotency-Key") == scalar(
        db, "SELECT message_key FROM ops_notifications WHERE channel = 'email'"
    )
    assert notification_statuses(db, "webhook") == ["delivered"] and notification_statuses(db, "email") == ["delivered"]
    with db.connect() as conn:
        incident = conn.execute(text("SELECT * FROM ops_incidents")).one()
    assert (incident.status, incident.severity, incident.occurrences) == ("open", "critical", 1)
    assert sorted(incident.notified) == ["email", "webhook"]


def test_a_critical_opening_a_group_waits_when_the_config_says_so(inproc, db, webhook_sink, email_sink):
    config = inproc.deps.config
    waiting = config.model_copy(update={"alerts": config.alerts.model_copy(update={"critical_group_wait_s": 1.0})})
    inproc.deps = dataclasses.replace(inproc.deps, config=waiting)
    dispatch(inproc, **alert_event("checkout"))
    # Nothing goes out before the group window closes: each channel has one flush scheduled for then.
    assert (webhook_sink.received, email_sink.received) == (0, 0)
    flushes = sorted((s.task, s.countdown_s) for s in inproc.delayed)
    assert flushes == [("relops.notify_email", 1.0), ("relops.notify_webhook", 1.0)]
    assert notification_statuses(db, "webhook") == ["pending"] and notification_statuses(db, "email") == ["pending"]
    inproc.pass_time()
    assert (webhook_sink.received, email_sink.received) == (1, 1)


def test_a_critical_brings_a_waiting_groups_flush_forward(inproc, db, webhook_sink):
    dispatch(inproc, **alert_event("search", severity="warning"))
    assert [(s.task, s.countdown_s) for s in inproc.delayed] == [("relops.notify_webhook", 1.0)]
    dispatch(inproc, **alert_event("checkout"))
    # The page did not wait behind the warning's window, and took the warning with it: one message.
    [hook] = webhook_sink.requests
    assert "checkout" in str(hook.json) and "search" in str(hook.json)
    inproc.pass_time()  # the warning's own flush finds nothing left to send
    assert webhook_sink.received == 1


def test_criticals_right_after_a_lone_one_are_grouped(inproc, db, webhook_sink):
    dispatch(inproc, **alert_event("checkout"))
    assert webhook_sink.received == 1
    for flow in ("search", "login"):
        dispatch(inproc, **alert_event(flow))
    # A storm behind the first page is grouped every group_interval_s (1 s), not one message each.
    assert webhook_sink.received == 1
    assert [(s.task, s.countdown_s) for s in inproc.delayed if s.task == "relops.notify_webhook"] == [
        ("relops.notify_webhook", 1.0)
    ]
    inproc.pass_time()
    assert webhook_sink.received == 2
    assert "search" in str(webhook_sink.requests[1].json) and "login" in str(webhook_sink.requests[1].json)


def test_a_warning_goes_to_the_webhook_only(inproc, db, webhook_sink, email_sink):
    dispatch(inproc, **alert_event(severity="warning"))
    inproc.settle()
    assert webhook_sink.received == 1
    assert notification_statuses(db, "email") == [] and email_sink.received == 0


def test_severities_in_capitals_are_routed_and_stored_lowercase(inproc, db, webhook_sink, email_sink):
    """Producers written against the original design send "CRITICAL"."""
    dispatch(inproc, **alert_event(severity="CRITICAL"))
    inproc.settle()
    assert (webhook_sink.received, email_sink.received) == (1, 1)
    assert scalar(db, "SELECT severity FROM ops_incidents") == "critical"
    assert scalar(db, "SELECT severity FROM ops_alert_events") == "critical"


def test_repeats_in_the_dedup_window_are_counted_not_sent(inproc, db, webhook_sink, email_sink):
    for _ in range(5):
        dispatch(inproc, **alert_event())
    inproc.settle()
    assert (webhook_sink.received, email_sink.received) == (1, 1)
    assert scalar(db, "SELECT occurrences FROM ops_incidents") == 5
    assert scalar(db, "SELECT count(*) FROM ops_alert_events") == 5
    assert len(notification_statuses(db, "webhook")) == 1


def test_an_escalation_from_warning_to_critical_goes_through(inproc, db, webhook_sink):
    dispatch(inproc, **alert_event(severity="warning"))
    inproc.settle()
    dispatch(inproc, **alert_event(severity="warning"))  # suppressed
    dispatch(inproc, **alert_event(severity="critical"))  # escalation
    inproc.settle()
    assert [r.json["text"].split(":")[0] for r in webhook_sink.requests] == ["🟠 WARNING", "🔴 CRITICAL"]
    assert notification_statuses(db, "webhook") == ["delivered", "delivered"]


def test_a_500_then_200_is_retried_with_backoff_and_delivered_once(inproc, db, webhook_sink):
    webhook_sink.respond_with(SinkResponse(status=500, body=b"upstream broke"))
    dispatch(inproc, **alert_event())  # a lone CRITICAL: flushed and tried at once
    [retry] = [s for s in inproc.delayed if s.kwargs.get("message_key")]
    assert 0.1 <= retry.countdown_s <= 0.2  # retry_base_s 0.2, with jitter between half and all of it
    assert notification_statuses(db, "webhook") == ["sending"]
    inproc.pass_time()
    assert [r.response_status for r in webhook_sink.requests] == [500, 200]
    assert notification_statuses(db, "webhook") == ["delivered"]
    assert scalar(db, "SELECT attempts FROM ops_notifications WHERE channel = 'webhook'") == 2


def test_a_429_retry_after_makes_every_sender_wait(inproc, db, webhook_sink):
    webhook_sink.respond_with(SinkResponse(status=429, headers={"Retry-After": "1"}))
    dispatch(inproc, **alert_event(severity="warning"))
    inproc.pass_time()
    [retry] = [s for s in inproc.delayed if s.kwargs.get("message_key")]
    assert retry.countdown_s == 1.0
    destination = inproc.deps.receivers["webhook"].rate_limit_key()
    # Any worker asking for this destination now is told to wait for the rest of the second.
    assert 0 < take_token(inproc.redis, destination, rate_per_s=100.0, burst=10) <= 1.0
    blocked_until = int(inproc.redis.hget(redis_keys.rate_limit(destination), "blocked_until"))

    def block_over() -> bool:  # Redis keeps the block's time: wait on its clock, not ours
        seconds, micros = inproc.redis.time()
        return seconds * 1000 + micros // 1000 >= blocked_until

    wait_for(block_over, timeout_s=5, what="the Retry-After block over")
    inproc.pass_time()
    assert [r.response_status for r in webhook_sink.requests] == [429, 200]
    assert notification_statuses(db, "webhook") == ["delivered"]


def test_a_4xx_is_not_retried_and_becomes_a_dead_letter(inproc, db, webhook_sink):
    webhook_sink.respond_with(SinkResponse(status=400, body=b"invalid_payload"))
    dispatch(inproc, **alert_event())
    inproc.settle()
    assert webhook_sink.received == 1
    assert notification_statuses(db, "webhook") == ["dead"]
    with db.connect() as conn:
        letter = conn.execute(text("SELECT * FROM ops_dead_letters")).one()
    assert (letter.channel, letter.attempts) == ("webhook", 1)
    assert "HTTP 400: invalid_payload" in letter.reason and f"/services/{MASK}/{MASK}/{MASK}" in letter.reason
    assert WEBHOOK_SECRET_PATH not in letter.reason
    assert letter.alerts == [
        {"fingerprint": "slo:checkout", "title": alert_event()["title"], "kind": "firing"},
    ]
    output = run_cli("alerts", "failed")
    assert "channel=webhook receiver=webhook alerts=1 attempts=1" in output and "slo:checkout" in output


def test_5xx_until_the_last_attempt_becomes_a_dead_letter(inproc, db, email_sink):
    # Email: max_attempts 3, below its breaker's threshold (5), so every attempt is a real send.
    email_sink.default = SinkResponse(status=503)
    dispatch(inproc, **alert_event())
    inproc.settle()
    assert email_sink.received == 3
    assert notification_statuses(db, "email") == ["dead"]
    reason = scalar(db, "SELECT reason FROM ops_dead_letters WHERE channel = 'email' AND attempts = 3")
    assert "HTTP 503" in reason and RESEND_KEY not in reason


def test_resolution_notifies_the_channels_that_were_notified_once(inproc, db, webhook_sink, email_sink):
    dispatch(inproc, **alert_event(severity="warning"))
    inproc.settle()
    resolved = alert_event(severity="ok", status="resolved", title="RESOLVED: checkout is no longer burning")
    dispatch(inproc, **resolved)
    dispatch(inproc, **{**resolved, "occurred_at": utcnow().isoformat()})  # a second resolution: nothing
    inproc.settle()
    assert [r.json["text"].split(":")[0] for r in webhook_sink.requests] == ["🟠 WARNING", "✅ RESOLVED"]
    assert email_sink.received == 0  # a warning never went to email, so neither does its resolution
    assert incident_status(db, "slo:checkout") == "resolved"
    # A new firing reopens the incident and pages at once: the dedup window was forgotten.
    dispatch(inproc, **alert_event(severity="warning"))
    inproc.settle()
    assert webhook_sink.received == 3
    assert incident_status(db, "slo:checkout") == "open"


def test_an_acknowledged_incident_notifies_nobody_until_resolved(inproc, db, webhook_sink):
    dispatch(inproc, **alert_event())
    inproc.settle()
    incident_id = scalar(db, "SELECT id FROM ops_incidents")
    assert "checkout" in run_cli("incidents")
    assert f"incident={incident_id} fingerprint=slo:checkout status=acknowledged" in run_cli(
        "incidents", "ack", str(incident_id)
    )
    inproc.redis.delete(*inproc.redis.scan_iter("relops:dedup:*"))  # as if the dedup window had passed
    dispatch(inproc, **alert_event())
    inproc.settle()
    assert scalar(db, "SELECT occurrences FROM ops_incidents") == 2
    assert webhook_sink.received == 1
    assert "status=resolved" in run_cli("incidents", "resolve", str(incident_id))
    assert "no open incidents" in run_cli("incidents")


def test_a_flush_whose_delivery_cannot_be_published_puts_its_claim_back(inproc, db, webhook_sink):
    """The claim commits before its delivery is published (so a delivery never runs ahead of it): a
    broker that refuses the delivery must not leave the notifications claimed by a message nobody
    will send."""
    recording = inproc.deps.publish

    def broker_down(task, kwargs, queue, countdown_s=0.0):
        if kwargs.get("message_key"):
            raise BrokerError("broker unreachable")
        recording(task, kwargs, queue, countdown_s)

    inproc.deps = dataclasses.replace(inproc.deps, publish=broker_down)
    dispatch(inproc, **alert_event("checkout", severity="warning"))
    with pytest.raises(BrokerError):  # the flush, after the group wait: its task retries
        inproc.pass_time()
    assert notification_statuses(db, "webhook") == ["pending"]
    assert scalar(db, "SELECT count(*) FROM ops_notifications WHERE message_key IS NOT NULL") == 0

    inproc.deps = dataclasses.replace(inproc.deps, publish=recording)
    inproc.send(names.notify_task("webhook"), receiver="webhook")  # the retried flush
    inproc.settle()
    assert notification_statuses(db, "webhook") == ["delivered"]
    assert webhook_sink.received == 1


def test_a_storm_is_one_message_per_channel_with_every_alert_counted(inproc, db, webhook_sink, email_sink):
    for i in range(60):
        dispatch(inproc, **alert_event(f"flow-{i:03d}", severity="warning" if i % 3 else "critical"))
    inproc.settle()
    # The storm's first alert, a CRITICAL, went out alone and at once; the rest as one message.
    [first_hook, hook], [first_mail, mail] = webhook_sink.requests, email_sink.requests
    assert first_hook.json["text"].startswith("🔴 CRITICAL: flow-000")
    assert first_mail.json["subject"].startswith("[relops] CRITICAL: flow-000")
    assert hook.json["text"].startswith("🔴 59 alerts: 19 critical, 40 warning")
    assert "…and 54 more: 14 critical, 40 warning" in json.dumps(hook.json, ensure_ascii=False)
    assert mail.json["subject"] == "[relops] 19 alerts: 19 critical"
    assert (delivered_count(db, "webhook"), delivered_count(db, "email")) == (60, 20)


def test_a_message_gives_up_after_max_outage_wait_s(inproc, db, webhook_sink):
    """A receiver known to be down: the message waits for the breaker without spending attempts,
    and becomes a dead letter only once it has waited max_outage_wait_s (6 h; backdated here)."""
    webhook_sink.default = SinkResponse(status=503, body=b"upstream down")
    dispatch(inproc, **alert_event())
    inproc.pass_time()  # flush
    for _ in range(4):  # failure_threshold 4: the fourth failure opens the webhook breaker
        inproc.pass_time()
    assert inproc.deps.breakers.get("webhook").admit() is None
    inproc.pass_time()  # the breaker is open: the message waits for it
    assert notification_statuses(db, "webhook") == ["sending"]
    attempts = scalar(db, "SELECT attempts FROM ops_notifications WHERE channel = 'webhook'")
    with db.begin() as conn:
        conn.execute(text("UPDATE ops_notifications SET created_at = now() - interval '7 hours'"))
    # Six sends in a second drained the shared bucket (20/s, burst 5): the next try may wait for a token.
    wait_for(
        lambda: inproc.pass_time() >= 0 and notification_statuses(db, "webhook") == ["dead"],
        timeout_s=10,
        what="the message giving up",
    )
    reason = scalar(db, "SELECT reason FROM ops_dead_letters")
    assert reason.startswith("receiver down for over 21600 s (breaker webhook open)"), reason
    assert scalar(db, "SELECT attempts FROM ops_dead_letters") == attempts  # waiting spent none


def test_a_breaker_open_longer_than_the_visibility_timeout_wakes_the_message_in_time(inproc, db, webhook_sink):
    """An open_s of an hour would schedule the next try beyond the broker's visibility timeout (the
    message would be delivered twice): the countdown is capped, and the message waits again."""
    client = inproc.redis
    settings = {**inproc.deps.config.breaker_settings(), "webhook": BreakerSettings(failure_threshold=1, open_s=3600)}
    inproc.deps = dataclasses.replace(inproc.deps, breakers=BreakerRegistry(settings, lambda: client))
    webhook_sink.default = SinkResponse(status=503)
    dispatch(inproc, **alert_event())
    inproc.pass_time()  # flush
    inproc.pass_time()  # first send fails and opens the breaker for an hour
    inproc.pass_time()  # the breaker is open: wait
    waits = [s.countdown_s for s in inproc.delayed]
    assert waits and max(waits) == MAX_COUNTDOWN_S < 900
    assert notification_statuses(db, "webhook") == ["sending"]


def test_resend_409_for_a_request_in_flight_is_retried(inproc, db, email_sink):
    email_sink.respond_with(
        SinkResponse(status=409, body=b'{"statusCode":409,"name":"concurrent_idempotent_requests","message":"wait"}')
    )
    dispatch(inproc, **alert_event())
    inproc.settle()
    assert [r.response_status for r in email_sink.requests] == [409, 200]
    assert notification_statuses(db, "email") == ["delivered"]
    first, second = email_sink.requests
    assert first.header("Idempotency-Key") == second.header("Idempotency-Key")


def test_resend_409_for_a_key_used_with_another_body_is_a_dead_letter_at_once(inproc, db, email_sink):
    email_sink.respond_with(
        SinkResponse(status=409, body=b'{"statusCode":409,"name":"invalid_idempotent_request","message":"no"}')
    )
    dispatch(inproc, **alert_event())
    inproc.settle()
    assert email_sink.received == 1  # not retried: the same key can never carry this email
    assert notification_statuses(db, "email") == ["dead"]
    reason = scalar(db, "SELECT reason FROM ops_dead_letters")
    assert "invalid_idempotent_request" in reason and "ADMIN_EMAILS or the sender changed" in reason


def test_an_email_first_tried_longer_ago_than_resend_remembers_its_key_is_not_sent_again(inproc, db, email_sink):
    email_sink.respond_with(SinkResponse(status=503))
    dispatch(inproc, **alert_event())  # flushed and tried at once: 503, a retry is scheduled
    assert email_sink.received == 1
    with db.begin() as conn:
        conn.execute(
            text("UPDATE ops_notifications SET first_attempt_at = first_attempt_at - make_interval(secs => :s)"),
            {"s": IDEMPOTENCY_WINDOW_S + 60},
        )
    inproc.settle()
    assert email_sink.received == 1  # Resend may have sent the first one: a resend could be a second email
    assert notification_statuses(db, "email") == ["dead"]
    reason = scalar(db, "SELECT reason FROM ops_dead_letters")
    assert "no longer remembers its idempotency key" in reason


def test_a_breaker_opened_by_a_service_pages_and_its_recovery_resolves(inproc, db, webhook_sink, redis_url):
    """A service's own guard() has no transition listener: the beat check notices the shared state."""
    service_view = CircuitBreaker(
        "google_calendar", BreakerSettings(failure_threshold=2, open_s=0.2), lambda: redis.Redis.from_url(redis_url)
    )
    for _ in range(2):
        ticket = service_view.admit()
        service_view.record(ticket, ok=False)
    inproc.send(names.TASK_CHECK_BREAKERS)
    inproc.drain()
    inproc.send(names.TASK_CHECK_BREAKERS)  # seen again: the incident exists, nothing new
    inproc.settle()
    assert incident_status(db, "breaker:google_calendar") == "open"
    assert scalar(db, "SELECT count(*) FROM ops_alert_events WHERE fingerprint = 'breaker:google_calendar'") == 1
    [page] = webhook_sink.requests
    assert "google_calendar is degraded (circuit open)" in page.json["text"]
    runbook = scalar(db, "SELECT runbook_url FROM ops_incidents")
    assert runbook == "breakers.md"  # the test config has no runbook_base_url: the path alone

    ticket = wait_for(service_view.admit, timeout_s=5, what="the breaker's first trial call after open_s")
    assert ticket.lease
    service_view.record(ticket, ok=True)
    inproc.send(names.TASK_CHECK_BREAKERS)
    inproc.settle()
    assert incident_status(db, "breaker:google_calendar") == "resolved"
    assert "RESOLVED" in webhook_sink.requests[-1].json["text"]


def test_dead_letters_and_retries_never_quote_a_secret(inproc, db, webhook_sink, email_sink):
    """Receivers that echo the webhook URL and the Resend key back in their error bodies."""
    secret = WEBHOOK_SECRET_PATH.rsplit("/", 1)[-1]
    webhook_sink.respond_with(SinkResponse(status=400, body=f"bad hook {WEBHOOK_SECRET_PATH}".encode()))
    email_sink.respond_with(SinkResponse(status=401, body=f"bad key {RESEND_KEY}".encode()))
    dispatch(inproc, **alert_event())
    inproc.settle()
    assert dead_letter_count(db) == 2
    stored = scalar(db, "SELECT string_agg(reason, ' ') FROM ops_dead_letters")
    assert secret not in stored and RESEND_KEY not in stored
    assert stored.count(MASK) >= 2
