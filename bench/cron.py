"""Cron-run events persisted per second through real Celery workers (validation, merge of start
and end, job health update), beside plain PostgreSQL inserts of the same rows, one transaction
per event, from one process, in the same run.

Events go as services send them: one ``relops.cron_run`` message each (a client's
``with_cron_tracking``), and ``relops.cron_run_batch`` messages of several events (what the HTTP
intake forms from pings that arrive together; the busier it is, the more to a message). A no-op
task on the same worker shows Celery's own ceiling for one message per event.
"""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import redis
from sqlalchemy import Engine, text

from bench.stack import COUNT_ONLY, COUNT_ONLY_KEY, BenchStack, bench_stack
from relops import names
from relops.timeutil import utcnow
from tests.support.celery_process import poll_until

JOBS = 200
RUNS_PER_JOB = 10
BATCH_SIZES = (10, 50)


def _config(jobs: int) -> str:
    lines = ["[cron]\ncheck_interval_s = 3600\n"]
    lines += [f'[[jobs]]\nname = "bench-job-{i:03d}"\nperiod_s = 3600\nfailure_threshold = 3\n' for i in range(jobs)]
    return "\n".join(lines)


def _events(jobs: int, runs: int) -> list[dict[str, object]]:
    """Every job's runs in time order, start then end; the jobs interleaved as they would be."""
    start = utcnow() - timedelta(hours=1)
    events = []
    for r in range(runs):
        for j in range(jobs):
            run_id = uuid.uuid4().hex
            at = start + timedelta(seconds=r * 60)
            base = {"name": f"bench-job-{j:03d}", "run_id": run_id, "result": None, "error": None}
            events.append({**base, "status": "started", "at": at.isoformat(), "duration_ms": None})
            failed = (r + j) % 7 == 0
            events.append(
                {
                    **base,
                    "status": "failure" if failed else "success",
                    "at": (at + timedelta(seconds=2)).isoformat(),
                    "duration_ms": 2000,
                    "error": "exit status 1" if failed else None,
                }
            )
    return events


def _raw_inserts(db: Engine, events: list[dict[str, object]]) -> float:
    started = time.perf_counter()
    with db.connect() as conn:
        for event in events:
            with conn.begin():
                conn.execute(
                    text(
                        "INSERT INTO ops_cron_executions (name, run_id, status, started_at) "
                        "VALUES (:name, :run_id, 'running', :at)"
                    ),
                    {"name": event["name"], "run_id": f"raw-{event['run_id']}-{event['status']}", "at": event["at"]},
                )
    return time.perf_counter() - started


def _reset(db: Engine) -> None:
    with db.begin() as conn:
        conn.execute(text("TRUNCATE ops_cron_executions, ops_cron_jobs"))


def _finished_runs(db: Engine) -> int:
    with db.connect() as conn:
        return conn.execute(
            text(
                "SELECT count(*) FROM ops_cron_executions WHERE status <> 'running' AND started_at IS NOT NULL "
                "AND finished_at IS NOT NULL"
            )
        ).scalar_one()


def _through_celery(stack: BenchStack, events: list[dict[str, object]], batch_size: int | None) -> float:
    """Seconds from the first message sent until every run is merged (sending included)."""
    _reset(stack.db)
    runs = len(events) // 2
    started = time.perf_counter()
    if batch_size is None:
        for event in events:
            stack.producer.send_task(names.TASK_CRON_RUN, kwargs=event, queue=names.QUEUE_CRON)
    else:
        for i in range(0, len(events), batch_size):
            batch = {"events": events[i : i + batch_size]}
            stack.producer.send_task(names.TASK_CRON_RUN_BATCH, kwargs=batch, queue=names.QUEUE_CRON)
    poll_until(lambda: _finished_runs(stack.db) >= runs, timeout_s=600, interval_s=0.05, what="every run merged")
    return time.perf_counter() - started


def _noop_ceiling(stack: BenchStack, count: int) -> float:
    """Seconds for ``count`` no-op messages on the same worker: Celery's cost of a message alone."""
    client = redis.Redis.from_url(stack.env["REDIS_URL"])
    started = time.perf_counter()
    for i in range(count):
        stack.producer.send_task(COUNT_ONLY, kwargs={"n": i}, queue=names.QUEUE_CRON)
    poll_until(lambda: int(client.get(COUNT_ONLY_KEY) or 0) >= count, timeout_s=600, interval_s=0.05, what="no-ops")
    client.close()
    return time.perf_counter() - started


def run(jobs: int = JOBS, runs: int = RUNS_PER_JOB, batch_sizes: tuple[int, ...] = BATCH_SIZES) -> list[str]:
    events = _events(jobs, runs)
    n = len(events)
    with bench_stack(_config(jobs)) as stack:
        raw_s = _raw_inserts(stack.db, events)
        stack.worker("bench-cron", names.QUEUE_CRON, concurrency=2, include="bench.naive_tasks")
        _through_celery(stack, events[:200], 10)  # warm-up: pools, plans, imports
        noop_s = _noop_ceiling(stack, n)
        single_s = _through_celery(stack, events, None)
        batched = {size: _through_celery(stack, events, size) for size in batch_sizes}
    lines = [
        f"cron: {n} cron-run events ({jobs} monitored jobs x {runs} runs, start + end each, 1 in 7 failing), "
        "1 worker x 2 processes:",
        f"  plain INSERT, one transaction per event, one process (baseline): {n / raw_s:,.0f} rows/s ({raw_s:.2f} s)",
        f"  no-op task, one message per event (Celery's ceiling): {n / noop_s:,.0f} messages/s "
        f"({raw_s / noop_s:.2f}x of baseline)",
        f"  relops.cron_run, one message per event: {n / single_s:,.0f} events/s ({raw_s / single_s:.2f}x of baseline, "
        f"{noop_s / single_s:.2f}x of the no-op ceiling)",
    ]
    for size, seconds in batched.items():
        ratio = raw_s / seconds
        lines.append(
            f"  relops.cron_run_batch, {size} events a message: {n / seconds:,.0f} events/s ({ratio:.2f}x of baseline; "
            f"target >= 0.5x: {'met' if ratio >= 0.5 else 'MISSED'})"
        )
    lines.append("  every event validated, merged with its run's other event and applied to its job's health")
    return lines


if __name__ == "__main__":
    print("\n".join(run()))
