"""Baselines run by the benchmarks' workers. The tick's naive pipeline: one task per flow, one query
per window; and a task that does nothing but count itself, Celery's cost per message.

Loaded into the benchmark's worker with ``--include bench.naive_tasks``; never part of relops.
It reuses relops' burn-rate math and snapshot writer, so only the fan-out unit and the query
strategy differ from the real pipeline.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from celery import group
from sqlalchemy import text

from bench.stack import COUNT_ONLY, COUNT_ONLY_KEY
from relops import names
from relops.slo.burn_alerts import slo_alert
from relops.slo.burnrate import Counts
from relops.slo.evaluation import evaluate_chunk
from relops.slo.spans import FlowCounts, period_start
from relops.store.evaluations import save_snapshots
from relops.timeutil import evaluation_end, parse_utc, utcnow
from relops.wiring import engine, get_config
from relops.wiring import redis as runtime_redis
from workers import app

NAIVE_TICK = "bench.naive_tick"
NAIVE_FLOW = "bench.naive_evaluate_flow"

_WINDOW_SQL = text(
    "SELECT coalesce(sum(good), 0), coalesce(sum(bad), 0) FROM ops_flow_minutes "
    "WHERE flow = :flow AND minute >= :start AND minute < :end"
)
_PERIOD_SQL = text(
    "SELECT coalesce(sum(good), 0), coalesce(sum(bad), 0) FROM ops_flow_hours "
    "WHERE flow = :flow AND hour >= :start AND hour < :end"
)


@app.task(name=NAIVE_TICK)
def naive_tick(**_: Any) -> int:
    as_of = evaluation_end(utcnow()).isoformat()
    flows = get_config().flows
    group(app.signature(NAIVE_FLOW, kwargs={"as_of": as_of, "flow": f.name}, queue="evaluate") for f in flows)()
    return len(flows)


@app.task(name=NAIVE_FLOW)
def naive_evaluate_flow(as_of: str, flow: str) -> None:
    config = get_config()
    end = parse_utc(as_of)
    flow_config = config.flows_by_name[flow]
    counts = FlowCounts()
    with engine().begin() as conn:
        for rule in config.evaluation.windows:
            start = end - timedelta(seconds=rule.window_s)
            good, bad = conn.execute(_WINDOW_SQL, {"flow": flow, "start": start, "end": end}).one()
            counts.windows[rule.name] = Counts(good=int(good), bad=int(bad))
        good, bad = conn.execute(_PERIOD_SQL, {"flow": flow, "start": period_start(end, flow_config), "end": end}).one()
        counts.period = Counts(good=int(good), bad=int(bad))
        evaluated = evaluate_chunk([flow_config], {flow: counts}, config.evaluation)
        save_snapshots(conn, end, evaluated)
        for flow_cfg, evaluation in evaluated:
            if evaluation.severity.is_breach:
                event = slo_alert(evaluation, flow_cfg, end, config.runbook_url(flow_cfg))
                app.send_task(names.TASK_DISPATCH_ALERT, kwargs=event.as_kwargs(), queue=names.QUEUE_ALERTS)


@app.task(name=COUNT_ONLY)
def count_only(**_: Any) -> None:
    """What a message costs Celery alone: the task only counts itself."""
    runtime_redis().incr(COUNT_ONLY_KEY)
