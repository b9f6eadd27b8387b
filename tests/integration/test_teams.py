"""Microsoft Teams receivers through real Celery workers (the alert router and the alerts.teams worker),
Redis and PostgreSQL, posting to a local stand-in for a Teams Workflows webhook on 127.0.0.1.

The stand-in checks what Microsoft documents a Workflows webhook takes and answers as it does:

- the request: "Send Adaptive Cards using an Incoming Webhook",
  https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/connectors-using
  (a ``message`` with one ``application/vnd.microsoft.card.adaptive`` attachment), the card valid against
  the Adaptive Cards schema 1.4 (tests/data/adaptive-cards/), at most 28 KB ("The message size limit is
  28 KB", the same page);
- the answers: 202 Accepted when the flow is triggered (Power Automate's "When a Teams webhook request is
  received" trigger, https://learn.microsoft.com/en-us/connectors/teams/#microsoft-teams-webhook), 400
  for a request it refuses, 429 with Retry-After when throttled (Power Automate's request limits,
  https://learn.microsoft.com/en-us/power-automate/limits-and-config), 5xx when it fails.

Its URL carries the signature (``sig``) that authorises every request: nothing the workers log or store
may quote it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from sqlalchemy import Engine

from relops.localdev.sink import HttpSink, SinkRequest, SinkResponse
from tests.integration.conftest import alert_event, wait_for
from tests.integration.receiver_stack import (
    FAST_ALERTS,
    PrivateStack,
    assert_none_stored,
    dead_letters,
    delivered,
    private_stack,
)

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("clean_tables")]

#: The receiver, as docs/guides/teams.md shows it.
RECEIVER = """
[receivers.teams-oncall]
type = "teams"
url_env = "TEAMS_ONCALL_WEBHOOK_URL"
"""
CONFIG = (
    FAST_ALERTS
    + RECEIVER
    + """
[alerts.channels.webhook]
enabled = false

[alerts.channels.teams]
rate_per_s = 20
burst = 5
max_attempts = 4
connect_timeout_s = 1
read_timeout_s = 1

[breakers.teams-oncall]
failure_threshold = 10
open_s = 1

[route]
receivers = ["teams-oncall"]

# A storm of warnings, grouped for two seconds into one message.
[[route.routes]]
matchers = ['flow=~"storm-.*"']
receivers = ["teams-oncall"]
group_wait_s = 2
"""
)
WORKFLOW_ID = "8f2d4c6a1b3e4f5a9c7d0e2b4a6c8e1f"
SIGNATURE = "kQ3vX9T3amsS1gnatur3-S3cretZp7"
WORKFLOW_PATH = f"/workflows/{WORKFLOW_ID}/triggers/manual/paths/invoke"
QUERY = f"?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={SIGNATURE}"
SECRETS = (WORKFLOW_ID, SIGNATURE)
SCHEMA = json.loads((Path(__file__).parents[1] / "data" / "adaptive-cards" / "adaptive-card-1.4.json").read_text())
ACCEPTED = SinkResponse(status=202, body=b"")
TEAMS_LIMIT_BYTES = 28 * 1024


def card(request: SinkRequest) -> dict[str, Any]:
    """The card of a request, once the request is what a Workflows webhook takes."""
    assert request.method == "POST"
    assert request.path == WORKFLOW_PATH + QUERY
    assert request.header("Content-Type") == "application/json; charset=utf-8"
    assert len(request.body) <= TEAMS_LIMIT_BYTES
    message = request.json
    assert message["type"] == "message"
    [attachment] = message["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    jsonschema.Draft6Validator(SCHEMA).validate(attachment["content"])
    return attachment["content"]


def about(request: SinkRequest, flow: str) -> bool:
    return flow in json.dumps(request.json)


class Teams:
    def __init__(self, stack: PrivateStack, workflow: HttpSink) -> None:
        self.stack, self.workflow = stack, workflow

    def requests(self, flow: str, answered: int | None = 202) -> list[SinkRequest]:
        return [r for r in self.workflow.requests if about(r, flow) and r.response_status == answered]


@pytest.fixture(scope="module")
def stack(
    relops_env: dict[str, str], output_dir: Path, tmp_path_factory: pytest.TempPathFactory, db: Engine
) -> Iterator[Teams]:
    config = tmp_path_factory.mktemp("teams") / "relops.toml"
    config.write_text(CONFIG)
    # A hanging request is dropped after 10 s, long after the workers' 1 s read timeout.
    with HttpSink(hang_limit_s=10) as workflow:
        env = {"TEAMS_ONCALL_WEBHOOK_URL": workflow.url + WORKFLOW_PATH + QUERY}
        with private_stack("teams", config, relops_env, env, ["alerts.teams"], output_dir, db=db, secrets=SECRETS) as s:
            yield Teams(s, workflow)


@pytest.fixture
def teams(stack: Teams, db: Engine) -> Iterator[Teams]:
    stack.stack.forget()
    stack.workflow.default = ACCEPTED
    stack.workflow.respond_with()
    stack.workflow.clear()
    yield stack
    assert_none_stored(db, SECRETS)


def test_a_page_reaches_the_teams_channel_as_an_adaptive_card(teams: Teams, db: Engine) -> None:
    teams.stack.send(alert_event("checkout", "critical", labels={"team": "payments"}))
    [request] = wait_for(lambda: teams.requests("checkout"), 20, "the card")
    content = card(request)
    assert content["version"] == "1.4"
    header = content["body"][0]
    assert header["style"] == "attention"
    assert header["items"][0]["text"] == "🔴 CRITICAL · checkout"
    items = content["body"][1]["items"]
    facts = {f["title"]: f["value"] for item in items if item["type"] == "FactSet" for f in item["facts"]}
    assert facts["team"] == "payments"
    assert facts["1h burn rate"].startswith("20.0x \\(critical\\)")
    buttons = [a for item in items if item["type"] == "ActionSet" for a in item["actions"]]
    assert [(b["type"], b["title"], b["url"]) for b in buttons][:2] == [
        ("Action.OpenUrl", "Runbook", "https://runbooks.example.com/checkout.md"),
        ("Action.OpenUrl", "Open in relops", "http://127.0.0.1:8080/flows/checkout"),
    ]
    wait_for(lambda: delivered(db, "teams-oncall") == 1, 10, "the message delivered")

    teams.stack.send(alert_event("checkout", "ok", status="resolved"))
    [resolved] = wait_for(lambda: teams.requests("checkout")[1:], 20, "the resolution's card")
    assert card(resolved)["body"][0]["style"] == "good"


def test_a_throttled_workflow_is_retried_after_its_retry_after(teams: Teams, db: Engine) -> None:
    teams.workflow.respond_with(SinkResponse(status=429, body=b"Rate limit is exceeded.", headers={"Retry-After": "2"}))
    teams.stack.send(alert_event("login", "warning"))
    [taken] = wait_for(lambda: teams.requests("login"), 30, "the card after the 429")
    [throttled] = teams.requests("login", answered=429)
    assert taken.received_monotonic - throttled.received_monotonic >= 1.9
    assert taken.json == throttled.json
    wait_for(lambda: delivered(db, "teams-oncall") == 1, 10, "the message delivered")


def test_server_errors_and_a_hanging_workflow_are_retried(teams: Teams, db: Engine) -> None:
    teams.workflow.respond_with(
        SinkResponse(status=502, body=b"Bad Gateway"),
        SinkResponse(hang=True),
        SinkResponse(status=503, body=b"Service Unavailable", headers={"Retry-After": "1"}),
    )
    teams.stack.send(alert_event("search", "critical"))
    wait_for(lambda: teams.requests("search"), 40, "the card once the workflow answers")
    assert [r.response_status for r in teams.workflow.requests if about(r, "search")] == [502, None, 503, 202]
    wait_for(lambda: delivered(db, "teams-oncall") == 1, 10, "the message delivered")
    assert dead_letters(db, "teams-oncall") == []


def test_a_refused_card_is_a_dead_letter_with_the_workflows_reason(teams: Teams, db: Engine) -> None:
    teams.workflow.respond_with(SinkResponse(status=400, body=b'{"error":{"code":"InvalidRequestContent"}}'))
    teams.stack.send(alert_event("signup", "critical"))
    [(reason, attempts)] = wait_for(lambda: dead_letters(db, "teams-oncall"), 20, "the dead letter")
    assert "HTTP 400" in reason and "InvalidRequestContent" in reason
    assert reason.startswith("http://127.0.0.1:")  # the receiver, its workflow id masked and no query
    assert "/workflows/***/triggers/manual/paths/invoke" in reason
    assert attempts == 1
    assert len([r for r in teams.workflow.requests if about(r, "signup")]) == 1  # never retried


def test_a_storm_is_one_card_within_teams_limit_its_text_shown_as_written(teams: Teams, db: Engine) -> None:
    hostile = "storm-[click](http://evil.example) **now** {{DATE(2017-02-14T06:08:39Z, SHORT)}}"
    flows = [hostile, *(f"storm-{i:02}" for i in range(24))]
    for flow in flows:
        event = alert_event(flow, "warning", labels={"flow": flow}, summary=f"{flow}: " + "x" * 1500)
        teams.stack.send(event)
    [request] = wait_for(lambda: teams.requests("storm-00"), 30, "the grouped card")
    content = card(request)  # within 28 KB, valid against the schema
    assert content["body"][0]["items"][0]["text"] == "🟠 25 alerts: 25 warning"
    counted = content["body"][-1]["text"]
    shown = [c for c in content["body"][1:] if c["type"] == "Container"]
    assert counted == f"…and {25 - len(shown)} more: {25 - len(shown)} warning — see the relops dashboard"
    text = json.dumps(content, ensure_ascii=False)
    assert "[click](" not in text and "{{DATE" not in text
    headlines = [c["items"][0]["text"] for c in shown]
    assert "🟠 WARNING · storm-\\[click\\]\\(http://evil.example\\) \\*\\*now\\*\\* \\{\\{DATE" in headlines[0]
    wait_for(lambda: delivered(db, "teams-oncall") == 25, 10, "all 25 notifications delivered in one message")
    assert len(teams.workflow.requests) == 1
