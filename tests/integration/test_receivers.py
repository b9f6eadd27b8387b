"""Receivers through real workers: each team's alerts reach its own webhook, and one team's webhook
failing (500 on every request) delays none of the other team's messages; once it answers again,
each of its alerts arrives exactly once."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import text

from relops.localdev.sink import HttpSink, SinkResponse
from tests.integration.conftest import alert_event, run_cli, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("worker", "channel_workers", "clean_tables")]


def fingerprints(sink: HttpSink, status: int = 200) -> list[str]:
    """Every alert in the messages ``sink`` answered with ``status``, once per message it was in."""
    found = []
    for request in sink.requests:
        if request.response_status == status:
            body = json.dumps(request.json)
            found += [f for f in FINGERPRINTS if f in body]
    return found


FLOWS = {"a": "payments", "b": "catalog"}
#: One alert per (team, flow-like name): distinct incidents, titles that say which.
FINGERPRINTS = [f"{team}-alert-{i}" for team in "ab" for i in range(4)]


def event(name: str) -> dict:
    team = name[0]
    return alert_event(
        FLOWS[team],
        fingerprint=f"slo:{name}",
        dedup_key=f"slo:{name}",
        title=f"CRITICAL: {name} burning",
        labels={"team": team, "flow": FLOWS[team]},
    )


def delivered(db, receiver: str) -> int:
    with db.connect() as conn:
        return conn.execute(
            text("SELECT count(*) FROM ops_notifications WHERE receiver = :r AND status = 'delivered'"), {"r": receiver}
        ).scalar()


def test_a_failing_team_webhook_delays_none_of_the_other_teams_messages(producer, db, team_a_sink, team_b_sink):
    team_a_sink.default = SinkResponse(status=500, body=b"upstream down")
    for name in FINGERPRINTS:  # interleaved: a-0, a-1, ... then b-0, ...; all at once
        producer.send_task("relops.dispatch_alert", kwargs=event(name), queue="alerts")

    b_names = sorted(f for f in FINGERPRINTS if f.startswith("b"))
    wait_for(lambda: sorted(fingerprints(team_b_sink)) == b_names, timeout_s=30, what="team b's alerts")
    # Team b has everything while team a is still failing: its webhook was tried and refused.
    failed_attempts = fingerprints(team_a_sink, status=500)
    assert failed_attempts and not fingerprints(team_a_sink)
    wait_for(lambda: len(team_a_sink.requests) >= 3, timeout_s=30, what="team a's webhook failing repeatedly")
    assert sorted(fingerprints(team_b_sink)) == b_names  # still exactly once each

    team_a_sink.default = SinkResponse()
    a_names = sorted(f for f in FINGERPRINTS if f.startswith("a"))
    wait_for(
        lambda: sorted(fingerprints(team_a_sink)) == a_names, timeout_s=60, what="team a's alerts after it recovers"
    )
    wait_for(lambda: delivered(db, "team-a") == 4 and delivered(db, "team-b") == 4, what="the outbox settled")
    # Nobody else heard the teams' alerts; the default webhook heard that team a's webhook was down.
    with db.connect() as conn:
        others = conn.execute(
            text(
                "SELECT DISTINCT payload->>'fingerprint' FROM ops_notifications "
                "WHERE receiver NOT IN ('team-a', 'team-b')"
            )
        ).scalars()
        assert set(others) <= {"breaker:team-a"}


class Beat:
    """Sends relops.check_incidents at most once a second while a wait polls, as beat would (every 15 s)."""

    def __init__(self, producer) -> None:
        self.producer = producer
        self.last = 0.0
        self.sent = 0

    def tick(self) -> None:
        if time.monotonic() - self.last >= 1.0:
            self.producer.send_task("relops.check_incidents", queue="alerts")
            self.last = time.monotonic()
            self.sent += 1


def escalation_mails(email_sink: HttpSink) -> list[str]:
    return [r.json["subject"] for r in email_sink.requests if r.json.get("to") == ["escalation@example.com"]]


def test_an_unacknowledged_incident_repeats_and_escalates_until_acknowledged(
    producer, worker, db, team_a_sink, email_sink
):
    """Team a's route: repeat every 4 s, escalate to the escalation email after 3 s (the test config)."""
    producer.send_task("relops.dispatch_alert", kwargs=event("a-alert-0"), queue="alerts")
    wait_for(lambda: fingerprints(team_a_sink) == ["a-alert-0"], what="the first page")
    beat = Beat(producer)

    def repeated_and_escalated() -> bool:
        beat.tick()
        repeats = [r for r in team_a_sink.requests if "Still firing" in json.dumps(r.json)]
        return bool(repeats) and bool(escalation_mails(email_sink))

    wait_for(repeated_and_escalated, timeout_s=30, what="a repeat to team a and the escalation email")
    assert len(escalation_mails(email_sink)) == 1 and "ESCALATED" in escalation_mails(email_sink)[0]
    with db.connect() as conn:
        row = conn.execute(text("SELECT id, escalations FROM ops_incidents WHERE fingerprint = 'slo:a-alert-0'")).one()
    assert [e["to"] for e in row.escalations] == ["escalation"]

    assert "acknowledged" in run_cli("incidents", "ack", str(row.id))
    with db.connect() as conn:
        owed_at_ack = conn.execute(text("SELECT count(*) FROM ops_notifications")).scalar()

    # Several checks run after the ack, each finding nothing left to follow up (the worker logs each result).
    def checks_finding_none() -> int:
        lines = worker.log_text().splitlines()
        return sum(
            "relops.check_incidents[" in line and "succeeded" in line and "'incidents': 0," in line for line in lines
        )

    before = checks_finding_none()
    wait_for(lambda: beat.tick() or checks_finding_none() >= before + 6, timeout_s=30, what="six more checks run")
    wait_for(lambda: delivered_all(db), what="the outbox settled")
    with db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM ops_notifications")).scalar() == owed_at_ack
    assert len(escalation_mails(email_sink)) == 1


def delivered_all(db) -> bool:
    with db.connect() as conn:
        return not conn.execute(text("SELECT count(*) FROM ops_notifications WHERE status <> 'delivered'")).scalar()


def test_a_routing_matrix_over_teams_and_severities(producer, db, team_a_sink, team_b_sink, webhook_sink, email_sink):
    """Through the workers: team a's and team b's flows at both severities, and a flow no team owns."""
    cases = {
        ("payments", "warning"): ["team-a"],
        ("payments", "critical"): ["team-a"],
        ("catalog", "warning"): ["team-b"],
        ("catalog", "critical"): ["team-b"],
        ("signup", "warning"): ["webhook"],
        ("signup", "critical"): ["email", "webhook"],
    }
    teams = {"payments": {"team": "a"}, "catalog": {"team": "b"}, "signup": {}}
    for (flow, severity), _ in cases.items():
        fingerprint = f"slo:matrix-{flow}-{severity}"
        kwargs = alert_event(
            flow,
            severity=severity,
            fingerprint=fingerprint,
            dedup_key=fingerprint,
            labels={**teams[flow], "flow": flow},
        )
        producer.send_task("relops.dispatch_alert", kwargs=kwargs, queue="alerts")
    wait_for(lambda: delivered_all(db) and count(db) == 7, timeout_s=30, what="every notification delivered")
    with db.connect() as conn:
        rows = conn.execute(text("SELECT payload->>'fingerprint', receiver FROM ops_notifications")).all()
    got: dict[tuple[str, str], list[str]] = {}
    for fingerprint, receiver in rows:
        _, flow, severity = fingerprint.split("-")
        got.setdefault((flow, severity), []).append(receiver)
    assert {k: sorted(v) for k, v in got.items()} == cases
    assert len(team_a_sink.requests) >= 1 and len(team_b_sink.requests) >= 1
    assert not any(
        "matrix-payments" in json.dumps(r.json) or "matrix-catalog" in json.dumps(r.json) for r in webhook_sink.requests
    )


def count(db) -> int:
    with db.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM ops_notifications")).scalar()
