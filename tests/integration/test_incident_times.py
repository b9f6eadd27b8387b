"""An incident records when things happened: it opens when the evaluation that paged for it ran, not
at the end of the windows that evaluation read (the close of the current minute, in the future), and
never later than now, whatever clock its sender keeps. Run in this process against the real
PostgreSQL, Redis and local receivers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from relops import names
from relops.alerting.timeline import incident_timeline
from relops.slo.outcome_batch import OutcomeCount
from relops.store.outcomes import ingest_batch
from relops.timeutil import evaluation_end, floor_minute, parse_utc, utcnow
from tests.integration.conftest import alert_event

pytestmark = pytest.mark.integration


def ingest(db, flow: str, good: int, bad: int, minutes: int = 10) -> None:
    """``good`` and ``bad`` requests in each of the last ``minutes`` minutes."""
    now = utcnow()
    items = [OutcomeCount(flow, floor_minute(now) - timedelta(minutes=m), good, bad) for m in range(minutes)]
    with db.begin() as conn:
        ingest_batch(conn, f"{flow}-{now.timestamp()}", items, rejected=0, minute_horizon=now - timedelta(days=2))


def ingest_outage(db, flow: str) -> None:
    ingest(db, flow, good=50, bad=50)


def incident_rows(db, fingerprint: str):
    with db.connect() as conn:
        incident = conn.execute(text("SELECT * FROM ops_incidents WHERE fingerprint = :f"), {"f": fingerprint}).one()
        notifications = (
            conn.execute(text("SELECT * FROM ops_notifications WHERE incident_id = :i"), {"i": incident.id})
            .mappings()
            .all()
        )
    return incident, notifications


def test_an_incident_opens_when_its_evaluation_ran_before_its_page_is_delivered(inproc, db, webhook_sink):
    ingest_outage(db, "checkout")
    before = utcnow()
    as_of = evaluation_end(before)  # the close of this minute
    inproc.send(names.TASK_EVALUATE_FLOWS, as_of=as_of.isoformat(), flows=["checkout"])
    inproc.settle()
    after = utcnow()

    incident, notifications = incident_rows(db, "slo:checkout")
    assert incident.severity == "critical"
    assert before <= incident.opened_at <= after < as_of
    assert incident.first_seen == incident.last_seen == incident.opened_at
    delivered = [n["delivered_at"] for n in notifications]
    assert len(delivered) == 2 and all(incident.opened_at <= at <= after for at in delivered)
    # The event says when it happened; its details keep the windows' end.
    event = incident.last_event
    assert before <= parse_utc(event["occurred_at"]) <= after
    assert event["details"]["evaluated_at"] == as_of.isoformat()

    timeline = incident_timeline(incident._mapping, notifications, [])
    assert timeline[0].kind == "opened"
    assert all(e.at <= after for e in timeline)


def test_a_sender_whose_clock_runs_ahead_never_opens_an_incident_in_the_future(inproc, db, webhook_sink):
    ahead = utcnow() + timedelta(minutes=5)
    inproc.send(names.TASK_DISPATCH_ALERT, **alert_event("login", occurred_at=ahead.isoformat()))
    inproc.settle()
    after = utcnow()
    incident, _ = incident_rows(db, "slo:login")
    assert incident.opened_at <= after and incident.last_seen <= after

    inproc.send(names.TASK_DISPATCH_ALERT, **alert_event("login", status="resolved", occurred_at=ahead.isoformat()))
    inproc.settle()
    incident, _ = incident_rows(db, "slo:login")
    assert incident.status == "resolved"
    assert incident.resolved_at <= utcnow()


def test_a_flow_that_recovers_and_breaches_again_within_one_minute_reopens_its_incident(inproc, db, webhook_sink):
    """Ticks every 20 s share their minute's as_of: what orders their events is when they ran."""
    as_of = evaluation_end(utcnow())

    def evaluate() -> str:
        inproc.send(names.TASK_EVALUATE_FLOWS, as_of=as_of.isoformat(), flows=["signup"])
        inproc.settle()
        return incident_rows(db, "slo:signup")[0].status

    ingest_outage(db, "signup")
    assert evaluate() == "open"
    with db.begin() as conn:  # the outage's counts gone, healthy traffic instead
        for table in ("ops_flow_minutes", "ops_flow_hours", "ops_flow_days"):
            conn.execute(text(f"DELETE FROM {table} WHERE flow = 'signup'"))
    ingest(db, "signup", good=100, bad=0)
    assert evaluate() == "resolved"
    ingest(db, "signup", good=0, bad=100)
    reopened_after = utcnow()
    assert evaluate() == "open"
    assert incident_rows(db, "slo:signup")[0].opened_at >= reopened_after
