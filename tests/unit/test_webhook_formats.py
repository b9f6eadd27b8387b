"""The webhook's alertmanager and json formats: payload shape, grouping, limits, and the receiver's checks.

Alertmanager's webhook payload, version 4, is what its webhook notifier posts: prometheus/alertmanager
notify/webhook/webhook.go (``Message``: version "4", groupKey, truncatedAlerts, and ``template.Data``)
and template/template.go (``Data``: receiver, status, alerts, groupLabels, commonLabels,
commonAnnotations, externalURL; ``Alert``: status, labels, annotations, startsAt, endsAt,
generatorURL, fingerprint), https://prometheus.io/docs/alerting/latest/configuration/#webhook_config.
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from relops.alerting.alertmanager_webhook import SeverityRule, webhook_alerts
from relops.channels.alertmanager_format import alert_labels
from relops.channels.alertmanager_webhook_format import (
    ZERO_TIME,
    alertmanager_webhook_payloads,
    fingerprint,
    idempotency_key,
    label_set_text,
)
from relops.channels.json_format import render_json
from relops.channels.registry import check_receivers
from relops.channels.webhook import WebhookChannel
from relops.config import ChannelSettings, parse_config
from relops.config.routing import ReceiverConfig
from relops.errors import ConfigError
from relops.settings import Settings
from tests.samples import (
    ALERTMANAGER_WEBHOOK_ALERT_KEYS,
    ALERTMANAGER_WEBHOOK_KEYS,
    AT,
    CONTEXT,
    RUNBOOK,
    notification,
)

NOW = datetime(2026, 11, 27, 12, 40, tzinfo=UTC)
SCHEMA_PATH = Path(__file__).parents[2] / "docs" / "reference" / "relops-webhook-v1.schema.json"
LABELS = {"source": "slo", "severity": "critical", "flow": "checkout", "team": "payments"}
FIRING = notification(summary="20 bad of 1000 events", labels=LABELS, incident_id=7, opened_at=AT)


def other(flow: str, **changes: Any) -> Any:
    labels = {**LABELS, "flow": flow}
    return dataclasses.replace(FIRING, fingerprint=f"slo:{flow}", labels=labels, incident_id=8, **changes)


def json_schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text())


def check_json(payload: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator(json_schema(), format_checker=jsonschema.FormatChecker()).validate(payload)


# the fingerprint: prometheus/common model/signature.go labelSetToFingerprint (FNV-1a 64)


def test_fingerprints_are_prometheus_label_set_fingerprints():
    assert fingerprint({}) == "cbf29ce484222325"  # emptyLabelSignature: FNV-1a 64's offset basis
    # The values prometheus/common's own tests hold its fingerprint to (model/signature_test.go).
    assert fingerprint({"foo": "bar"}) == "3fff2c2d7595e046"
    assert fingerprint({"foo": "bar", "baz": "qux"}) == "e4d83091cd448e77"
    assert fingerprint({"baz": "qux", "foo": "bar"}) == "e4d83091cd448e77"


def test_group_keys_read_as_alertmanager_writes_label_sets():
    assert label_set_text({"b": "2", "a": 'say "hi"'}) == '{a="say \\"hi\\"", b="2"}'
    assert label_set_text({}) == "{}"


# format = "alertmanager"


def test_one_incident_is_one_alertmanager_group_with_every_field_of_version_4():
    [(key, payload)] = alertmanager_webhook_payloads([FIRING], CONTEXT, NOW, receiver="oncall")
    assert key == "msg-1:slo:checkout"
    assert set(payload) == ALERTMANAGER_WEBHOOK_KEYS
    labels = alert_labels(FIRING)
    assert payload["version"] == "4"
    assert payload["receiver"] == "oncall"
    assert payload["status"] == "firing"
    assert payload["groupLabels"] == {"relops_fingerprint": "slo:checkout"}
    assert payload["groupKey"] == '{}:{relops_fingerprint="slo:checkout"}'
    assert payload["truncatedAlerts"] == 0
    assert payload["externalURL"] == CONTEXT.dashboard_url
    assert payload["commonLabels"] == labels
    [alert] = payload["alerts"]
    assert set(alert) == ALERTMANAGER_WEBHOOK_ALERT_KEYS
    assert alert["status"] == "firing"
    assert (
        alert["labels"]
        == labels
        == {**LABELS, "alertname": "RelopsErrorBudgetBurn", "relops_fingerprint": "slo:checkout"}
    )
    assert alert["annotations"]["runbook_url"] == RUNBOOK
    assert payload["commonAnnotations"] == alert["annotations"]
    assert alert["startsAt"] == "2026-11-27T12:31:00.000Z"
    assert alert["endsAt"] == ZERO_TIME  # types.Alerts: an end not reached yet is not exposed
    assert alert["generatorURL"] == "https://grafana.example.com/d/relops/flows/checkout?orgId=1&refresh=30s"
    assert alert["fingerprint"] == fingerprint(labels)


def test_a_resolution_keeps_the_group_key_and_says_when_it_ended():
    resolved = dataclasses.replace(FIRING, kind="resolved", occurred_at="2026-11-27T12:38:00+00:00")
    [(_, firing)] = alertmanager_webhook_payloads([FIRING], CONTEXT, NOW, receiver="oncall")
    [(_, payload)] = alertmanager_webhook_payloads([resolved], CONTEXT, NOW, receiver="oncall")
    assert payload["groupKey"] == firing["groupKey"]
    assert payload["status"] == "resolved"
    [alert] = payload["alerts"]
    assert alert["status"] == "resolved"
    assert alert["endsAt"] == "2026-11-27T12:38:00.000Z"
    assert alert["fingerprint"] == firing["alerts"][0]["fingerprint"]


def test_a_grouped_message_is_one_payload_per_incident_each_its_own_idempotency_key():
    sent = alertmanager_webhook_payloads([FIRING, other("login")], CONTEXT, NOW, receiver="oncall")
    assert [key for key, _ in sent] == ["msg-1:slo:checkout", "msg-1:slo:login"]
    assert [p["groupLabels"] for _, p in sent] == [
        {"relops_fingerprint": "slo:checkout"},
        {"relops_fingerprint": "slo:login"},
    ]


def test_idempotency_keys_are_header_safe_whatever_the_fingerprint():
    assert idempotency_key("m", "cron:nightly-export:missed") == "m:cron:nightly-export:missed"
    assert idempotency_key("m", "svc:Zürich\r\nX-Injected: 1") == "m:svc:Z%C3%BCrich%0D%0AX-Injected:%201"
    long = idempotency_key("m", "é" * 300)
    assert long.startswith("m:sha256-") and len(long) == len("m:sha256-") + 32
    assert all(32 < ord(c) < 127 for c in long)


def test_an_incident_twice_in_a_message_is_sent_in_its_latest_state():
    resolved = dataclasses.replace(FIRING, kind="resolved", occurred_at="2026-11-27T12:38:00+00:00")
    [(_, payload)] = alertmanager_webhook_payloads([resolved, FIRING], CONTEXT, NOW, receiver="oncall")
    assert payload["status"] == "resolved"


def test_one_payload_per_message_counts_what_max_alerts_leaves_out():
    resolved = dataclasses.replace(other("search"), kind="resolved")
    message = [FIRING, other("login"), resolved]
    [(key, payload)] = alertmanager_webhook_payloads(
        message, CONTEXT, NOW, receiver="oncall", max_alerts=2, per_incident=False
    )
    assert key == "msg-1"
    assert payload["groupKey"] == "{}:{}" and payload["groupLabels"] == {}
    assert len(payload["alerts"]) == 2 and payload["truncatedAlerts"] == 1
    assert payload["status"] == "firing"
    # The labels all kept alerts share, and no others (template.Data's commonLabels).
    assert payload["commonLabels"] == {
        "source": "slo",
        "severity": "critical",
        "team": "payments",
        "alertname": "RelopsErrorBudgetBurn",
    }
    [(_, whole)] = alertmanager_webhook_payloads(message, CONTEXT, NOW, receiver="oncall", per_incident=False)
    assert len(whole["alerts"]) == 3 and whole["truncatedAlerts"] == 0


def test_notices_are_not_alerts_and_send_nothing():
    notice = dataclasses.replace(FIRING, kind="notice", fingerprint="silence:1", incident_id=None)
    assert alertmanager_webhook_payloads([notice], CONTEXT, NOW, receiver="oncall") == []
    assert alertmanager_webhook_payloads([notice], CONTEXT, NOW, receiver="oncall", per_incident=False) == []


def test_relops_own_alertmanager_intake_reads_the_payload_as_alertmanagers():
    """relops' intake (POST /api/v1/alertmanager) reads Alertmanager's webhook: ours passes every check
    but the loop guard, which refuses relops' own alerts (the relops_fingerprint label) sent back to it."""
    resolved = dataclasses.replace(other("login"), kind="resolved")
    [(_, payload)] = alertmanager_webhook_payloads(
        [FIRING, resolved], CONTEXT, NOW, receiver="oncall", per_incident=False
    )
    looped = webhook_alerts(json.loads(json.dumps(payload)), SeverityRule(), NOW)
    assert [(r.item_index, r.field) for r in looped.rejections] == [(0, "labels"), (1, "labels")]
    assert all("relops_fingerprint" in r.reason for r in looped.rejections)

    for alert in payload["alerts"]:
        del alert["labels"]["relops_fingerprint"]
    taken = webhook_alerts(json.loads(json.dumps(payload)), SeverityRule(), NOW)
    assert taken.rejections == []
    assert [(e.severity, e.status) for e in taken.events] == [("critical", "firing"), ("critical", "resolved")]
    assert taken.events[0].fingerprint == "am:" + payload["alerts"][0]["fingerprint"]


# format = "json"


def test_the_json_payload_follows_its_published_schema():
    notice = dataclasses.replace(FIRING, kind="notice", fingerprint="silence:1", incident_id=None, labels={})
    payload = render_json([notice, other("login"), FIRING], CONTEXT, receiver="home")
    check_json(payload)
    assert payload["version"] == "1"
    assert payload["message_key"] == "msg-1"
    assert payload["receiver"] == "home"
    assert payload["status"] == "firing"
    assert [n["fingerprint"] for n in payload["notifications"]] == ["slo:checkout", "slo:login", "silence:1"]
    first = payload["notifications"][0]
    assert first["incident_id"] == 7
    assert first["labels"] == LABELS
    assert first["details"]["windows"]["1h"]["burn_rate"] == 20.0
    assert first["links"] == {
        "runbook": RUNBOOK,
        "incident": "https://grafana.example.com/d/relops/incidents/7?orgId=1&refresh=30s",
        "page": "https://grafana.example.com/d/relops/flows/checkout?orgId=1&refresh=30s",
    }
    assert payload["notifications"][2]["links"]["incident"] is None


def test_the_json_payload_counts_what_max_alerts_leaves_out():
    payload = render_json([FIRING, other("login"), other("search")], CONTEXT, receiver="home", max_notifications=1)
    check_json(payload)
    assert len(payload["notifications"]) == 1 and payload["truncated_notifications"] == 2


def test_the_schema_refuses_what_a_receiver_could_not_read():
    payload = render_json([FIRING], CONTEXT, receiver="home")
    for broken in (
        {**payload, "version": "2"},
        {**payload, "notifications": []},
        {k: v for k, v in payload.items() if k != "message_key"},
        {**payload, "notifications": [{**payload["notifications"][0], "kind": "maybe"}]},
    ):
        with pytest.raises(jsonschema.ValidationError):
            check_json(broken)


def test_a_runbook_that_is_no_link_is_text_only():
    payload = render_json([dataclasses.replace(FIRING, runbook_url="javascript:alert(1)")], CONTEXT, receiver="h")
    check_json(payload)
    assert payload["notifications"][0]["links"]["runbook"] is None


# the receiver's checks

RECEIVER = """
[receivers.oncall]
type = "webhook"
url_env = "ONCALL_WEBHOOK_URL"
{extra}

[route]
receivers = ["oncall"]
"""


def check(extra: str) -> None:
    config = parse_config(tomllib.loads(RECEIVER.format(extra=extra)), "relops.toml")
    check_receivers(config, "relops.toml")


@pytest.mark.parametrize(
    "extra",
    [
        "",
        'format = "slack"',
        'format = "alertmanager"\nmax_alerts = 50\ngroup_by_incident = false\nbearer_token_env = "ONCALL_TOKEN"',
        'format = "json"\nmax_alerts = 0\nsilence_notices = true',
    ],
)
def test_webhook_receivers_take_their_format_keys(extra: str):
    check(extra)


@pytest.mark.parametrize(
    ("extra", "said"),
    [
        ('format = "xml"', "format"),
        ("max_alerts = 5", "max_alerts bounds the alertmanager and json formats"),
        ('format = "json"\ngroup_by_incident = true', "group_by_incident is a key of the alertmanager format"),
        ('format = "alertmanager"\nmax_alerts = -1', "max_alerts"),
        ('bearer_token_env = "TOKEN"', "bearer_token_env is for the alertmanager and json formats"),
        ('format = "alertmanager"\nsilence_notices = true', "takes no silence notices"),
    ],
)
def test_webhook_format_keys_that_cannot_work_are_refused_by_name(extra: str, said: str):
    with pytest.raises(ConfigError) as refused:
        check(extra)
    assert said in str(refused.value)


def test_a_bearer_token_missing_or_unfit_for_a_header_is_said_before_any_send(monkeypatch: pytest.MonkeyPatch):
    spec = ReceiverConfig(type="webhook", url_env="HOME_URL", format="json", bearer_token_env="HOME_TOKEN")
    channel = WebhookChannel(Settings(), ChannelSettings(), "home", spec)
    monkeypatch.setenv("HOME_URL", "https://hooks.example.com/relops")
    monkeypatch.delenv("HOME_TOKEN", raising=False)
    assert channel.missing_configuration() == "HOME_TOKEN is not set"
    monkeypatch.setenv("HOME_TOKEN", "two words")
    assert channel.missing_configuration() == "HOME_TOKEN contains spaces, control or non-ASCII characters"
    monkeypatch.setenv("HOME_TOKEN", "t0ken")
    assert channel.missing_configuration() is None


def test_config_check_names_a_webhooks_format_when_it_is_not_slacks(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from relops.cli import cli

    config = tmp_path / "formats.toml"
    config.write_text(
        "\n".join(
            f'[receivers.{name}]\ntype = "webhook"\nurl_env = "{name.upper()}_URL"\n'
            + (f'format = "{payload}"\n' if payload else "")
            for name, payload in (("oncall", "alertmanager"), ("home", "json"), ("chat", None))
        )
        + '[route]\nreceivers = ["oncall", "home", "chat"]\n'
    )
    for name in ("ONCALL", "HOME", "CHAT"):
        monkeypatch.setenv(f"{name}_URL", f"https://{name.lower()}.example.com/hook")
    checked = CliRunner().invoke(cli, ["config", "check", "--offline", str(config)])
    assert checked.exit_code == 0, checked.output
    assert "receiver oncall (webhook, format alertmanager): delivers to https://oncall.example.com" in checked.output
    assert "receiver home (webhook, format json): delivers to https://home.example.com" in checked.output
    assert "receiver chat (webhook): delivers to https://chat.example.com" in checked.output
