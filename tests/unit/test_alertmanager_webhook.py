"""Alertmanager's webhook notifications (version 4) as relops alert events: the pure mapping, its
refusals, and how the events meet relops' inhibition and the intake's key scopes."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from relops.access.report_keys import ReportKey, parse_scopes, refusal
from relops.alerting.alertmanager_webhook import (
    MAX_ALERTS,
    RELOPS_FINGERPRINT_LABEL,
    SeverityRule,
    webhook_alerts,
)
from relops.alerting.events import MAX_DETAILS_BYTES, validate_alert_event
from relops.alerting.inhibition import dependencies_of, inhibition
from relops.channels.alertmanager_format import FINGERPRINT_LABEL
from relops.config import parse_config
from relops.config.models import IntakeConfig
from relops.errors import InputRejected
from relops.intake.reports import Refused, alertmanager_alerts
from relops.labels import MAX_VALUE_CHARS

NOW = datetime(2026, 12, 7, 10, 0, 0, tzinfo=UTC)
RULE = SeverityRule()


def alert(fingerprint: str = "3f2c9a1b7d6e5f40", status: str = "firing", **overrides: Any) -> dict[str, Any]:
    """One alert as Alertmanager 0.25 writes it (Go's times: nanoseconds; the zero time unset)."""
    base = {
        "status": status,
        "labels": {"alertname": "CheckoutErrors", "severity": "critical", "instance": "web-1:9100", "job": "node"},
        "annotations": {
            "summary": "Checkout errors above 5%",
            "description": "7.2% of checkouts failed\nover the last 5 minutes.",
            "runbook_url": "https://runbooks.example.com/checkout-errors",
        },
        "startsAt": "2026-12-07T09:58:12.123456789Z",
        "endsAt": "0001-01-01T00:00:00Z" if status == "firing" else "2026-12-07T09:59:30.5+01:00",
        "generatorURL": "http://prometheus:9090/graph?g0.expr=errors",
        "fingerprint": fingerprint,
    }
    return {**base, **overrides}


def payload(*alerts: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    base = {
        "receiver": "relops",
        "status": "firing",
        "alerts": list(alerts),
        "groupLabels": {"alertname": "CheckoutErrors"},
        "commonLabels": {"alertname": "CheckoutErrors"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "version": "4",
        "groupKey": '{}:{alertname="CheckoutErrors"}',
        "truncatedAlerts": 0,
    }
    return {**base, **overrides}


def test_a_firing_alert_becomes_a_relops_alert_event() -> None:
    found = webhook_alerts(payload(alert()), RULE, NOW)
    assert found.rejections == [] and len(found.events) == 1
    event = found.events[0]
    assert event.fingerprint == event.dedup_key == "am:3f2c9a1b7d6e5f40"
    assert (event.severity, event.status, event.source) == ("critical", "firing", "alertmanager")
    assert event.title == "Checkout errors above 5%"
    assert event.summary == "7.2% of checkouts failed\nover the last 5 minutes."
    assert event.runbook_url == "https://runbooks.example.com/checkout-errors"
    # startsAt, nanoseconds cut to microseconds: the same in every re-send of the alert.
    assert event.occurred_at == "2026-12-07T09:58:12.123456+00:00"
    assert event.labels == {
        "alertname": "CheckoutErrors",
        "instance": "web-1:9100",
        "job": "node",
        "source": "alertmanager",
        "severity": "critical",
    }
    said = event.details["alertmanager"]
    assert said["fingerprint"] == "3f2c9a1b7d6e5f40" and said["ends_at"] is None
    assert said["generator_url"] == "http://prometheus:9090/graph?g0.expr=errors"
    assert said["external_url"] == "http://alertmanager:9093" and said["receiver"] == "relops"
    assert said["severity"] == {"label": "severity", "value": "critical", "taken_as": "critical"}
    # What the router receives passes the task's own validation unchanged.
    assert validate_alert_event(event.as_kwargs()) == event


def test_a_resolved_alert_resolves_at_its_end_time_and_a_resend_is_the_same_event() -> None:
    (resolved,) = webhook_alerts(payload(alert(status="resolved"), status="resolved"), RULE, NOW).events
    assert resolved.status == "resolved" and resolved.fingerprint == "am:3f2c9a1b7d6e5f40"
    assert resolved.occurred_at == "2026-12-07T08:59:30.500000+00:00", "endsAt, in UTC"
    no_end = alert(status="resolved", endsAt="0001-01-01T00:00:00Z")
    assert webhook_alerts(payload(no_end), RULE, NOW).events[0].occurred_at == NOW.isoformat()
    # Alertmanager re-sends the group every repeat_interval: the same alert, the same event.
    first = webhook_alerts(payload(alert()), RULE, NOW).events
    again = webhook_alerts(payload(alert()), RULE, datetime(2026, 12, 7, 14, tzinfo=UTC)).events
    assert first == again


@pytest.mark.parametrize(
    ("value", "severity", "note"),
    [
        ("critical", "critical", None),
        ("CRITICAL", "critical", None),
        ("page", "critical", None),
        ("warning", "warning", None),
        ("info", "warning", "severity='info' is not a severity relops knows"),
        (None, "warning", "no severity label: taken as a warning"),
    ],
)
def test_severity_comes_from_a_label_and_an_unknown_one_is_a_warning_that_says_so(
    value: str | None, severity: str, note: str | None
) -> None:
    rule = SeverityRule.from_config(IntakeConfig(alertmanager_critical=["critical", "page"]))
    labels = {"alertname": "DiskFull", **({} if value is None else {"severity": value})}
    (event,) = webhook_alerts(payload(alert(labels=labels)), rule, NOW).events
    assert event.severity == severity and event.labels["severity"] == severity
    said = event.details["alertmanager"]["severity"]
    assert said["value"] == value and said["taken_as"] == severity
    if note is None:
        assert "note" not in said and "taken as" not in event.summary
    else:
        assert note in said["note"] and note in event.summary


def test_the_severity_label_is_configurable() -> None:
    rule = SeverityRule.from_config(IntakeConfig(alertmanager_severity_label="priority", alertmanager_critical=["P1"]))
    labels = {"alertname": "X", "priority": "p1", "severity": "warning"}
    (event,) = webhook_alerts(payload(alert(labels=labels)), rule, NOW).events
    assert event.severity == "critical" and event.labels["priority"] == "p1"
    with pytest.raises(ValueError, match="both list 'p1'"):
        IntakeConfig(alertmanager_critical=["P1"], alertmanager_warning=["p1"])
    with pytest.raises(ValueError, match="label name"):
        IntakeConfig(alertmanager_severity_label="not a label")


def test_the_title_falls_back_to_the_alertname_and_texts_are_bounded() -> None:
    no_summary = alert(annotations={"description": "x" * 10_000})
    (event,) = webhook_alerts(payload(no_summary), RULE, NOW).events
    assert event.title == "CheckoutErrors" and event.runbook_url == ""
    assert len(event.summary) == 4000 and event.summary.endswith("…")
    bare = alert(labels={"severity": "warning"}, annotations={})
    assert webhook_alerts(payload(bare), RULE, NOW).events[0].title == "Alertmanager alert 3f2c9a1b7d6e5f40"
    long_title = alert(annotations={"summary": "a\nb\t" + "y" * 500})
    title = webhook_alerts(payload(long_title), RULE, NOW).events[0].title
    assert title.startswith("a b y") and len(title) == 300
    huge = alert(annotations={f"note{i}": "\u00e9" * 1000 for i in range(32)})
    (event,) = webhook_alerts(payload(huge), RULE, NOW).events
    assert len(json.dumps(event.details)) <= MAX_DETAILS_BYTES
    assert "annotations_dropped" in event.details["alertmanager"]


def test_labels_are_sanitised_where_that_changes_nothing_and_refused_where_it_would() -> None:
    labels = {
        "alertname": "Weird",
        "empty": "",  # Prometheus: no label at all
        "multiline": "line one\nline two",
        "long": "v" * 400,
        "source": "node-exporter",  # relops' own: replaced
    }
    (event,) = webhook_alerts(payload(alert(labels=labels)), RULE, NOW).events
    assert "empty" not in event.labels
    assert event.labels["multiline"] == "line one line two"
    assert len(event.labels["long"]) == MAX_VALUE_CHARS and event.labels["long"].endswith("…")
    assert event.labels["source"] == "alertmanager" and event.labels["severity"] == "warning"
    many = {f"l{i}": "x" for i in range(31)}
    found = webhook_alerts(payload(alert(labels=many)), RULE, NOW)
    assert found.events == [] and found.rejections[0].field == "labels" and "more than 30" in found.rejections[0].reason
    bad_name = {"alertname": "A", "x" * 70: "y"}
    assert "label name" in webhook_alerts(payload(alert(labels=bad_name)), RULE, NOW).rejections[0].reason


def test_bad_alerts_are_refused_alone_by_index_field_and_reason() -> None:
    alerts = [
        alert("aaaa000000000001"),
        alert("bad fingerprint!"),
        alert("aaaa000000000003", status="pending"),
        "not an alert",
        alert("aaaa000000000005", startsAt="yesterday"),
        alert("aaaa000000000006", startsAt="0001-01-01T00:00:00Z"),
        alert("aaaa000000000007", labels={"alertname": "X", "n": 3}),
        alert("aaaa000000000008", annotations=["summary"]),
        alert("aaaa000000000009", labels={"alertname": "Loop", RELOPS_FINGERPRINT_LABEL: "slo:checkout"}),
        alert("aaaa00000000000a"),
    ]
    found = webhook_alerts(payload(*alerts), RULE, NOW)
    assert [e.fingerprint for e in found.events] == ["am:aaaa000000000001", "am:aaaa00000000000a"]
    refused = {r.item_index: (r.field, r.reason) for r in found.rejections}
    assert refused[1][0] == "fingerprint"
    assert refused[2] == ("status", "must be firing or resolved, got 'pending'")
    assert refused[3][0] == "alerts" and "must be an object" in refused[3][1]
    assert refused[4][0] == "startsAt" and "RFC 3339" in refused[4][1]
    assert refused[5] == ("startsAt", "is missing: a firing alert says when it started")
    assert refused[6][0] == "labels" and "string value" in refused[6][1]
    assert refused[7][0] == "annotations"
    assert refused[8][0] == "labels" and "relops' own alert" in refused[8][1]
    assert sorted(refused) == [1, 2, 3, 4, 5, 6, 7, 8]
    # The excerpt says which alert it was, not its whole text.
    assert "bad fingerprint!" in found.rejections[0].excerpt


def test_relops_own_alerts_are_recognised_by_the_label_the_receiver_adds() -> None:
    assert RELOPS_FINGERPRINT_LABEL == FINGERPRINT_LABEL


def test_a_payload_that_is_not_a_version_4_notification_is_refused_whole() -> None:
    for broken, field in [
        (payload(alert(), version="3"), "version"),
        ({k: v for k, v in payload(alert()).items() if k != "version"}, "version"),
        (payload(alerts={"0": alert()}), "alerts"),
        (payload(truncatedAlerts=-1), "truncatedAlerts"),
        (payload(*[alert()] * (MAX_ALERTS + 1)), "alerts"),
    ]:
        with pytest.raises(InputRejected) as caught:
            webhook_alerts(broken, RULE, NOW)
        assert caught.value.field == field
    # Fields newer Alertmanagers add are read past.
    newer = payload(alert(), notification_reason="repeat", routeLabels={"team": "a"})
    assert len(webhook_alerts(newer, RULE, NOW).events) == 1
    assert webhook_alerts(payload(truncatedAlerts=3), RULE, NOW).truncated_alerts == 3


def test_the_intake_answers_400_for_a_body_that_is_not_a_notification() -> None:
    for body in (b"not json", b"[]", json.dumps(payload(version="2")).encode()):
        with pytest.raises(Refused) as caught:
            alertmanager_alerts(body, RULE, NOW)
        assert caught.value.status == 400
    found = alertmanager_alerts(json.dumps(payload(alert())).encode(), RULE, NOW)
    assert found.group_key == '{}:{alertname="CheckoutErrors"}'


def test_the_mapping_does_not_change_the_payload() -> None:
    sent = payload(alert(), alert("bbbb000000000002", status="resolved"))
    kept = copy.deepcopy(sent)
    webhook_alerts(sent, RULE, NOW)
    assert sent == kept


def test_a_prometheus_alert_about_a_flow_is_inhibited_by_that_flows_dependency() -> None:
    config = parse_config(
        {
            "flows": [{"name": "booking", "objective_percent": 99.9, "depends_on": ["inventory"]}],
            "breakers": {"inventory": {}},
        },
        "test.toml",
    )
    labels = {"alertname": "BookingLatency", "flow": "booking", "severity": "critical"}
    (event,) = webhook_alerts(payload(alert(labels=labels)), RULE, NOW).events
    assert dependencies_of(config, event.labels) == ("inventory",)
    assert inhibition(dependencies_of(config, event.labels), lambda d: d == "inventory") == "dependency:inventory"
    (other,) = webhook_alerts(payload(alert()), RULE, NOW).events
    assert dependencies_of(config, other.labels) == ()


def test_an_alerts_key_is_a_scope_of_its_own() -> None:
    assert parse_scopes("alerts") == ("alerts",)
    assert parse_scopes("alerts,cron") == ("cron", "alerts")
    key = ReportKey(1, "alertmanager", frozenset({"alerts"}), None, None, 10.0, 10)
    assert refusal(key, "alerts", ()) is None
    assert refusal(key, "cron", ["nightly"]) == "key 'alertmanager' has no cron scope (it has: alerts)"
    cron_only = ReportKey(2, "cron-svc", frozenset({"cron"}), None, frozenset({"nightly"}), 10.0, 10)
    assert refusal(cron_only, "alerts", ()) == "key 'cron-svc' has no alerts scope (it has: cron)"
    # A key narrowed to some jobs still takes every alert: alerts name no flow or job it knows.
    both = ReportKey(3, "both", frozenset({"cron", "alerts"}), None, frozenset({"nightly"}), 10.0, 10)
    assert refusal(both, "alerts", ()) is None
