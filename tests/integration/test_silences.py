"""Silences through real workers: a burning flow evaluated again and again pages nobody while its
incident keeps counting, and pages at the first evaluation after the silence is expired early
(its dedup window, claimed by the page before the silence, does not hold it back). A flow that
recovers during a silence still sends its resolved notice to whoever heard it fire; one that burned
and recovered entirely inside the silence notifies nobody. A silence whose pattern would make a
backtracking engine run for hours holds up no alert it does not match."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import text

from relops import names
from relops.timeutil import evaluation_end, floor_minute, iso_minute, utcnow
from relops.wiring import SILENCE_RELOAD_S
from tests.integration.conftest import alert_event, run_cli, wait_for
from tests.integration.queries import batch_landed, scalar

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("worker", "channel_workers", "clean_tables")]


def send_outcomes(producer, db, flow: str, good: int, bad: int) -> None:
    minutes = [iso_minute(floor_minute(utcnow()) - timedelta(minutes=m)) for m in range(1, 4)]
    batch_id = uuid.uuid4().hex
    counts = [{"flow": flow, "minute": m, "good": good, "bad": bad} for m in minutes]
    producer.send_task("relops.record_flow_outcomes", kwargs={"batch_id": batch_id, "counts": counts}, queue="ingest")
    wait_for(lambda: batch_landed(db, batch_id), what="the outcomes ingested")


def burn(producer, db, flow: str = "checkout") -> None:
    """The flow fails 20 % of its requests over the last minutes: CRITICAL on the 1h window."""
    send_outcomes(producer, db, flow, good=80, bad=20)


def recover(producer, db, flow: str) -> None:
    """Enough good requests that no window burns and the budget is far from spent (60 bad in 300,300)."""
    send_outcomes(producer, db, flow, good=100_000, bad=0)


def evaluate(producer, *flows: str) -> None:
    """One evaluation of the flows (checkout by default), as the tick's chunk would run it."""
    as_of = evaluation_end(utcnow()).isoformat()
    chunk = list(flows or ["checkout"])
    producer.send_task("relops.evaluate_flows", kwargs={"as_of": as_of, "flows": chunk}, queue="evaluate")


def occurrences(db, flow: str = "checkout") -> int:
    return scalar(db, "SELECT coalesce(max(occurrences), 0) FROM ops_incidents WHERE fingerprint = :f", f=f"slo:{flow}")


def incident(db, flow: str):
    with db.connect() as conn:
        return conn.execute(text("SELECT * FROM ops_incidents WHERE fingerprint = :f"), {"f": f"slo:{flow}"}).one()


def pages(webhook_sink) -> list[str]:
    return [r.json["text"] for r in webhook_sink.requests if "checkout burning" in r.json["text"]]


def test_a_silenced_burning_flow_keeps_counting_and_pages_again_once_expired(producer, db, webhook_sink):
    burn(producer, db)
    evaluate(producer)
    wait_for(lambda: len(pages(webhook_sink)) == 1, timeout_s=30, what="the first page")

    added = run_cli("silence", "add", "--match", "flow=checkout", "--for", "1h", "--reason", "deploy 4812")
    everywhere_at = time.monotonic() + SILENCE_RELOAD_S
    silence_id = int(added.split()[1])
    assert "CRITICAL: checkout" in added  # it matches the open incident now

    def muted_once_more() -> bool:
        # Every alerts process has reloaded its silences once SILENCE_RELOAD_S has passed; one
        # process seen muting says nothing of the other.
        sent_at = time.monotonic()
        before = occurrences(db)
        evaluate(producer)
        wait_for(lambda: occurrences(db) > before, what="the evaluation counted")
        muted = scalar(db, "SELECT silenced_by FROM ops_incidents WHERE fingerprint = 'slo:checkout'") is not None
        return muted and sent_at > everywhere_at

    wait_for(muted_once_more, timeout_s=30, what="the silence in force")
    for _ in range(3):
        assert muted_once_more()
    producer.send_task("relops.check_silences", queue="alerts")
    wait_for(lambda: any(f"Silence #{silence_id}" in r.json["text"] for r in webhook_sink.requests), what="notice")
    assert len(pages(webhook_sink)) == 1  # nothing while silenced, however often it burned
    muted = scalar(db, "SELECT muted FROM ops_silences WHERE id = :id", id=silence_id)
    assert muted >= 4

    assert f"silence {silence_id} expired" in run_cli("silence", "expire", str(silence_id))
    producer.send_task("relops.check_silences", queue="alerts")
    wait_for(
        lambda: scalar(db, "SELECT end_noticed_at FROM ops_silences WHERE id = :id", id=silence_id) is not None,
        what="the end processed",
    )
    evaluate(producer)  # the next tick
    wait_for(lambda: len(pages(webhook_sink)) == 2, timeout_s=30, what="a page right after the silence")
    with db.connect() as conn:
        ended = conn.execute(text("SELECT count(*) FROM ops_notifications WHERE payload->>'kind' = 'notice'")).scalar()
    assert ended == 2  # created and ended, on the webhook only


def test_a_flow_that_recovers_while_silenced_resolves_where_it_was_heard_and_nowhere_else(producer, db, webhook_sink):
    burn(producer, db, "checkout")
    evaluate(producer, "checkout")
    wait_for(lambda: len(pages(webhook_sink)) == 1, timeout_s=30, what="checkout's page, before the silence")
    run_cli("silence", "add", "--match", "source=slo", "--for", "1h", "--reason", "db failover")
    everywhere_at = time.monotonic() + SILENCE_RELOAD_S

    def in_force() -> bool:  # in force in every alerts process once SILENCE_RELOAD_S has passed
        sent_at = time.monotonic()
        before = occurrences(db)
        evaluate(producer, "checkout")
        wait_for(lambda: occurrences(db) > before, what="the evaluation counted")
        return incident(db, "checkout").silenced_by is not None and sent_at > everywhere_at

    wait_for(in_force, timeout_s=30, what="the silence in force")
    burn(producer, db, "login")  # burns and recovers inside the silence
    evaluate(producer, "login")
    wait_for(lambda: occurrences(db, "login") >= 1, what="login's incident")
    assert incident(db, "login").silenced_by is not None

    recover(producer, db, "checkout")
    recover(producer, db, "login")
    evaluate(producer, "checkout", "login")
    resolved = "RESOLVED: checkout is no longer burning"
    wait_for(lambda: any(resolved in r.json["text"] for r in webhook_sink.requests), timeout_s=30, what="resolved")
    wait_for(lambda: incident(db, "login").status == "resolved", what="login resolved")
    assert not any("login" in r.json["text"] for r in webhook_sink.requests)
    login_id = incident(db, "login").id
    owed = scalar(db, "SELECT count(*) FROM ops_notifications WHERE incident_id = :i", i=login_id)
    assert owed == 0  # no channel owes anyone a word about login, now or later


def test_an_alert_pages_while_a_backtracking_silence_is_in_force(producer, db, webhook_sink):
    # With Python's re, matching this pattern against the hostile flow below would take hours: the
    # worker's soft time limit then failed the task and the alert was never routed.
    run_cli("silence", "add", "--match", 'flow=~"(.*-)*eu-west"', "--for", "1h", "--reason", "region move")
    everywhere_at = time.monotonic() + SILENCE_RELOAD_S

    def muted_once_more() -> bool:  # in force in every alerts process once SILENCE_RELOAD_S has passed
        sent_at = time.monotonic()
        before = occurrences(db, "shop-eu-west")
        producer.send_task(names.TASK_DISPATCH_ALERT, kwargs=alert_event("shop-eu-west"), queue="alerts")
        wait_for(lambda: occurrences(db, "shop-eu-west") > before, what="the matching alert recorded")
        return incident(db, "shop-eu-west").silenced_by is not None and sent_at > everywhere_at

    wait_for(muted_once_more, timeout_s=30, what="the silence in force")
    hostile = "a-" * 40
    for _ in range(2):  # two, so that more than one of the worker's processes is likely to meet it
        producer.send_task(names.TASK_DISPATCH_ALERT, kwargs=alert_event(hostile), queue="alerts")

    def paged() -> bool:
        return occurrences(db, hostile) == 2 and any(f"{hostile} burning" in t for t in texts_sent(webhook_sink))

    wait_for(paged, timeout_s=30, what="the alert the silence does not match, recorded twice and paged")
    assert incident(db, hostile).silenced_by is None
    assert not any("shop-eu-west burning" in t for t in texts_sent(webhook_sink))


def texts_sent(webhook_sink) -> list[str]:
    return [r.json["text"] for r in webhook_sink.requests]
