"""No secret reaches a log, a stored payload or an error. This test makes failing deliveries that
receivers answer by echoing secrets, then greps what the run wrote; the session's audit
(conftest.no_secret_written) greps everything again once every test has run, in any order and
under any -k selection.
"""

from __future__ import annotations

import uuid

import pytest

from relops.localdev.sink import SinkResponse
from tests.integration.conftest import RESEND_KEY, SECRETS, WEBHOOK_SECRET_PATH, alert_event, wait_for
from tests.integration.queries import scalar
from tests.integration.secrets_audit import secrets_written, stored_text, written_logs

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("worker", "channel_workers", "clean_tables")]


def test_failing_receivers_put_no_secret_in_logs_or_stored_errors(producer, db, webhook_sink, email_sink, output_dir):
    # Receivers that quote the credentials they were sent back in their error bodies.
    webhook_sink.respond_with(SinkResponse(status=500, body=f"upstream broke for {WEBHOOK_SECRET_PATH}".encode()))
    email_sink.respond_with(SinkResponse(status=401, body=f"bad key {RESEND_KEY}".encode()))
    flow = f"secret-check-{uuid.uuid4().hex[:6]}"
    producer.send_task("relops.dispatch_alert", kwargs=alert_event(flow), queue="alerts")
    wait_for(
        lambda: scalar(db, "SELECT count(*) FROM ops_notifications WHERE status IN ('delivered', 'dead')") == 2,
        timeout_s=30,
        what="a retried webhook delivery and a refused email",
    )
    written = "\n".join(written_logs(output_dir).values())
    assert "event=notify.retry channel=webhook" in written and "event=notify.dead_letter channel=email" in written
    assert "/services/***/***/***" in written  # the webhook is named, masked, where errors mention it
    assert "bad key ***" in stored_text(db)  # the echoed key was there to leak, and was masked
    assert secrets_written(db, output_dir, SECRETS) == []
