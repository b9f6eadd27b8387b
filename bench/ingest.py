"""Ingest upsert rate: counter rows/s through real Celery workers (2 processes), beside the same
upserts run directly against PostgreSQL from one process in the same run."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

from sqlalchemy import Engine, text

from bench.stack import bench_stack, flows_config
from relops.slo.outcome_batch import OutcomeCount
from relops.store.outcomes import ingest_batch
from relops.timeutil import floor_minute, iso_minute, utcnow
from tests.support.celery_process import poll_until

FLOWS = 1000
MINUTES = 100
ITEMS_PER_BATCH = 500


def _items() -> list[tuple[str, object]]:
    now = floor_minute(utcnow())
    return [(f"bench-{f:04d}", now - timedelta(minutes=m)) for m in range(MINUTES) for f in range(FLOWS)]


def _batches() -> list[list[tuple[str, object]]]:
    items = _items()
    return [items[i : i + ITEMS_PER_BATCH] for i in range(0, len(items), ITEMS_PER_BATCH)]


def _reset(db: Engine) -> None:
    with db.begin() as conn:
        conn.execute(text("TRUNCATE ops_flow_minutes, ops_flow_hours, ops_flow_days, ops_ingested_batches"))


def _landed(db: Engine) -> int:
    with db.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM ops_ingested_batches")).scalar_one()


def run() -> list[str]:
    batches = _batches()
    rows = sum(len(b) for b in batches)
    with bench_stack(flows_config(FLOWS, 100)) as stack:
        horizon = utcnow() - timedelta(days=2)
        _reset(stack.db)
        started = time.perf_counter()
        for batch in batches:
            with stack.db.begin() as conn:
                items = [OutcomeCount(flow=f, minute=m, good=5, bad=1) for f, m in batch]
                ingest_batch(conn, uuid.uuid4().hex, items, rejected=0, minute_horizon=horizon)
        direct_s = time.perf_counter() - started

        stack.worker("bench-ingest", "ingest", concurrency=2)
        _reset(stack.db)
        started = time.perf_counter()
        for batch in batches:
            counts = [{"flow": f, "minute": iso_minute(m), "good": 5, "bad": 1} for f, m in batch]
            stack.producer.send_task(
                "relops.record_flow_outcomes", kwargs={"batch_id": uuid.uuid4().hex, "counts": counts}, queue="ingest"
            )
        poll_until(lambda: _landed(stack.db) >= len(batches), timeout_s=600, interval_s=0.02, what="batches landed")
        celery_s = time.perf_counter() - started
    return [
        f"ingest, {len(batches)} batches x {ITEMS_PER_BATCH} counter rows ({rows:,} rows):",
        f"  through Celery (1 worker x 2 processes): {rows / celery_s:,.0f} rows/s ({celery_s:.2f} s)",
        f"  direct upserts, one process, no broker:  {rows / direct_s:,.0f} rows/s ({direct_s:.2f} s)",
        f"  ratio Celery/direct: {direct_s / celery_s:.2f}x",
    ]


if __name__ == "__main__":
    print("\n".join(run()))
