"""A compressed task message that would inflate past its bound is refused by a real worker before it
is inflated, logged and counted, and the worker goes on with the next one; compressed messages of a
normal size are still read (the intake sends every large one compressed)."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
import pytest
import redis
from relops_client.producer import TaskProducer

from relops.compression import FAULT_FIELD, MAX_INFLATED_BYTES
from relops.names import QUEUE_INGEST, TASK_RECORD_FLOW_OUTCOME_BATCHES
from relops.timeutil import floor_minute, iso_minute, utcnow
from tests.integration.conftest import wait_for
from tests.integration.queries import batch_landed

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("worker", "clean_tables")]


def _padded_json(pad_bytes: int):
    """JSON with ``pad_bytes`` of whitespace before its last bracket: still a valid message once
    inflated, so only the bound can stop it; zlib packs the padding about a thousand to one."""

    def encode(body: Any) -> bytes:
        encoded = msgspec.json.encode(body)
        return encoded[:-1] + b" " * pad_bytes + encoded[-1:]

    return encode


def _batch() -> dict[str, Any]:
    minute = iso_minute(floor_minute(utcnow()))
    return {"batch_id": uuid.uuid4().hex, "counts": [{"flow": "login", "minute": minute, "good": 1, "bad": 0}]}


def test_a_message_inflating_past_the_bound_is_refused_and_the_worker_goes_on(db, worker, relops_env):
    faults = redis.Redis.from_url(relops_env["REDIS_URL"])
    before = int(faults.hget("relops:task-faults", FAULT_FIELD) or 0)
    bomb, fine = _batch(), _batch()
    bombs = TaskProducer(
        relops_env["CELERY_BROKER_URL"], 10.0, encode_body=_padded_json(MAX_INFLATED_BYTES), compress_min_bytes=0
    )
    # Compressed as the intake sends its large messages, and well past the size that needs it.
    normal = TaskProducer(
        relops_env["CELERY_BROKER_URL"], 10.0, encode_body=_padded_json(256 * 1024), compress_min_bytes=2048
    )
    try:
        bombs.send(TASK_RECORD_FLOW_OUTCOME_BATCHES, {"batches": [bomb]}, QUEUE_INGEST)
        normal.send(TASK_RECORD_FLOW_OUTCOME_BATCHES, {"batches": [fine]}, QUEUE_INGEST)
    finally:
        bombs.close()
        normal.close()

    wait_for(lambda: batch_landed(db, fine["batch_id"]), what="the normal compressed message read after the bomb")
    refusal = f'reason="inflates past {MAX_INFLATED_BYTES} bytes, the bound of a task message"'
    wait_for(lambda: refusal in worker.log_text(), what="the bomb refused in the worker's log")
    assert (
        "Can't decode message body: MessageRefused('task message compressed with application/x-gzip inflates past"
        in (worker.log_text())
    )
    assert int(faults.hget("relops:task-faults", FAULT_FIELD)) == before + 1
    assert not batch_landed(db, bomb["batch_id"])
    assert worker.alive()
