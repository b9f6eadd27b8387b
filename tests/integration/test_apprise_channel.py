"""The apprise channel in this process against local stand-ins of ntfy and of Apprise's JSON receiver
(tests/support/apprise.py, which cites what each vendor documents): what arrives, what each answer
means, timeouts bounded by the receiver's, and Apprise's logger kept out of relops' logs.

No mocks: Apprise's own plugins send through requests and a socket to a ThreadingHTTPServer on
127.0.0.1.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Iterator

import pytest
import redis

from relops import redis_keys
from relops.channels.apprise import AppriseChannel
from relops.channels.apprise_log import captured
from relops.channels.base import DeliveryError, MessageContext
from relops.config import ChannelSettings
from relops.config.routing import ReceiverConfig
from relops.localdev.sink import HttpSink, SinkResponse
from relops.settings import Settings
from relops.state.delivered_parts import RedisDeliveredParts
from tests.samples import CONTEXT, notification
from tests.support.apprise import (
    NTFY_INTERNAL_ERROR,
    NTFY_PUBLISHED,
    NTFY_TOO_MANY_REQUESTS,
    NTFY_TOPIC_INVALID,
    apprise_json_check,
    ntfy_check,
    ntfy_problem,
)

pytestmark = pytest.mark.integration

NTFY_TOKEN = "tk_ch4nnel5ecrett0ken"
NTFY_TOPIC = "oncall-9f3b2c7d1e"
JSON_SECRET = "jh00k5ecretpathx9"
ALERT = notification(summary="checkout: 20 bad of 1000 events in the last 1h.", labels={"flow": "checkout"})
FAST = ChannelSettings(connect_timeout_s=0.5, read_timeout_s=0.5)


@pytest.fixture
def ntfy() -> Iterator[HttpSink]:
    with HttpSink(default=NTFY_PUBLISHED, check=ntfy_check(NTFY_TOKEN)) as sink:
        yield sink


@pytest.fixture
def hook() -> Iterator[HttpSink]:
    with HttpSink(check=apprise_json_check) as sink:
        yield sink


def phones(monkeypatch: pytest.MonkeyPatch, *urls: str, settings: ChannelSettings = FAST) -> AppriseChannel:
    monkeypatch.setenv("APPRISE_CHANNEL_TEST_URLS", ", ".join(urls))
    spec = ReceiverConfig(type="apprise", url_env="APPRISE_CHANNEL_TEST_URLS")
    return AppriseChannel(Settings(), settings, "phones", spec)


def ntfy_url(sink: HttpSink, topic: str = NTFY_TOPIC) -> str:
    return f"ntfy://{NTFY_TOKEN}@127.0.0.1:{sink.port}/{topic}"


def json_url(sink: HttpSink) -> str:
    return f"json://127.0.0.1:{sink.port}/hooks/{JSON_SECRET}"


def key(name: str) -> MessageContext:
    return dataclasses.replace(CONTEXT, message_key=name)


def test_ntfy_and_the_json_receiver_get_the_message_as_their_vendors_document(monkeypatch, ntfy, hook) -> None:
    phones(monkeypatch, json_url(hook), ntfy_url(ntfy)).send([ALERT], key("m-ok"))
    [published] = ntfy.requests
    assert ntfy_problem(published, NTFY_TOKEN) is None and published.response_status == 200
    assert published.json["topic"] == NTFY_TOPIC
    assert published.json["title"] == "🔴 CRITICAL: checkout burning its error budget at 20.0x over 1h"
    # ntfy renders plain text unless told Markdown (?format=markdown): links are written out.
    assert "Runbook: https://runbooks.example.com/checkout.md" in published.json["message"]
    assert published.header("X-Markdown") is None
    [posted] = hook.requests
    assert posted.response_status == 200 and posted.path == f"/hooks/{JSON_SECRET}"
    assert posted.json["type"] == "failure"
    assert posted.json["title"] == published.json["title"]
    assert "[Runbook](https://runbooks.example.com/checkout.md)" in posted.json["message"]
    assert "- Labels: flow=checkout" in posted.json["message"]


def test_ntfy_told_markdown_gets_markdown_with_its_header(monkeypatch, ntfy) -> None:
    phones(monkeypatch, ntfy_url(ntfy) + "?format=markdown").send([ALERT], key("m-md"))
    [published] = ntfy.requests
    assert published.header("X-Markdown") == "yes"
    assert "[Runbook](https://runbooks.example.com/checkout.md)" in published.json["message"]


@pytest.mark.parametrize(
    ("answer", "retryable", "status", "reason"),
    [
        (NTFY_TOPIC_INVALID, False, 400, "apprise ntfy: HTTP 400: Bad Request"),
        (NTFY_TOO_MANY_REQUESTS, True, 429, "apprise ntfy: HTTP 429: Too Many Requests"),
        (NTFY_INTERNAL_ERROR, True, 500, "apprise ntfy: HTTP 500: Internal Server Error"),
        (SinkResponse(status=502, body=b"bad gateway"), True, 502, "apprise ntfy: HTTP 502: Bad Gateway"),
    ],
)
def test_each_answer_is_a_retry_or_a_dead_letter(monkeypatch, ntfy, answer, retryable, status, reason) -> None:
    ntfy.respond_with(answer)
    with pytest.raises(DeliveryError) as caught:
        phones(monkeypatch, ntfy_url(ntfy)).send([ALERT], key(f"m-{status}"))
    assert (caught.value.retryable, caught.value.status, caught.value.reason) == (retryable, status, reason)
    assert not caught.value.partial


def test_ntfys_own_refusal_of_a_wrong_token_is_a_dead_letter(monkeypatch, ntfy) -> None:
    wrong = f"ntfy://tk_wr0ngt0ken@127.0.0.1:{ntfy.port}/{NTFY_TOPIC}"
    with pytest.raises(DeliveryError) as caught:
        phones(monkeypatch, wrong).send([ALERT], key("m-401"))
    assert (caught.value.retryable, caught.value.status) == (False, 401)
    assert ntfy.requests[0].response_status == 401


def test_a_hanging_target_times_out_within_the_receivers_read_timeout(monkeypatch, hook) -> None:
    hook.respond_with(SinkResponse(hang=True))
    started = time.monotonic()
    with pytest.raises(DeliveryError) as caught:
        phones(monkeypatch, json_url(hook) + "?rto=60&cto=60").send([ALERT], key("m-hang"))
    assert time.monotonic() - started < 3  # the receiver's 0.5 s, not the URL's 60
    assert caught.value.retryable and caught.value.status is None
    assert caught.value.reason == "apprise json: timed out"


def test_a_refused_connection_is_retried(monkeypatch) -> None:
    with HttpSink() as gone:
        url = json_url(gone)
    with pytest.raises(DeliveryError) as caught:
        phones(monkeypatch, url).send([ALERT], key("m-refused"))
    assert caught.value.retryable and caught.value.reason == "apprise json: connection failed"


def test_a_retry_after_a_partial_send_goes_only_to_the_urls_that_did_not_take_it(
    monkeypatch, ntfy, hook, redis_url
) -> None:
    client = redis.Redis.from_url(redis_url)
    record_key = redis_keys.delivered_parts("phones", "m-partial")
    client.delete(record_key)

    def attempt() -> MessageContext:
        # A fresh channel and record each time: what one attempt leaves is in Redis alone.
        return dataclasses.replace(key("m-partial"), delivered=RedisDeliveredParts(client, "phones", "m-partial", 600))

    ntfy.respond_with(NTFY_INTERNAL_ERROR)
    with pytest.raises(DeliveryError) as caught:
        phones(monkeypatch, json_url(hook), ntfy_url(ntfy)).send([ALERT], attempt())
    assert caught.value.retryable and caught.value.partial
    assert caught.value.reason == "apprise ntfy (URL 2 of 2): HTTP 500: Internal Server Error (1 of 2 URLs took it)"
    assert len(client.smembers(record_key)) == 1 and 590 <= client.ttl(record_key) <= 600
    phones(monkeypatch, json_url(hook), ntfy_url(ntfy)).send([ALERT], attempt())
    assert [r.response_status for r in hook.requests] == [200]
    assert [r.response_status for r in ntfy.requests] == [500, 200]
    # Every URL took it: the record is gone, not left to expire.
    assert client.exists(record_key) == 0
    client.close()


def test_a_record_redis_cannot_reach_sends_to_every_url_and_says_so(monkeypatch, ntfy, hook, caplog) -> None:
    """Fails open: a duplicate at a URL that took the message already, rather than a page lost."""
    with HttpSink() as closed:
        port = closed.port
    unreachable = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.5, socket_timeout=0.5)
    context = dataclasses.replace(
        key("m-no-redis"), delivered=RedisDeliveredParts(unreachable, "phones", "m-no-redis", 60)
    )
    caplog.set_level(logging.WARNING, logger="relops.state.delivered_parts")
    phones(monkeypatch, json_url(hook), ntfy_url(ntfy)).send([ALERT], context)
    assert [r.response_status for r in hook.requests] == [200] and [r.response_status for r in ntfy.requests] == [200]
    events = " ".join(r.getMessage() for r in caplog.records)
    assert "event=notify.parts_unread" in events and "event=notify.part_unrecorded" in events
    assert "receiver=phones" in events and "127.0.0.1" not in events


def test_no_error_quotes_a_url_token_or_topic(monkeypatch, ntfy, hook) -> None:
    hook.respond_with(SinkResponse(status=403, body=f"forbidden: {JSON_SECRET} {NTFY_TOKEN}".encode()))
    channel = phones(monkeypatch, json_url(hook), ntfy_url(ntfy))
    ntfy.respond_with(NTFY_TOO_MANY_REQUESTS)
    with pytest.raises(DeliveryError) as caught:
        channel.send([ALERT], key("m-secret"))
    for secret in (JSON_SECRET, NTFY_TOKEN, NTFY_TOPIC, "127.0.0.1"):
        assert secret not in caught.value.reason and secret not in channel.destination()
    assert channel.destination() == "apprise: json, ntfy"


def test_apprises_logger_never_reaches_relops_logs(monkeypatch, ntfy, hook, caplog) -> None:
    """Apprise logs the URL it loaded, the topic it failed on and (at DEBUG) the Authorization
    header: none of it may reach a handler of relops' (the root logger's, where Celery's are)."""
    caplog.set_level(logging.DEBUG)
    logging.getLogger("apprise").propagate = True  # as a logging setup that ran since might leave it
    hook.respond_with(SinkResponse(status=500))
    channel = phones(monkeypatch, json_url(hook), ntfy_url(ntfy, "bad topic!"), "nosuchservice://" + NTFY_TOKEN)
    assert channel.missing_configuration() is not None
    with captured() as seen:
        channel_ok = phones(monkeypatch, json_url(hook), ntfy_url(ntfy))
        with pytest.raises(DeliveryError):
            channel_ok.send([ALERT], key("m-logs"))
    assert seen, "Apprise logged nothing: the test would prove nothing"
    from_apprise = [r for r in caplog.records if r.name.startswith("apprise")]
    assert from_apprise == []
    # urllib3's own DEBUG lines quote request paths, for every HTTP channel alike; workers log at INFO.
    text = " ".join(r.getMessage() for r in caplog.records if not r.name.startswith("urllib3"))
    for secret in (JSON_SECRET, NTFY_TOKEN, NTFY_TOPIC):
        assert secret not in text
