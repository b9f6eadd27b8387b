"""``python -m bench charts``: the server's time for a flow page's series (one query, the series math,
the JSON) beside the dashboard's plain snapshot read, in the same run and database.

100 flows with 60 days of hour counters each (the 30-day series of a 30-day period looks back 30
more; flow-042 also has a correction to subtract), and 30 hours of minute counters (the minute
ranges' points and their 24 h windows: what retention keeps), one flow with a 365-day period and two
years of hours (its "period" range is drawn in steps), and 100 evaluations of each flow for the
snapshot read.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import text

from bench.stack import bench_stack
from relops.application.snapshot import reliability_snapshot
from relops.timeutil import utcnow
from relops.web.charts import budget_trends, flow_series_payload
from relops.wiring import load_checked_config

FLOWS = 100
RUNS = 30
TARGET_MS = 200


def _config() -> str:
    flows = [f'[[flows]]\nname = "flow-{i:03d}"\nobjective_percent = 99.9\n' for i in range(FLOWS)]
    yearly = '[[flows]]\nname = "yearly"\nobjective_percent = 99.5\nperiod_days = 365\n'
    return "\n".join([*flows, yearly])


def _seed(db) -> tuple[int, int]:
    with db.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO ops_flow_hours (flow, hour, good, bad) "
                "SELECT f.name, date_trunc('hour', now()) - make_interval(hours => h), 1000, (h % 7) "
                "FROM (SELECT 'flow-' || lpad(i::text, 3, '0') AS name FROM generate_series(0, :flows - 1) i) f, "
                "generate_series(0, 60 * 24 - 1) h"
            ),
            {"flows": FLOWS},
        )
        conn.execute(
            text(
                "INSERT INTO ops_flow_minutes (flow, minute, good, bad) "
                "SELECT f.name, date_trunc('minute', now()) - make_interval(mins => m), 17, (m % 5) / 4 "
                "FROM (SELECT 'flow-' || lpad(i::text, 3, '0') AS name FROM generate_series(0, :flows - 1) i) f, "
                "generate_series(0, 30 * 60 - 1) m"
            ),
            {"flows": FLOWS},
        )
        conn.execute(
            text(
                "INSERT INTO ops_flow_hours (flow, hour, good, bad) "
                "SELECT 'yearly', date_trunc('hour', now()) - make_interval(hours => h), 500, (h % 3) "
                "FROM generate_series(0, 2 * 365 * 24 - 1) h"
            )
        )
        conn.execute(
            text(
                "INSERT INTO ops_burn_rate_snapshots (flow, evaluated_at, severity, objective_percent, "
                "budget_remaining, time_to_exhaustion_s, period_events, period_errors, windows) "
                "SELECT 'flow-' || lpad(i::text, 3, '0'), now() - make_interval(mins => 5 * e), 'ok', 99.9, 0.5, "
                "NULL, 100000, 50, '[]'::jsonb FROM generate_series(0, :flows - 1) i, generate_series(0, 99) e"
            ),
            {"flows": FLOWS},
        )
        # flow-042's charts also subtract corrections: whole hours and a partial one, and minutes
        # inside the minute ranges.
        conn.execute(
            text(
                "INSERT INTO ops_slo_corrections (flow, starts_at, ends_at, reason, created_by) VALUES "
                "('flow-042', now() - interval '50 hours', now() - interval '47 hours 30 minutes', 'bench', 'bench'), "
                "('flow-042', now() - interval '3 hours 10 minutes', now() - interval '2 hours 5 minutes', 'bench', "
                "'bench')"
            )
        )
        conn.execute(text("ANALYZE"))
        return int(conn.execute(text("SELECT count(*) FROM ops_flow_hours")).scalar_one()), int(
            conn.execute(text("SELECT count(*) FROM ops_flow_minutes")).scalar_one()
        )


def _median_ms(work: Callable[[], object]) -> float:
    work()  # warm: the connection, the plan, the config's caches
    samples = []
    for _ in range(RUNS):
        started = time.perf_counter()
        work()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def run() -> list[str]:
    with bench_stack(_config()) as stack:
        rows, minute_rows = _seed(stack.db)
        config = load_checked_config(Path(stack.env["RELOPS_CONFIG"]))
        now = utcnow()
        with stack.db.connect() as conn:

            def series(flow: str, range_name: str) -> Callable[[], object]:
                def work() -> object:
                    payload = flow_series_payload(conn, config, config.flows_by_name[flow], range_name, now)
                    return json.dumps(payload)  # what the API sends; the page renders the same numbers

                return work

            points = {
                (flow, name): len(flow_series_payload(conn, config, config.flows_by_name[flow], name, now)["points"])
                for flow, name in (("flow-042", "30d"), ("yearly", "period"), ("flow-042", "6h"), ("flow-042", "1h"))
            }
            snapshot_ms = _median_ms(lambda: reliability_snapshot(conn, config, {}, {}))
            trends_ms = _median_ms(lambda: json.dumps(budget_trends(conn, config, now)))
            measured = [
                ("flow-042, 1 h of minutes", _median_ms(series("flow-042", "1h")), points[("flow-042", "1h")]),
                ("flow-042, 6 h of minutes", _median_ms(series("flow-042", "6h")), points[("flow-042", "6h")]),
                ("flow-042, 30 d", _median_ms(series("flow-042", "30d")), points[("flow-042", "30d")]),
                ("flow-042, 7 d", _median_ms(series("flow-042", "7d")), None),
                ("yearly, whole 365-day period", _median_ms(series("yearly", "period")), points[("yearly", "period")]),
            ]
    lines = [
        f"charts: {FLOWS + 1} flows, {rows} hour rows, {minute_rows} minute rows, median of {RUNS} runs, "
        "one connection, JSON included",
        f"  dashboard snapshot read (baseline):  {snapshot_ms:7.1f} ms",
    ]
    lines.append(
        f"  dashboard budget trends, all {FLOWS + 1} flows {trends_ms:7.1f} ms  ({trends_ms / snapshot_ms:.2f}x the "
        f"snapshot read; computed at most every RELOPS_WEB_TRENDS_TTL_S, shared by every open dashboard)"
    )
    for what, ms, drawn in measured:
        verdict = "within" if ms < TARGET_MS else "OVER"
        extra = f", {drawn} points" if drawn else ""
        lines.append(
            f"  series {what:<28} {ms:7.1f} ms  ({ms / snapshot_ms:.2f}x the snapshot read{extra}; "
            f"{verdict} {TARGET_MS} ms)"
        )
    return lines
