"""The webhook and email channels against a real local HTTP server (relops.localdev.sink.HttpSink).

No mocks: every request goes through requests and a socket to a ThreadingHTTPServer on 127.0.0.1.
"""

from __future__ import annotations

import dataclasses
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
from pydantic import SecretStr

from relops.channels.base import DeliveryError, MessageContext, Notification
from relops.channels.email import EmailChannel, idempotency_key, render_email
from relops.channels.http import parse_retry_after, post_json
from relops.channels.webhook import WebhookChannel, render_slack
from relops.config import ChannelSettings
from relops.localdev.sink import HttpSink, SinkResponse
from relops.redaction import redact_url
from relops.settings import Settings

pytestmark = pytest.mark.integration

CHANNEL_ENV = ("MONITORING_ALERT_WEBHOOK_URL", "RESEND_API_KEY", "RESEND_API_URL", "ADMIN_EMAILS")


@pytest.fixture(autouse=True)
def no_channel_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests build Settings by hand; the session's relops environment must not fill the gaps."""
    for name in CHANNEL_ENV:
        monkeypatch.delenv(name, raising=False)


SECRET_PATH = "/services/T000/B000/SECRETTOKEN"
API_KEY = "re_test_SECRETKEY_123456"
SENDER = "relops <alerts@example.com>"
FAST = ChannelSettings(read_timeout_s=0.5, connect_timeout_s=0.5)
AT = "2026-11-27T12:31:00+00:00"
CONTEXT = MessageContext(
    message_key="alert-msg-7d0c1f6e", dashboard_url="https://grafana.example.com/d/relops", max_full=5
)
NOTIFICATION = Notification(
    fingerprint="slo:checkout",
    kind="firing",
    severity="critical",
    source="slo",
    title="CRITICAL: checkout burning its error budget at 20.0x over 1h",
    summary="checkout burning its error budget at 20.0x over 1h: 20 bad of 1000 events in the last 1h.",
    details={
        "flow": "checkout",
        "objective_percent": 99.9,
        "evaluated_at": AT,
        "windows": {
            "1h": {"window_s": 3600, "events": 1000, "errors": 20, "burn_rate": 20.0, "status": "critical"},
            "6h": {"window_s": 21600, "events": 0, "errors": 0, "burn_rate": None, "status": "no_data"},
            "24h": {"window_s": 86400, "events": 1000, "errors": 20, "burn_rate": 20.0, "status": "critical"},
        },
        "period_days": 30,
        "period_events": 1000,
        "period_errors": 20,
        "budget_remaining": 0.7,
        "budget_exhausted": False,
        "time_to_exhaustion_s": 90720,
    },
    runbook_url="https://runbooks.example.com/checkout.md",
    occurred_at=AT,
)


@pytest.fixture
def sink() -> Iterator[HttpSink]:
    with HttpSink() as running:
        yield running


def closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def webhook(url: str, config: ChannelSettings = FAST) -> WebhookChannel:
    return WebhookChannel(Settings(MONITORING_ALERT_WEBHOOK_URL=url), config)


def email(
    api_url: str, *, sender: str | None = SENDER, admins: str = "oncall@example.com, sre@example.com"
) -> EmailChannel:
    options: dict[str, Any] = {} if sender is None else {"sender": sender}
    settings = Settings(RESEND_API_KEY=API_KEY, ADMIN_EMAILS=admins, RESEND_API_URL=api_url)
    return EmailChannel(settings, ChannelSettings(read_timeout_s=0.5, connect_timeout_s=0.5, **options))


def send_failure(channel: WebhookChannel | EmailChannel) -> DeliveryError:
    with pytest.raises(DeliveryError) as caught:
        channel.send([NOTIFICATION], CONTEXT)
    return caught.value


def assert_no_secret(error: DeliveryError, *secrets: str) -> None:
    shown = f"{error} {error!r} {error.reason} {error.args}"
    for secret in secrets:
        assert secret not in shown
    assert error.__cause__ is None and error.__context__ is None  # no chained exception quoting the URL


# the webhook


def test_webhook_posts_the_rendered_message(sink: HttpSink):
    channel = webhook(sink.url + SECRET_PATH)
    assert channel.missing_configuration() is None
    channel.send([NOTIFICATION], CONTEXT)

    [request] = sink.wait_for_requests(1, timeout_s=5)
    assert request.method == "POST"
    assert request.path == SECRET_PATH
    assert request.header("content-type") == "application/json; charset=utf-8"
    assert request.json == render_slack([NOTIFICATION], CONTEXT)
    assert request.json["blocks"][0]["text"]["text"] == "🔴 CRITICAL · checkout"
    assert request.response_status == 200


def test_webhook_5xx_is_retryable(sink: HttpSink):
    sink.respond_with(SinkResponse(status=500, body=b"internal error"))
    error = send_failure(webhook(sink.url + SECRET_PATH))
    assert error.retryable is True
    assert error.status == 500
    assert error.retry_after_s is None
    assert "HTTP 500: internal error" in str(error)


def test_webhook_429_waits_as_told(sink: HttpSink):
    sink.respond_with(SinkResponse(status=429, body=b"rate_limited", headers={"Retry-After": "7"}))
    error = send_failure(webhook(sink.url + SECRET_PATH))
    assert error.retryable is True
    assert error.status == 429
    assert error.retry_after_s == 7


def test_webhook_429_with_an_http_date_or_garbage(sink: HttpSink):
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    sink.respond_with(
        SinkResponse(status=429, headers={"Retry-After": later}),
        SinkResponse(status=429, headers={"Retry-After": "soon"}),
        SinkResponse(status=429),
        SinkResponse(status=429, headers={"Retry-After": "86400"}),
    )
    channel = webhook(sink.url + SECRET_PATH)
    assert 25 <= send_failure(channel).retry_after_s <= 30
    assert send_failure(channel).retry_after_s == 1.0
    assert send_failure(channel).retry_after_s == 1.0
    assert send_failure(channel).retry_after_s == 300.0


def test_webhook_4xx_is_not_retryable(sink: HttpSink):
    sink.respond_with(SinkResponse(status=400, body=b"invalid_blocks " + b"x" * 1000))
    error = send_failure(webhook(sink.url + SECRET_PATH))
    assert error.retryable is False
    assert error.status == 400
    assert "invalid_blocks" in error.reason
    body_quoted = error.reason.split("HTTP 400: ", 1)[1]
    assert len(body_quoted) <= 200


def test_webhook_redirect_is_not_followed(sink: HttpSink):
    sink.respond_with(SinkResponse(status=302, headers={"Location": sink.url + "/elsewhere"}))
    error = send_failure(webhook(sink.url + SECRET_PATH))
    assert error.retryable is False
    assert len(sink.requests) == 1


def test_webhook_hanging_receiver_times_out_retryably(sink: HttpSink):
    sink.respond_with(SinkResponse(hang=True))
    started = time.monotonic()
    error = send_failure(webhook(sink.url + SECRET_PATH))
    elapsed = time.monotonic() - started
    assert error.retryable is True
    assert "timeout" in str(error)
    assert elapsed < 5  # hang guard only: read_timeout_s is 0.5


def test_webhook_connection_refused_is_retryable():
    url = f"http://127.0.0.1:{closed_port()}{SECRET_PATH}?token=QUERYSECRET"
    error = send_failure(webhook(url))
    assert error.retryable is True
    assert "connection failed" in str(error)
    assert_no_secret(error, "SECRETTOKEN", "QUERYSECRET", SECRET_PATH)


def test_webhook_url_never_appears_in_errors_or_destination(sink: HttpSink):
    url = sink.url + SECRET_PATH
    channel = webhook(url)
    assert channel.destination() == f"{sink.url}/services/***/***/***"
    # a receiver that echoes the URL back in its error body
    sink.respond_with(
        SinkResponse(status=404, body=f"no such hook: {url} ({SECRET_PATH})".encode()),
        SinkResponse(status=503, body=url.encode()),
        SinkResponse(hang=True),
    )
    for _ in range(3):
        error = send_failure(channel)
        assert_no_secret(error, "SECRETTOKEN", url, SECRET_PATH)
    assert "SECRETTOKEN" not in repr(channel.settings)


def test_webhook_destination_of_a_slack_url():
    channel = webhook("https://hooks.slack.com/services/T0ABCDEF/B0GHIJKL/abcdefghijklmnopqrstuvwx?x=1")
    assert channel.destination() == "https://hooks.slack.com/services/***/***/***"
    assert redact_url("https://user:pw@alerts.example.com:8443/relops/alerts?token=abc") == (
        "https://alerts.example.com:8443/relops/alerts"
    )


def test_webhook_configuration():
    assert WebhookChannel(Settings(), FAST).missing_configuration() == "MONITORING_ALERT_WEBHOOK_URL is not set"
    assert "http" in (webhook("ftp://example.com/hook").missing_configuration() or "")
    with pytest.raises(DeliveryError) as caught:
        WebhookChannel(Settings(), FAST).send([NOTIFICATION], CONTEXT)
    assert caught.value.retryable is False
    assert (WebhookChannel.name, WebhookChannel.default_severities, WebhookChannel.default_rate_per_s) == (
        "webhook",
        ("warning", "critical"),
        1.0,
    )


# email through the Resend API


def test_email_posts_to_resend_with_key_and_idempotency_key(sink: HttpSink):
    channel = email(sink.url)
    assert channel.missing_configuration() is None
    assert channel.destination() == sink.url
    channel.send([NOTIFICATION], CONTEXT)

    [request] = sink.wait_for_requests(1, timeout_s=5)
    assert request.method == "POST"
    assert request.path == "/emails"
    assert request.header("Authorization") == f"Bearer {API_KEY}"
    assert request.header("Idempotency-Key") == CONTEXT.message_key
    assert request.header("Content-Type") == "application/json; charset=utf-8"
    subject, html, text = render_email([NOTIFICATION], CONTEXT)
    assert request.json == {
        "from": SENDER,
        "to": ["oncall@example.com", "sre@example.com"],
        "subject": subject,
        "html": html,
        "text": text,
    }
    assert subject == "[relops] CRITICAL: checkout burning its error budget at 20.0x over 1h"


def test_email_retry_reuses_the_idempotency_key(sink: HttpSink):
    sink.respond_with(SinkResponse(status=500))
    channel = email(sink.url)
    assert send_failure(channel).retryable is True
    channel.send([NOTIFICATION], CONTEXT)
    first, second = sink.wait_for_requests(2)
    assert first.header("Idempotency-Key") == second.header("Idempotency-Key") == CONTEXT.message_key
    assert first.body == second.body


def test_email_errors_never_show_the_api_key(sink: HttpSink):
    sink.respond_with(
        SinkResponse(status=401, body=f'{{"message": "API key {API_KEY} is invalid"}}'.encode()),
        SinkResponse(status=422, body=b'{"name": "validation_error"}'),
        SinkResponse(status=409, body=b'{"name": "concurrent_idempotent_requests"}'),
        SinkResponse(status=429, headers={"Retry-After": "2"}),
        SinkResponse(hang=True),
    )
    channel = email(sink.url)
    errors = [send_failure(channel) for _ in range(5)]
    assert [(e.status, e.retryable) for e in errors] == [
        (401, False),
        (422, False),
        (409, True),
        (429, True),
        (None, True),
    ]
    assert errors[3].retry_after_s == 2
    for error in errors:
        assert_no_secret(error, API_KEY)
    assert "API key *** is invalid" in str(errors[0])


def test_email_connection_refused_is_retryable():
    error = send_failure(email(f"http://127.0.0.1:{closed_port()}"))
    assert error.retryable is True
    assert_no_secret(error, API_KEY)


def test_email_configuration(sink: HttpSink):
    assert email(sink.url, sender=None).missing_configuration().startswith("alerts.channels.email.sender is not set")
    assert "not an email address" in email(sink.url, sender="relops").missing_configuration()
    assert "not an email address" in email(sink.url, sender="a@b.c\r\nBcc: x@y.z").missing_configuration()
    assert email(sink.url, admins="").missing_configuration() == "ADMIN_EMAILS is empty"
    no_key = EmailChannel(Settings(ADMIN_EMAILS="a@example.com"), ChannelSettings(sender=SENDER))
    assert no_key.missing_configuration() == "RESEND_API_KEY is not set"
    with pytest.raises(DeliveryError) as caught:
        no_key.send([NOTIFICATION], CONTEXT)
    assert caught.value.retryable is False
    assert EmailChannel(Settings(), ChannelSettings()).destination() == "https://api.resend.com"
    bad_key = EmailChannel(
        Settings(RESEND_API_KEY="re_SECRET\nX-Evil: 1", ADMIN_EMAILS="a@example.com", RESEND_API_URL=sink.url),
        ChannelSettings(sender=SENDER),
    )
    assert bad_key.missing_configuration() == "RESEND_API_KEY contains spaces, control or non-ASCII characters"
    with pytest.raises(DeliveryError) as caught:
        bad_key.send([NOTIFICATION], CONTEXT)
    assert "re_SECRET" not in str(caught.value) and caught.value.retryable is False
    assert (EmailChannel.name, EmailChannel.default_severities, EmailChannel.default_rate_per_s) == (
        "email",
        ("critical",),
        2.0,
    )
    assert idempotency_key("k" * 300).startswith("relops-") and len(idempotency_key("k" * 300)) <= 256
    assert idempotency_key("k" * 300) == idempotency_key("k" * 300)
    assert sink.requests == []


def test_an_invalid_header_is_reported_without_its_value(sink: HttpSink):
    with pytest.raises(DeliveryError) as caught:
        post_json(
            sink.url + "/emails",
            {},
            timeout=(0.5, 0.5),
            describe="resend",
            headers={"Authorization": "Bearer re_SECRET\r\nX-Evil: 1"},
            secrets=["re_SECRET\r\nX-Evil: 1"],
        )
    assert caught.value.retryable is False
    assert "re_SECRET" not in f"{caught.value} {caught.value!r}"
    assert sink.requests == []


def test_parse_retry_after():
    now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    assert parse_retry_after("7") == 7
    assert parse_retry_after(" 2.5 ") == 2.5
    assert parse_retry_after(None) == 1.0
    assert parse_retry_after("-3") == 1.0
    assert parse_retry_after("Fri, 27 Nov 2026 12:00:42 GMT", now=now) == 42
    assert parse_retry_after("Fri, 27 Nov 2026 11:00:00 GMT", now=now) == 0
    assert parse_retry_after("999999") == 300


# the sink itself


def test_sink_plays_its_script_then_the_default():
    with HttpSink(default=SinkResponse(status=204, body=b"")) as sink:
        sink.respond_with(SinkResponse(status=503, body=b"busy", headers={"X-Test": "1"}))
        statuses = []
        for _ in range(3):
            try:
                with urllib.request.urlopen(urllib.request.Request(sink.url + "/x", data=b"{}", method="POST")) as r:
                    statuses.append(r.status)
            except urllib.error.HTTPError as exc:
                statuses.append(exc.code)
                assert exc.headers["X-Test"] == "1"
                assert exc.read() == b"busy"
        assert statuses == [503, 204, 204]
        requests = sink.wait_for_requests(3)
        assert [r.json for r in requests] == [{}, {}, {}]
        assert requests[0].received_monotonic <= requests[1].received_monotonic


def test_sink_caps_stored_bodies_and_times_out_waiting():
    with HttpSink(max_body_bytes=1024) as sink:
        big = b"[" + b"1," * 5000 + b"1]"
        with urllib.request.urlopen(urllib.request.Request(sink.url, data=big, method="POST")) as response:
            assert response.status == 200
        [request] = sink.wait_for_requests(1)
        assert len(request.body) == 1024 and request.body_truncated is True and request.json is None
        with pytest.raises(TimeoutError):
            sink.wait_for_requests(2, timeout_s=0.2)


def test_sink_closes_promptly_while_a_request_hangs():
    sink = HttpSink(default=SinkResponse(hang=True)).start()
    channel = webhook(sink.url + SECRET_PATH, ChannelSettings(read_timeout_s=30))
    try:
        errors: list[DeliveryError] = []

        def send() -> None:
            try:
                channel.send([NOTIFICATION], CONTEXT)
            except DeliveryError as exc:
                errors.append(exc)

        sender = threading.Thread(target=send)
        sender.start()
        sink.wait_for_requests(1)
    finally:
        started = time.monotonic()
        sink.close()
    assert time.monotonic() - started < 2
    sender.join(timeout=5)
    assert [e.retryable for e in errors] == [True]  # the receiver hung up without answering


def test_sink_prints_one_line_per_request(capsys: pytest.CaptureFixture[str]):
    with HttpSink(print_requests=True) as sink:
        webhook(sink.url + "/hook").send([NOTIFICATION], dataclasses.replace(CONTEXT, dashboard_url=""))
        sink.wait_for_requests(1)
    [line] = capsys.readouterr().out.splitlines()
    assert "POST /hook" in line and "-> 200" in line and "CRITICAL: checkout" in line


def test_a_receiver_echoing_another_channels_secret_gets_it_masked() -> None:
    """The webhook's receiver echoes the Resend key and a database password: every secret the
    process's settings hold is masked, not only the channel's own."""
    password = "db-pa55word-x"
    settings = Settings(
        RESEND_API_KEY=API_KEY, DATABASE_URL=f"postgresql+psycopg://relops_worker:{password}@127.0.0.1/relops"
    )
    with HttpSink() as sink:
        sink.respond_with(SinkResponse(status=500, body=f"rejected key {API_KEY} and {password}".encode()))
        channel = WebhookChannel(settings.model_copy(update={"webhook_url": SecretStr(sink.url + "/hook")}), FAST)
        error = send_failure(channel)
    assert API_KEY not in error.reason and password not in error.reason
    assert error.reason.endswith("HTTP 500: rejected key *** and ***")


def test_a_webhook_receiver_may_leave_the_slack_buttons_out(sink: HttpSink) -> None:
    """With the Slack app configured, a Slack-format message carries an incident's buttons, unless
    its receiver says ``slack_buttons = false`` (a channel whose clicks cannot reach relops)."""
    paged = dataclasses.replace(NOTIFICATION, incident_id=7, opened_at=AT)
    settings = Settings(
        MONITORING_ALERT_WEBHOOK_URL=sink.url + "/hook", SLACK_SIGNING_SECRET="s1gning-s3cret-for-buttons"
    )
    for options, buttons in (({}, True), ({"slack_buttons": True}, True), ({"slack_buttons": False}, False)):
        sink.clear()
        config = ChannelSettings.model_validate({**FAST.model_dump(), **options})
        assert WebhookChannel.settings_problem(config) is None
        WebhookChannel(settings, config).send([paged], CONTEXT)
        [request] = sink.requests
        assert any(block["type"] == "actions" for block in request.json["blocks"]) is buttons, options
    wrong = ChannelSettings.model_validate({**FAST.model_dump(), "slack_buttons": "no"})
    assert WebhookChannel.settings_problem(wrong) == "slack_buttons must be true or false"
