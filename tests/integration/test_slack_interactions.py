"""Acknowledge, resolve and silence from Slack, against real processes: a `relops intake` process
with a Slack app's signing secret, PostgreSQL and Redis, the alert path run in this process with the
same secret (so the webhook receives the real message with its buttons), and a local server on
127.0.0.1 standing in for Slack's response_url.

Slack's side, as its documentation says: requests are signed as "Verifying requests from Slack"
describes (https://api.slack.com/authentication/verifying-requests-from-slack); a click arrives as a
form-encoded ``payload`` of type block_actions
(https://api.slack.com/reference/interaction-payloads/block-actions); the app answers the click 200
and updates the message through its response_url with ``replace_original``, or answers only the
user with ``response_type: ephemeral`` ("Responding to interactions",
https://api.slack.com/interactivity/handling#message_responses); a message holds at most 50 blocks
(https://api.slack.com/reference/block-kit/blocks).
"""

from __future__ import annotations

import functools
import json
import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
from sqlalchemy import Engine, text

from relops import names
from relops.access.slack_signature import signature
from relops.application.audit import Actor
from relops.application.incidents import change_incident
from relops.localdev.sink import HttpSink, SinkRequest, SinkResponse
from tests.integration.conftest import alert_event, run_cli, wait_for
from tests.integration.inprocess import InProcessWorker
from tests.integration.secrets_audit import secrets_written
from tests.support.slack import INTAKE_ENV, RESPONSE_TOKEN, SIGNING_SECRET
from tests.web_support import running_server

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("clean_tables")]

TEAM = "T0SLACK01"
#: What Slack's response_url answers a good response with.
SLACK_OK = SinkResponse(status=200, body=b'{"ok":true}', headers={"Content-Type": "application/json"})


@pytest.fixture(scope="module")
def response_sink() -> Iterator[HttpSink]:
    """Stands in for hooks.slack.com's response URLs."""
    with HttpSink() as sink:
        sink.default = SLACK_OK
        yield sink


@pytest.fixture(scope="module")
def slack_intake(relops_env: dict[str, str], output_dir: Path) -> Iterator[str]:
    env = {**relops_env, **INTAKE_ENV}
    with running_server("intake", env, output_dir / "intake-slack.log") as (url, _):
        yield url


@pytest.fixture
def paged(request: pytest.FixtureRequest, response_sink: HttpSink) -> InProcessWorker:
    """The alert path in this process with the Slack app configured: its webhook messages carry buttons."""
    from relops.settings import get_settings

    os.environ["SLACK_SIGNING_SECRET"] = SIGNING_SECRET
    get_settings.cache_clear()

    def restore() -> None:
        os.environ.pop("SLACK_SIGNING_SECRET", None)
        get_settings.cache_clear()

    request.addfinalizer(restore)
    response_sink.clear()
    return request.getfixturevalue("inproc")


def new_slack_admin(role: str = "admin") -> tuple[str, str]:
    """A relops user linked to a new Slack user: (name, Slack user id)."""
    name = f"oncall-{uuid.uuid4().hex[:6]}"
    slack_id = "U" + uuid.uuid4().hex[:9].upper()
    run_cli("users", "add", name, "--role", role)
    assert f"linked to Slack user {slack_id}" in run_cli("users", "set-slack", name, slack_id)
    return name, slack_id


def page(paged: InProcessWorker, webhook_sink: HttpSink, flow: str = "checkout") -> tuple[int, dict[str, Any]]:
    """An incident for ``flow``, and the Slack message its page was (as the webhook received it)."""
    webhook_sink.clear()
    paged.send(names.TASK_DISPATCH_ALERT, **alert_event(flow))
    paged.settle()
    [message] = [r.json for r in webhook_sink.wait_for_requests(1, timeout_s=10)]
    actions = [b for b in message["blocks"] if b["type"] == "actions"]
    assert len(actions) == 1, message["blocks"]
    return int(actions[0]["elements"][0]["value"]), message


def click_body(
    message: dict[str, Any], incident_id: int, slack_id: str, kind: str = "ack", action_ts: str | None = None
) -> bytes:
    """A block_actions payload as Slack sends it for a click on ``message``'s button, form-encoded."""
    action_id = {"ack": "relops_ack", "resolve": "relops_resolve", "silence": "relops_silence_1h"}[kind]
    payload = {
        "type": "block_actions",
        "user": {"id": slack_id, "username": "oncall", "name": "oncall", "team_id": TEAM},
        "api_app_id": "A0RELOPS1",
        "token": "legacy-token-unused",
        "container": {"type": "message", "message_ts": "1765130000.000100", "channel_id": "C0ALERTS1"},
        "trigger_id": f"{uuid.uuid4().int % 10**12}.1.{uuid.uuid4().hex}",
        "team": {"id": TEAM, "domain": "example"},
        "channel": {"id": "C0ALERTS1", "name": "alerts"},
        "message": {"type": "message", "ts": "1765130000.000100", "bot_id": "B0HOOK", **message},
        "response_url": f"{{sink}}/actions/{TEAM}/9876543210/{RESPONSE_TOKEN}",
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": next(b["block_id"] for b in message["blocks"] if b["type"] == "actions"),
                "text": {"type": "plain_text", "text": "Acknowledge", "emoji": False},
                "value": str(incident_id),
                "action_ts": action_ts or f"{time.time():.6f}",
            }
        ],
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


def signed(body: bytes, *, secret: str = SIGNING_SECRET, at: float | None = None) -> dict[str, str]:
    timestamp = str(int(time.time() if at is None else at))
    return {
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": signature(secret, timestamp, body),
        "Content-Type": "application/x-www-form-urlencoded",
    }


def post(intake: str, body: bytes, headers: dict[str, str]) -> requests.Response:
    return requests.post(f"{intake}/api/v1/slack/interactions", data=body, headers=headers, timeout=10)


def with_sink(body: bytes, sink: HttpSink) -> bytes:
    return body.replace(b"%7Bsink%7D", sink.url.encode())


def incident(db: Engine, incident_id: int) -> Any:
    with db.connect() as conn:
        return conn.execute(
            text("SELECT status, acknowledged_at, resolved_at FROM ops_incidents WHERE id = :id"), {"id": incident_id}
        ).one()


def audit(db: Engine, action: str) -> list[Any]:
    with db.connect() as conn:
        return list(
            conn.execute(
                text("SELECT actor, via, source, target FROM ops_audit WHERE action = :a ORDER BY id"), {"a": action}
            )
        )


@dataclass(frozen=True)
class Click:
    """A linked admin's click on the button of a page's message: the signed request Slack sends."""

    name: str
    slack_id: str
    incident_id: int
    message: dict[str, Any]
    body: bytes
    headers: dict[str, str]


def paged_click(paged: InProcessWorker, webhook_sink: HttpSink, response_sink: HttpSink, kind: str = "ack") -> Click:
    name, slack_id = new_slack_admin()
    incident_id, message = page(paged, webhook_sink)
    body = with_sink(click_body(message, incident_id, slack_id, kind), response_sink)
    return Click(name, slack_id, incident_id, message, body, signed(body))


def together(*targets: Callable[[], Any]) -> None:
    """Run ``targets`` at once, each in a thread of its own; return when all are done."""
    threads = [threading.Thread(target=target) for target in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def check_response(request: SinkRequest) -> dict[str, Any]:
    """A response to a click as Slack takes it: JSON, an update of the message or a reply to the user."""
    assert request.method == "POST" and request.path == f"/actions/{TEAM}/9876543210/{RESPONSE_TOKEN}"
    assert (request.header("Content-Type") or "").startswith("application/json")
    response = request.json
    assert isinstance(response, dict) and isinstance(response.get("text"), str) and response["text"]
    if response.get("response_type") == "ephemeral":
        assert response["replace_original"] is False and "blocks" not in response
    else:
        assert response["replace_original"] is True
        assert 1 <= len(response["blocks"]) <= 50
    return response


def test_a_signed_click_acknowledges_exactly_once_and_updates_the_message(
    slack_intake: str, paged: InProcessWorker, webhook_sink: HttpSink, response_sink: HttpSink, db: Engine
) -> None:
    click = paged_click(paged, webhook_sink, response_sink)
    name, incident_id, message, body, headers = click.name, click.incident_id, click.message, click.body, click.headers
    first = post(slack_intake, body, headers)
    assert first.status_code == 200, first.text
    assert incident(db, incident_id).status == "acknowledged"
    [update] = [check_response(r) for r in response_sink.wait_for_requests(1, timeout_s=10)]
    blocks = update["blocks"]
    note = blocks[-2]["elements"][-1]["text"]
    assert note.startswith(f"Acknowledged by {name} at ") and note.endswith(" UTC")
    assert [e["action_id"] for e in blocks[-1]["elements"]] == ["relops_resolve", "relops_silence_1h"]
    assert blocks[:2] == message["blocks"][:2]

    # The same signed request again, within the window, one after another and at once: 200, nothing more.
    assert post(slack_intake, body, headers).status_code == 200
    together(*[functools.partial(post, slack_intake, body, headers)] * 4)
    assert audit(db, "incident.ack") == [(name, "slack", f"slack {TEAM} {click.slack_id}", f"incident {incident_id}")]
    # A click of another user (unlinked) is answered after the replays: by then any response of theirs
    # would have been sent too.
    stranger = with_sink(click_body(message, incident_id, "U0NOBODY00"), response_sink)
    assert post(slack_intake, stranger, signed(stranger)).status_code == 200
    responses = [check_response(r) for r in response_sink.wait_for_requests(2, timeout_s=10)]
    assert len(response_sink.requests) == 2 and responses[1]["response_type"] == "ephemeral"


def test_a_click_racing_the_dashboards_acknowledgement_acknowledges_once(
    slack_intake: str, paged: InProcessWorker, webhook_sink: HttpSink, response_sink: HttpSink, db: Engine
) -> None:
    click = paged_click(paged, webhook_sink, response_sink)
    name, incident_id = click.name, click.incident_id
    dashboard = Actor(name="dash-admin", via="web", source="127.0.0.1")
    start = threading.Barrier(4)

    def slack() -> None:
        start.wait()
        assert post(slack_intake, click.body, click.headers).status_code == 200

    def web_ack() -> None:
        start.wait()
        # What the dashboard's ack runs (relops.web.operations.change), with its own actor.
        change_incident(paged.deps.engine, paged.redis, [], incident_id, "ack", paged.deps.now(), dashboard)

    together(slack, slack, slack, web_ack)
    assert incident(db, incident_id).status == "acknowledged"
    acks = audit(db, "incident.ack")
    assert len(acks) == 1 and acks[0].actor in (name, "dash-admin")
    [answer] = [check_response(r) for r in response_sink.wait_for_requests(1, timeout_s=10)]
    # Whoever won, the message now says who acknowledged it and offers Resolve and Silence 1 h.
    assert answer["replace_original"] is True
    assert answer["blocks"][-2]["elements"][-1]["text"].startswith(f"Acknowledged by {acks[0].actor} at ")
    assert [e["action_id"] for e in answer["blocks"][-1]["elements"]] == ["relops_resolve", "relops_silence_1h"]


def note_and_buttons(update: dict[str, Any]) -> tuple[str, list[str]]:
    """What an updated message says under its alert, and the action_ids of the buttons it still has."""
    blocks = update["blocks"]
    actions = [b for b in blocks if b["type"] == "actions"]
    context = [b for b in blocks if b["type"] == "context"][-1]
    return context["elements"][-1]["text"], [e["action_id"] for a in actions for e in a["elements"]]


def test_a_click_after_the_dashboard_acknowledged_or_resolved_updates_the_message_to_that_state(
    slack_intake: str, paged: InProcessWorker, webhook_sink: HttpSink, response_sink: HttpSink, db: Engine
) -> None:
    """Someone got there first: the clicker's message must not keep offering what is done."""
    click = paged_click(paged, webhook_sink, response_sink)
    dashboard = Actor(name="dash-admin", via="web", source="127.0.0.1")
    assert change_incident(paged.deps.engine, paged.redis, [], click.incident_id, "ack", paged.deps.now(), dashboard)
    assert post(slack_intake, click.body, click.headers).status_code == 200
    [after_ack] = [check_response(r) for r in response_sink.wait_for_requests(1, timeout_s=10)]
    assert after_ack["replace_original"] is True and after_ack["text"] == click.message["text"]
    note, buttons = note_and_buttons(after_ack)
    assert note.startswith("Acknowledged by dash-admin at ") and note.endswith(" UTC")
    assert buttons == ["relops_resolve", "relops_silence_1h"]
    assert after_ack["blocks"][:2] == click.message["blocks"][:2]
    assert [a.actor for a in audit(db, "incident.ack")] == ["dash-admin"]

    # Resolved from the dashboard, then Acknowledge clicked again on the message Slack still showed.
    assert change_incident(
        paged.deps.engine, paged.redis, [], click.incident_id, "resolve", paged.deps.now(), dashboard
    )
    again = with_sink(click_body(click.message, click.incident_id, click.slack_id, "ack"), response_sink)
    assert post(slack_intake, again, signed(again)).status_code == 200
    after_resolve = check_response(response_sink.wait_for_requests(2, timeout_s=10)[1])
    note, buttons = note_and_buttons(after_resolve)
    assert note.startswith("Resolved by dash-admin at ") and buttons == []
    assert incident(db, click.incident_id).status == "resolved"
    assert [a.actor for a in audit(db, "incident.ack")] == ["dash-admin"]


def test_a_click_after_the_alert_resolved_on_its_own_shows_it_resolved_by_nobody(
    slack_intake: str, paged: InProcessWorker, webhook_sink: HttpSink, response_sink: HttpSink, db: Engine
) -> None:
    click = paged_click(paged, webhook_sink, response_sink, "resolve")
    paged.send(names.TASK_DISPATCH_ALERT, **alert_event("checkout", status="resolved"))
    paged.settle()
    assert incident(db, click.incident_id).status == "resolved"
    assert post(slack_intake, click.body, click.headers).status_code == 200
    [update] = [check_response(r) for r in response_sink.wait_for_requests(1, timeout_s=10)]
    note, buttons = note_and_buttons(update)
    assert note.startswith("Resolved at ") and note.endswith(" UTC") and buttons == []
    assert audit(db, "incident.resolve") == []


def test_a_click_on_an_earlier_episodes_message_changes_nothing_and_says_why(
    slack_intake: str, paged: InProcessWorker, webhook_sink: HttpSink, response_sink: HttpSink, db: Engine
) -> None:
    """The incident resolved and fired again (same id, a new episode): the old message's buttons no
    longer apply to it, the new message's do."""
    old = paged_click(paged, webhook_sink, response_sink)
    paged.send(names.TASK_DISPATCH_ALERT, **alert_event("checkout", status="resolved"))
    paged.settle()
    again, message = page(paged, webhook_sink)
    assert again == old.incident_id and message["blocks"][-1]["block_id"] != old.message["blocks"][-1]["block_id"]
    assert post(slack_intake, old.body, old.headers).status_code == 200
    [answer] = [check_response(r) for r in response_sink.wait_for_requests(1, timeout_s=10)]
    assert answer["response_type"] == "ephemeral"
    assert answer["text"].startswith(f"Nothing changed: incident {again} has resolved and fired again since this")
    assert incident(db, again).status == "open" and audit(db, "incident.ack") == []
    current = with_sink(click_body(message, again, old.slack_id), response_sink)
    assert post(slack_intake, current, signed(current)).status_code == 200
    assert incident(db, again).status == "acknowledged"


def test_unsigned_wrongly_signed_tampered_and_stale_clicks_change_nothing_and_are_counted(
    slack_intake: str, paged: InProcessWorker, webhook_sink: HttpSink, response_sink: HttpSink, db: Engine
) -> None:
    click = paged_click(paged, webhook_sink, response_sink, "resolve")
    incident_id, body, good = click.incident_id, click.body, click.headers
    attempts = {
        "unsigned": (body, {"Content-Type": "application/x-www-form-urlencoded"}),
        "another app's secret": (body, signed(body, secret="an0ther-apps-signing-secret-1234")),
        "tampered": (body.replace(b"resolve", b"ack"), good),
        "stale": (body, signed(body, at=time.time() - 360)),
        "from the future": (body, signed(body, at=time.time() + 360)),
        "signature of no timestamp": (body, {"X-Slack-Signature": good["X-Slack-Signature"]}),
    }
    for what, (sent, headers) in attempts.items():
        answer = post(slack_intake, sent, headers)
        assert answer.status_code == 401, (what, answer.text)
        assert answer.json()["field"] in ("X-Slack-Signature", "X-Slack-Request-Timestamp"), what
        assert SIGNING_SECRET not in answer.text and good["X-Slack-Signature"] not in answer.text
    assert incident(db, incident_id).status == "open"
    assert audit(db, "incident.resolve") == [] and audit(db, "incident.ack") == []

    def totals() -> int | None:
        with db.connect() as conn:
            found = conn.execute(
                text("SELECT requests FROM ops_intake_totals WHERE endpoint = 'slack' AND status = 401")
            ).scalar()
        return found if found == len(attempts) else None

    wait_for(totals, what="the refusals counted")
    with db.connect() as conn:
        rows = conn.execute(text("SELECT count(*) FROM ops_rejected_inputs WHERE task = 'intake:slack'")).scalar()
    assert 1 <= rows < len(attempts), "refusals are tallied, not written one row per request"
    # And the genuine request still works afterwards.
    assert post(slack_intake, body, good).status_code == 200
    assert incident(db, incident_id).status == "resolved"
    [update] = [check_response(r) for r in response_sink.wait_for_requests(1, timeout_s=10)]
    assert [b["type"] for b in update["blocks"]][-1] == "context", "a resolved incident keeps no buttons"


def test_a_response_url_off_slacks_host_gets_nothing_and_is_never_logged(
    slack_intake: str,
    paged: InProcessWorker,
    webhook_sink: HttpSink,
    response_sink: HttpSink,
    db: Engine,
    output_dir: Path,
) -> None:
    """The intake allows 127.0.0.1 besides Slack's host: the same sink named as localhost is another host."""
    click = paged_click(paged, webhook_sink, response_sink)
    incident_id, message = click.incident_id, click.message
    elsewhere = click_body(message, incident_id, click.slack_id).replace(
        b"%7Bsink%7D", response_sink.url.replace("127.0.0.1", "localhost").encode()
    )
    assert post(slack_intake, elsewhere, signed(elsewhere)).status_code == 200
    assert incident(db, incident_id).status == "acknowledged", "the click is Slack's: it is acted on"
    probe = with_sink(click_body(message, incident_id, "U0NOBODY00"), response_sink)
    assert post(slack_intake, probe, signed(probe)).status_code == 200
    [answer] = [check_response(r) for r in response_sink.wait_for_requests(1, timeout_s=10)]
    assert answer["response_type"] == "ephemeral" and len(response_sink.requests) == 1
    log = wait_for(
        lambda: (text := (output_dir / "intake-slack.log").read_text()) and "slack.response_refused" in text and text,
        what="the refusal logged",
    )
    assert RESPONSE_TOKEN not in log and "localhost" not in log


def test_an_unlinked_revoked_or_viewer_slack_user_is_told_so_and_nothing_changes(
    slack_intake: str, paged: InProcessWorker, webhook_sink: HttpSink, response_sink: HttpSink, db: Engine
) -> None:
    incident_id, message = page(paged, webhook_sink)
    viewer, viewer_slack = new_slack_admin("viewer")
    revoked, revoked_slack = new_slack_admin()
    run_cli("users", "revoke", revoked)
    cleared, cleared_slack = new_slack_admin()
    assert "no longer linked" in run_cli("users", "clear-slack", cleared)
    expected = {
        "U0UNKNOWN1": "is not linked to a relops user, so nothing changed. A relops admin links it with: "
        "relops users set-slack NAME U0UNKNOWN1",
        viewer_slack: f"The relops user {viewer} is a viewer",
        revoked_slack: f"The relops user {revoked} your Slack user is linked to is revoked",
        cleared_slack: f"Your Slack user ({cleared_slack}) is not linked to a relops user",
    }
    for slack_id in expected:
        body = with_sink(click_body(message, incident_id, slack_id), response_sink)
        assert post(slack_intake, body, signed(body)).status_code == 200
    answers = [check_response(r)["text"] for r in response_sink.wait_for_requests(len(expected), timeout_s=10)]
    for slack_id, words in expected.items():
        assert any(words in answer for answer in answers), (slack_id, answers)
    assert incident(db, incident_id).status == "open" and audit(db, "incident.ack") == []


def test_silence_1_h_silences_the_incidents_alert_once_as_the_slack_user(
    slack_intake: str, paged: InProcessWorker, webhook_sink: HttpSink, response_sink: HttpSink, db: Engine
) -> None:
    click = paged_click(paged, webhook_sink, response_sink, "silence")
    name, incident_id = click.name, click.incident_id
    for _ in range(3):  # the click and two replays
        assert post(slack_intake, click.body, click.headers).status_code == 200
    with db.connect() as conn:
        silences = list(
            conn.execute(
                text("SELECT matchers, created_by, created_via, ends_at - starts_at AS span, reason FROM ops_silences")
            )
        )
    assert len(silences) == 1
    silence = silences[0]
    assert {(m["name"], m["op"], m["value"]) for m in silence.matchers} == {
        ("flow", "=", "checkout"),
        ("source", "=", "slo"),
    }
    assert (silence.created_by, silence.created_via, silence.span.total_seconds()) == (name, "slack", 3600)
    assert f"incident {incident_id}" in silence.reason
    assert [(a.actor, a.via) for a in audit(db, "silence.add")] == [(name, "slack")]
    [update] = [check_response(r) for r in response_sink.wait_for_requests(1, timeout_s=10)]
    assert update["blocks"][-2]["elements"][-1]["text"].startswith(f"Silenced for 1 h by {name} at ")
    assert [e["action_id"] for e in update["blocks"][-1]["elements"]] == ["relops_ack", "relops_resolve"]
    assert incident(db, incident_id).status == "open", "a silence mutes the alert, the incident stays open"


def test_a_body_over_the_bound_is_refused_unread_and_an_intake_without_a_slack_app_has_no_endpoint(
    slack_intake: str, relops_env: dict[str, str], output_dir: Path
) -> None:
    huge = b"payload=" + b"x" * (1_048_576 + 1)
    answer = post(slack_intake, huge, signed(huge))
    assert answer.status_code == 413 and answer.json()["field"] == "body"
    with running_server("intake", relops_env, output_dir / "intake-no-slack.log") as (plain, _):
        body = b"payload=%7B%7D"
        refused = post(plain, body, signed(body))
    assert refused.status_code == 404 and "SLACK_SIGNING_SECRET" in refused.json()["error"]


def test_set_slack_refuses_what_is_not_a_slack_user_and_a_slack_user_linked_twice() -> None:
    from click.testing import CliRunner

    from relops.cli import cli

    first, slack_id = new_slack_admin()
    second = f"oncall-{uuid.uuid4().hex[:6]}"
    run_cli("users", "add", second, "--role", "admin")
    taken = CliRunner().invoke(cli, ["users", "set-slack", second, slack_id])
    assert taken.exit_code != 0 and f"Slack user {slack_id} is linked to '{first}'" in taken.output
    wrong = CliRunner().invoke(cli, ["users", "set-slack", second, "@ada"])
    assert wrong.exit_code != 0 and "is not a Slack user id" in wrong.output
    assert "already; nothing changed" in run_cli("users", "set-slack", first, slack_id)
    listing = run_cli("users", "list")
    assert re.search(rf"^{first}\s+admin\s+.*active\s+0\s+{slack_id}$", listing, re.MULTILINE), listing
    assert re.search(rf"^{second}\s+admin\s+.*active\s+0\s+-$", listing, re.MULTILINE), listing


def test_the_runs_logs_and_stored_text_hold_no_signing_secret_nor_response_url(db: Engine, output_dir: Path) -> None:
    """Last in the module: whatever the tests above wrote (the intake's log included)."""
    assert secrets_written(db, output_dir, (SIGNING_SECRET, RESPONSE_TOKEN)) == []
