"""Alert events: what a breach publishes, and what the alert queue refuses."""

from datetime import UTC, datetime

import pytest

from relops.alerting.events import REQUIRED_FIELDS, validate_alert_event
from relops.config import DEFAULT_WINDOWS, FlowConfig
from relops.errors import InputRejected
from relops.slo.alerts import slo_alert, slo_resolved
from relops.slo.burnrate import Counts, evaluate_flow, objective_fraction

AS_OF = datetime(2026, 11, 27, 12, 31, tzinfo=UTC)
FLOW = FlowConfig(name="checkout", objective_percent=99.9, runbook="checkout.md")


def evaluation(window_counts, period):
    return evaluate_flow(
        flow="checkout",
        objective=objective_fraction(FLOW.objective_percent),
        period_s=FLOW.period_s,
        rules=DEFAULT_WINDOWS,
        window_counts=window_counts,
        confirm_counts={},
        period_counts=period,
        budget_min_events=30,
    )


def test_a_burn_alert_carries_the_contract_fields_and_numbers():
    result = evaluation({"1h": Counts(good=980, bad=20)}, Counts(good=999_700, bad=300))
    event = slo_alert(result, FLOW, AS_OF, "https://runbooks/checkout.md").as_kwargs()
    assert set(event) == {*REQUIRED_FIELDS, "status", "labels"}
    assert event["status"] == "firing"
    assert event["labels"] == {"source": "slo", "severity": "critical", "flow": "checkout"}
    assert event["severity"] == "critical"
    assert event["dedup_key"] == event["fingerprint"] == "slo:checkout"
    assert event["title"] == "CRITICAL: checkout burning its error budget at 20.0x over 1h"
    assert "20 bad of 1000 events" in event["summary"]
    assert event["details"]["budget_remaining"] == 0.7
    assert event["details"]["time_to_exhaustion_s"] == int(0.7 * 30 * 86400 / 20)
    assert event["details"]["windows"]["6h"]["status"] == "no_data"
    assert validate_alert_event(event).title == event["title"]


def test_an_exhausted_budget_alert_says_so():
    result = evaluation({}, Counts(good=998_000, bad=2_000))
    event = slo_alert(result, FLOW, AS_OF, "")
    assert event.severity == "critical"
    assert "exhausted its error budget" in event.title


def test_a_healthy_flow_is_not_an_alert():
    with pytest.raises(ValueError):
        slo_alert(evaluation({"1h": Counts(good=100)}, Counts(good=100)), FLOW, AS_OF, "")


def valid_event():
    return slo_alert(
        evaluation({"1h": Counts(good=980, bad=20)}, Counts(good=980, bad=20)), FLOW, AS_OF, ""
    ).as_kwargs()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"severity": "meh"}, "severity"),
        ({"title": ""}, "title"),
        ({"title": "x" * 301}, "title"),
        ({"details": "x"}, "details"),
        ({"details": {"x": "y" * 70_000}}, "details"),
        ({"occurred_at": "yesterday"}, "occurred_at"),
        ({"dedup_key": 5}, "dedup_key"),
        ({"summary": "a\x00b"}, "summary"),
        ({"status": "maybe"}, "status"),
        ({"severity": "ok"}, "severity"),  # ok only closes an incident (status resolved)
        ({"colour": "red"}, "colour"),
    ],
)
def test_malformed_events_name_the_field(change, field):
    with pytest.raises(InputRejected) as caught:
        validate_alert_event({**valid_event(), **change})
    assert caught.value.field == field


def test_missing_field_is_named():
    event = valid_event()
    del event["runbook_url"]
    with pytest.raises(InputRejected, match="runbook_url: is missing"):
        validate_alert_event(event)


def test_a_resolution_event_closes_the_incident():
    result = evaluation({"1h": Counts(good=1000, bad=0)}, Counts(good=999_900, bad=100))
    event = slo_resolved(result, FLOW, AS_OF, "").as_kwargs()
    assert (event["status"], event["severity"], event["fingerprint"]) == ("resolved", "ok", "slo:checkout")
    assert event["title"] == "RESOLVED: checkout is no longer burning its error budget"
    assert validate_alert_event(event).status == "resolved"


def test_severity_and_status_are_taken_in_any_case_and_returned_lowercase():
    """Producers written against the original design send "CRITICAL"."""
    event = slo_alert(evaluation({"1h": Counts(good=900, bad=100)}, Counts(good=900, bad=100)), FLOW, AS_OF, "")
    shouted = validate_alert_event({**event.as_kwargs(), "severity": "CRITICAL", "status": "Firing"})
    assert (shouted.severity, shouted.status) == ("critical", "firing")
    resolved = validate_alert_event({**event.as_kwargs(), "severity": "OK", "status": "RESOLVED"})
    assert (resolved.severity, resolved.status) == ("ok", "resolved")
    with pytest.raises(InputRejected, match="any case") as caught:
        validate_alert_event({**event.as_kwargs(), "severity": "SEVERE"})
    assert caught.value.field == "severity"


def test_a_breaker_alert_links_its_runbook():
    from relops_client.breaker_machine import State

    from relops.breakers.alerts import breaker_event, breaker_runbook_url
    from relops.config import RelopsConfig

    url = breaker_runbook_url(RelopsConfig(runbook_base_url="https://runbooks.example.com/relops/"))
    assert url == "https://runbooks.example.com/relops/breakers.md"
    for before, after in ((State.CLOSED, State.OPEN), (State.HALF_OPEN, State.CLOSED)):
        event = breaker_event("postgres", before, after, 1_764_000_000_000, url)
        assert event is not None and event.runbook_url == url


def test_labels_are_derived_for_events_sent_without_them_and_checked_when_sent():
    base = {
        "dedup_key": "k",
        "summary": "",
        "details": {},
        "runbook_url": "",
        "occurred_at": AS_OF.isoformat(),
        "title": "t",
        "severity": "CRITICAL",
    }
    cron = validate_alert_event({**base, "fingerprint": "cron:nightly-export:failing", "source": "cron"})
    assert cron.labels == {"source": "cron", "severity": "critical", "job": "nightly-export", "problem": "failing"}
    own = validate_alert_event(
        {**base, "fingerprint": "disk:db-1", "source": "disks", "labels": {"team": "storage", "severity": "low"}}
    )
    assert own.labels == {"team": "storage", "source": "disks", "severity": "critical"}  # severity is the event's
    for bad, word in (
        ({"9team": "x"}, "label name '9team'"),
        ({"team": ""}, "1-256 characters"),
        ({"team": "a\nb"}, "control characters"),
        ({"team": 7}, "string value"),
        ({f"l{i}": "x" for i in range(33)}, "more than 32"),
        (["team"], "must be an object"),
    ):
        with pytest.raises(InputRejected, match=word) as caught:
            validate_alert_event({**base, "fingerprint": "x", "source": "s", "labels": bad})
        assert caught.value.field == "labels"


def test_a_flows_config_labels_reach_its_alerts():
    flow = FlowConfig(name="checkout", objective_percent=99.9, labels={"team": "payments", "tier": "1"})
    event = slo_alert(evaluation({"1h": Counts(good=980, bad=20)}, Counts(good=980, bad=20)), flow, AS_OF, "")
    assert event.labels == {
        "team": "payments",
        "tier": "1",
        "source": "slo",
        "severity": "critical",
        "flow": "checkout",
    }
    assert validate_alert_event(event.as_kwargs()) == event
