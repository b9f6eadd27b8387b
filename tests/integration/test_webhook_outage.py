"""The webhook receiver down, then back: its alerts wait and arrive once each, email is unaffected
meanwhile, the webhook breaker opens and closes, and nothing becomes a dead letter.

The breaker retries a trial call every open_s (1 s here): about 30 failed trials over a 30 s
outage, five times max_attempts (6), so this also proves that failed trials spend no attempt. The
length of the outage adds nothing else: with open_s = 30 (the default), 30 trials are 15 minutes.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter

import pytest
from sqlalchemy import text

from relops.localdev.sink import SinkResponse
from tests.integration.conftest import alert_event, wait_for
from tests.integration.queries import dead_letter_count, incident_status, notification_statuses

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("worker", "clean_tables")]

OUTAGE_S = 30
#: The test config's webhook max_attempts.
MAX_ATTEMPTS = 6
ALERTS = 6


def statuses(db, channel: str) -> dict[str, int]:
    """The test's own alerts only: the breaker's alert about itself goes to the webhook too."""
    return dict(Counter(notification_statuses(db, channel, "slo:outage-%")))


def breaker_incident(db) -> str | None:
    return incident_status(db, "breaker:webhook")


def test_alerts_wait_out_a_long_webhook_outage_and_arrive_once(producer, db, webhook_sink, email_sink, channel_workers):
    webhook_sink.default = SinkResponse(status=503, body=b"upstream down")
    webhook_sink.respond_with()
    flows = [f"outage-{i}-{uuid.uuid4().hex[:6]}" for i in range(ALERTS)]
    started = time.monotonic()
    for i, flow in enumerate(flows):
        producer.send_task("relops.dispatch_alert", queue="alerts", kwargs=alert_event(flow))
        # Email has its own queue, worker and breaker: each alert reaches it during the outage.
        wait_for(lambda n=i + 1: statuses(db, "email").get("delivered", 0) == n, what=f"email {i + 1} delivered")
        if i == 0:
            wait_for(lambda: breaker_incident(db) == "open", timeout_s=60, what="the webhook breaker opening")
        # Hold the outage to its full length, checking every poll that nothing gives up meanwhile.
        until = started + OUTAGE_S * (i + 1) / ALERTS

        def held(until: float = until) -> bool:
            assert dead_letter_count(db) == 0, "a message gave up during the outage"
            assert statuses(db, "webhook").get("delivered", 0) == 0, "delivered while the receiver was down"
            return time.monotonic() >= until

        wait_for(held, timeout_s=OUTAGE_S + 30, what="the outage held")
    failed_posts = webhook_sink.received
    assert failed_posts > 3 * MAX_ATTEMPTS, f"only {failed_posts} tries in {OUTAGE_S} s: the breaker never retried"

    webhook_sink.default = SinkResponse()  # the receiver is back
    wait_for(
        lambda: statuses(db, "webhook") == {"delivered": ALERTS}, timeout_s=90, what="every webhook alert delivered"
    )
    wait_for(lambda: breaker_incident(db) == "resolved", timeout_s=60, what="the webhook breaker closing")
    delivered_posts = [json.dumps(r.json) for r in webhook_sink.requests if r.response_status == 200]
    for flow in flows:
        assert sum(post.count(f"CRITICAL: {flow}") > 0 for post in delivered_posts) == 1, flow
    assert statuses(db, "email") == {"delivered": ALERTS}
    assert email_sink.received == ALERTS  # email never failed, never repeated
    assert dead_letter_count(db) == 0
    webhook_log = channel_workers[0].log_text()
    assert "event=notify.degraded" in webhook_log


def test_a_message_gives_up_after_max_outage_wait_s(producer, db, webhook_sink, channel_workers):
    """The bound on waiting: a message that has waited out an outage for longer than
    max_outage_wait_s (6 h by default; its age is backdated here) becomes a dead letter."""
    webhook_sink.default = SinkResponse(status=503, body=b"upstream down")
    webhook_sink.respond_with()
    flow = f"outage-long-{uuid.uuid4().hex[:6]}"
    producer.send_task("relops.dispatch_alert", queue="alerts", kwargs=alert_event(flow))
    wait_for(lambda: breaker_incident(db) == "open", timeout_s=60, what="the webhook breaker opening")
    with db.begin() as conn:
        conn.execute(
            text(
                "UPDATE ops_notifications SET created_at = now() - interval '7 hours' "
                "WHERE payload->>'fingerprint' = :f AND channel = 'webhook'"
            ),
            {"f": f"slo:{flow}"},
        )
    wait_for(lambda: statuses(db, "webhook") == {"dead": 1}, timeout_s=60, what="the message giving up")
    with db.connect() as conn:
        reason = conn.execute(text("SELECT reason FROM ops_dead_letters WHERE channel = 'webhook'")).scalar()
    assert reason.startswith("receiver down for over 21600 s (breaker webhook open)"), reason
    webhook_sink.default = SinkResponse()
