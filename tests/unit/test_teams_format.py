"""Microsoft Teams cards: the Workflows webhook's envelope, the Adaptive Card against Microsoft's published
schema, escaping, grouping and the message size limit; the receiver's checks.

- The envelope: "Send Adaptive Cards using an Incoming Webhook",
  https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/connectors-using
  (``type: message``, one attachment of contentType ``application/vnd.microsoft.card.adaptive``).
- The card: the Adaptive Cards schema 1.4, schemas/1.4.0/adaptive-card.json of microsoft/AdaptiveCards
  (tests/data/adaptive-cards/, with its license and source), validated as JSON Schema draft 6.
- The limit: "The message size limit is 28 KB" (the same page, limits of Incoming Webhooks).
- Markdown in a TextBlock: "Text features / Markdown" of the Adaptive Cards documentation,
  https://learn.microsoft.com/en-us/adaptive-cards/authoring-cards/text-features (bold, italic, lists,
  links; DATE() and TIME() functions).
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from relops.channels.base import MessageContext
from relops.channels.registry import channel_classes, check_receivers
from relops.channels.teams_format import (
    MAX_MESSAGE_BYTES,
    TEAMS_LIMIT_BYTES,
    escape,
    message_bytes,
    render_teams,
)
from relops.config import parse_config
from relops.errors import ConfigError
from relops.names import QUEUE_ALERTS_TEAMS, TASK_NOTIFY_TEAMS, TASK_QUEUES
from tests.samples import CONTEXT, RUNBOOK, notification

SCHEMA = json.loads((Path(__file__).parents[1] / "data" / "adaptive-cards" / "adaptive-card-1.4.json").read_text())
LABELS = {"source": "slo", "severity": "critical", "flow": "checkout", "team": "payments"}
FIRING = notification(summary="20 bad of 1000 events in the last 1h.", labels=LABELS, incident_id=7)


def card_of(message: dict[str, Any]) -> dict[str, Any]:
    """The card, once the envelope is checked to be what a Workflows webhook takes."""
    assert set(message) == {"type", "attachments"}
    assert message["type"] == "message"
    [attachment] = message["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert attachment["contentUrl"] is None
    card = attachment["content"]
    jsonschema.Draft6Validator(SCHEMA).validate(card)
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
    assert message_bytes(message) <= MAX_MESSAGE_BYTES < TEAMS_LIMIT_BYTES
    return card


def texts(card: dict[str, Any]) -> list[str]:
    """Every TextBlock's text and every fact, in order."""
    found: list[str] = []

    def walk(element: Any) -> None:
        if isinstance(element, dict):
            if element.get("type") == "TextBlock":
                found.append(element["text"])
            for fact in element.get("facts", []):
                found.append(f"{fact['title']}: {fact['value']}")
            for value in element.values():
                walk(value)
        elif isinstance(element, list):
            for item in element:
                walk(item)

    walk(card["body"])
    return found


def actions(card: dict[str, Any]) -> list[tuple[str, str]]:
    found = []
    for container in card["body"]:
        for item in container.get("items", []):
            if item["type"] == "ActionSet":
                found += [(a["title"], a["url"]) for a in item["actions"]]
    return found


def other(flow: str, **changes: Any) -> Any:
    labels = {**LABELS, "flow": flow, **changes.pop("labels", {})}
    details = {**FIRING.details, "flow": flow}
    return dataclasses.replace(FIRING, fingerprint=f"slo:{flow}", labels=labels, details=details, **changes)


def test_one_alert_is_a_card_with_severity_facts_and_links():
    card = card_of(render_teams([FIRING], CONTEXT))
    header = card["body"][0]
    assert header["style"] == "attention"
    assert header["items"][0]["text"] == "🔴 CRITICAL · checkout"
    assert header["items"][0]["color"] == "Attention"
    shown = texts(card)
    assert "checkout burning its error budget at 20.0x over 1h" in shown
    assert "20 bad of 1000 events in the last 1h." in shown
    assert "1h burn rate: 20.0x \\(critical\\), 20 bad of 1,000" in shown  # escaped
    assert "team: payments" in shown
    assert not any(t.startswith("severity:") for t in shown)  # the header says it
    assert actions(card) == [
        ("Runbook", RUNBOOK),
        ("Open in relops", "https://grafana.example.com/d/relops/flows/checkout?orgId=1&refresh=30s"),
        ("Incident", "https://grafana.example.com/d/relops/incidents/7?orgId=1&refresh=30s"),
    ]
    assert card["actions"] == [
        {
            "type": "Action.OpenUrl",
            "title": "relops dashboard",
            "url": "https://grafana.example.com/d/relops?orgId=1&refresh=30s",
        }
    ]


@pytest.mark.parametrize(
    ("changes", "style", "colour"),
    [
        ({"severity": "warning"}, "warning", "Warning"),
        ({"kind": "resolved"}, "good", "Good"),
        ({"kind": "notice", "incident_id": None}, "emphasis", "Default"),
    ],
)
def test_the_header_is_coloured_by_severity(changes: dict[str, Any], style: str, colour: str):
    card = card_of(render_teams([dataclasses.replace(FIRING, **changes)], CONTEXT))
    assert (card["body"][0]["style"], card["body"][0]["items"][0]["color"]) == (style, colour)


def test_event_text_cannot_format_link_or_expand_a_date():
    hostile = "[click](http://evil.example) **now** {{DATE(2017-02-14T06:08:39Z, SHORT)}} `x` <b>"
    assert escape(hostile) == (
        "\\[click\\]\\(http://evil.example\\) \\*\\*now\\*\\* \\{\\{DATE\\(2017-02-14T06:08:39Z, SHORT\\)\\}\\} "
        "\\`x\\` \\<b\\>"
    )
    assert escape("- item\n1. first\n  + more") == "\\- item\n\\1. first\n  \\+ more"
    assert escape("bell\x07 and tab\tok") == "bell  and tab\tok"
    n = dataclasses.replace(FIRING, title=hostile, summary=hostile, runbook_url="javascript:alert(1)")
    card = card_of(render_teams([n], CONTEXT))
    assert all("[click](" not in t and "{{DATE" not in t for t in texts(card))
    assert [title for title, _ in actions(card)] == ["Open in relops", "Incident"]  # no javascript: button


def test_a_grouped_message_shows_the_worst_in_full_and_counts_the_rest():
    message = [other(f"flow-{i}", severity="warning") for i in range(7)] + [FIRING]
    context = dataclasses.replace(CONTEXT, max_full=3)
    card = card_of(render_teams(message, context))
    assert card["body"][0]["items"][0]["text"] == "🔴 8 alerts: 1 critical, 7 warning"
    alerts = [c for c in card["body"][1:] if c["type"] == "Container"]
    assert len(alerts) == 3
    assert alerts[0]["items"][0]["text"] == "🔴 CRITICAL · checkout"  # worst first
    assert card["body"][-1]["text"] == "…and 5 more: 5 warning — see the relops dashboard"


def test_a_storm_stays_under_teams_size_limit():
    long = "x" * 5000
    message = [other(f"flow-{i}", summary=long, labels={"note": "y" * 500}) for i in range(40)]
    sent = render_teams(message, MessageContext(message_key="m", dashboard_url="", max_full=10))
    card = card_of(sent)
    shown = [c for c in card["body"][1:] if c["type"] == "Container"]
    assert 1 <= len(shown) < 10
    assert card["body"][-1]["text"].startswith(f"…and {40 - len(shown)} more")
    assert "actions" not in card  # no dashboard configured


def test_one_alert_too_big_alone_is_shown_compact():
    fire = "🔥" * 2000  # four bytes each in UTF-8, every text at its bound
    details = {f"{i}{fire[:60]}": fire for i in range(30)}
    runbook = "https://runbooks.example.com/" + "r" * 1900
    labels = {f"label_{i}": fire[:200] for i in range(30)}
    n = notification(
        summary=fire, details=details, labels=labels, source="svc", fingerprint="svc:x", runbook_url=runbook
    )
    context = dataclasses.replace(CONTEXT, dashboard_url="https://relops.example.com/" + "d" * 1900)
    card = card_of(render_teams([n], context))
    [alert] = [c for c in card["body"][1:] if c["type"] == "Container"]
    [facts] = [item["facts"] for item in alert["items"] if item["type"] == "FactSet"]
    assert len(facts) == 6
    assert ("Runbook", runbook) not in actions(card)  # a button that long is left out of a compact card


def test_the_worst_alert_there_can_be_still_fits_compact():
    """Every text at its bound in four-byte characters, every link at its longest, the dashboard too."""
    fire = "🔥" * 5000
    long_url = "https://relops.example.com/" + "d" * 1950
    n = notification(
        summary=fire,
        title=fire,
        details={f"{i}{fire}": fire for i in range(30)},
        labels={f"l{i}{fire[:40]}": fire for i in range(30)},
        source=fire,
        fingerprint="svc:" + fire[:290],
        runbook_url=long_url,
        incident_id=7,
    )
    context = dataclasses.replace(CONTEXT, dashboard_url=long_url)
    card_of(render_teams([n], context))  # within MAX_MESSAGE_BYTES, valid against the schema
    card_of(render_teams([n, dataclasses.replace(n, fingerprint="svc:other")], context))


# the receiver


def check(extra: str) -> None:
    text = f'[receivers.chat]\ntype = "teams"\n{extra}\n\n[route]\nreceivers = ["chat"]\n'
    check_receivers(parse_config(tomllib.loads(text), "relops.toml"), "relops.toml")


def test_teams_is_a_channel_type_with_its_own_queue_and_task():
    assert "teams" in channel_classes()
    assert TASK_QUEUES[TASK_NOTIFY_TEAMS] == QUEUE_ALERTS_TEAMS == "alerts.teams"
    check('url_env = "TEAMS_WEBHOOK_URL"')


REFUSED = {
    "": "a teams receiver needs url_env",
    'url_env = "TEAMS_WEBHOOK_URL"\nformat = "json"': "field 'format': not a key of a teams receiver",
    'url_env = "TEAMS_WEBHOOK_URL"\nmax_alerts = 3': "field 'max_alerts': not a key of a teams receiver",
}


@pytest.mark.parametrize("extra", sorted(REFUSED))
def test_teams_receivers_that_cannot_work_are_refused_by_name(extra: str):
    with pytest.raises(ConfigError, match=REFUSED[extra]):
        check(extra)
