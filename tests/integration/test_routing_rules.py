"""Receivers and routes, run in this process against the real PostgreSQL, Redis and local receivers:
which receivers each alert reaches, per-receiver dedup, repeat intervals, and resolutions.

Team A and team B have webhooks of their own (one local server, told apart by path); the lead is
an email receiver with its own recipients (the local Resend stand-in); the default receivers stay
as the test config sets them up."""

from __future__ import annotations

import dataclasses
import json
import tomllib
from collections.abc import Iterator
from datetime import timedelta

import pytest
from relops_client.breaker_machine import State
from relops_client.breakers import BreakerRegistry
from sqlalchemy import text

from relops import names
from relops.channels.registry import build_receivers
from relops.config import parse_config
from relops.localdev.sink import HttpSink
from relops.settings import get_settings
from relops.timeutil import utcnow
from tests.integration.conftest import TEST_CONFIG, alert_event, cron_run_event, run_cli
from tests.integration.inprocess import InProcessWorker
from tests.integration.queries import incident_row, owed

pytestmark = pytest.mark.integration
TEAM_A_PATH, TEAM_B_PATH = "/hooks/team-a/a1b2c3d4e5f6g7h8i9", "/hooks/team-b/z9y8x7w6v5u4t3s2r1"
ROUTES = {
    "receivers": {
        "team-a": {"type": "webhook", "url_env": "TEAM_A_WEBHOOK_URL"},
        "team-b": {"type": "webhook", "url_env": "TEAM_B_WEBHOOK_URL"},
        "lead": {"type": "email", "to": ["lead@example.com"]},
    },
    "route": {
        "routes": [
            {
                "name": "team a",
                "matchers": ["team=a"],
                "receivers": ["team-a"],
                "repeat_interval_s": 600,
                "escalation": [{"after_s": 300, "to": "lead"}, {"after_s": 900, "to": "team-b"}],
            },
            {
                "name": "team b",
                "matchers": ["team=b"],
                "receivers": ["team-b"],
                "routes": [{"name": "b critical", "matchers": ["severity=critical"], "receivers": ["team-b", "lead"]}],
            },
        ]
    },
}


def teams_config():
    """The test config with the job and one dependency given to team b and team a, and the routes."""
    data = tomllib.loads(TEST_CONFIG.format(tick_interval_s=300))
    data["jobs"][0]["labels"] = {"team": "b"}
    data.setdefault("breakers", {})["google_calendar"] = {"labels": {"team": "a"}}
    return parse_config({**data, **ROUTES}, "teams.toml")


@pytest.fixture
def teams(inproc: InProcessWorker, monkeypatch: pytest.MonkeyPatch) -> Iterator[HttpSink]:
    """The in-process worker with the three-team config; yields the teams' webhook server."""
    with HttpSink() as hooks:
        monkeypatch.setenv("TEAM_A_WEBHOOK_URL", hooks.url + TEAM_A_PATH)
        monkeypatch.setenv("TEAM_B_WEBHOOK_URL", hooks.url + TEAM_B_PATH)
        config = teams_config()
        deps = inproc.deps
        inproc.deps = dataclasses.replace(
            deps,
            config=config,
            receivers=build_receivers(get_settings(), config),
            breakers=BreakerRegistry(config.breaker_settings(), lambda: inproc.redis),
        )
        yield hooks


def dispatch(inproc: InProcessWorker, **event) -> None:
    inproc.send(names.TASK_DISPATCH_ALERT, **event)
    inproc.settle()


def heard(hooks: HttpSink, path: str) -> list[str]:
    """Each message the webhook at ``path`` received, as its JSON text (blocks included)."""
    return [json.dumps(r.json) for r in hooks.requests if r.path == path]


def lead_mail(email_sink: HttpSink) -> list[str]:
    return [r.json["subject"] for r in email_sink.requests if r.json["to"] == ["lead@example.com"]]


def test_each_alert_reaches_its_teams_receivers_and_nobody_else(teams, inproc, db, webhook_sink, email_sink):
    dispatch(inproc, **alert_event("checkout", labels={"team": "a"}))
    dispatch(inproc, **alert_event("search", severity="warning", labels={"team": "b"}))
    dispatch(inproc, **alert_event("login", labels={"team": "b"}))
    dispatch(inproc, **alert_event("signup"))  # no team: the root's receivers
    inproc.send(names.TASK_CRON_RUN, **cron_run_event("failure"))  # the job belongs to team b
    inproc.send(names.TASK_CRON_RUN, **cron_run_event("failure"))
    inproc.settle()
    # A dependency of team a's, opened by some service: the beat check notices it.
    inproc.redis.hset("relops:breaker:google_calendar", mapping={"state": State.OPEN.value, "open_until": 0})
    inproc.send(names.TASK_CHECK_BREAKERS)
    inproc.settle()

    assert owed(db, "slo:checkout") == [("team-a", "firing")]
    assert owed(db, "slo:search") == [("team-b", "firing")]  # warning: the lead takes critical only
    assert owed(db, "slo:login") == [("lead", "firing"), ("team-b", "firing")]
    assert owed(db, "slo:signup") == [("email", "firing"), ("webhook", "firing")]
    assert owed(db, "cron:nightly-export:failing") == [("lead", "firing"), ("team-b", "firing")]
    assert owed(db, "breaker:google_calendar") == [("team-a", "firing")]

    team_a, team_b = heard(teams, TEAM_A_PATH), heard(teams, TEAM_B_PATH)
    assert any("checkout" in t for t in team_a) and any("google_calendar" in t for t in team_a)
    assert not any(w in t for t in team_a for w in ("search", "login", "signup", "nightly"))
    assert {"search", "login", "nightly-export"} <= {
        w for t in team_b for w in ("search", "login", "nightly-export") if w in t
    }
    assert not any("checkout" in t or "signup" in t for t in team_b)
    assert any("login" in s for s in lead_mail(email_sink)) and any(
        "nightly-export" in s for s in lead_mail(email_sink)
    )
    assert [t for t in (r.json["text"] for r in webhook_sink.requests)] and all(
        "signup" in r.json["text"] for r in webhook_sink.requests
    )
    with db.connect() as conn:
        route = conn.execute(text("SELECT route FROM ops_incidents WHERE fingerprint = 'slo:login'")).scalar()
    assert route == "route.routes[1].routes[0] 'b critical'"


def test_a_firing_repeats_only_after_its_routes_repeat_interval(teams, inproc, db):
    dispatch(inproc, **alert_event("checkout", labels={"team": "a"}))
    inproc.redis.delete(*inproc.redis.scan_iter("relops:dedup:*"))  # the dedup window is long over
    dispatch(inproc, **alert_event("checkout", labels={"team": "a"}))
    assert owed(db, "slo:checkout") == [("team-a", "firing")]  # team a's repeat interval is 600 s
    inproc.redis.delete(*inproc.redis.scan_iter("relops:dedup:*"))
    later = inproc.deps.now() + timedelta(seconds=601)
    inproc.deps = dataclasses.replace(inproc.deps, now=lambda: later)
    dispatch(inproc, **alert_event("checkout", labels={"team": "a"}))
    assert owed(db, "slo:checkout") == [("team-a", "firing"), ("team-a", "firing")]


def test_a_worse_severity_is_not_held_back_by_the_repeat_interval(teams, inproc, db):
    dispatch(inproc, **alert_event("search", severity="warning", labels={"team": "b"}))
    dispatch(inproc, **alert_event("search", severity="critical", labels={"team": "b"}))
    assert owed(db, "slo:search") == [("lead", "firing"), ("team-b", "firing"), ("team-b", "firing")]


def test_the_resolution_goes_to_every_receiver_that_heard_the_firing(teams, inproc, db, email_sink):
    dispatch(inproc, **alert_event("login", labels={"team": "b"}))
    dispatch(inproc, **alert_event("login", severity="ok", status="resolved", labels={"team": "b"}))
    assert owed(db, "slo:login") == [
        ("lead", "firing"),
        ("lead", "resolved"),
        ("team-b", "firing"),
        ("team-b", "resolved"),
    ]
    assert len(heard(teams, TEAM_B_PATH)) == 2 and len(lead_mail(email_sink)) == 2


def test_a_team_whose_webhook_is_not_configured_falls_back_to_the_root(inproc, db, monkeypatch, caplog):
    monkeypatch.delenv("TEAM_A_WEBHOOK_URL", raising=False)
    monkeypatch.setenv("TEAM_B_WEBHOOK_URL", "http://127.0.0.1:9/hooks/unused")
    config = teams_config()
    receivers = build_receivers(get_settings(), config)
    assert "team-a" not in receivers  # skipped with one line at start
    inproc.deps = dataclasses.replace(
        inproc.deps,
        config=config,
        receivers=receivers,
        breakers=BreakerRegistry(config.breaker_settings(), lambda: inproc.redis),
    )
    dispatch(inproc, **alert_event("checkout", labels={"team": "a"}))
    assert owed(db, "slo:checkout") == [("email", "firing"), ("webhook", "firing")]
    assert any("alert.fallback" in r.getMessage() and "unavailable=team-a" in r.getMessage() for r in caplog.records)


def test_notify_tasks_carry_their_receiver_and_old_messages_still_work(teams, inproc):
    dispatch(inproc, **alert_event("checkout", labels={"team": "a"}))
    sent = [s for s in inproc.ran if s.task == names.notify_task("webhook")]
    assert sent and all(s.kwargs["receiver"] == "team-a" for s in sent)
    assert all(s.queue == names.channel_queue("webhook") for s in sent)
    # A message queued before receivers existed has no receiver: the type's default one takes it.
    assert inproc.handlers[names.notify_task("webhook")](inproc.deps, {}) == {"message_key": None, "alerts": 0}


def at(inproc: InProcessWorker, seconds: float) -> None:
    """Move the worker's clock ``seconds`` past the real one."""
    moment = utcnow() + timedelta(seconds=seconds)
    inproc.deps = dataclasses.replace(inproc.deps, now=lambda: moment)


def check_incidents(inproc: InProcessWorker, seconds: float) -> None:
    at(inproc, seconds)
    inproc.send(names.TASK_CHECK_INCIDENTS)
    inproc.settle()


def test_an_open_incident_repeats_every_repeat_interval_until_acknowledged(teams, inproc, db):
    dispatch(inproc, **alert_event("checkout", severity="warning", labels={"team": "a"}))
    check_incidents(inproc, 60)
    assert owed(db, "slo:checkout") == [("team-a", "firing")]
    check_incidents(inproc, 601)
    check_incidents(inproc, 602)  # a second check right after: the repeat is owed once
    assert owed(db, "slo:checkout") == [("team-a", "firing")] * 2
    assert any("Still firing and not acknowledged" in t for t in heard(teams, TEAM_A_PATH))
    check_incidents(inproc, 1202)
    assert len(owed(db, "slo:checkout")) == 3
    run_cli("incidents", "ack", str(incident_row(db, "slo:checkout").id))
    check_incidents(inproc, 3000)
    assert len(owed(db, "slo:checkout")) == 3


def test_a_critical_incident_escalates_step_by_step_and_every_step_hears_the_resolution(teams, inproc, db, email_sink):
    dispatch(inproc, **alert_event("checkout", labels={"team": "a"}))
    check_incidents(inproc, 299)
    assert owed(db, "slo:checkout") == [("team-a", "firing")]
    check_incidents(inproc, 301)
    check_incidents(inproc, 302)
    assert owed(db, "slo:checkout") == [("lead", "firing"), ("team-a", "firing")]
    assert [s for s in lead_mail(email_sink) if "ESCALATED" in s]
    assert [e["to"] for e in incident_row(db, "slo:checkout").escalations] == ["lead"]
    check_incidents(inproc, 901)  # the second step, and team a's repeat is due too
    assert owed(db, "slo:checkout") == [
        ("lead", "firing"),
        ("team-a", "firing"),
        ("team-a", "firing"),
        ("team-b", "firing"),
    ]
    assert any("ESCALATED" in t and "checkout" in t for t in heard(teams, TEAM_B_PATH))
    dispatch(inproc, **alert_event("checkout", severity="ok", status="resolved", labels={"team": "a"}))
    resolved = [receiver for receiver, kind in owed(db, "slo:checkout") if kind == "resolved"]
    assert sorted(resolved) == ["lead", "team-a", "team-b"]
    assert [e["to"] for e in incident_row(db, "slo:checkout").escalations] == ["lead", "team-b"]  # its record stays
    at(inproc, 1000)
    dispatch(inproc, **alert_event("checkout", labels={"team": "a"}, occurred_at=inproc.deps.now().isoformat()))
    assert incident_row(db, "slo:checkout").escalations == []  # a new episode starts over


def test_warnings_acknowledged_and_silenced_incidents_never_escalate(teams, inproc, db):
    dispatch(inproc, **alert_event("checkout", severity="warning", labels={"team": "a"}))
    dispatch(inproc, **alert_event("refunds", labels={"team": "a"}))
    dispatch(inproc, **alert_event("payments", labels={"team": "a"}))
    run_cli("incidents", "ack", str(incident_row(db, "slo:refunds").id))
    run_cli("silence", "add", "--match", "flow=payments", "--for", "2h", "--reason", "known")
    dispatch(inproc, **alert_event("payments", labels={"team": "a"}))  # muted now
    check_incidents(inproc, 350)
    assert [r for r, _ in owed(db, "slo:checkout")] == ["team-a"]
    assert [r for r, _ in owed(db, "slo:refunds")] == ["team-a"]
    assert [r for r, _ in owed(db, "slo:payments")] == ["team-a"]
    assert incident_row(db, "slo:checkout").escalations == incident_row(db, "slo:refunds").escalations == []
