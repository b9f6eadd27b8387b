"""relops.record_flow_outcome_batches, run in-process against the run's PostgreSQL: each batch of a
message lands as relops.record_flow_outcomes would land it, once by its id, and a bad one alone is
rejected."""

from __future__ import annotations

import uuid

from sqlalchemy import text

from relops import names
from relops.timeutil import utcnow
from tests.integration.queries import flow_totals, rejected_fields


def minute_now() -> str:
    return utcnow().strftime("%Y-%m-%dT%H:%M:00Z")


def test_each_batch_of_a_message_counts_once_and_a_bad_one_is_rejected_alone(inproc, db):
    minute = minute_now()
    batches = [
        {"batch_id": uuid.uuid4().hex, "counts": [{"flow": "checkout", "minute": minute, "good": 5, "bad": 1}]},
        "not a batch",
        {"batch_id": "", "counts": [{"flow": "checkout", "minute": minute, "good": 100, "bad": 100}]},
        {
            "batch_id": uuid.uuid4().hex,
            "counts": [
                {"flow": "checkout", "minute": minute, "good": 2, "bad": 0},
                {"flow": "nope", "minute": minute, "good": 1, "bad": 1},
            ],
        },
    ]
    inproc.send(names.TASK_RECORD_FLOW_OUTCOME_BATCHES, batches=batches)
    inproc.settle()
    inproc.send(names.TASK_RECORD_FLOW_OUTCOME_BATCHES, batches=batches)  # redelivered: changes nothing
    inproc.settle()
    assert flow_totals(db, "checkout") == (7, 1)
    assert rejected_fields(db, names.TASK_RECORD_FLOW_OUTCOME_BATCHES) == ["batches", "batches"]
    assert rejected_fields(db, names.TASK_RECORD_FLOW_OUTCOMES) == ["batch_id", "flow", "batch_id"], (
        "each batch's own faults are recorded as its single task records them; the counted batch's bad item once"
    )


def test_a_malformed_message_is_rejected_whole(inproc, db):
    inproc.send(names.TASK_RECORD_FLOW_OUTCOME_BATCHES, batches={"batch_id": "x"})
    inproc.send(names.TASK_RECORD_FLOW_OUTCOME_BATCHES, batches=[], extra=1)
    too_many = [{"batch_id": str(i), "counts": []} for i in range(names.MAX_OUTCOME_BATCHES_PER_MESSAGE + 1)]
    inproc.send(names.TASK_RECORD_FLOW_OUTCOME_BATCHES, batches=too_many)
    inproc.settle()
    assert rejected_fields(db, names.TASK_RECORD_FLOW_OUTCOME_BATCHES) == ["batches", "extra", "batches"]
    with db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM ops_ingested_batches")).scalar() == 0
