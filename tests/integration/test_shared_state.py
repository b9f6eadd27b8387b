"""Dedup windows and the shared rate limit against the real Redis."""

from __future__ import annotations

import logging
import uuid

import pytest
import redis

from relops.channels.registry import build_receivers
from relops.config import AlertsConfig, ChannelSettings, RelopsConfig
from relops.settings import Settings
from relops.state.dedup import dedup
from relops.state.rate_limit import block_destination, take_token

pytestmark = pytest.mark.integration


@pytest.fixture
def client(bare_redis_url: str):
    connection = redis.Redis.from_url(bare_redis_url)
    yield connection
    keys = list(connection.scan_iter("relops:*"))
    if keys:
        connection.delete(*keys)
    connection.close()


def test_the_bucket_is_shared_and_refills_at_its_rate(client):
    destination = f"hooks.example.com/{uuid.uuid4().hex}"
    assert take_token(client, destination, rate_per_s=1.0, burst=1) == 0
    wait = take_token(client, destination, rate_per_s=1.0, burst=1)
    assert 0.5 < wait <= 1.0  # a second worker asking right after must wait about a second


def test_a_retry_after_blocks_every_sender(client):
    destination = f"hooks.example.com/{uuid.uuid4().hex}"
    block_destination(client, destination, 30)
    assert 29 < take_token(client, destination, rate_per_s=100.0, burst=10) <= 30


def test_dedup_first_then_suppressed_then_escalation(client):
    key = f"slo:{uuid.uuid4().hex}"
    first = dedup(client, ["webhook"], key, 1, 300, "event-1")["webhook"]
    repeat = dedup(client, ["webhook"], key, 1, 300, "event-2")["webhook"]
    retried = dedup(client, ["webhook"], key, 1, 300, "event-1")["webhook"]
    escalation = dedup(client, ["webhook"], key, 2, 300, "event-3")["webhook"]
    after = dedup(client, ["webhook"], key, 2, 300, "event-4")["webhook"]
    assert (first.deliver, repeat.deliver, retried.deliver, escalation.deliver, after.deliver) == (
        True,
        False,
        True,
        True,
        False,
    )
    assert repeat.suppressed == 1 and after.suppressed == 2


def test_an_unconfigured_channel_is_skipped_with_one_clear_line(caplog, monkeypatch):
    for name in ("MONITORING_ALERT_WEBHOOK_URL", "RESEND_API_KEY", "ADMIN_EMAILS"):
        monkeypatch.delenv(name, raising=False)
    config = RelopsConfig(alerts=AlertsConfig(channels={"email": ChannelSettings(sender="relops <a@example.com>")}))
    with caplog.at_level(logging.INFO):
        receivers = build_receivers(Settings(MONITORING_ALERT_WEBHOOK_URL="http://127.0.0.1:9/hook"), config)
    assert list(receivers) == ["webhook"]
    skipped = [r.getMessage() for r in caplog.records if "channel.skipped" in r.getMessage()]
    assert skipped == ['event=channel.skipped channel=email receiver=email reason="RESEND_API_KEY is not set"']


def test_an_unreachable_redis_fails_dedup_open():
    closed = redis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=1)
    decisions = dedup(closed, ["webhook", "email"], "slo:x", 2, 300, uuid.uuid4().hex)
    assert all(d.deliver and d.failed_open for d in decisions.values())
