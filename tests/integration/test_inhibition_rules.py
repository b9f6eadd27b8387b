"""Inhibition by dependency, run in this process against the real PostgreSQL, Redis and local
receivers: while the inventory breaker is open, the alerts of the flows and the job that depend on
it are recorded but page nobody; the breaker's own alert pages once; when it closes, what still
fails pages at once and what recovered meanwhile tells nobody."""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Iterator
from datetime import timedelta

import pytest
from relops_client.breakers import BreakerRegistry, CircuitBreaker
from sqlalchemy import text

from relops import names
from relops.alerting.alertmanager_webhook import SeverityRule, webhook_alerts
from relops.channels.registry import build_receivers
from relops.config import parse_config
from relops.settings import get_settings
from relops.timeutil import utcnow
from tests.integration.conftest import TEST_CONFIG, alert_event, cron_run_event, run_cli
from tests.integration.inprocess import InProcessWorker
from tests.integration.queries import incident_row, owed
from tests.support.celery_process import poll_until

pytestmark = pytest.mark.integration


@pytest.fixture
def inventory(inproc: InProcessWorker) -> Iterator[CircuitBreaker]:
    """The in-process worker with booking, stock and the nightly job depending on inventory; yields
    inventory's breaker (shared state in this run's Redis, as a service using guard() sees it)."""
    data = tomllib.loads(TEST_CONFIG.format(tick_interval_s=300))
    data["jobs"][0]["depends_on"] = ["inventory"]  # booking and stock depend on it already
    data["breakers"]["inventory"] = {"failure_threshold": 2, "open_s": 0.2, "refresh_s": 0}
    config = parse_config(data, "inventory.toml")
    registry = BreakerRegistry(config.breaker_settings(), lambda: inproc.redis)
    inproc.deps = dataclasses.replace(
        inproc.deps, config=config, receivers=build_receivers(get_settings(), config), breakers=registry
    )
    yield registry.get("inventory")


def open_breaker(breaker: CircuitBreaker) -> None:
    for _ in range(2):
        breaker.record(breaker.admit(), ok=False)
    assert breaker.is_degraded()


def close_breaker(breaker: CircuitBreaker) -> None:
    """A trial call after open_s succeeds."""
    ticket = poll_until(breaker.admit, timeout_s=5, what="a trial call admitted")
    breaker.record(ticket, ok=True)
    assert not breaker.is_degraded()


def dispatch(inproc: InProcessWorker, **event) -> None:
    inproc.send(names.TASK_DISPATCH_ALERT, **event)
    inproc.settle()


def run(inproc: InProcessWorker, task: str) -> None:
    inproc.send(task)
    inproc.settle()


def test_an_open_dependency_inhibits_its_dependants_and_pages_once_itself(inventory, inproc, db, webhook_sink):
    open_breaker(inventory)
    for _ in range(3):
        dispatch(inproc, **alert_event("booking"))
        dispatch(inproc, **alert_event("stock", severity="warning"))
    run(inproc, names.TASK_CHECK_BREAKERS)  # the beat check notices the breaker a service opened

    assert owed(db, "slo:booking") == owed(db, "slo:stock") == []
    assert incident_row(db, "slo:booking").inhibited_by == "dependency:inventory"
    assert incident_row(db, "slo:booking").occurrences == 3  # recorded, and counted
    with db.connect() as conn:
        events = conn.execute(
            text("SELECT count(*) FROM ops_alert_events WHERE inhibited_by = 'dependency:inventory'")
        ).scalar()
    assert events == 6
    assert owed(db, "breaker:inventory") == [("webhook", "firing")]
    [page] = [r.json["text"] for r in webhook_sink.requests]
    assert page.endswith("WARNING: inventory is degraded (circuit open)")


def test_when_it_closes_what_still_burns_pages_at_once_and_what_recovered_tells_nobody(inventory, inproc, db):
    dispatch(inproc, **alert_event("booking"))  # paged before the outage
    open_breaker(inventory)
    dispatch(inproc, **alert_event("booking"))
    dispatch(inproc, **alert_event("stock"))  # opens and resolves inside the outage
    dispatch(inproc, **alert_event("stock", severity="ok", status="resolved"))
    close_breaker(inventory)
    dispatch(inproc, **alert_event("booking"))  # the next evaluation: still burning

    assert owed(db, "slo:booking") == [
        ("email", "firing"),
        ("email", "firing"),
        ("webhook", "firing"),
        ("webhook", "firing"),
    ]
    assert incident_row(db, "slo:booking").inhibited_by is None
    assert owed(db, "slo:stock") == []
    dispatch(inproc, **alert_event("booking", severity="ok", status="resolved"))
    assert sorted(k for _, k in owed(db, "slo:booking")).count("resolved") == 2


def test_a_resolution_during_the_outage_reaches_whoever_heard_the_firing(inventory, inproc, db):
    dispatch(inproc, **alert_event("booking"))
    open_breaker(inventory)
    dispatch(inproc, **alert_event("booking"))
    dispatch(inproc, **alert_event("booking", severity="ok", status="resolved"))
    assert owed(db, "slo:booking") == [
        ("email", "firing"),
        ("email", "resolved"),
        ("webhook", "firing"),
        ("webhook", "resolved"),
    ]


def test_silencing_the_dependencys_alert_does_not_lift_the_inhibition(inventory, inproc, db):
    run_cli("silence", "add", "--match", "dependency=inventory", "--for", "1h", "--reason", "vendor outage, known")
    open_breaker(inventory)
    run(inproc, names.TASK_CHECK_BREAKERS)
    dispatch(inproc, **alert_event("booking"))
    assert incident_row(db, "breaker:inventory").silenced_by is not None
    assert owed(db, "breaker:inventory") == [] and owed(db, "slo:booking") == []
    assert incident_row(db, "slo:booking").inhibited_by == "dependency:inventory"


def test_a_jobs_failure_paged_before_the_outage_is_repeated_an_interval_after_its_last_muted_alert(
    inventory, inproc, db
):
    fingerprint = "cron:nightly-export:failing"
    for _ in range(2):  # the job's failure threshold: it pages
        inproc.send(names.TASK_CRON_RUN, **cron_run_event("failure"))
    inproc.settle()
    assert owed(db, fingerprint) == [("email", "firing"), ("webhook", "firing")]
    open_breaker(inventory)
    inproc.send(names.TASK_CRON_RUN, **cron_run_event("failure"))  # fails again, explained by the outage
    inproc.settle()
    assert incident_row(db, fingerprint).inhibited_by == "dependency:inventory"
    close_breaker(inventory)
    run(inproc, names.TASK_CHECK_INCIDENTS)  # the inhibition ends; the job fires only when it runs
    assert incident_row(db, fingerprint).inhibited_by is None and len(owed(db, fingerprint)) == 2
    later = utcnow() + timedelta(hours=4, seconds=1)  # the root's repeat interval after its last alert
    inproc.deps = dataclasses.replace(inproc.deps, now=lambda: later)
    run(inproc, names.TASK_CHECK_INCIDENTS)
    assert owed(db, fingerprint) == [("email", "firing")] * 2 + [("webhook", "firing")] * 2


def test_an_incident_muted_from_its_first_alert_pages_at_its_next_one(inventory, inproc, db):
    open_breaker(inventory)
    dispatch(inproc, **alert_event("stock"))
    close_breaker(inventory)
    later = utcnow() + timedelta(hours=5)
    inproc.deps = dataclasses.replace(inproc.deps, now=lambda: later)
    run(inproc, names.TASK_CHECK_INCIDENTS)
    assert owed(db, "slo:stock") == []
    dispatch(inproc, **alert_event("stock"))
    assert owed(db, "slo:stock") == [("email", "firing"), ("webhook", "firing")]


def test_an_unknown_breaker_state_never_inhibits(inventory, inproc, db):
    """Redis cannot say (no state: CLOSED, a breaker that never opened): the alert pages."""
    inproc.redis.delete("relops:breaker:inventory")
    dispatch(inproc, **alert_event("booking"))
    assert owed(db, "slo:booking") == [("email", "firing"), ("webhook", "firing")]


def test_a_prometheus_alert_about_a_dependant_flow_is_inhibited_like_relops_own(inventory, inproc, db):
    """An alert from Alertmanager's webhook (relops.alerting.alertmanager_webhook) labelled with a flow
    is that flow's: the flow's open dependency inhibits it, and its closing lets the next one page."""
    notification = {
        "version": "4",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "BookingLatencyHigh", "flow": "booking", "severity": "critical"},
                "annotations": {"summary": "Booking p99 above 2 s"},
                "startsAt": "2026-12-07T10:00:00Z",
                "fingerprint": "0123456789abcdef",
            }
        ],
    }
    (event,) = webhook_alerts(notification, SeverityRule(), utcnow()).events
    open_breaker(inventory)
    dispatch(inproc, **event.as_kwargs())
    assert incident_row(db, "am:0123456789abcdef").inhibited_by == "dependency:inventory"
    assert owed(db, "am:0123456789abcdef") == []
    close_breaker(inventory)
    dispatch(inproc, **event.as_kwargs())  # Alertmanager's next re-send
    assert incident_row(db, "am:0123456789abcdef").inhibited_by is None
    assert owed(db, "am:0123456789abcdef") == [("email", "firing"), ("webhook", "firing")]
