"""Hostile payloads for every public task through a real worker: each is rejected with a clear
record, the worker keeps going, and the valid message behind them still lands."""

from __future__ import annotations

import uuid

import pytest
import redis
from sqlalchemy import text

from relops.timeutil import floor_minute, iso_minute, utcnow
from tests.integration.conftest import wait_for
from tests.integration.queries import batch_landed, scalar

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("worker", "clean_tables")]


def nested(depth: int) -> object:
    value: object = "bottom"
    for _ in range(depth):
        value = {"x": [value]}
    return value


HOSTILE = {
    "relops.record_flow_outcomes": [
        {"batch_id": "b" * 10_000, "counts": []},
        {"batch_id": ["not", "a", "string"], "counts": []},
        {"batch_id": "ok", "counts": nested(400)},
        {"batch_id": "ok2", "counts": {"flow": "checkout"}},
        {"batch_id": "ok3\x00", "counts": []},
    ],
    "relops.record_flow_outcome_batches": [
        {"batches": "not a list"},
        {"batches": [7]},
        {"batches": [{"batch_id": ["not", "a", "string"], "counts": []}]},  # recorded as its batch's own task
    ],
    "relops.dispatch_alert": [
        {"severity": "critical"},
        {
            "dedup_key": "k",
            "fingerprint": "f",
            "severity": "critical",
            "source": "s",
            "title": "t" * 100_000,
            "summary": "",
            "details": {},
            "runbook_url": "",
            "occurred_at": "2026-11-27T12:00:00Z",
        },
        {
            "dedup_key": "k",
            "fingerprint": "f",
            "severity": "critical",
            "source": "s",
            "title": "t",
            "summary": "",
            "details": nested(400),
            "runbook_url": "",
            "occurred_at": "2026-11-27T12:00:00Z",
        },
        {"unknown_field": 1},
    ],
    "relops.cron_run": [
        {"name": None, "run_id": "r", "status": "success", "at": "2026-11-27T12:00:00Z"},
        {"name": "j", "run_id": "r", "status": "success", "at": "2026-11-27T12:00:00Z", "result": nested(400)},
        {"name": "j", "run_id": "r", "status": "success", "at": 12345},
        {"name": "<script>" * 1000, "run_id": "r", "status": "started", "at": "2026-11-27T12:00:00Z"},
    ],
}
QUEUES = {
    "relops.record_flow_outcomes": "ingest",
    "relops.record_flow_outcome_batches": "ingest",
    "relops.dispatch_alert": "alerts",
    "relops.cron_run": "cron",
}


def test_every_hostile_payload_is_rejected_and_recorded(producer, db, worker, relops_env):
    for task, payloads in HOSTILE.items():
        for payload in payloads:
            producer.send_task(task, kwargs=payload, queue=QUEUES[task])
    batch_id = uuid.uuid4().hex
    minute = iso_minute(floor_minute(utcnow()))
    producer.send_task(
        "relops.record_flow_outcomes",
        queue="ingest",
        kwargs={"batch_id": batch_id, "counts": [{"flow": "login", "minute": minute, "good": 1, "bad": 0}]},
    )
    nested_payloads = 3  # refused while decoding, before any task runs (relops/safe_json.py)
    expected = sum(len(p) for p in HOSTILE.values()) - nested_payloads

    def rejected() -> int:
        return scalar(db, "SELECT count(*) FROM ops_rejected_inputs")

    wait_for(
        lambda: rejected() >= expected and batch_landed(db, batch_id),
        timeout_s=60,
        what=f"{expected} rejections and the valid batch",
    )
    assert rejected() == expected
    assert worker.alive()
    wait_for(
        # The session's worker also logs other refusals (relops/compression.py): count this kind only.
        lambda: worker.log_text().count('event=message.rejected reason="JSON nested deeper') == nested_payloads,
        what="the nested payloads refused at decoding",
    )
    faults = redis.Redis.from_url(relops_env["REDIS_URL"]).hget("relops:task-faults", "rejected:undecodable-message")
    assert int(faults) == nested_payloads
    with db.connect() as conn:
        rows = conn.execute(text("SELECT task, field, reason, length(excerpt) AS n FROM ops_rejected_inputs")).all()
    assert all(r.field and r.reason and r.n <= 400 for r in rows)
    assert {r.task for r in rows} == set(HOSTILE)
