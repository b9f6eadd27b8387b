"""Webhook receivers in the alertmanager and json formats, through real Celery workers (the alert router
and the alerts.webhook worker), Redis and PostgreSQL, posting to local recording servers on 127.0.0.1.

- ``format = "alertmanager"`` is held to what Alertmanager's webhook notifier posts:
  prometheus/alertmanager notify/webhook/webhook.go (``Message``: version "4", groupKey,
  truncatedAlerts) and template/template.go (``Data``, ``Alert``), documented at
  https://prometheus.io/docs/alerting/latest/configuration/#webhook_config ("The Alertmanager will send
  HTTP POST requests in the following JSON format").
- ``format = "json"`` is held to its published schema, docs/reference/relops-webhook-v1.schema.json.

Both carry an Idempotency-Key header that a retry repeats (draft-ietf-httpapi-idempotency-key-header).
The receivers' URLs hold secret paths, which nothing the workers log or store may quote.
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
from relops.timeutil import parse_utc, utcnow
from tests.integration.conftest import alert_event, wait_for
from tests.integration.receiver_stack import FAST_ALERTS, PrivateStack, assert_none_stored, delivered, private_stack
from tests.samples import ALERTMANAGER_WEBHOOK_ALERT_KEYS, ALERTMANAGER_WEBHOOK_KEYS

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("clean_tables")]

#: The receivers, as docs/guides/webhooks.md shows them.
RECEIVERS = """
# Grafana OnCall, incident.io, Rootly, ...: their "Alertmanager" integration's URL.
[receivers.oncall]
type = "webhook"
format = "alertmanager"
url_env = "ONCALL_WEBHOOK_URL"

# A home-made receiver reading relops' own JSON.
[receivers.home]
type = "webhook"
format = "json"
url_env = "HOME_WEBHOOK_URL"
max_alerts = 20

# incident.io, Rootly, ...: one payload per message, each alert tracked by its fingerprint.
[receivers.incidents]
type = "webhook"
format = "alertmanager"
url_env = "INCIDENTS_WEBHOOK_URL"
bearer_token_env = "INCIDENTS_TOKEN"
group_by_incident = false
max_alerts = 2
"""
CONFIG = (
    FAST_ALERTS
    + RECEIVERS
    + """
[alerts.channels.webhook]
rate_per_s = 20
burst = 5
max_attempts = 6
read_timeout_s = 1

[route]
receivers = ["oncall", "home"]

# A storm of warnings, grouped for two seconds into one message (a critical one waits critical_group_wait_s).
[[route.routes]]
matchers = ['flow=~"storm-.*"']
receivers = ["incidents"]
group_wait_s = 2
"""
)
ONCALL_PATH = "/integrations/v1/alertmanager/0nCa11T0kenS3cret4x/"
HOME_PATH = "/hooks/h0meRec31verS3cret"
INCIDENTS_PATH = "/v2/alert_events/alertmanager/01JD9Q6W3P2"
INCIDENTS_TOKEN = "inc_t0ken_B3arerS3cret"
SECRETS = ("0nCa11T0kenS3cret4x", "h0meRec31verS3cret", INCIDENTS_TOKEN)
SCHEMA = json.loads((Path(__file__).parents[2] / "docs" / "reference" / "relops-webhook-v1.schema.json").read_text())


class Receivers:
    def __init__(self, stack: PrivateStack, oncall: HttpSink, home: HttpSink, incidents: HttpSink) -> None:
        self.stack, self.oncall, self.home, self.incidents = stack, oncall, home, incidents

    def alertmanager_payloads(self, flow: str, status: str, answered: int = 200) -> list[SinkRequest]:
        """What the oncall receiver took (answered ``answered``) about ``flow`` with ``status``."""
        return [
            r
            for r in self.oncall.requests
            if r.response_status == answered
            and r.json["status"] == status
            and any(a["labels"].get("flow") == flow for a in r.json["alerts"])
        ]


@pytest.fixture(scope="module")
def stack(
    relops_env: dict[str, str], output_dir: Path, tmp_path_factory: pytest.TempPathFactory, db: Engine
) -> Iterator[Receivers]:
    config = tmp_path_factory.mktemp("webhook-formats") / "relops.toml"
    config.write_text(CONFIG)
    with HttpSink() as oncall, HttpSink() as home, HttpSink() as incidents:
        env = {
            "ONCALL_WEBHOOK_URL": oncall.url + ONCALL_PATH,
            "HOME_WEBHOOK_URL": home.url + HOME_PATH,
            "INCIDENTS_WEBHOOK_URL": incidents.url + INCIDENTS_PATH,
            "INCIDENTS_TOKEN": INCIDENTS_TOKEN,
        }
        with private_stack(
            "formats", config, relops_env, env, ["alerts.webhook"], output_dir, db=db, secrets=SECRETS
        ) as running:
            yield Receivers(running, oncall, home, incidents)


@pytest.fixture
def receivers(stack: Receivers, db: Engine) -> Iterator[Receivers]:
    stack.stack.forget()
    for sink in (stack.oncall, stack.home, stack.incidents):
        sink.default = SinkResponse()
        sink.respond_with()
        sink.clear()
    yield stack
    assert_none_stored(db, SECRETS)


def check_version_4(payload: dict[str, Any], receiver: str = "oncall") -> None:
    assert set(payload) == ALERTMANAGER_WEBHOOK_KEYS
    assert payload["version"] == "4" and payload["receiver"] == receiver
    assert payload["externalURL"] == "http://127.0.0.1:8080/"
    assert isinstance(payload["truncatedAlerts"], int)
    for alert in payload["alerts"]:
        assert set(alert) == ALERTMANAGER_WEBHOOK_ALERT_KEYS
        assert len(alert["fingerprint"]) == 16 and int(alert["fingerprint"], 16) >= 0
        assert all(isinstance(v, str) for v in alert["labels"].values())
        assert {k: v for k, v in payload["commonLabels"].items() if alert["labels"].get(k) != v} == {}


def test_an_on_call_tool_hears_each_incident_as_an_alertmanager_group_it_can_open_and_resolve(
    receivers: Receivers, db: Engine
) -> None:
    receivers.stack.send(alert_event("checkout", "critical"))
    [firing] = wait_for(lambda: receivers.alertmanager_payloads("checkout", "firing"), 20, "the page")
    payload = firing.json
    check_version_4(payload)
    assert payload["groupLabels"] == {"relops_fingerprint": "slo:checkout"}
    assert payload["groupKey"] == '{}:{relops_fingerprint="slo:checkout"}'
    [alert] = payload["alerts"]
    assert alert["labels"] == {
        "alertname": "RelopsErrorBudgetBurn",
        "flow": "checkout",
        "severity": "critical",
        "source": "slo",
        "relops_fingerprint": "slo:checkout",
    }
    assert alert["annotations"]["runbook_url"] == "https://runbooks.example.com/checkout.md"
    assert alert["endsAt"] == "0001-01-01T00:00:00Z"
    assert alert["generatorURL"] == "http://127.0.0.1:8080/flows/checkout"
    assert firing.path == ONCALL_PATH
    assert firing.header("Authorization") is None
    assert firing.header("Content-Type") == "application/json; charset=utf-8"
    key = firing.header("Idempotency-Key")
    assert key is not None and key.endswith(":slo:checkout")

    receivers.stack.send(alert_event("checkout", "ok", status="resolved", occurred_at=utcnow().isoformat()))
    [resolved] = wait_for(lambda: receivers.alertmanager_payloads("checkout", "resolved"), 20, "the resolution")
    check_version_4(resolved.json)
    assert resolved.json["groupKey"] == payload["groupKey"]  # the same group: the tool resolves what it opened
    [ended] = resolved.json["alerts"]
    assert ended["fingerprint"] == alert["fingerprint"]
    assert parse_utc(ended["startsAt"]) <= parse_utc(ended["endsAt"]) <= utcnow()
    assert resolved.header("Idempotency-Key") != key
    wait_for(lambda: delivered(db, "oncall") == 2, 10, "both notifications delivered")


def test_a_retry_repeats_the_payload_and_its_idempotency_key(receivers: Receivers) -> None:
    receivers.oncall.respond_with(SinkResponse(status=503, body=b"upstream busy"))
    receivers.stack.send(alert_event("login", "warning"))
    [taken] = wait_for(lambda: receivers.alertmanager_payloads("login", "firing"), 20, "the page after the 503")
    [refused] = receivers.alertmanager_payloads("login", "firing", answered=503)
    assert refused.header("Idempotency-Key") == taken.header("Idempotency-Key")
    assert refused.json["groupKey"] == taken.json["groupKey"]
    assert refused.json["alerts"] == taken.json["alerts"]


def test_a_home_made_receiver_gets_relops_json_as_its_schema_says(receivers: Receivers, db: Engine) -> None:
    receivers.stack.send(alert_event("search", "critical", labels={"team": "search"}))
    [request] = wait_for(lambda: receivers.home.requests, 20, "the JSON message")
    payload = request.json
    jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker()).validate(payload)
    assert request.path == HOME_PATH
    assert request.header("Idempotency-Key") == payload["message_key"]
    assert payload["version"] == "1" and payload["receiver"] == "home" and payload["status"] == "firing"
    assert payload["truncated_notifications"] == 0
    [n] = payload["notifications"]
    assert (n["fingerprint"], n["kind"], n["severity"], n["source"]) == ("slo:search", "firing", "critical", "slo")
    assert n["labels"]["team"] == "search"
    assert n["details"]["windows"]["1h"]["burn_rate"] == 20.0
    assert n["links"]["page"] == "http://127.0.0.1:8080/flows/search"
    assert n["links"]["incident"] == f"http://127.0.0.1:8080/incidents/{n['incident_id']}"
    wait_for(lambda: delivered(db, "home") == 1, 10, "the message delivered")


def test_a_message_as_one_payload_keeps_max_alerts_and_counts_the_rest(receivers: Receivers, db: Engine) -> None:
    for flow in ("storm-a", "storm-b", "storm-c"):
        receivers.stack.send(alert_event(flow, "warning", labels={"team": "storm", "flow": flow}))
    [request] = wait_for(lambda: receivers.incidents.requests, 20, "the grouped payload")
    payload = request.json
    check_version_4(payload, "incidents")
    assert request.path == INCIDENTS_PATH
    assert request.header("Authorization") == f"Bearer {INCIDENTS_TOKEN}"
    assert payload["groupKey"] == "{}:{}" and payload["groupLabels"] == {}
    assert len(payload["alerts"]) == 2 and payload["truncatedAlerts"] == 1
    assert payload["commonLabels"]["team"] == "storm" and "flow" not in payload["commonLabels"]
    assert request.header("Idempotency-Key") is not None and ":" not in request.header("Idempotency-Key")
    wait_for(lambda: delivered(db, "incidents") == 3, 10, "the three notifications delivered in one message")
    assert receivers.oncall.requests == [] and receivers.home.requests == []
