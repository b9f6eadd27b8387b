"""Cron-run events persisted per second through real Celery workers (validation, merge of start
and end, job health update), beside plain PostgreSQL inserts of the same rows, one transaction
per event, from one process, in the same run."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

from sqlalchemy import text

from bench.stack import bench_stack
from relops.devtools.celery_process import poll_until
from relops.timeutil import utcnow

JOBS = 200
RUNS_PER_JOB = 10


def _config(jobs: int) -> str:
    lines = ["[cron]\ncheck_interval_s = 3600\n"]
    lines += [f'[[jobs]]\nname = "bench-job-{i:03d}"\nperiod_s = 3600\nfailure_threshold = 3\n' for i in range(jobs)]
    return "\n".join(lines)


def _events(jobs: int, runs: int) -> list[dict[str, object]]:
    start = utcnow() - timedelta(hours=1)
    events = []
    for r in range(runs):
        for j in range(jobs):
            run_id = uuid.uuid4().hex
            at = start + timedelta(seconds=r * 60)
            base = {"name": f"bench-job-{j:03d}", "run_id": run_id, "result": None, "error": None}
            events.append({**base, "status": "started", "at": at.isoformat(), "duration_ms": None})
            events.append(
                {**base, "status": "success", "at": (at + timedelta(seconds=2)).isoformat(), "duration_ms": 2000}
            )
    return events


def run(jobs: int = JOBS, runs: int = RUNS_PER_JOB) -> list[str]:
    events = _events(jobs, runs)
    with bench_stack(_config(jobs)) as stack:
        started = time.perf_counter()
        with stack.db.connect() as conn:
            for event in events:
                with conn.begin():
                    conn.execute(
                        text(
                            "INSERT INTO ops_cron_executions (name, run_id, status, started_at) "
                            "VALUES (:name, :run_id, 'running', :at)"
                        ),
                        {
                            "name": event["name"],
                            "run_id": f"raw-{event['run_id']}-{event['status']}",
                            "at": event["at"],
                        },
                    )
        raw_s = time.perf_counter() - started
        with stack.db.begin() as conn:
            conn.execute(text("TRUNCATE ops_cron_executions"))

        stack.worker("bench-cron", "cron", concurrency=2)

        def finished() -> bool:
            with stack.db.connect() as conn:
                return (
                    conn.execute(
                        text(
                            "SELECT count(*) FROM ops_cron_executions "
                            "WHERE status = 'success' AND started_at IS NOT NULL"
                        )
                    ).scalar_one()
                    >= jobs * runs
                )

        started = time.perf_counter()
        for event in events:
            stack.producer.send_task("relops.cron_run", kwargs=event, queue="cron")
        poll_until(finished, timeout_s=600, interval_s=0.05, what="every run merged")
        celery_s = time.perf_counter() - started
    n = len(events)
    return [
        f"cron: {n} cron-run events ({jobs} monitored jobs x {runs} runs, start + end each):",
        f"  through Celery (1 worker x 2 processes): {n / celery_s:,.0f} events/s ({celery_s:.2f} s), "
        "each validated, merged and applied to its job's health",
        f"  plain INSERT, one transaction per event, one process: {n / raw_s:,.0f} rows/s ({raw_s:.2f} s)",
        f"  ratio Celery/raw: {raw_s / celery_s:.2f}x",
    ]


if __name__ == "__main__":
    print("\n".join(run()))
