"""No secret reaches a log, a stored payload or an error: grep everything this run wrote.

Named to run last in this folder, so it also reads the logs every earlier test produced; it makes
its own deliveries and failures first, so it never passes because nothing happened.
"""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text

from relops.sink import SinkResponse
from tests.integration.conftest import RESEND_KEY, WEBHOOK_SECRET_PATH, WORKER_DB_PASSWORD, alert_event, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("worker", "channel_workers", "clean_tables")]
SECRETS = (WEBHOOK_SECRET_PATH.rsplit("/", 1)[-1], RESEND_KEY, WORKER_DB_PASSWORD)


def test_no_secret_in_logs_payloads_or_errors(producer, db, webhook_sink, email_sink, output_dir):
    webhook_sink.respond_with(SinkResponse(status=500, body=b"upstream"))
    email_sink.respond_with(SinkResponse(status=401, body=b"bad key"))
    flow = f"secret-check-{uuid.uuid4().hex[:6]}"
    producer.send_task("relops.dispatch_alert", kwargs=alert_event(flow), queue="alerts")

    def settled():
        with db.connect() as conn:
            return (
                conn.execute(
                    text("SELECT count(*) FROM ops_notifications WHERE status IN ('delivered', 'dead')")
                ).scalar()
                == 2
            )

    wait_for(settled, timeout_s=30, what="a retried webhook delivery and a refused email")
    logs = sorted(output_dir.glob("*.log"))
    assert logs and sum(p.stat().st_size for p in logs) > 2_000
    written = "\n".join(p.read_text(errors="replace") for p in logs)
    assert "event=notify.retry channel=webhook" in written and "event=notify.dead_letter channel=email" in written
    assert "/services/***/***/***" in written  # the webhook is named, masked, where errors mention it
    for secret in SECRETS:
        assert secret not in written, (
            f"a secret appears in {[p.name for p in logs if secret in p.read_text(errors='replace')]}"
        )
    with db.connect() as conn:
        stored = (
            conn.execute(
                text(
                    "SELECT coalesce(string_agg(payload::text || coalesce(last_error, ''), ' '), '') "
                    "FROM ops_notifications"
                )
            ).scalar()
            + conn.execute(text("SELECT coalesce(string_agg(reason, ' '), '') FROM ops_dead_letters")).scalar()
        )
        stored += conn.execute(
            text("SELECT coalesce(string_agg(details::text, ' '), '') FROM ops_alert_events")
        ).scalar()
    for secret in SECRETS:
        assert secret not in stored
