"""A whole worker killed mid-task (main process and pool, SIGKILL): how long until its message runs on
another worker that was already consuming, with relops' real settings, on RabbitMQ and on Redis.

Nothing rejects the message (the process that would is dead), so what brings it back is the
broker's own: RabbitMQ requeues a consumer's unacked messages when its connection closes, which the
kernel does at once for a killed process; Redis keeps the message in kombu's unacked set until the
visibility timeout (900 s) has passed and a live worker's periodic sweep restores it.

``python -m bench redelivery-rabbitmq`` (seconds) measures RabbitMQ alone; ``python -m bench
redelivery`` both, which waits out Redis's timeout for real (about 17 minutes). The task is caught
provably mid-run as in tests/integration/test_worker_killed.py: the bench holds a lock on the table
it writes until PostgreSQL shows it waiting, kills, and lets go at once.
"""

from __future__ import annotations

import os
import signal
import statistics
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Literal

from relops_client.producer import TaskProducer
from sqlalchemy import Engine, text

from bench.stack import bench_stack
from relops.broker import VISIBILITY_TIMEOUT_S
from relops.timeutil import floor_minute, iso_minute, utcnow
from tests.support.celery_process import CeleryProcess, poll_until, start_worker

RABBITMQ_SAMPLES = 5
#: Redis restores past the timeout in a live worker's sweep, about every 100 s (kombu's default
#: interval 10 s times its throttle 10): wait for both, with a margin.
REDIS_DEADLINE_S = VISIBILITY_TIMEOUT_S + 300
TABLE = "ops_ingested_batches"


def _blocked(db: Engine) -> bool:
    with db.connect() as conn:
        query = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query ILIKE :q"
        return bool(conn.execute(text(query), {"q": f"%{TABLE}%"}).scalar())


def _landed(db: Engine, batch_id: str) -> bool:
    with db.connect() as conn:
        return bool(conn.execute(text(f"SELECT count(*) FROM {TABLE} WHERE batch_id = :b"), {"b": batch_id}).scalar())


def _one_kill(env: dict[str, str], db: Engine, workdir: Path, deadline_s: float) -> float:
    """Seconds from the SIGKILL of the worker holding a message to that message's task committing on
    the other worker."""
    label = uuid.uuid4().hex[:6]

    def start(suffix: str) -> CeleryProcess:
        return start_worker(env, workdir / f"kill-{label}-{suffix}.log", f"kill-{label}-{suffix}", "ingest", 1)

    first = start("a")
    started = [first]
    producer = TaskProducer(env["CELERY_BROKER_URL"])
    try:
        batch_id = uuid.uuid4().hex
        minute = iso_minute(floor_minute(utcnow()) - timedelta(minutes=1))
        with db.connect() as conn:
            transaction = conn.begin()
            conn.execute(text(f"LOCK TABLE {TABLE} IN EXCLUSIVE MODE"))
            try:
                producer.send(
                    "relops.record_flow_outcomes",
                    {"batch_id": batch_id, "counts": [{"flow": "bench", "minute": minute, "good": 1, "bad": 0}]},
                    "ingest",
                )
                poll_until(lambda: _blocked(db), 30, 0.05, "the task blocked mid-transaction")
                # Started once the first worker holds the message, so that the message is the first's.
                started.append(start("b"))
                killed_at = time.monotonic()
                os.killpg(first.pid, signal.SIGKILL)
            finally:
                transaction.rollback()
        poll_until(lambda: _landed(db, batch_id), deadline_s, 0.05, "the message run by the other worker")
        return time.monotonic() - killed_at
    finally:
        producer.close()
        for process in started:
            process.stop()


def measure(broker: Literal["redis", "rabbitmq"], samples: int) -> list[float]:
    config = '[[flows]]\nname = "bench"\nobjective_percent = 99.9\n'
    with bench_stack(config, broker=broker) as stack:
        deadline_s = 30.0 if broker == "rabbitmq" else REDIS_DEADLINE_S
        return [_one_kill(stack.env, stack.db, stack.workdir, deadline_s) for _ in range(samples)]


def _line(broker: str, seconds: list[float]) -> str:
    shown = ", ".join(f"{s:.2f}" for s in seconds)
    median, worst = statistics.median(seconds), max(seconds)
    return f"  {broker:<9} median {median:8.2f} s  max {worst:8.2f} s  (n={len(seconds)}: {shown})"


def run_rabbitmq() -> list[str]:
    return [
        "whole worker killed mid-task (SIGKILL, main process and pool) -> its message run by another worker",
        _line("rabbitmq", measure("rabbitmq", RABBITMQ_SAMPLES)),
    ]


def run() -> list[str]:
    lines = run_rabbitmq()
    lines.append(_line("redis", measure("redis", 1)))
    lines.append(f"  (redis: visibility timeout {VISIBILITY_TIMEOUT_S} s, then the next sweep of a live worker)")
    return lines
