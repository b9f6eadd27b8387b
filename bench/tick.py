"""A full evaluation tick for 1,000 flows with 24 h of minute data (1.44 M rows), tick to last
snapshot, with one worker of 2 processes: relops' chunked pipeline beside a naive one-task-per-flow,
one-query-per-window baseline, in the same run on the same data."""

from __future__ import annotations

import time

from sqlalchemy import Connection, Engine, text

from bench.stack import BenchStack, bench_stack, flows_config, median_s
from tests.support.celery_process import poll_until

FLOWS = 1000
REPEATS = 3
#: Hours back whose minutes the default windows (1h, 6h, 24h) read at their edges.
EDGE_HOURS_BACK = [0, 1, 5, 6, 22, 23]
#: One flow in ten burns at 40x (2 bad of 50 a minute at 99.9 %), so alerts are published too.
_SEED_MINUTES = """
INSERT INTO ops_flow_minutes (flow, minute, good, bad)
SELECT 'bench-' || lpad(f::text, greatest(4, length(f::text)), '0'),
       date_trunc('minute', now()) - make_interval(mins => m),
       50, CASE WHEN f % 10 = 0 THEN 2 ELSE (m % 97 = 0)::int END
FROM generate_series(0, :flows - 1) f, generate_series(0, 1439) m
WHERE CAST(:hours_back AS int[]) IS NULL OR m / 60 = ANY(CAST(:hours_back AS int[]))
"""
_SEED_HOURS = """
INSERT INTO ops_flow_hours (flow, hour, good, bad)
SELECT 'bench-' || lpad(f::text, greatest(4, length(f::text)), '0'),
       date_trunc('hour', now()) - make_interval(hours => h),
       3000, CASE WHEN f % 10 = 0 THEN 120 ELSE 1 END
FROM generate_series(0, :flows - 1) f, generate_series(0, 719) h
WHERE NOT :sparse OR h < 48 OR h >= 690
"""
# As ingest writes them: the day rows sum the hour rows.
_SEED_DAYS = """
INSERT INTO ops_flow_days (flow, day, good, bad)
SELECT flow, date_trunc('day', hour, 'UTC'), sum(good), sum(bad) FROM ops_flow_hours GROUP BY 1, 2
"""
# Sparse: every day's row as the sum of 24 seeded hours would be; only the hours a tick reads exist.
_SEED_DAYS_SPARSE = """
INSERT INTO ops_flow_days (flow, day, good, bad)
SELECT 'bench-' || lpad(f::text, greatest(4, length(f::text)), '0'),
       date_trunc('day', now(), 'UTC') - make_interval(days => d),
       24 * 3000, 24 * CASE WHEN f % 10 = 0 THEN 120 ELSE 1 END
FROM generate_series(0, :flows - 1) f, generate_series(0, 30) d
"""


def burn_last_hour(conn: Connection) -> None:
    """Every flow fails 4 % of its requests over the last hour (40x at 99.9 %: critical), in every
    counter table as ingest would have written it: a window is read from minute, hour and day rows,
    so minutes changed alone would give a burn rate that depends on the minute of the hour."""
    conn.execute(text("UPDATE ops_flow_minutes SET bad = 2 WHERE minute > now() - interval '1 hour'"))
    conn.execute(
        text(
            "UPDATE ops_flow_hours h SET good = m.good, bad = m.bad FROM ("
            "  SELECT flow, date_trunc('hour', minute) AS hour, sum(good) AS good, sum(bad) AS bad"
            "  FROM ops_flow_minutes WHERE minute >= date_trunc('hour', now() - interval '1 hour') GROUP BY 1, 2"
            ") m WHERE h.flow = m.flow AND h.hour = m.hour"
        )
    )
    conn.execute(
        text(
            "UPDATE ops_flow_days d SET good = h.good, bad = h.bad FROM ("
            "  SELECT flow, date_trunc('day', hour, 'UTC') AS day, sum(good) AS good, sum(bad) AS bad"
            "  FROM ops_flow_hours WHERE hour >= date_trunc('day', now() - interval '1 hour', 'UTC') GROUP BY 1, 2"
            ") h WHERE d.flow = h.flow AND d.day = h.day"
        )
    )


def seed(db: Engine, flows: int, sparse: bool = False) -> int:
    """24 h of minute rows, 30 days of hour rows and their day rows per flow; or, ``sparse``, only
    the rows a tick reads (minutes of the hours at the windows' edges, hours of the last two days
    and of the period's first day, a row for every day): each flow's evaluation reads the same
    rows, from smaller tables."""
    with db.begin() as conn:
        conn.execute(text(_SEED_MINUTES), {"flows": flows, "hours_back": EDGE_HOURS_BACK if sparse else None})
        conn.execute(text(_SEED_HOURS), {"flows": flows, "sparse": sparse})
        conn.execute(text(_SEED_DAYS_SPARSE if sparse else _SEED_DAYS), {"flows": flows})
    with db.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
        return conn.execute(text("SELECT count(*) FROM ops_flow_minutes")).scalar_one()


def _snapshot_count(db: Engine) -> int:
    with db.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM ops_burn_rate_snapshots")).scalar_one()


def time_tick(stack: BenchStack, task: str, flows: int) -> float:
    """Seconds from sending ``task`` until the last of ``flows`` snapshots is committed."""
    with stack.db.begin() as conn:
        conn.execute(text("TRUNCATE ops_burn_rate_snapshots, ops_evaluation_ticks"))
    started = time.perf_counter()
    stack.producer.send_task(task, queue="evaluate")
    poll_until(lambda: _snapshot_count(stack.db) >= flows, timeout_s=300, interval_s=0.05, what=f"{task} snapshots")
    return time.perf_counter() - started


# Every row of the minute made stale, so the next tick of the minute rewrites each one: the cost of
# a later tick of the minute when every flow's figures moved (a flow with traffic moves each tick).
_STALE_SNAPSHOTS = "UPDATE ops_burn_rate_snapshots SET period_events = -1"
_FRESH_SNAPSHOTS = "SELECT count(*) FILTER (WHERE period_events >= 0), count(*) FROM ops_burn_rate_snapshots"


def time_later_tick(stack: BenchStack, flows: int) -> tuple[float, bool]:
    """Seconds from sending a tick until every one of the ``flows`` snapshots written by the tick
    before is replaced; and whether they were replaced in place (False: the minute turned between
    the two ticks, so the tick inserted a new minute's rows instead)."""
    with stack.db.begin() as conn:
        conn.execute(text(_STALE_SNAPSHOTS))
        conn.execute(text("TRUNCATE ops_evaluation_ticks"))
    with stack.db.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ops_burn_rate_snapshots"))
    started = time.perf_counter()
    stack.producer.send_task("relops.evaluate_tick", queue="evaluate")

    def replaced() -> tuple[int, int] | None:
        with stack.db.connect() as conn:
            fresh, total = conn.execute(text(_FRESH_SNAPSHOTS)).one()
        return (fresh, total) if fresh >= flows else None

    _, total = poll_until(replaced, timeout_s=300, interval_s=0.05, what="snapshots replaced")
    return time.perf_counter() - started, total == flows


def run(flows: int = FLOWS, chunk_sizes: tuple[int, ...] = (25, 100, 250), repeats: int = REPEATS) -> list[str]:
    """The chunked tick at several chunk sizes (the worker restarts to read each), then the baseline."""
    chunked: dict[int, list[float]] = {}
    with bench_stack(flows_config(flows, chunk_sizes[0])) as stack:
        rows = seed(stack.db, flows)
        for size in chunk_sizes:
            (stack.workdir / "relops.toml").write_text(flows_config(flows, size))
            worker = stack.worker(f"bench-evaluate-{size}", "evaluate", concurrency=2, include="bench.naive_tasks")
            time_tick(stack, "relops.evaluate_tick", flows)  # warm-up: pools, plans, imports
            chunked[size] = [time_tick(stack, "relops.evaluate_tick", flows) for _ in range(repeats)]
            worker.stop()
        stack.worker("bench-evaluate-naive", "evaluate", concurrency=2, include="bench.naive_tasks")
        naive = [time_tick(stack, "bench.naive_tick", flows) for _ in range(repeats)]
    naive_s = median_s(naive)
    best = min(chunked, key=lambda size: median_s(chunked[size]))
    lines = [f"tick, {flows} flows, {rows:,} minute rows, 1 worker x 2 processes, median of {repeats} runs:"]
    for size, samples in chunked.items():
        runs = ", ".join(f"{s:.3f}" for s in samples)
        lines.append(
            f"  relops chunked, chunk_size={size:<4}: {median_s(samples):.3f} s to last snapshot "
            f"({naive_s / median_s(samples):.1f}x faster than naive; runs {runs})"
        )
    naive_runs = ", ".join(f"{s:.3f}" for s in naive)
    lines.append(f"  naive, one task per flow, one query per window: {naive_s:.3f} s (runs {naive_runs})")
    best_s = median_s(chunked[best])
    lines.append(
        f"  best chunk_size={best}: {best_s:.3f} s (target < 2 s: {'met' if best_s < 2 else 'MISSED'}), "
        f"{naive_s / best_s:.1f}x the baseline (target >= 5x: {'met' if naive_s / best_s >= 5 else 'MISSED'})"
    )
    return lines


if __name__ == "__main__":
    print("\n".join(run()))
