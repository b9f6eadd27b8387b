"""PagerDuty's v3 webhooks read by relops: the signature (PagerDuty/developer-docs
docs/webhooks/04-Signatures.md, "Verifying the Signature": comma-separated ``v1=`` entries, hex
HMAC-SHA256 of the raw body, one per active secret during a rotation, compared in constant time)
and the event (docs/webhooks/01-Overview.md, "Webhook Payload" and the ``incident`` data type:
``event.id``, ``event.event_type``, ``event.agent``, ``event.data.incident_key``)."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from relops.alerting.episode_keys import episode_key
from relops.alerting.pagerduty_webhook import (
    IgnoredEvent,
    agent_name,
    parse_webhook,
    signature_entries,
    signature_matches,
)
from relops.errors import InputRejected

OLD, NEW = "0ld-s1gning-secret-aaaa", "n3w-s1gning-secret-bbbb"
OPENED = datetime(2026, 12, 7, 20, 1, 2, 345678, tzinfo=UTC)


def v1(body: bytes, secret: str) -> str:
    return "v1=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def webhook(event_type: str = "incident.acknowledged", key: str | None = None, **event: Any) -> bytes:
    """A v3 webhook body as PagerDuty's docs show one (their incident.priority_updated example)."""
    document = {
        "event": {
            "id": "01DEN1PDDSDHVKLUZVUGXYTQ7F",
            "event_type": event_type,
            "resource_type": "incident",
            "occurred_at": "2026-12-07T20:05:22.169Z",
            "agent": {
                "html_url": "https://acme.pagerduty.com/users/PLH1HKV",
                "id": "PLH1HKV",
                "self": "https://api.pagerduty.com/users/PLH1HKV",
                "summary": "Tenex Engineer",
                "type": "user_reference",
            },
            "client": {"name": "PagerDuty"},
            "data": {
                "id": "PGR0VU2",
                "type": "incident",
                "self": "https://api.pagerduty.com/incidents/PGR0VU2",
                "html_url": "https://acme.pagerduty.com/incidents/PGR0VU2",
                "number": 2,
                "status": "acknowledged",
                "incident_key": key if key is not None else episode_key(42, OPENED),
                "created_at": "2026-12-07T20:01:03Z",
                "title": "CRITICAL: checkout burning its error budget",
            },
            **event,
        }
    }
    return json.dumps(document).encode()


def test_a_body_signed_with_the_secret_is_pagerdutys() -> None:
    body = webhook()
    assert signature_matches(body, v1(body, NEW), [NEW])


def test_during_a_rotation_any_entry_matching_any_secret_will_do() -> None:
    body = webhook()
    header = f"{v1(body, 'retired-secret-cccc')},{v1(body, NEW)}"
    assert signature_matches(body, header, [NEW])
    assert signature_matches(body, v1(body, OLD), [OLD, NEW])
    assert signature_matches(body, f"{v1(body, OLD)}, {v1(body, NEW)}", [NEW])


def test_a_tampered_body_or_a_foreign_secret_does_not_match() -> None:
    body = webhook()
    header = v1(body, NEW)
    assert not signature_matches(body.replace(b"Tenex", b"Mallory"), header, [NEW])
    assert not signature_matches(body, v1(body, "someone-elses-secret"), [OLD, NEW])
    assert not signature_matches(body, header.upper().replace("V1=", "v2="), [NEW])
    assert not signature_matches(body, header[:-1] + ("0" if header[-1] != "0" else "1"), [NEW])


def test_an_unsigned_request_has_no_entries() -> None:
    assert signature_entries(None) == []
    assert signature_entries("") == []
    assert signature_entries("v2=abc, sha256=def") == []
    assert not signature_matches(webhook(), None, [NEW])
    assert not signature_matches(webhook(), "v1=", [NEW])


def test_an_acknowledgement_names_the_episode_and_the_user() -> None:
    change = parse_webhook(webhook())
    assert change.action == "ack"
    assert change.event_id == "01DEN1PDDSDHVKLUZVUGXYTQ7F"
    assert change.episode is not None
    assert (change.episode.incident_id, change.episode.opened_at) == (42, OPENED)
    assert change.agent == "Tenex Engineer (PLH1HKV)"


def test_a_resolution_resolves() -> None:
    assert parse_webhook(webhook("incident.resolved")).action == "resolve"


def test_an_incident_relops_did_not_send_names_no_episode() -> None:
    assert parse_webhook(webhook(key="d3640fbd41094207a1c11e58e46b1662")).episode is None


@pytest.mark.parametrize("key", ["relops-1-99999999999999999999", "relops-1-300000000000000000"])
def test_a_key_of_relops_shape_past_any_date_names_no_episode(key: str) -> None:
    """An incident_key is whatever the sender of PagerDuty's event chose: one past datetime's range
    is no episode relops opened (not a 500 that PagerDuty would redeliver)."""
    assert parse_webhook(webhook(key=key)).episode is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"not json", "body"),
        (b"[]", "event"),
        (json.dumps({"event": {"event_type": "incident.resolved"}}).encode(), "event.id"),
        (json.dumps({"event": {"id": "01EVT", "data": {}}}).encode(), "event.event_type"),
        (webhook(data={"type": "service", "id": "PF9KMXH"}), "event.data"),
    ],
)
def test_what_is_not_an_incident_acknowledged_or_resolved_is_refused_naming_the_field(body: bytes, field: str) -> None:
    with pytest.raises(InputRejected) as caught:
        parse_webhook(body)
    assert caught.value.field == field


@pytest.mark.parametrize("event_type", ["incident.annotated", "incident.priority_updated", "pagey.ping"])
def test_an_event_type_relops_does_not_act_on_is_ignored_saying_which_it_acts_on(event_type: str) -> None:
    """A subscription to every incident event, or PagerDuty's test ping, is no error of the sender's."""
    ignored = parse_webhook(webhook(event_type))
    assert isinstance(ignored, IgnoredEvent) and ignored.event_type == event_type
    assert ignored.reason == f"relops acts on incident.acknowledged and incident.resolved only; {event_type} is ignored"


def test_the_agent_is_named_whatever_it_is() -> None:
    assert agent_name(None) == "PagerDuty"
    assert agent_name({"type": "service_reference"}) == "service_reference"
    assert agent_name({"summary": "Jane\x1b[31m Doe"}) == "Jane [31m Doe"
