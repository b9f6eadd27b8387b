"""Silences and maintenance windows, run in this process against the real PostgreSQL, Redis and local
receivers: what a silence mutes and what it never may, what its end owes, its notices, its limits."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from relops import names
from relops.alerting.alertmanager_webhook import SeverityRule, webhook_alerts
from relops.application.active_silences import ActiveSilences
from relops.application.audit import Actor
from relops.application.silences import add_silence, expire
from relops.cli import cli
from relops.config import MaintenanceConfig
from relops.errors import InputRejected
from relops.matchers import parse_matcher
from relops.timeutil import utcnow
from tests.integration.conftest import alert_event, cron_run_event, run_cli
from tests.integration.inprocess import InProcessWorker
from tests.integration.queries import scalar

pytestmark = pytest.mark.integration
OPERATOR = Actor("alice", "cli", "test-host")


def dispatch(inproc: InProcessWorker, **event) -> None:
    inproc.send(names.TASK_DISPATCH_ALERT, **event)
    inproc.settle()


def silence(inproc: InProcessWorker, *matchers: str, minutes: int = 60, reason: str = "deploy 4812", **kw) -> int:
    now = inproc.deps.now()
    added = add_silence(
        inproc.deps.engine,
        inproc.deps.config,
        OPERATOR,
        matchers=[parse_matcher(m) for m in matchers],
        match_all=kw.get("match_all", False),
        starts_at=kw.get("starts_at", now),
        ends_at=kw.get("ends_at", now + timedelta(minutes=minutes)),
        reason=reason,
        now=now,
    )
    return added.silence_id


def check_silences(inproc: InProcessWorker) -> None:
    inproc.send(names.TASK_CHECK_SILENCES)
    inproc.settle()


def texts(sink) -> list[str]:
    return [r.json["text"] for r in sink.requests]


def test_a_silenced_alert_is_recorded_and_counted_but_pages_nobody(inproc, db, webhook_sink, email_sink):
    silence_id = silence(inproc, "flow=checkout")
    check_silences(inproc)
    webhook_sink.clear()  # the start notice (tested below)
    for _ in range(3):
        dispatch(inproc, **alert_event("checkout"))
    dispatch(inproc, **alert_event("login"))  # not matched: pages as usual
    assert [t.split(" burning")[0] for t in texts(webhook_sink)] == ["🔴 CRITICAL: login"]
    assert email_sink.received == 1
    with db.connect() as conn:
        incident = conn.execute(text("SELECT * FROM ops_incidents WHERE fingerprint = 'slo:checkout'")).one()
        events = conn.execute(text("SELECT silenced_by FROM ops_alert_events WHERE fingerprint = 'slo:checkout'")).all()
    assert (incident.status, incident.occurrences, incident.silenced_by) == ("open", 3, f"silence:{silence_id}")
    assert incident.labels == {"source": "slo", "severity": "critical", "flow": "checkout"}
    assert incident.notified == {}
    assert [e.silenced_by for e in events] == [f"silence:{silence_id}"] * 3
    assert scalar(db, "SELECT muted FROM ops_silences WHERE id = :id", id=silence_id) == 3
    assert scalar(db, "SELECT count(*) FROM ops_notifications WHERE payload->>'fingerprint' = 'slo:checkout'") == 0


def test_matchers_equal_not_equal_and_regular_expressions(inproc, webhook_sink):
    silence(inproc, 'flow=~"log.*"', "severity!=critical")
    check_silences(inproc)
    webhook_sink.clear()
    dispatch(inproc, **alert_event("login", severity="warning"))  # muted
    dispatch(inproc, **alert_event("logout", severity="warning"))  # muted: the regex matches
    dispatch(inproc, **alert_event("login", severity="critical"))  # pages: severity is critical
    dispatch(inproc, **alert_event("blog", severity="warning"))  # pages: anchored, "blog" is not log.*
    assert sorted(t.split(" burning")[0] for t in texts(webhook_sink)) == [
        "🔴 CRITICAL: login",
        "🟠 WARNING: blog",
    ]


def test_an_expired_silence_lets_a_still_burning_flow_page_at_its_next_firing(inproc, db, webhook_sink):
    dispatch(inproc, **alert_event("checkout", severity="warning"))  # pages, and claims a 300 s dedup window
    silence_id = silence(inproc, "flow=checkout")
    check_silences(inproc)  # the start notice
    dispatch(inproc, **alert_event("checkout", severity="warning"))  # muted
    assert expire(inproc.deps.engine, OPERATOR, silence_id, utcnow())["muted"] == 1
    check_silences(inproc)  # the end: unmute, forget the dedup window, tell the webhook
    assert scalar(db, "SELECT silenced_by FROM ops_incidents WHERE fingerprint = 'slo:checkout'") is None
    dispatch(inproc, **alert_event("checkout", severity="warning"))  # the next evaluation
    pages = [t for t in texts(webhook_sink) if "checkout burning" in t]
    assert len(pages) == 2, texts(webhook_sink)  # the first, and one right after the silence, not 300 s later
    notices = [t for t in texts(webhook_sink) if "Silence #" in t]
    assert notices == [
        f"🔕 NOTICE: Silence #{silence_id} by alice: flow=checkout until {_until(db, silence_id)}",
        f"🔔 NOTICE: Silence #{silence_id} expired early by alice: muted 1 alert(s)",
    ]


def _until(db, silence_id: int) -> str:
    ends = scalar(db, "SELECT ends_at FROM ops_silences WHERE id = :id", id=silence_id)
    return ends.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def test_resolved_notices_reach_whoever_heard_the_firing_and_nobody_else(inproc, webhook_sink, email_sink):
    dispatch(inproc, **alert_event("checkout", severity="warning"))  # the webhook heard it
    silence(inproc, "source=slo")
    check_silences(inproc)
    dispatch(inproc, **alert_event("checkout", severity="critical"))  # muted: email never hears it
    dispatch(inproc, **alert_event("login"))  # opens inside the silence...
    resolved = {"severity": "ok", "status": "resolved", "title": "RESOLVED: it recovered"}
    dispatch(inproc, **alert_event("checkout", **resolved))
    dispatch(inproc, **alert_event("login", **resolved))  # ...and resolves inside it
    webhook = texts(webhook_sink)
    assert [t for t in webhook if "RESOLVED" in t] == ["✅ RESOLVED: it recovered"]  # checkout's only
    assert email_sink.received == 0


def test_notices_go_where_configured_and_a_silence_that_muted_nothing_is_called_out(inproc, webhook_sink, email_sink):
    silence_id = silence(inproc, "flow=search", reason="reindex")
    check_silences(inproc)
    check_silences(inproc)  # noticed once
    expire(inproc.deps.engine, OPERATOR, silence_id, utcnow())
    check_silences(inproc)
    start, end = webhook_sink.requests
    assert "flow=search" in start.json["text"] and "reindex" in str(start.json["blocks"])
    assert end.json["text"] == f"🔔 NOTICE: Silence #{silence_id} expired early by alice: muted nothing"
    assert "muted nothing in its whole life" in str(end.json["blocks"])
    assert email_sink.received == 0  # email takes no notices unless configured


def test_a_silence_that_reaches_its_end_unmutes_without_anyone_expiring_it(inproc, db, webhook_sink):
    now = utcnow()
    silence_id = silence(
        inproc, "flow=checkout", starts_at=now - timedelta(minutes=1), ends_at=now + timedelta(seconds=1)
    )
    check_silences(inproc)  # the start notice
    dispatch(inproc, **alert_event("checkout"))  # muted
    later = now + timedelta(seconds=5)
    inproc.deps = dataclasses.replace(inproc.deps, now=lambda: later)
    check_silences(inproc)
    assert scalar(db, "SELECT end_noticed_at IS NOT NULL FROM ops_silences WHERE id = :id", id=silence_id)
    assert f"Silence #{silence_id} reached its end: muted 1 alert(s)" in texts(webhook_sink)[-1]
    dispatch(inproc, **alert_event("checkout"))
    assert "checkout burning" in texts(webhook_sink)[-1]


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"matchers": ()}, "matchers", "to mute every alert, say so explicitly"),
        ({"reason": "  "}, "reason", "is required"),
        ({"ends_in": timedelta(days=8)}, "ends_at", "more than the maximum 168 h"),
        ({"ends_in": timedelta(minutes=-5)}, "ends_at", "not after the start"),
        ({"matchers": ("tier=1",)}, "matchers", "label 'tier' is not one relops sets"),
    ],
)
def test_a_silence_that_cannot_be_meant_is_refused_naming_its_field(inproc, changes, field, words):
    now = utcnow()
    spec = {
        "matchers": [parse_matcher(m) for m in changes.get("matchers", ("flow=checkout",))],
        "match_all": False,
        "starts_at": now,
        "ends_at": now + changes.get("ends_in", timedelta(hours=1)),
        "reason": changes.get("reason", "deploy"),
        "now": now,
    }
    with pytest.raises(InputRejected, match=words) as caught:
        add_silence(inproc.deps.engine, inproc.deps.config, OPERATOR, **spec)
    assert caught.value.field == field


def test_the_cli_adds_lists_and_expires_silences_and_says_what_they_match(inproc, db):
    dispatch(inproc, **alert_event("checkout"))
    added = run_cli("silence", "add", "--match", "flow=checkout", "--for", "2h", "--reason", "deploy 4812")
    silence_id = int(added.split()[1])
    assert "it matches now:" in added and "CRITICAL: checkout" in added
    assert f"#{silence_id:<5} active   flow=checkout" in run_cli("silence", "list")
    assert "muted 0  by" in run_cli("silence", "list")
    assert run_cli("silence", "expire", str(silence_id)).startswith(f"silence {silence_id} expired")
    assert "no active silences" in run_cli("silence", "list")
    assert f"#{silence_id:<5} expired" in run_cli("silence", "list", "--all")
    refused = CliRunner().invoke(cli, ["silence", "add", "--for", "1h", "--reason", "x"])
    assert refused.exit_code == 2 and "--match: none given: to mute every alert, say so explicitly" in refused.output
    bad_regex = CliRunner().invoke(cli, ["silence", "add", "-m", "flow=~(", "--for", "1h", "-r", "x"])
    assert bad_regex.exit_code == 2 and "is not a regular expression" in bad_regex.output
    everything = run_cli("silence", "add", "--all", "--for", "10m", "--reason", "storm")
    assert "silence" in everything
    with db.connect() as conn:
        actions = [r[0] for r in conn.execute(text("SELECT action FROM ops_audit WHERE target LIKE 'silence %'"))]
    assert actions == ["silence.add", "silence.expire", "silence.add"]


RIGA_NIGHTLY = MaintenanceConfig(
    name="db-nightly",
    schedule="0 3 * * *",
    duration_s=3600,
    timezone="Europe/Riga",
    matchers=("job=nightly-export",),
    description="database vacuum",
)


def at(moment: str):
    fixed = datetime.fromisoformat(moment)
    return lambda: fixed


@pytest.mark.parametrize(
    ("moment", "muted"),
    [
        ("2026-03-28T01:30:00+00:00", True),  # 03:30 EET, inside 03:00-04:00
        ("2026-03-29T00:30:00+00:00", False),  # 03:30 would not exist: clocks jump 03:00 -> 04:00
        ("2026-03-29T01:30:00+00:00", True),  # the window runs 04:00-05:00 EEST that night
        ("2026-10-25T00:30:00+00:00", True),  # 03:30 EEST, the first of the two 03:00s
        ("2026-10-25T01:30:00+00:00", False),  # the repeated hour: the window ran once, not twice
        ("2026-10-26T01:30:00+00:00", True),  # 03:30 EET, back to winter time
    ],
)
def test_a_maintenance_window_mutes_a_failing_job_across_dst_in_riga(inproc, db, webhook_sink, moment, muted):
    config = inproc.deps.config.model_copy(update={"maintenance": (RIGA_NIGHTLY,)})
    inproc.deps = dataclasses.replace(inproc.deps, config=config, now=at(moment))
    now = inproc.deps.now()
    for minutes in (2, 1):  # failure_threshold 2: the second failure pages
        inproc.send(names.TASK_CRON_RUN, **cron_run_event("failure", at=now - timedelta(minutes=minutes)))
        inproc.settle()
    silenced_by = scalar(
        db, "SELECT silenced_by FROM ops_incidents WHERE fingerprint = :f", f="cron:nightly-export:failing"
    )
    assert (silenced_by == "maintenance:db-nightly") is muted
    assert (webhook_sink.received == 0) is muted


def test_a_job_failing_inside_its_window_pages_after_it(inproc, db, webhook_sink):
    config = inproc.deps.config.model_copy(update={"maintenance": (RIGA_NIGHTLY,)})
    inside, after = "2026-11-20T01:30:00+00:00", "2026-11-20T02:10:00+00:00"  # 03:30 and 04:10 EET
    inproc.deps = dataclasses.replace(inproc.deps, config=config, now=at(inside))
    for minutes in (3, 2):
        inproc.send(names.TASK_CRON_RUN, **cron_run_event("failure", at=inproc.deps.now() - timedelta(minutes=minutes)))
        inproc.settle()
    assert webhook_sink.received == 0
    inproc.deps = dataclasses.replace(inproc.deps, now=at(after))
    inproc.deps.silences.forget()
    check_silences(inproc)  # the window closed: its incident is muted no more
    assert (
        scalar(db, "SELECT silenced_by FROM ops_incidents WHERE fingerprint = :f", f="cron:nightly-export:failing")
        is None
    )
    inproc.send(names.TASK_CRON_RUN, **cron_run_event("failure", at=inproc.deps.now() - timedelta(seconds=30)))
    inproc.settle()
    assert [r.json["text"] for r in webhook_sink.requests] == ["🔴 CRITICAL: nightly-export failed 3 times in a row"]


def test_a_process_that_has_not_seen_a_new_silence_yet_does_not_page_again(inproc, db, webhook_sink):
    """Each process sees a new silence up to SILENCE_RELOAD_S late. One that already mutes the
    incident forgets its dedup window (so the first firing after the silence pages at once); one
    that has not seen it yet must not take that as leave to page a second time."""
    fresh = inproc.deps
    stale = dataclasses.replace(fresh, silences=ActiveSilences(max_age_s=3600))
    inproc.deps = stale
    dispatch(inproc, **alert_event("checkout"))  # pages; this process loads its silences: none
    silence(inproc, "flow=checkout")
    inproc.deps = fresh
    dispatch(inproc, **alert_event("checkout"))  # muted where the silence is seen
    inproc.deps = stale
    dispatch(inproc, **alert_event("checkout"))  # where it is not seen yet
    assert [t.split(" burning")[0] for t in texts(webhook_sink)] == ["🔴 CRITICAL: checkout"]
    with db.connect() as conn:
        events = conn.execute(text("SELECT silenced_by FROM ops_alert_events ORDER BY id")).scalars().all()
    assert events[0] is None and events[1] == events[2] is not None


def test_a_silence_on_a_prometheus_label_mutes_alertmanager_alerts(inproc, db, webhook_sink):
    """alertname is a label Alertmanager's alerts carry ([intake] alertmanager_labels): a silence may
    match it, and mutes the alerts the intake takes from an Alertmanager webhook."""
    silence_id = silence(inproc, "alertname=DiskFull")
    check_silences(inproc)
    webhook_sink.clear()
    alerts = [
        {
            "status": "firing",
            "labels": {"alertname": name, "severity": "warning", "instance": "db-1"},
            "annotations": {"summary": f"{name} on db-1"},
            "startsAt": "2026-12-07T10:00:00Z",
            "fingerprint": fingerprint,
        }
        for name, fingerprint in (("DiskFull", "00000000000000d1"), ("LoadHigh", "00000000000000d2"))
    ]
    for event in webhook_alerts({"version": "4", "alerts": alerts}, SeverityRule(), utcnow()).events:
        dispatch(inproc, **event.as_kwargs())
    assert texts(webhook_sink) == ["🟠 WARNING: LoadHigh on db-1"]
    muted = scalar(db, "SELECT silenced_by FROM ops_incidents WHERE fingerprint = 'am:00000000000000d1'")
    assert muted == f"silence:{silence_id}"
