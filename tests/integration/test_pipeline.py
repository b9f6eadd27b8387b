"""Outcomes as Celery messages -> tick -> parallel chunk evaluation -> snapshots -> alert events, on
Redis and on RabbitMQ (each test takes the broker_* fixtures, conftest.broker)."""

from __future__ import annotations

import json
import re
import uuid
from datetime import timedelta

import pytest
from relops_client.queues import connection_queue_type, task_queue
from sqlalchemy import text

from relops.timeutil import evaluation_end, floor_minute, iso_minute, utcnow
from tests.integration.conftest import run_cli, wait_for
from tests.integration.queries import batch_landed

pytestmark = pytest.mark.integration

INGEST = "relops.record_flow_outcomes"


def send_batch(producer, counts, batch_id=None):
    batch_id = batch_id or uuid.uuid4().hex
    producer.send_task(INGEST, kwargs={"batch_id": batch_id, "counts": counts}, queue="ingest")
    return batch_id


def minute_ago(minutes: int) -> str:
    return iso_minute(floor_minute(utcnow()) - timedelta(minutes=minutes))


def test_breach_flows_from_outcomes_to_snapshot_and_alert(broker_worker, broker_producer, db, clean_tables):
    counts = []
    for m in range(10):  # last 10 minutes: checkout 20 bad of 1,000 (20x at 99.9 %), login healthy
        counts.append({"flow": "checkout", "minute": minute_ago(m), "good": 98, "bad": 2})
        counts.append({"flow": "login", "minute": minute_ago(m), "good": 100, "bad": 0})
    batch_id = send_batch(broker_producer, counts)
    wait_for(lambda: batch_landed(db, batch_id), what="batch ingested")

    broker_producer.send_task("relops.evaluate_tick", queue="evaluate")

    def snapshots():
        with db.connect() as conn:
            rows = conn.execute(text("SELECT flow, severity, windows, budget_remaining FROM ops_burn_rate_snapshots"))
            found = {r.flow: r for r in rows}
        return found if {"checkout", "login"} <= found.keys() else None

    found = wait_for(snapshots, what="snapshots for checkout and login")
    assert found["checkout"].severity == "critical"
    one_hour = next(w for w in found["checkout"].windows if w["window"] == "1h")
    assert (one_hour["events"], one_hour["errors"], one_hour["burn_rate"]) == (1000, 20, 20.0)
    assert one_hour["status"] == "critical"
    assert found["login"].severity == "ok"
    # Flows with no events at all get no snapshot row.
    assert "search" not in found

    def alert():
        with db.connect() as conn:
            return conn.execute(text("SELECT * FROM ops_alert_events WHERE fingerprint = 'slo:checkout'")).first()

    event = wait_for(alert, what="alert event for checkout")
    assert event.severity == "critical"
    assert event.source == "slo"
    assert event.dedup_key == "slo:checkout"
    assert "20.0x" in event.title and "checkout" in event.title
    assert event.runbook_url == "checkout.md"
    assert event.details["windows"]["1h"] == {
        "window_s": 3600,
        "events": 1000,
        "errors": 20,
        "burn_rate": 20.0,
        "status": "critical",
    }
    assert event.details["time_to_exhaustion_s"] is not None
    with db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM ops_alert_events")).scalar() == 1


def test_a_redelivered_batch_is_counted_once(broker_worker, broker_producer, db, clean_tables):
    counts = [{"flow": "login", "minute": minute_ago(1), "good": 7, "bad": 3}]
    batch_id = send_batch(broker_producer, counts)
    send_batch(broker_producer, counts, batch_id=batch_id)
    marker = send_batch(broker_producer, [{"flow": "signup", "minute": minute_ago(1), "good": 1, "bad": 0}])
    wait_for(lambda: batch_landed(db, marker) and batch_landed(db, batch_id), what="batches ingested")
    wait_for(
        lambda: "ingest.duplicate_batch" in broker_worker.log_text() and batch_id in broker_worker.log_text(),
        what="duplicate logged",
    )
    with db.connect() as conn:
        row = conn.execute(text("SELECT good, bad FROM ops_flow_minutes WHERE flow = 'login'")).one()
        hour = conn.execute(text("SELECT good, bad FROM ops_flow_hours WHERE flow = 'login'")).one()
    assert tuple(row) == (7, 3)
    assert tuple(hour) == (7, 3)


def test_bad_items_are_rejected_and_the_valid_ones_land(broker_worker, broker_producer, db, clean_tables):
    batch_id = send_batch(
        broker_producer,
        [
            {"flow": "checkout", "minute": minute_ago(2), "good": 5, "bad": 1},
            {"flow": "no-such-flow", "minute": minute_ago(2), "good": 1, "bad": 0},
            {"flow": "checkout", "minute": minute_ago(2), "good": -1, "bad": 0},
            {"flow": "checkout", "minute": "yesterday", "good": 1, "bad": 0},
            {"flow": "checkout", "minute": "2026-11-27T10:24:30Z", "good": 1, "bad": 0},
            "not an object",
        ],
    )
    wait_for(lambda: batch_landed(db, batch_id), what="batch ingested")
    with db.connect() as conn:
        assert tuple(conn.execute(text("SELECT good, bad FROM ops_flow_minutes")).one()) == (5, 1)
        rejected = conn.execute(
            text("SELECT item_index, field, reason FROM ops_rejected_inputs WHERE reference = :b ORDER BY item_index"),
            {"b": batch_id},
        ).all()
    assert [(r.item_index, r.field) for r in rejected] == [
        (1, "flow"),
        (2, "good"),
        (3, "minute"),
        (4, "minute"),
        (5, "item"),
    ]
    assert "not a flow in the relops config" in rejected[0].reason
    assert "negative" in rejected[1].reason
    assert "whole minute" in rejected[3].reason
    log = broker_worker.log_text()
    assert re.search(rf"event=ingest.rejected batch_id={batch_id} item=1 field=flow", log)


def test_poisoned_messages_do_not_stop_the_worker(broker, broker_worker, broker_producer, db, clean_tables):
    from kombu import Connection

    with Connection(broker.url) as conn:
        # Put raw bytes on the queue as it is declared on this broker (RabbitMQ refuses another form).
        queue = conn.SimpleQueue(task_queue("ingest", connection_queue_type(conn)))
        queue.put(b"\x00\xff not json {{{", content_type="application/json", content_encoding="binary")
        queue.put(
            b"cos\nsystem\n(S'echo pwned'\ntR.",
            content_type="application/x-python-serialize",
            content_encoding="binary",
        )
        queue.close()
    broker_producer.send_task(INGEST, kwargs={"batch_id": 12, "counts": "x"}, queue="ingest")
    broker_producer.send_task(INGEST, kwargs={"batch_id": "ok-1", "counts": "x"}, queue="ingest")
    broker_producer.send_task(INGEST, args=[1, 2, 3, 4], queue="ingest")
    broker_producer.send_task("relops.dispatch_alert", kwargs={"severity": "meh"}, queue="alerts")
    batch_id = send_batch(broker_producer, [{"flow": "login", "minute": minute_ago(0), "good": 4, "bad": 0}])

    wait_for(lambda: batch_landed(db, batch_id), what="valid batch after the poison")
    assert broker_worker.alive()
    with db.connect() as conn:
        fields = dict(conn.execute(text("SELECT field, reason FROM ops_rejected_inputs")).all())
    assert "batch_id" in fields and "counts" in fields
    assert fields["args"] == "outcome batches are sent as kwargs, not positional arguments"
    wait_for(lambda: "event=alert.rejected" in broker_worker.log_text(), what="alert rejection logged")


def test_chunks_are_evaluated_in_parallel_processes(broker_worker, broker_producer, db, clean_tables):
    counts = [
        {"flow": flow, "minute": minute_ago(1), "good": 50, "bad": 0}
        for flow in ("checkout", "login", "search", "signup")
    ]
    batch_id = send_batch(broker_producer, counts)
    wait_for(lambda: batch_landed(db, batch_id), what="batch ingested")
    broker_producer.send_task("relops.evaluate_tick", queue="evaluate")

    def count():
        with db.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM ops_burn_rate_snapshots")).scalar() == 4

    wait_for(count, what="4 snapshots")
    with db.connect() as conn:
        tick = conn.execute(text("SELECT flows, chunks, as_of FROM ops_evaluation_ticks")).one()
    assert (tick.flows, tick.chunks) == (9, 5)  # the test config's flows, chunk_size = 2
    assert tick.as_of == evaluation_end(tick.as_of - timedelta(seconds=30))
    chunk_lines = [line for line in broker_worker.log_text().splitlines() if "event=evaluate.chunk" in line]
    assert len(chunk_lines) >= 3


def test_a_second_tick_in_the_same_slot_is_skipped(broker_worker, broker_producer, db, clean_tables):
    broker_producer.send_task("relops.evaluate_tick", queue="evaluate")

    def ticks():
        with db.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM ops_evaluation_ticks")).scalar()

    wait_for(ticks, what="first tick")
    skipped_before = broker_worker.log_text().count("event=tick.skipped")
    broker_producer.send_task("relops.evaluate_tick", queue="evaluate")
    # Count, not presence: the session log holds skips of earlier tests.
    wait_for(lambda: broker_worker.log_text().count("event=tick.skipped") > skipped_before, what="second tick skipped")
    with db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM ops_evaluation_ticks")).scalar() == 1


def test_a_flow_that_recovers_resolves_its_incident_and_says_so(
    broker_worker, broker_channel_workers, broker_producer, db, clean_tables, webhook_sink
):
    # login (99.5 %): 10 bad of 100 is 20x, critical.
    batch_id = send_batch(broker_producer, [{"flow": "login", "minute": minute_ago(3), "good": 90, "bad": 10}])
    wait_for(lambda: batch_landed(db, batch_id), what="bad batch ingested")
    broker_producer.send_task("relops.evaluate_tick", queue="evaluate")

    def incident_status():
        with db.connect() as conn:
            return conn.execute(text("SELECT status FROM ops_incidents WHERE fingerprint = 'slo:login'")).scalar()

    wait_for(lambda: incident_status() == "open", what="incident opened by the breach")
    webhook_sink.wait_for_requests(1, timeout_s=20)

    # A flood of good outcomes brings every window and the budget back under the thresholds.
    batch_id = send_batch(broker_producer, [{"flow": "login", "minute": minute_ago(1), "good": 100_000, "bad": 0}])
    wait_for(lambda: batch_landed(db, batch_id), what="good batch ingested")
    with db.begin() as conn:
        conn.execute(text("TRUNCATE ops_evaluation_ticks"))  # a second tick inside the same 5-minute slot
    broker_producer.send_task("relops.evaluate_tick", queue="evaluate")

    wait_for(lambda: incident_status() == "resolved", what="incident resolved by the recovery")
    resolved = webhook_sink.wait_for_requests(2, timeout_s=20)[1]
    assert "RESOLVED" in resolved.json["text"] and "login" in resolved.json["text"]


def test_relops_status_shows_the_same_snapshot(
    broker_worker, broker_channel_workers, broker_producer, db, clean_tables, relops_env
):
    batch_id = send_batch(broker_producer, [{"flow": "checkout", "minute": minute_ago(2), "good": 80, "bad": 20}])
    wait_for(lambda: batch_landed(db, batch_id), what="batch ingested")
    broker_producer.send_task("relops.evaluate_tick", queue="evaluate")

    def incident_open():
        with db.connect() as conn:
            return conn.execute(text("SELECT status FROM ops_incidents WHERE fingerprint = 'slo:checkout'")).scalar()

    wait_for(lambda: incident_open() == "open", what="checkout incident")
    snap = json.loads(run_cli("status", "--json"))
    assert snap["status"] == "CRITICAL"
    checkout = next(f for f in snap["flows"] if f["flow"] == "checkout")
    assert checkout["severity"] == "critical" and checkout["windows"]["1h"]["burn_rate"] == 200.0
    assert next(i["title"] for i in snap["incidents"]).startswith("CRITICAL: checkout")
    assert {"postgres", "webhook"} <= set(snap["breakers"])
    table = run_cli("status")
    assert "relops: CRITICAL" in table and "checkout" in table
