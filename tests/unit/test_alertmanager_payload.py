"""Alertmanager's postable alerts: their shape against the API v2 schema, labels, times and links;
the receiver's checks and what it shows of its URLs; resends in the repeat plan."""

from __future__ import annotations

import base64
import dataclasses
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner

from relops.alerting.followups import plan_followups
from relops.alerting.incident_state import Heard, OpenIncident
from relops.alerting.routes import build_tree
from relops.channels import alertmanager as alertmanager_module
from relops.channels.alertmanager import AlertmanagerChannel
from relops.channels.alertmanager_format import (
    MAX_ALERTS_PER_REQUEST,
    RESEND_FACTOR,
    alert_name,
    batches,
    postable_alerts,
    relops_labels,
)
from relops.channels.base import DeliveryError, MessageContext
from relops.channels.registry import check_receivers
from relops.cli import cli
from relops.config import ChannelSettings, parse_config
from relops.config.routing import ReceiverConfig
from relops.errors import ConfigError
from relops.settings import Settings
from tests.samples import AT, RUNBOOK, notification

NOW = datetime(2026, 11, 27, 12, 40, tzinfo=UTC)
CONTEXT = MessageContext(message_key="m-1", dashboard_url="http://relops.example.com:8080/", max_full=5)
LABELS = {"source": "slo", "severity": "critical", "flow": "checkout", "team": "payments"}
FIRING = notification(summary="checkout: 20 bad of 1000 events", labels=LABELS, incident_id=7, opened_at=AT)

# api/v2/openapi.yaml of Alertmanager v0.25.0, definitions postableAlert (allOf an object of startsAt,
# endsAt and annotations, and "alert": labels (required) and generatorURL) and labelSet (an object of
# string values). Every property and its type, as the schema gives them.
POSTABLE_ALERT = {
    "labels": ("labelSet", True),
    "annotations": ("labelSet", False),
    "startsAt": ("date-time", False),
    "endsAt": ("date-time", False),
    "generatorURL": ("uri", False),
}
LABEL_NAME = r"^[a-zA-Z_][a-zA-Z0-9_]*$"  # prometheus/common model.LabelName (Alertmanager 0.25 validates it)


def check_against_schema(alert: dict[str, Any]) -> None:
    """What Alertmanager 0.25 would refuse: an unknown field, a wrong type, a missing label set, a
    label or annotation name that is not a Prometheus label name, a start after the end."""
    assert set(alert) <= set(POSTABLE_ALERT), set(alert) - set(POSTABLE_ALERT)
    for key, (kind, required) in POSTABLE_ALERT.items():
        if key not in alert:
            assert not required, key
            continue
        value = alert[key]
        if kind == "labelSet":
            assert isinstance(value, dict) and value
            assert all(isinstance(k, str) and re.match(LABEL_NAME, k) for k in value), value
            assert all(isinstance(v, str) and v for v in value.values()), value
            value = {k: v.encode("utf-8").decode("utf-8") for k, v in value.items()}  # valid UTF-8
        elif kind == "date-time":
            assert isinstance(value, str) and value.endswith("Z")
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        else:
            parts = urlsplit(value)
            assert parts.scheme in ("http", "https") and parts.netloc, value
    if "startsAt" in alert and "endsAt" in alert:
        assert alert["startsAt"] <= alert["endsAt"]


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_a_firing_alert_carries_every_label_its_names_and_ends_four_resends_ahead():
    [alert] = postable_alerts([FIRING], CONTEXT, NOW, 60)
    check_against_schema(alert)
    assert alert["labels"] == {
        **LABELS,
        "alertname": "RelopsErrorBudgetBurn",
        "relops_fingerprint": "slo:checkout",
    }
    assert alert["annotations"] == {
        "summary": FIRING.title,
        "description": "checkout: 20 bad of 1000 events",
        "runbook_url": RUNBOOK,
        "dashboard_url": "http://relops.example.com:8080/incidents/7",
    }
    assert moment(alert["startsAt"]) == datetime.fromisoformat(AT)
    assert moment(alert["endsAt"]) == NOW + timedelta(seconds=RESEND_FACTOR * 60)
    assert alert["generatorURL"] == "http://relops.example.com:8080/flows/checkout"


def test_a_resolution_has_its_firings_labels_and_ends_when_it_resolved():
    resolved_at = NOW - timedelta(seconds=5)
    resolved = dataclasses.replace(
        FIRING, kind="resolved", title="RESOLVED: checkout", occurred_at=resolved_at.isoformat()
    )
    [firing, ended] = postable_alerts([FIRING, resolved], CONTEXT, NOW, 60)
    check_against_schema(ended)
    assert ended["labels"] == firing["labels"]  # Alertmanager merges by label set: the same alert
    assert moment(ended["endsAt"]) == resolved_at
    assert moment(ended["startsAt"]) == datetime.fromisoformat(AT)
    # A resolution stamped ahead of the clock ends now, never in the future (it would fire on).
    early = dataclasses.replace(resolved, occurred_at=(NOW + timedelta(hours=1)).isoformat())
    assert moment(postable_alerts([early], CONTEXT, NOW, 60)[0]["endsAt"]) == NOW


def test_a_notification_without_stored_labels_gets_them_from_its_fingerprint():
    old = notification(summary="s")  # stored before labels were kept with notifications
    assert relops_labels(old) == {"source": "slo", "severity": "critical", "flow": "checkout"}
    [alert] = postable_alerts([old], CONTEXT, NOW, 60)
    check_against_schema(alert)
    assert alert["startsAt"] <= alert["endsAt"]


@pytest.mark.parametrize(
    ("source", "labels", "expected"),
    [
        ("slo", {"flow": "checkout"}, "RelopsErrorBudgetBurn"),
        ("cron", {"job": "nightly", "problem": "failing"}, "RelopsCronJobFailing"),
        ("cron", {"job": "nightly", "problem": "missed"}, "RelopsCronJobMissed"),
        ("cron", {"job": "nightly", "problem": "overrun"}, "RelopsCronJobOverrun"),
        ("cron", {"job": "nightly"}, "RelopsCronJob"),
        ("breaker", {"dependency": "inventory"}, "RelopsDependencyDegraded"),
        ("billing", {}, "billing"),
        ("billing", {"alertname": "InvoiceBacklog"}, "InvoiceBacklog"),
    ],
)
def test_the_alertname_is_the_kind_of_problem_never_the_title(source, labels, expected):
    n = notification(summary="s", source=source, labels=labels)
    assert alert_name(n, relops_labels(n)) == expected


def test_links_name_the_flow_the_job_or_the_incident_and_need_a_dashboard():
    job = notification(
        summary="s", source="cron", fingerprint="cron:a/b:failing", labels={"job": "a/b", "problem": "failing"}
    )
    breaker = notification(
        summary="s", source="breaker", fingerprint="breaker:inventory", labels={}, details={}, incident_id=3
    )
    [job_alert, breaker_alert] = postable_alerts([job, breaker], CONTEXT, NOW, 60)
    assert job_alert["generatorURL"] == "http://relops.example.com:8080/jobs/a%2Fb"
    assert breaker_alert["generatorURL"] == "http://relops.example.com:8080/incidents/3"
    bare = postable_alerts([FIRING], dataclasses.replace(CONTEXT, dashboard_url=""), NOW, 60)[0]
    assert "generatorURL" not in bare and "dashboard_url" not in bare["annotations"]
    check_against_schema(bare)


def test_notices_are_not_posted_and_a_storm_goes_in_requests_of_256():
    notice = notification(summary="silence #3 created", kind="notice")
    assert postable_alerts([notice], CONTEXT, NOW, 60) == []
    many = [dataclasses.replace(FIRING, fingerprint=f"slo:f{i}") for i in range(600)]
    sizes = [len(b) for b in batches(postable_alerts(many, CONTEXT, NOW, 60))]
    assert sizes == [MAX_ALERTS_PER_REQUEST, MAX_ALERTS_PER_REQUEST, 88]


def test_text_that_is_not_utf_8_is_replaced_not_refused():
    odd = notification(summary="bad \ud800 half", labels={"team": "a\udfffb"})
    [alert] = postable_alerts([odd], CONTEXT, NOW, 60)
    assert alert["annotations"]["description"] == "bad ? half"
    assert "team" not in alert["labels"]  # relops refuses such a label value: never sent


# The receiver


def receiver(**keys: Any) -> ReceiverConfig:
    return ReceiverConfig(type="alertmanager", **keys)


def channel(spec: ReceiverConfig) -> AlertmanagerChannel:
    return AlertmanagerChannel(Settings(), ChannelSettings(), "am", spec)


@pytest.mark.parametrize(
    ("keys", "problem"),
    [
        ({}, "needs url_env"),
        ({"url_env": "AM", "basic_auth_username_env": "U"}, "go together"),
        (
            {"url_env": "AM", "bearer_token_env": "T", "basic_auth_username_env": "U", "basic_auth_password_env": "P"},
            "not both",
        ),
        ({"url_env": "AM", "silence_notices": True}, "no silence notices"),
    ],
)
def test_a_receiver_written_wrong_is_refused(keys, problem):
    assert problem in (AlertmanagerChannel.receiver_problem(receiver(**keys)) or "")


@pytest.mark.parametrize(
    ("urls", "problem"),
    [
        (None, "AM_URLS is not set"),
        ("ftp://am:9093", "AM_URLS must be an http:// or https:// URL"),
        ("http://am-1:9093,am-2:9093", "AM_URLS (URL 2) must be an http:// or https:// URL"),
        ("http://am:9093/?x=1", "without a ?query"),
        ("http://am:notaport", "AM_URLS is not a valid URL"),
    ],
)
def test_missing_or_unusable_urls_are_named(monkeypatch, urls, problem):
    monkeypatch.delenv("AM_URLS", raising=False)
    if urls is not None:
        monkeypatch.setenv("AM_URLS", urls)
    assert problem in (channel(receiver(url_env="AM_URLS")).missing_configuration() or "")


def test_credentials_come_from_their_variables_and_never_show(monkeypatch):
    monkeypatch.setenv("AM_URLS", "https://am.example.com/prox7f3a9c2e1b8d4f60a1, https://am-2.example.com")
    spec = receiver(url_env="AM_URLS", basic_auth_username_env="AM_USER", basic_auth_password_env="AM_PASSWORD")
    monkeypatch.delenv("AM_USER", raising=False)
    assert channel(spec).missing_configuration() == "AM_USER is not set"
    monkeypatch.setenv("AM_USER", "relops")
    monkeypatch.setenv("AM_PASSWORD", "pa55 word")
    assert "AM_PASSWORD contains spaces" in (channel(spec).missing_configuration() or "")
    monkeypatch.setenv("AM_PASSWORD", "pa55word-secret")
    am = channel(spec)
    assert am.missing_configuration() is None
    assert am.destination() == "https://am.example.com/***, https://am-2.example.com"
    headers, masked = am._auth()
    assert headers == {"Authorization": "Basic " + base64.b64encode(b"relops:pa55word-secret").decode()}
    assert "pa55word-secret" in masked
    assert am.resend_interval_s() == 60


def test_a_message_some_alertmanagers_took_is_retried_but_is_no_outage(monkeypatch):
    monkeypatch.setenv("AM_URLS", "http://127.0.0.1:1,http://127.0.0.1:2")
    answers = iter([None, DeliveryError("http://127.0.0.1:2/api/v2/alerts: HTTP 503", retryable=True, status=503)])

    def post(*_: Any, **__: Any) -> None:
        error = next(answers)
        if error is not None:
            raise error

    monkeypatch.setattr(alertmanager_module, "post_json", post)
    with pytest.raises(DeliveryError) as caught:
        channel(receiver(url_env="AM_URLS")).send([FIRING], CONTEXT)
    assert caught.value.retryable and caught.value.partial and "1 of 2 Alertmanagers took it" in caught.value.reason


def test_config_check_names_an_alertmanager_receivers_problem(tmp_path, monkeypatch):
    path = tmp_path / "relops.toml"
    path.write_text('[receivers.am]\ntype = "alertmanager"\nurl_env = "AM_URLS"\n\n[route]\nreceivers = ["am"]\n')
    monkeypatch.setenv("AM_URLS", "am-1:9093")
    checked = CliRunner().invoke(cli, ["config", "check", str(path)])
    assert checked.exit_code == 0, checked.output
    assert "receiver am (alertmanager): skipped here: AM_URLS must be an http:// or https:// URL" in checked.output
    monkeypatch.setenv("AM_URLS", "http://127.0.0.1:9093")
    checked = CliRunner().invoke(cli, ["config", "check", str(path)])
    assert checked.exit_code == 0, checked.output
    assert "receiver am (alertmanager): delivers to http://127.0.0.1:9093 via alerts.alertmanager" in checked.output
    wrong = parse_config({"receivers": {"am": {"type": "alertmanager", "to": ["a@example.com"]}}}, "x.toml")
    with pytest.raises(ConfigError, match="field 'to': not a key of a alertmanager receiver"):
        check_receivers(wrong, "x.toml")


# Resends in the repeat plan


def incident(notified: dict[str, Heard], severity: str = "critical") -> OpenIncident:
    return OpenIncident(
        id=1,
        fingerprint="slo:checkout",
        severity=severity,
        labels={"flow": "checkout", "severity": severity, "source": "slo", "team": "a"},
        opened_at=NOW - timedelta(hours=1),
        occurrences=3,
        last_event={},
        notified=notified,
        notified_at_raw={},
        escalated=frozenset({"route.routes[0]#0"}),
    )


def test_an_alertmanager_receiver_hears_a_firing_every_resend_interval_also_after_an_escalation():
    config = parse_config(
        {
            "receivers": {
                "am": {"type": "alertmanager", "url_env": "AM"},
                "am-lead": {"type": "alertmanager", "url_env": "AM"},
                "chat": {"type": "webhook", "url_env": "CHAT"},
            },
            "flows": [{"name": "checkout", "objective_percent": 99.9, "labels": {"team": "a"}}],
            "route": {
                "routes": [
                    {
                        "matchers": ["team=a"],
                        "receivers": ["am", "chat"],
                        "repeat_interval_s": 3600,
                        "escalation": [{"after_s": 60, "to": "am-lead"}],
                    }
                ]
            },
        },
        "routes.toml",
    )
    root = build_tree(config, ("webhook", "email"))
    severities = {name: ("warning", "critical") for name in ("am", "am-lead", "chat")}
    heard = Heard(NOW - timedelta(seconds=61), "critical", "route")
    notified = {"am": heard, "chat": heard, "am-lead": dataclasses.replace(heard, via="escalation")}
    owed = plan_followups(incident(notified), root, severities, NOW, {"am": 60, "am-lead": 60})
    assert sorted((f.kind, f.receiver) for f in owed) == [("resend", "am"), ("resend", "am-lead")]
    later = plan_followups(incident(notified), root, severities, NOW + timedelta(hours=1), {"am": 60})
    assert sorted((f.kind, f.receiver) for f in later) == [("repeat", "chat"), ("resend", "am")]
