"""The buttons of Slack alert messages (relops.channels.slack_actions, slack_format): where they
appear, their Block Kit shape within Slack's limits, what a click's payload must hold, and the
message a click's response_url gets back.

Block Kit's limits, from Slack's reference: "Button element"
(https://api.slack.com/reference/block-kit/block-elements#button): text plain_text ≤ 75 characters,
action_id ≤ 255, value ≤ 2,000, style primary or danger; "Actions block"
(https://api.slack.com/reference/block-kit/blocks#actions): ≤ 25 elements, block_id ≤ 255 and unique
in the message; "Context block": ≤ 10 elements; a message ≤ 50 blocks. The click's payload:
"block_actions payloads" (https://api.slack.com/reference/interaction-payloads/block-actions); the
answer: "Handling user interaction", "Responding to interactions"
(https://api.slack.com/interactivity/handling#message_responses): replace_original, response_type
ephemeral.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import pytest

from relops.channels.base import MessageContext
from relops.channels.slack_actions import (
    ACTION_IDS,
    Interaction,
    done_line,
    read_interaction,
    response_url_problem,
    slack_user_id_problem,
    updated_message,
)
from relops.channels.slack_format import MAX_BLOCKS, MAX_MESSAGE_TEXT, block_text_length, render_slack
from relops.errors import InputRejected
from tests.samples import CONTEXT, DASHBOARD, notification, slo_details

BUTTON_TYPES = {"type", "action_id", "text", "value", "style"}


#: The episode of incident 42 the samples are about: it opened at this instant.
OPENED_AT = "2026-11-27T12:30:00.123456+00:00"
BLOCK_42 = "relops_incident_42_1795782600123456"


def firing(incident_id: int | None = 42, **changes: Any):
    return notification(**{"summary": "checkout burns", "incident_id": incident_id, "opened_at": OPENED_AT, **changes})


def check_actions_block(block: dict[str, Any], blocks: list[dict[str, Any]]) -> None:
    """One actions block as Block Kit takes it."""
    assert block["type"] == "actions"
    assert 1 <= len(block["elements"]) <= 25
    assert len(block["block_id"]) <= 255
    assert [b.get("block_id") for b in blocks].count(block["block_id"]) == 1
    ids = [e["action_id"] for e in block["elements"]]
    assert len(set(ids)) == len(ids)
    for element in block["elements"]:
        assert set(element) <= BUTTON_TYPES
        assert element["type"] == "button"
        assert element["text"]["type"] == "plain_text" and 1 <= len(element["text"]["text"]) <= 75
        assert 1 <= len(element["action_id"]) <= 255 and 1 <= len(element["value"]) <= 2000
        assert element.get("style", "primary") in ("primary", "danger")


def test_a_firing_alert_of_an_incident_carries_acknowledge_resolve_and_silence():
    blocks = render_slack([firing()], CONTEXT, buttons=True)["blocks"]
    assert [b["type"] for b in blocks] == ["header", "section", "context", "actions"]
    actions = blocks[-1]
    check_actions_block(actions, blocks)
    assert actions["block_id"] == BLOCK_42, "the incident and the episode, to the microsecond"
    assert [(e["action_id"], e["text"]["text"], e["value"]) for e in actions["elements"]] == [
        ("relops_ack", "Acknowledge", "42"),
        ("relops_resolve", "Resolve", "42"),
        ("relops_silence_1h", "Silence 1 h", "42"),
    ]


def test_no_buttons_without_a_slack_app_nor_on_resolutions_notices_or_alerts_of_no_incident():
    assert "actions" not in [b["type"] for b in render_slack([firing()], CONTEXT)["blocks"]]
    for n in (firing(kind="resolved"), firing(kind="notice", incident_id=None), firing(incident_id=None)):
        assert "actions" not in [b["type"] for b in render_slack([n], CONTEXT, buttons=True)["blocks"]]


def many_firing(count: int) -> list:
    return [
        firing(incident_id=i + 1, fingerprint=f"slo:flow-{i:03d}", details=slo_details(f"flow-{i:03d}"))
        for i in range(count)
    ]


def test_each_alert_of_a_grouped_message_has_its_own_buttons_within_the_block_limit():
    payload = render_slack(many_firing(40), MessageContext("k", DASHBOARD, max_full=50), buttons=True)
    blocks = payload["blocks"]
    assert len(blocks) <= MAX_BLOCKS
    assert block_text_length(blocks) <= MAX_MESSAGE_TEXT
    actions = [b for b in blocks if b["type"] == "actions"]
    shown = sum(1 for b in blocks if "fields" in b)
    assert len(actions) == shown == 12  # four blocks each, with the header and the count line
    for block in actions:
        check_actions_block(block, blocks)
    assert blocks[-1]["text"]["text"].startswith(f"…and {40 - shown} more: ")


def test_a_grouped_message_that_fits_whole_has_buttons_under_every_alert():
    blocks = render_slack(many_firing(2), CONTEXT, buttons=True)["blocks"]
    assert [b["type"] for b in blocks] == [
        "header",
        "section",
        "context",
        "actions",
        "divider",
        "section",
        "context",
        "actions",
    ]
    assert [b["block_id"] for b in blocks if b["type"] == "actions"] == [
        "relops_incident_1_1795782600123456",
        "relops_incident_2_1795782600123456",
    ]


def test_an_alert_whose_episode_is_unknown_has_buttons_naming_the_incident_alone():
    blocks = render_slack([firing(opened_at=None)], CONTEXT, buttons=True)["blocks"]
    assert blocks[-1]["block_id"] == "relops_incident_42"
    assert read_interaction(click_body(block_id="relops_incident_42")).opened_at is None


def click_body(*, action_id: str = "relops_ack", value: str = "42", block_id: str = BLOCK_42, **changes: Any) -> bytes:
    """A block_actions payload as Slack sends it, form-encoded, with ``changes`` to its top level."""
    message = render_slack([firing()], CONTEXT, buttons=True)
    payload = {
        "type": "block_actions",
        "user": {"id": "U0123ABCD", "username": "ada", "name": "ada", "team_id": "T0001"},
        "api_app_id": "A0001",
        "token": "legacy-verification-token",
        "container": {"type": "message", "message_ts": "1733600000.000100", "channel_id": "C0001"},
        "trigger_id": "123.456.abc",
        "team": {"id": "T0001", "domain": "example"},
        "channel": {"id": "C0001", "name": "alerts"},
        "message": {"type": "message", "ts": "1733600000.000100", **message},
        "response_url": "https://hooks.slack.com/actions/T0001/1234/s3cr3t",
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": block_id,
                "text": {"type": "plain_text", "text": "Acknowledge"},
                "value": value,
                "action_ts": "1733600012.345678",
            }
        ],
        **changes,
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


def test_a_click_is_read_from_slacks_block_actions_payload():
    click = read_interaction(click_body())
    assert (click.kind, click.incident_id, click.slack_user_id, click.team_id) == ("ack", 42, "U0123ABCD", "T0001")
    assert click.response_url == "https://hooks.slack.com/actions/T0001/1234/s3cr3t"
    assert click.message["blocks"][-1]["block_id"] == click.block_id == BLOCK_42
    assert click.opened_at == datetime.fromisoformat(OPENED_AT)
    assert read_interaction(click_body(action_id=ACTION_IDS["silence"])).kind == "silence"


def test_a_replay_has_the_clicks_key_and_another_click_another():
    first = read_interaction(click_body())
    assert read_interaction(click_body()).replay_key == first.replay_key
    later = dataclasses.replace(first, action_ts="1733600099.000001")
    assert later.replay_key != first.replay_key
    assert dataclasses.replace(first, kind="resolve").replay_key != first.replay_key


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"\xff\xfe", "body"),
        (b"text=hello", "payload"),
        (b"payload=1&payload=2", "payload"),
        (urlencode({"payload": "{not json"}).encode(), "payload"),
        (urlencode({"payload": "[]"}).encode(), "payload"),
        (click_body(type="view_submission"), "payload.type"),
        (click_body(user=None), "payload.user"),
        (click_body(user={"name": "ada"}), "payload.user.id"),
        (click_body(actions=[]), "payload.actions"),
        (click_body(action_id="someone_elses_button"), "payload.actions[0].action_id"),
        (click_body(value="checkout"), "payload.actions[0].value"),
        (click_body(value="1" * 30), "payload.actions[0].value"),
        (click_body(response_url=None), "payload.response_url"),
        (click_body(block_id="relops_incident_7_1795782600123456"), "payload.actions[0].block_id"),
        (click_body(block_id="someone_elses_block"), "payload.actions[0].block_id"),
    ],
)
def test_anything_but_a_click_on_relops_buttons_is_refused_naming_the_field(body: bytes, field: str):
    with pytest.raises(InputRejected) as refused:
        read_interaction(body)
    assert refused.value.field == field


def clicked(kind: str = "ack") -> Interaction:
    return dataclasses.replace(read_interaction(click_body()), kind=kind)


def test_an_acknowledgement_is_written_under_the_alert_and_leaves_resolve_and_silence():
    click = clicked("ack")
    response = updated_message(click, "Acknowledged by ada at 2026-12-07 20:31 UTC")
    assert response is not None and response["replace_original"] is True
    blocks = response["blocks"]
    assert [b["type"] for b in blocks] == ["header", "section", "context", "actions"]
    assert blocks[2]["elements"][-1] == {
        "type": "mrkdwn",
        "text": "Acknowledged by ada at 2026-12-07 20:31 UTC",
        "verbatim": True,
    }
    assert [e["action_id"] for e in blocks[3]["elements"]] == ["relops_resolve", "relops_silence_1h"]
    check_actions_block(blocks[3], blocks)
    assert blocks[3]["block_id"] == BLOCK_42
    assert response["text"] == click.message["text"]


def test_a_resolution_takes_the_buttons_away_and_a_silence_keeps_acknowledge_and_resolve():
    resolved = updated_message(clicked("resolve"), "Resolved by ada")
    assert resolved is not None and [b["type"] for b in resolved["blocks"]] == ["header", "section", "context"]
    silenced = updated_message(clicked("silence"), "Silenced for 1 h by ada")
    assert silenced is not None
    assert [e["action_id"] for e in silenced["blocks"][-1]["elements"]] == ["relops_ack", "relops_resolve"]


def test_a_click_that_lost_the_race_shows_the_state_it_lost_to_with_that_states_buttons():
    # Acknowledge clicked after someone resolved it: the message says resolved and keeps no button.
    resolved = updated_message(clicked("ack"), "Resolved by bob", state="resolve")
    assert resolved is not None and [b["type"] for b in resolved["blocks"]] == ["header", "section", "context"]
    assert resolved["blocks"][-1]["elements"][-1]["text"] == "Resolved by bob"
    # Acknowledge clicked after someone acknowledged it: resolve and silence stay, as after one's own.
    acknowledged = updated_message(clicked("ack"), "Acknowledged by bob", state="ack")
    assert acknowledged is not None
    assert [e["action_id"] for e in acknowledged["blocks"][-1]["elements"]] == ["relops_resolve", "relops_silence_1h"]


def test_the_done_line_names_who_and_when_only_when_known():
    assert done_line("ack", "ada", "2026-12-07 20:31 UTC") == "Acknowledged by ada at 2026-12-07 20:31 UTC"
    assert done_line("resolve", None, "2026-12-07 20:31 UTC") == "Resolved at 2026-12-07 20:31 UTC"
    assert done_line("resolve", None, None) == "Resolved"


def test_a_message_without_the_incidents_buttons_is_not_rewritten():
    assert updated_message(dataclasses.replace(clicked(), message={}), "x") is None
    assert updated_message(dataclasses.replace(clicked(), block_id="relops_incident_42"), "x") is None


def test_only_slacks_host_over_https_takes_responses_unless_another_is_allowed():
    assert response_url_problem("https://hooks.slack.com/actions/T1/2/x", ()) is None
    for url in (
        "http://hooks.slack.com/actions/T1/2/x",
        "https://hooks.slack.com.evil.example/actions",
        "https://127.0.0.1:9/actions",
        "file:///etc/passwd",
        "https://hooks.slack.com:99999/x",
    ):
        problem = response_url_problem(url, ())
        assert problem is not None and url not in problem
    assert response_url_problem("http://127.0.0.1:8999/actions/x", {"127.0.0.1"}) is None


@pytest.mark.parametrize("good", ["U0123ABCD", "W012A3CDE"])
def test_slack_user_ids_are_u_or_w_then_capitals_and_digits(good: str):
    assert slack_user_id_problem(good) is None


@pytest.mark.parametrize("bad", ["u0123abcd", "@ada", "U", "T0123ABCD", "U0123 ABCD", "U" + "1" * 40])
def test_anything_else_is_not_a_slack_user_id(bad: str):
    assert slack_user_id_problem(bad) is not None


@pytest.mark.parametrize("hosts", ["https://127.0.0.1", "127.0.0.1:8080", "hooks.example/x", "a b"])
def test_the_response_hosts_setting_takes_host_names_only(hosts: str):
    from pydantic import ValidationError

    from relops.settings import Settings

    with pytest.raises(ValidationError, match="is not a host name"):
        Settings(RELOPS_SLACK_RESPONSE_HOSTS=hosts)
    assert Settings(RELOPS_SLACK_RESPONSE_HOSTS="127.0.0.1, Proxy.Example").slack_response_host_set == {
        "127.0.0.1",
        "proxy.example",
    }


def test_two_firings_of_one_episode_in_a_message_share_one_set_of_buttons():
    """A warning that became critical within the group wait meets its first firing in one message:
    Block Kit refuses repeated block_ids (the whole message, every alert in it), so the worst carries them."""
    warning = firing(severity="warning")
    critical = firing(severity="critical")
    other = firing(incident_id=43)
    blocks = render_slack([warning, critical, other], CONTEXT, buttons=True)["blocks"]
    ids = [b["block_id"] for b in blocks if b["type"] == "actions"]
    assert ids == [BLOCK_42, "relops_incident_43_1795782600123456"]
    for block in blocks:
        if block["type"] == "actions":
            check_actions_block(block, blocks)


def test_a_block_id_naming_an_episode_past_any_date_is_refused_not_a_crash():
    with pytest.raises(InputRejected) as caught:
        read_interaction(click_body(block_id="relops_incident_42_99999999999999999999"))
    assert caught.value.field == "payload.actions[0].block_id"
