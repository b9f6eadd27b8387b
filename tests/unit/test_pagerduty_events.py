"""PagerDuty Events API v2 events built from relops notifications: their shape against PagerDuty's
documented schema (https://developer.pagerduty.com/docs/events-api-v2/trigger-events/,
"Parameters"), the episode dedup key, the severity map, the limits ("API Limits" of
https://developer.pagerduty.com/docs/events-api-v2-overview) and the plan that makes a resent group
safe; the receiver's checks and what it shows of its secret."""

from __future__ import annotations

import dataclasses
from datetime import datetime

import pytest

from relops.alerting.episode_keys import episode_key, parse_episode_key
from relops.channels.base import MessageContext
from relops.channels.http import DEFAULT_RETRY_AFTER_S, delivery_error_for_status
from relops.channels.pagerduty import PagerDutyChannel
from relops.channels.pagerduty_format import (
    MAX_EVENT_BYTES,
    MAX_SUMMARY_CHARS,
    event_size,
    pagerduty_event,
    pagerduty_events,
    pagerduty_severity,
    plan,
)
from relops.config import ChannelSettings
from relops.config.routing import ReceiverConfig
from relops.settings import Settings
from tests.samples import RUNBOOK, notification
from tests.support.pagerduty import event_problems

CONTEXT = MessageContext(message_key="m-1", dashboard_url="http://relops.example.com:8080/", max_full=5)
OPENED = "2026-11-27T12:30:00.123456+00:00"
KEY = "R0UT1NGKEY0123456789abcdefABCDEF"


def firing(incident_id: int = 7, **changes: object):
    base = notification(
        summary="checkout: 20 bad of 1000 events in the last 1h.",
        incident_id=incident_id,
        opened_at=OPENED,
        labels={"source": "slo", "severity": "critical", "flow": "checkout", "team": "payments"},
    )
    return dataclasses.replace(base, **changes)


def test_a_firing_becomes_a_trigger_with_every_documented_field() -> None:
    event = pagerduty_event(firing(), CONTEXT, KEY)
    assert event_problems(event, event_size(event)) == []
    assert event["routing_key"] == KEY
    assert event["event_action"] == "trigger"
    assert event["dedup_key"] == episode_key(7, datetime.fromisoformat(OPENED))
    payload = event["payload"]
    assert payload["summary"] == "CRITICAL: checkout burning its error budget at 20.0x over 1h"
    assert payload["source"] == "checkout"
    assert payload["severity"] == "critical"
    assert payload["timestamp"] == "2026-11-27T12:31:00+00:00"
    assert payload["component"] == "checkout"
    assert payload["group"] == "payments"
    assert payload["class"] == "slo"
    assert payload["custom_details"]["labels"]["team"] == "payments"
    assert payload["custom_details"]["details"]["windows"]["1h"]["burn_rate"] == 20.0
    assert payload["custom_details"]["incident_id"] == 7
    assert event["client"] == "relops"
    assert event["client_url"] == "http://relops.example.com:8080/"
    assert event["links"] == [
        {"href": RUNBOOK, "text": "Runbook"},
        {"href": "http://relops.example.com:8080/flows/checkout", "text": "checkout on relops"},
        {"href": "http://relops.example.com:8080/incidents/7", "text": "relops incident 7"},
    ]


def test_acknowledge_and_resolve_name_the_episode_and_carry_nothing_else() -> None:
    ack = pagerduty_event(firing(kind="acknowledged"), CONTEXT, KEY)
    resolve = pagerduty_event(firing(kind="resolved"), CONTEXT, KEY)
    trigger = pagerduty_event(firing(), CONTEXT, KEY)
    assert ack == {"routing_key": KEY, "event_action": "acknowledge", "dedup_key": trigger["dedup_key"]}
    assert resolve == {"routing_key": KEY, "event_action": "resolve", "dedup_key": trigger["dedup_key"]}
    assert event_problems(ack) == [] and event_problems(resolve) == []


def test_a_new_episode_of_one_incident_is_a_new_pagerduty_alert() -> None:
    first = pagerduty_event(firing(), CONTEXT, KEY)["dedup_key"]
    later = pagerduty_event(firing(opened_at="2026-11-27T14:00:00+00:00"), CONTEXT, KEY)["dedup_key"]
    assert first != later
    episode = parse_episode_key(first)
    assert episode is not None
    assert (episode.incident_id, episode.opened_at) == (7, datetime.fromisoformat(OPENED))
    assert len(first) <= 255


@pytest.mark.parametrize("key", ["", "relops-7", "relops-0-12", "pd-7-12", "relops-7-12-1", "relops-x-1"])
def test_only_relops_episode_keys_are_read_back(key: str) -> None:
    assert parse_episode_key(key) is None


def test_severities_follow_the_receivers_map_and_default_to_pagerdutys_names() -> None:
    assert pagerduty_severity("critical", None) == "critical"
    assert pagerduty_severity("warning", None) == "warning"
    assert pagerduty_severity("warning", {"warning": "info"}) == "info"
    assert pagerduty_severity("critical", {"warning": "info"}) == "critical"
    assert pagerduty_severity("unknown", None) == "error"
    event = pagerduty_event(firing(severity="warning"), CONTEXT, KEY, {"warning": "error"})
    assert event["payload"]["severity"] == "error"


def test_a_long_title_is_cut_to_the_summary_limit() -> None:
    event = pagerduty_event(firing(title="CRITICAL: " + "x" * 5000), CONTEXT, KEY)
    assert len(event["payload"]["summary"]) == MAX_SUMMARY_CHARS
    assert event["payload"]["summary"].endswith("…")
    assert event_problems(event, event_size(event)) == []


def test_an_event_over_512_kb_drops_its_details_and_says_so() -> None:
    huge = {"flow": "checkout", "blob": "y" * (MAX_EVENT_BYTES + 10)}
    event = pagerduty_event(firing(details=huge), CONTEXT, KEY)
    assert event_size(event) <= MAX_EVENT_BYTES
    assert "over PagerDuty's 512,000-byte event limit" in event["payload"]["custom_details"]["details"]["omitted"]
    assert event["payload"]["custom_details"]["labels"]["flow"] == "checkout"


def test_a_group_sends_one_event_per_episode_and_a_resolution_alone() -> None:
    a, b, c = firing(1), firing(2), firing(3)
    message = [
        a,
        b,
        dataclasses.replace(a, kind="resolved"),  # a resolved before the message went out
        dataclasses.replace(b, kind="acknowledged"),
        c,
        dataclasses.replace(c, title="CRITICAL: still burning"),  # a repeat: the latest trigger is sent
        notification(summary="a silence", kind="notice"),
    ]
    sent = [
        (e["event_action"], parse_episode_key(e["dedup_key"]).incident_id)
        for e in pagerduty_events(message, CONTEXT, KEY)
    ]
    assert sent == [("resolve", 1), ("trigger", 2), ("acknowledge", 2), ("trigger", 3)]
    assert plan(message)[-1].title == "CRITICAL: still burning"


def test_the_plan_of_a_group_sent_again_from_its_start_never_triggers_after_a_resolve() -> None:
    a = firing(1)
    message = [a, dataclasses.replace(a, kind="acknowledged"), dataclasses.replace(a, kind="resolved")]
    # However far the first attempt got, a retry sends the same single resolve again.
    assert [n.kind for n in plan(message)] == ["resolved"]


def _channel(monkeypatch: pytest.MonkeyPatch, **spec: object) -> PagerDutyChannel:
    receiver = ReceiverConfig(type="pagerduty", **spec)  # type: ignore[arg-type]
    return PagerDutyChannel(Settings(), ChannelSettings(), "pd", receiver)


def test_the_receiver_shows_where_its_key_is_never_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PD_TEST_KEY", KEY)
    channel = _channel(monkeypatch, routing_key_env="PD_TEST_KEY")
    assert channel.missing_configuration() is None
    assert channel.destination() == "PagerDuty events (routing key in PD_TEST_KEY)"
    assert KEY not in channel.rate_limit_key()
    assert channel.follows_incidents


def test_the_receiver_says_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PD_TEST_KEY", raising=False)
    assert _channel(monkeypatch, routing_key_env="PD_TEST_KEY").missing_configuration() == "PD_TEST_KEY is not set"
    monkeypatch.setenv("PD_TEST_KEY", "two words")
    assert "contains spaces" in (_channel(monkeypatch, routing_key_env="PD_TEST_KEY").missing_configuration() or "")
    monkeypatch.setenv("PD_TEST_KEY", KEY)
    monkeypatch.setenv("PD_TEST_URL", "ftp://events.example.com")
    problem = _channel(monkeypatch, routing_key_env="PD_TEST_KEY", events_url_env="PD_TEST_URL").missing_configuration()
    assert problem == "PD_TEST_URL must be an http:// or https:// URL with a host"
    assert PagerDutyChannel.receiver_problem(ReceiverConfig(type="pagerduty")) is not None


def test_a_severity_map_names_pagerdutys_severities_only() -> None:
    with pytest.raises(ValueError, match="severity_map"):
        ReceiverConfig(type="pagerduty", routing_key_env="K", severity_map={"critical": "sev1"})  # type: ignore[dict-item]


def test_a_429_without_retry_after_leaves_the_wait_to_the_backoff_when_asked() -> None:
    kept = delivery_error_for_status(429, "", describe="x")
    assert (kept.retryable, kept.retry_after_s) == (True, DEFAULT_RETRY_AFTER_S)
    backoff = delivery_error_for_status(429, "", describe="x", default_retry_after_s=None)
    assert (backoff.retryable, backoff.retry_after_s) == (True, None)
    given = delivery_error_for_status(429, "", describe="x", retry_after="7", default_retry_after_s=None)
    assert given.retry_after_s == 7.0
    garbled = delivery_error_for_status(429, "", describe="x", retry_after="soon", default_retry_after_s=None)
    assert garbled.retry_after_s is None
