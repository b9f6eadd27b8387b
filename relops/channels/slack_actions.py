"""The buttons of a Slack alert message and what a click on one sends back. Pure: no I/O, no clock.

A firing alert that belongs to an incident gets an ``actions`` block of three buttons when a Slack
app's signing secret is configured: Acknowledge, Resolve and Silence 1 h. Each button's
``action_id`` names the action, its ``value`` the incident, and their block's ``block_id`` the
incident's episode (when it opened), so an old message cannot change a later episode (Block Kit,
"Button element":
https://api.slack.com/reference/block-kit/block-elements#button, text ≤ 75 characters, action_id
≤ 255, value ≤ 2,000; "Actions block": https://api.slack.com/reference/block-kit/blocks#actions,
block_id ≤ 255 and unique in its message, at most 25 elements).

A click comes back to the intake as a ``block_actions`` interaction payload ("Handling user
interaction", https://api.slack.com/interactivity/handling#payloads): form-encoded, one ``payload``
field of JSON. ``read_interaction`` takes what relops acts on from it, refusing anything else by
field. ``updated_message`` is the message with the outcome written under the alert and its buttons
adjusted, for the payload's ``response_url`` ("Responding to interactions",
https://api.slack.com/interactivity/handling#message_responses), which only Slack's own host
(``hooks.slack.com``, over https) is trusted to be, unless an operator allows another.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal
from urllib.parse import parse_qs, urlsplit

from relops.errors import InputRejected
from relops.timeutil import parse_utc

Kind = Literal["ack", "resolve", "silence"]
#: Each button: its action_id, its label, and its Block Kit style.
ACTION_IDS: Final[dict[Kind, str]] = {"ack": "relops_ack", "resolve": "relops_resolve", "silence": "relops_silence_1h"}
LABELS: Final[dict[Kind, str]] = {"ack": "Acknowledge", "resolve": "Resolve", "silence": "Silence 1 h"}
_STYLES: Final[dict[Kind, str]] = {"ack": "primary", "resolve": "danger"}
KIND_OF_ACTION_ID: Final[dict[str, Kind]] = {action_id: kind for kind, action_id in ACTION_IDS.items()}
#: What a click did, as the message shows it under the alert.
DONE: Final[dict[Kind, str]] = {"ack": "Acknowledged", "resolve": "Resolved", "silence": "Silenced for 1 h"}
#: The buttons an alert keeps once an action is done: a resolved incident needs none.
REMAINING: Final[dict[Kind, tuple[Kind, ...]]] = {
    "ack": ("resolve", "silence"),
    "resolve": (),
    "silence": ("ack", "resolve"),
}
BLOCK_ID_PREFIX: Final = "relops_incident_"
#: relops_incident_<id>, then _<microseconds since 1970 of the episode's opening> when known.
_BLOCK_ID = re.compile(r"^relops_incident_([0-9]{1,18})(?:_([0-9]{1,20}))?$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
#: Slack's host for response URLs: the only one a response goes to unless the operator allows others.
SLACK_RESPONSE_HOST: Final = "hooks.slack.com"
#: Slack user ids: U… or W… (Enterprise Grid), upper-case letters and digits.
_SLACK_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,20}$")
_DIGITS = re.compile(r"^[0-9]{1,18}$")
#: A context block holds at most 10 elements (Block Kit, "Context block").
MAX_CONTEXT_ELEMENTS: Final = 10


def episode_key(opened_at: str | None) -> str | None:
    """The episode of an incident (when it opened, ISO-8601) as block_id digits, exact to the
    microsecond; None when unknown or unreadable."""
    try:
        return None if not opened_at else str((parse_utc(opened_at) - _EPOCH) // _MICROSECOND)
    except ValueError:
        return None


def block_id(incident_id: int, episode: str | None = None) -> str:
    """The buttons' block of one incident's alert: it names the incident, and the episode the message
    is about, so a click on an old message cannot change a later episode."""
    return f"{BLOCK_ID_PREFIX}{incident_id}" + (f"_{episode}" if episode else "")


def button(kind: Kind, incident_id: int) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "button",
        "action_id": ACTION_IDS[kind],
        "text": {"type": "plain_text", "text": LABELS[kind], "emoji": False},
        "value": str(incident_id),
    }
    if kind in _STYLES:
        element["style"] = _STYLES[kind]
    return element


def actions_block(
    incident_id: int, kinds: Sequence[Kind] = ("ack", "resolve", "silence"), *, block: str | None = None
) -> dict[str, Any]:
    """The buttons of one incident's alert, in the block ``block`` (default: the incident's, no episode)."""
    elements = [button(k, incident_id) for k in kinds]
    return {"type": "actions", "block_id": block or block_id(incident_id), "elements": elements}


def slack_user_id_problem(value: str) -> str | None:
    """Why ``value`` cannot be a Slack user id (U… or W…, as Slack's "Copy member ID" gives it), or None."""
    if not _SLACK_USER_ID.match(value):
        return (
            f"{value[:40]!r} is not a Slack user id: U or W then capital letters and digits (Copy member ID in Slack)"
        )
    return None


@dataclass(frozen=True, slots=True)
class Interaction:
    """One button click, as relops acts on it."""

    kind: Kind
    incident_id: int
    slack_user_id: str
    #: The workspace the click came from (audited with it).
    team_id: str
    response_url: str
    #: When Slack says the click happened; with the user and the button, what a replay repeats.
    action_ts: str
    #: The block of the button clicked, and the episode of the incident it names (None: not said).
    block_id: str
    opened_at: datetime | None
    #: The message the button was in (its text and blocks), to write the outcome into.
    message: Mapping[str, Any]

    @property
    def replay_key(self) -> str:
        """The same for a request and its replays, different for every other click."""
        return f"{self.team_id}/{self.slack_user_id}/{self.kind}/{self.incident_id}/{self.action_ts}"


def _field(obj: Mapping[str, Any], name: str, path: str) -> Any:
    value = obj.get(name)
    if value is None:
        raise InputRejected(path, "is missing")
    return value


def _text(obj: Mapping[str, Any], name: str, path: str, limit: int = 3000) -> str:
    value = _field(obj, name, path)
    if not isinstance(value, str) or not value or len(value) > limit:
        raise InputRejected(path, f"must be a string of 1-{limit} characters")
    return value


def read_interaction(body: bytes) -> Interaction:
    """The click a ``block_actions`` request reports; InputRejected names the field at fault."""
    try:
        form = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False, max_num_fields=10)
    except (UnicodeDecodeError, ValueError):
        raise InputRejected("body", "is not a form of UTF-8 text (application/x-www-form-urlencoded)") from None
    raw = form.get("payload")
    if not raw or len(raw) != 1:
        raise InputRejected("payload", "the form must have one payload field (Slack's interaction payload)")
    try:
        payload = json.loads(raw[0])
    except (ValueError, RecursionError):
        raise InputRejected("payload", "is not JSON") from None
    if not isinstance(payload, dict):
        raise InputRejected("payload", "must be a JSON object")
    if payload.get("type") != "block_actions":
        raise InputRejected("payload.type", "only block_actions (a button of an alert message) is handled")
    user = _field(payload, "user", "payload.user")
    if not isinstance(user, dict):
        raise InputRejected("payload.user", "must be an object")
    user_id = _text(user, "id", "payload.user.id", 40)
    team = payload.get("team") if isinstance(payload.get("team"), dict) else {}
    team_id = team.get("id") or user.get("team_id") or "-"
    actions = _field(payload, "actions", "payload.actions")
    if not isinstance(actions, list) or len(actions) != 1 or not isinstance(actions[0], dict):
        raise InputRejected("payload.actions", "must hold the one action clicked")
    action = actions[0]
    kind = KIND_OF_ACTION_ID.get(str(action.get("action_id")))
    if kind is None:
        raise InputRejected(
            "payload.actions[0].action_id", f"is not one of relops' buttons ({', '.join(ACTION_IDS.values())})"
        )
    value = _text(action, "value", "payload.actions[0].value", 20)
    if not _DIGITS.match(value):
        raise InputRejected("payload.actions[0].value", "must be an incident id")
    block = _text(action, "block_id", "payload.actions[0].block_id", 255)
    named = _BLOCK_ID.match(block)
    if named is None or int(named.group(1)) != int(value):
        raise InputRejected("payload.actions[0].block_id", "is not the block of the incident's buttons")
    try:
        opened_at = _EPOCH + int(named.group(2)) * _MICROSECOND if named.group(2) else None
    except OverflowError:
        raise InputRejected("payload.actions[0].block_id", "names an episode no incident can have") from None
    message = payload.get("message")
    return Interaction(
        kind=kind,
        incident_id=int(value),
        slack_user_id=user_id,
        team_id=str(team_id)[:40],
        response_url=_text(payload, "response_url", "payload.response_url", 2000),
        action_ts=_text(action, "action_ts", "payload.actions[0].action_ts", 40),
        message=message if isinstance(message, dict) else {},
        block_id=block,
        opened_at=opened_at,
    )


def response_url_problem(url: str, allowed_hosts: Collection[str]) -> str | None:
    """Why a response must not be posted to ``url``, or None: it must be https on Slack's host, or
    http(s) on a host the operator allowed. The reason never quotes the URL (it is a credential)."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return "the response_url is not a URL"
    if host == SLACK_RESPONSE_HOST and parts.scheme == "https":
        return None
    if host and host in allowed_hosts and parts.scheme in ("http", "https"):
        return None
    return f"the response_url is not https://{SLACK_RESPONSE_HOST}/ nor on a host RELOPS_SLACK_RESPONSE_HOSTS allows"


#: The action that leaves an incident in each status an action can leave it in.
KIND_OF_STATUS: Final[dict[str, Kind]] = {"acknowledged": "ack", "resolved": "resolve"}


def done_line(kind: Kind, user_name: str | None, at: str | None) -> str:
    """ "Acknowledged by alice at 2026-12-07 20:31 UTC" (plain text: the caller escapes it); without
    "by" when nobody is known to have done it (an incident resolved by its alert), without "at" when
    the time is not known."""
    return DONE[kind] + (f" by {user_name}" if user_name else "") + (f" at {at}" if at else "")


def updated_message(click: Interaction, line: str, *, state: Kind | None = None) -> dict[str, Any] | None:
    """The response that replaces the clicked message: ``line`` (escaped mrkdwn) written into the
    alert's context block, and its buttons cut to those still useful once ``state`` (default: the
    click's own action) is done. None when the message holds no block of the clicked buttons (it was
    not relops' or Slack did not send it)."""
    message, incident_id, wanted = click.message, click.incident_id, click.block_id
    kind = state or click.kind
    blocks = message.get("blocks")
    if not isinstance(blocks, list):
        return None
    at = next((i for i, b in enumerate(blocks) if isinstance(b, dict) and b.get("block_id") == wanted), None)
    if at is None:
        return None
    updated = [dict(b) if isinstance(b, dict) else b for b in blocks]
    note = {"type": "mrkdwn", "text": line, "verbatim": True}
    before = updated[at - 1] if at > 0 else None
    # The note joins the alert's context line (the block count stays within Slack's 50), or takes the
    # buttons' place when there is no room there.
    if isinstance(before, dict) and before.get("type") == "context":
        elements = [*before.get("elements", [])][: MAX_CONTEXT_ELEMENTS - 1]
        before["elements"] = [*elements, note]
        remaining = REMAINING[kind]
        if remaining:
            updated[at] = actions_block(incident_id, remaining, block=wanted)
        else:
            del updated[at]
    else:
        updated[at] = {"type": "context", "elements": [note]}
    return {"replace_original": True, "text": str(message.get("text") or line), "blocks": updated}


def ephemeral(text: str) -> dict[str, Any]:
    """A reply only the clicking user sees, leaving the message as it is."""
    return {"response_type": "ephemeral", "replace_original": False, "text": text}
