"""What GET /metrics exposes, made from facts in this process: names, labels, values, both formats
(OpenMetrics checked with prometheus_client's own parser), and Sloth's series as Sloth names them."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client.exposition import generate_latest
from prometheus_client.openmetrics.exposition import CONTENT_TYPE_LATEST
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families as parse_text

from relops.application.metrics import metric_families, read_queues
from relops.config import RelopsConfig, parse_config
from relops.errors import BrokerError
from relops.metrics.exposition import writer_for
from relops.metrics.facts import Facts, FlowFacts, IncidentCount, IntakeTotal, JobFacts, WindowFacts
from relops.metrics.sloth import go_float, prometheus_duration, sloth_labels

AT = datetime(2026, 12, 7, 12, 1, tzinfo=UTC)
#: A flow name that needs escaping in label values (quotes, a backslash, a newline is not allowed).
ODD = 'odd "flow" \\ name'


def config(sloth: bool = False) -> RelopsConfig:
    return parse_config(
        {
            "metrics": {"sloth_compatible": sloth, "sloth_service": "shop"},
            "flows": [
                {"name": "checkout", "objective_percent": 99.9, "labels": {"team": "payments", "tier": "1"}},
                {"name": "search", "objective_percent": 99, "period_days": 7, "labels": {"service": "finder"}},
                {"name": "idle", "objective_percent": 99.5},
                {"name": ODD, "objective_percent": 99.5},
            ],
            "jobs": [{"name": "nightly", "period_s": 86400}],
            "breakers": {"inventory": {"labels": {"team": "payments"}}},
        },
        "test.toml",
    )


def facts() -> Facts:
    checkout = FlowFacts(
        evaluated_at=AT,
        severity="critical",
        budget_remaining=0.25,
        budget_remaining_uncorrected=0.1,
        period_events=100_000,
        period_errors=75,
        windows={"1h": WindowFacts(1000, 20, 20.0), "6h": WindowFacts(6000, 30, 5.0)},
    )
    search = FlowFacts(
        evaluated_at=AT - timedelta(minutes=1),
        severity="ok",
        budget_remaining=0.9,
        budget_remaining_uncorrected=None,
        period_events=5000,
        period_errors=5,
        windows={"1h": WindowFacts(100, 0, 0.0)},
    )
    odd = FlowFacts(AT, "warning", 0.5, None, 10, 1, {"24h": WindowFacts(10, 1, 20.0)})
    return Facts(
        flows={"checkout": checkout, "search": search, ODD: odd},
        jobs=[JobFacts("nightly", "failing", AT - timedelta(hours=1), AT - timedelta(days=1), 42.5, 3, AT)],
        breakers={
            "inventory": {"state": "open", "failures": 5, "last_transition_ms": 1_765_000_000_000},
            "webhook": {"state": "unknown", "reason": "redis unreachable"},
        },
        incidents=[
            IncidentCount("open", "critical", "payments", 2),
            IncidentCount("acknowledged", "warning", "", 1),
            IncidentCount("open", "warning", "made-up-by-a-service", 4),
        ],
        silences_active=3,
        silences_pending=1,
        notifications={("webhook", "pending"): 7},
        dead_letters={"email": 2},
        intake=[IntakeTotal("outcomes", 202, 1234, AT - timedelta(days=3)), IntakeTotal("cron", 401, 5, AT)],
        scrapes={"prometheus": 17},
        last_tick_at=AT - timedelta(seconds=20),
        queues={"cron": 12, "alerts.webhook": 0},
        broker_answered=True,
    )


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a classic-format exposition: (name, labels) -> value."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in parse_text(text)
        for sample in family.samples
    }


def exposition(sloth: bool = False) -> str:
    class Collector:
        def collect(self):
            return metric_families(config(sloth), facts(), ["webhook", "email"])

    return generate_latest(Collector()).decode()


def value(found: dict, name: str, **labels: str) -> float:
    return found[(name, frozenset(labels.items()))]


def test_flow_series_carry_the_latest_evaluation():
    found = samples(exposition())
    assert value(found, "relops_flow_objective_ratio", flow="checkout") == pytest.approx(0.999)
    assert value(found, "relops_flow_period_seconds", flow="search") == 7 * 86400
    assert value(found, "relops_flow_severity", flow="checkout", severity="critical") == 2
    assert value(found, "relops_flow_severity", flow="search", severity="ok") == 0
    assert value(found, "relops_flow_severity", flow="idle", severity="no_data") == 0
    assert value(found, "relops_flow_error_budget_remaining_ratio", flow="checkout") == 0.25
    assert value(found, "relops_flow_error_budget_remaining_uncorrected_ratio", flow="checkout") == 0.1
    # Without corrections the uncorrected budget is the budget.
    assert value(found, "relops_flow_error_budget_remaining_uncorrected_ratio", flow="search") == 0.9
    assert value(found, "relops_flow_burn_rate_ratio", flow="checkout", window="1h") == 20.0
    assert value(found, "relops_flow_window_events", flow="checkout", window="6h") == 6000
    assert value(found, "relops_flow_window_errors", flow="checkout", window="6h") == 30
    # A window without events: counts of 0, and no burn rate (no data is not a burn rate of 0).
    assert value(found, "relops_flow_window_events", flow="checkout", window="24h") == 0
    assert ("relops_flow_burn_rate_ratio", frozenset({("flow", "checkout"), ("window", "24h")})) not in found
    assert value(found, "relops_flow_info", flow="checkout", team="payments", tier="1") == 1
    # Only flows with config labels have an info series.
    assert not [key for key in found if key[0] == "relops_flow_info" and ("flow", "idle") in key[1]]
    # A flow never evaluated: its config, its no_data severity, nothing else.
    assert not [key for key in found if ("flow", "idle") in key[1] and "window" in dict(key[1])]
    assert ("relops_flow_error_budget_remaining_ratio", frozenset({("flow", "idle")})) not in found


def test_label_values_are_escaped_and_read_back_exactly():
    found = samples(exposition())
    assert value(found, "relops_flow_burn_rate_ratio", flow=ODD, window="24h") == 20.0
    assert value(found, "relops_flow_severity", flow=ODD, severity="warning") == 1


def test_jobs_breakers_incidents_outbox_intake_and_staleness():
    found = samples(exposition())
    assert value(found, "relops_job_state", job_name="nightly", state="failing") == 2
    assert value(found, "relops_job_consecutive_failures", job_name="nightly") == 3
    assert value(found, "relops_job_last_duration_seconds", job_name="nightly") == 42.5
    assert (
        value(found, "relops_job_last_start_timestamp_seconds", job_name="nightly")
        == (AT - timedelta(hours=1)).timestamp()
    )
    assert (
        value(found, "relops_job_last_success_timestamp_seconds", job_name="nightly")
        == (AT - timedelta(days=1)).timestamp()
    )
    assert value(found, "relops_job_next_deadline_timestamp_seconds", job_name="nightly") == AT.timestamp()
    assert value(found, "relops_breaker_state", dependency="inventory", state="open") == 1
    assert value(found, "relops_breaker_state", dependency="webhook", state="unknown") == 0
    assert value(found, "relops_breaker_failures", dependency="inventory") == 5
    assert value(found, "relops_breaker_last_transition_timestamp_seconds", dependency="inventory") == 1_765_000_000
    assert value(found, "relops_unresolved_incidents", status="open", severity="critical", team="payments") == 2
    # A team the config never declares is counted as "other": the label stays bounded.
    assert value(found, "relops_unresolved_incidents", status="open", severity="warning", team="other") == 4
    assert value(found, "relops_unresolved_incidents", status="acknowledged", severity="warning", team="") == 1
    # Every declared combination is present, at 0 when nothing is open.
    assert value(found, "relops_unresolved_incidents", status="open", severity="warning", team="payments") == 0
    assert value(found, "relops_silences", state="active") == 3
    assert value(found, "relops_silences", state="pending") == 1
    assert value(found, "relops_undelivered_notifications", receiver="webhook", status="pending") == 7
    assert value(found, "relops_undelivered_notifications", receiver="email", status="sending") == 0
    assert value(found, "relops_dead_letters_total", receiver="email") == 2
    assert value(found, "relops_dead_letters_total", receiver="webhook") == 0
    assert value(found, "relops_intake_requests_total", endpoint="outcomes", status="202") == 1234
    assert (
        value(found, "relops_intake_requests_created", endpoint="outcomes", status="202")
        == (AT - timedelta(days=3)).timestamp()
    )
    assert value(found, "relops_metrics_scrapes_total", key="prometheus") == 17
    assert value(found, "relops_last_tick_timestamp_seconds") == (AT - timedelta(seconds=20)).timestamp()
    assert value(found, "relops_last_evaluation_timestamp_seconds") == AT.timestamp()
    assert value(found, "relops_window_length_seconds", window="6h") == 21600
    assert value(found, "relops_window_burn_rate_threshold_ratio", window="1h", severity="critical") == 14
    assert value(found, "relops_build_info", version="0.1.0") == 1


def test_queue_depths_and_whether_the_broker_answered():
    found = samples(exposition())
    assert value(found, "relops_broker_up") == 1
    assert value(found, "relops_queue_messages", queue="cron") == 12
    assert value(found, "relops_queue_messages", queue="alerts.webhook") == 0

    def families_of(**changes: object) -> set[str]:
        return {family.name for family in metric_families(config(), replace(facts(), **changes), ["webhook"])}

    # A broker that did not answer: up is 0 and no queue is guessed at; not asked: neither series.
    assert {"relops_broker_up"} <= families_of(queues=None, broker_answered=False)
    assert "relops_queue_messages" not in families_of(queues=None, broker_answered=False)
    assert not {"relops_broker_up", "relops_queue_messages"} & families_of(queues=None, broker_answered=None)


def test_a_broker_that_does_not_answer_is_a_value_not_a_failed_scrape(caplog: pytest.LogCaptureFixture):
    def unreachable() -> dict[str, int]:
        raise BrokerError("cannot read the queues of the broker at redis://127.0.0.1:1/0 (ConnectionError: refused)")

    assert read_queues(lambda: {"cron": 3}) == ({"cron": 3}, True)
    assert read_queues(None) == (None, None)
    assert read_queues(unreachable) == (None, False)
    assert "metrics.broker_unreadable" in caplog.text


def test_every_name_is_relops_and_every_type_is_declared():
    text = exposition()
    families = list(parse_text(text))
    assert all(f.name.startswith("relops_") for f in families), [f.name for f in families]
    assert {f.name: f.type for f in families}["relops_intake_requests"] == "counter"
    assert {f.name: f.type for f in families}["relops_flow_burn_rate_ratio"] == "gauge"


def test_openmetrics_when_asked_and_it_parses():
    write, content_type = writer_for("application/openmetrics-text;version=1.0.0,text/plain;q=0.5")
    assert content_type.startswith(CONTENT_TYPE_LATEST.split(";")[0])
    text = write(metric_families(config(True), facts(), ["webhook"])).decode()
    assert text.endswith("# EOF\n")
    families = {family.name: family for family in parse_openmetrics(text)}
    assert families["relops_flow_burn_rate_ratio"].unit == "ratio"
    # Sloth's names keep their colons on every line (prometheus_client's default OpenMetrics escaping
    # would write the samples as slo_objective_ratio under a slo:objective:ratio TYPE line).
    assert "slo_objective_ratio" not in text
    assert {"slo:objective:ratio", "slo:sli_error:ratio_rate1h", "slo:period_error_budget_remaining:ratio"} <= set(
        families
    )
    assert len(families["slo:objective:ratio"].samples) == 4
    assert families["relops_intake_requests"].type == "counter"
    assert families["relops_flow"].type == "info"
    assert families["sloth_slo"].type == "info"
    # The classic format otherwise (what curl gets).
    assert writer_for("")[1].startswith("text/plain; version=0.0.4")


def test_no_sloth_series_unless_the_config_asks():
    assert "slo:" not in exposition()
    assert "sloth_" not in exposition()


def test_sloth_series_as_sloths_rules_name_and_compute_them():
    found = samples(exposition(sloth=True))
    ids = {
        "sloth_id": "shop-checkout",
        "sloth_service": "shop",
        "sloth_slo": "checkout",
        "team": "payments",
        "tier": "1",
    }
    assert value(found, "slo:objective:ratio", **ids) == 99.9 / 100
    assert value(found, "slo:error_budget:ratio", **ids) == 1 - 99.9 / 100
    assert value(found, "slo:time_period:days", **ids) == 30
    allowance = 1 - 99.9 / 100
    assert value(found, "slo:sli_error:ratio_rate1h", **ids, sloth_window="1h") == 20 / 1000
    assert value(found, "slo:sli_error:ratio_rate6h", **ids, sloth_window="6h") == 30 / 6000
    assert value(found, "slo:sli_error:ratio_rate30d", **ids, sloth_window="30d") == 75 / 100_000
    # The 24h window (Sloth writes it 1d) had no events: 0/0, NaN as Sloth's rule gives.
    assert math.isnan(value(found, "slo:sli_error:ratio_rate1d", **ids, sloth_window="1d"))
    assert value(found, "slo:current_burn_rate:ratio", **ids) == pytest.approx((20 / 1000) / allowance)
    assert value(found, "slo:period_burn_rate:ratio", **ids) == pytest.approx((75 / 100_000) / allowance)
    assert value(found, "slo:period_error_budget_remaining:ratio", **ids) == pytest.approx(
        1 - (75 / 100_000) / allowance
    )
    info = {
        **ids,
        "sloth_version": "0.1.0",
        "sloth_mode": "relops",
        "sloth_spec": "relops/v1",
        "sloth_objective": "99.9",
    }
    assert value(found, "sloth_slo_info", **info) == 1
    # A flow's service label names its service; a 7-day period is Prometheus' 1w.
    search = {"sloth_id": "finder-search", "sloth_service": "finder", "sloth_slo": "search", "service": "finder"}
    assert value(found, "slo:sli_error:ratio_rate1w", **search, sloth_window="1w") == 5 / 5000
    assert value(found, "slo:time_period:days", **search) == 7
    # A flow never evaluated has Sloth's constants only.
    idle = {"sloth_id": "shop-idle", "sloth_service": "shop", "sloth_slo": "idle"}
    assert value(found, "slo:objective:ratio", **idle) == 0.995
    assert ("slo:current_burn_rate:ratio", frozenset(idle.items())) not in found


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (300, "5m"),
        (3600, "1h"),
        (5400, "1h30m"),
        (86400, "1d"),
        (259200, "3d"),
        (604800, "1w"),
        (2592000, "30d"),
        (2419200, "4w"),
        (31536000, "1y"),
        (90, "1m30s"),
    ],
)
def test_durations_are_written_as_prometheus_writes_them(seconds, text):
    assert prometheus_duration(seconds) == text


def test_objectives_are_written_as_go_writes_them():
    from decimal import Decimal

    assert go_float(Decimal("99.9")) == "99.9"
    assert go_float(Decimal("99.90")) == "99.9"
    assert go_float(Decimal("99")) == "99"
    assert go_float(Decimal("99.95")) == "99.95"


def test_sloth_labels_leave_out_reserved_names():
    cfg = parse_config(
        {"flows": [{"name": "a", "objective_percent": 99, "labels": {"sloth_window": "x", "team": "t"}}]}, "t.toml"
    )
    assert sloth_labels(cfg, cfg.flows[0]) == {
        "team": "t",
        "sloth_id": "relops-a",
        "sloth_service": "relops",
        "sloth_slo": "a",
    }
