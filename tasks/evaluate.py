"""relops.evaluate_tick and relops.evaluate_flows: the burn-rate pipeline.

The tick fans the configured flows out in chunks; each chunk costs one task and two queries, so
1,000 flows are ten tasks rather than a thousand (a trivial task costs ~2 ms of worker CPU).
"""

from __future__ import annotations

import logging
from typing import Any

from celery import group
from celery.utils.log import get_task_logger

from relops import names
from relops.alert_event import slo_alert, slo_fingerprint, slo_resolved
from relops.burnrate import Severity
from relops.cron_tracking import with_cron_tracking
from relops.evaluation import chunked, evaluate_chunk
from relops.logs import log_event
from relops.runtime import engine, get_config
from relops.store.evaluations import claim_tick, save_snapshots
from relops.store.incidents import open_fingerprints
from relops.store.windows import fetch_flow_counts
from relops.timeutil import evaluation_end, floor_to_interval, parse_utc, utcnow
from tasks.base import RelopsTask
from workers import app

logger = get_task_logger(__name__)


#: The job name under which the tick reports its own runs (the design's self-tracking).
SELF_TRACKING_JOB = "relops-evaluate-tick"


def _report_run(kwargs: dict[str, Any]) -> None:
    app.send_task(names.TASK_CRON_RUN, kwargs=kwargs, queue=names.QUEUE_CRON)


@app.task(name=names.TASK_EVALUATE_TICK, base=RelopsTask)
@with_cron_tracking(SELF_TRACKING_JOB, sender=_report_run)
def evaluate_tick(**_: Any) -> dict[str, Any]:
    """Claim this tick's slot, then send one evaluate_flows task per chunk of flows."""
    config = get_config()
    now = utcnow()
    slot = floor_to_interval(now, config.evaluation.tick_interval_s)
    as_of = evaluation_end(now)
    chunks = chunked([f.name for f in config.flows], config.evaluation.chunk_size)
    fan_out = group(
        app.signature(names.TASK_EVALUATE_FLOWS, kwargs={"as_of": as_of.isoformat(), "flows": chunk})
        for chunk in chunks
    )
    # Publish inside the transaction: if publishing fails the claim rolls back and the retry
    # claims the slot again; a tick is never marked done without its chunks sent.
    with engine().begin() as conn:
        if not claim_tick(conn, slot=slot, as_of=as_of, flows=len(config.flows), chunks=len(chunks)):
            log_event(logger, logging.INFO, "tick.skipped", slot=slot.isoformat(), reason="slot already evaluated")
            return {"slot": slot.isoformat(), "chunks": 0}
        if chunks:
            fan_out.apply_async()
    log_event(
        logger,
        logging.INFO,
        "tick.sent",
        slot=slot.isoformat(),
        as_of=as_of.isoformat(),
        flows=len(config.flows),
        chunks=len(chunks),
    )
    return {"slot": slot.isoformat(), "chunks": len(chunks)}


@app.task(name=names.TASK_EVALUATE_FLOWS, base=RelopsTask)
def evaluate_flows(as_of: str, flows: list[str], **_: Any) -> dict[str, int]:
    """Evaluate a chunk of flows at ``as_of``, persist snapshots, publish an alert per breach."""
    config = get_config()
    end = parse_utc(as_of)
    known = config.flows_by_name
    chunk = [known[name] for name in flows if name in known]
    for name in set(flows) - known.keys():
        log_event(logger, logging.WARNING, "evaluate.unknown_flow", flow=name, reason="not in the config any more")

    breaches = recovered = 0
    with engine().begin() as conn:
        counts = fetch_flow_counts(conn, chunk, config.evaluation.windows, end)
        evaluated = evaluate_chunk(chunk, counts, config.evaluation)
        saved = save_snapshots(conn, end, evaluated)
        # Alerts go out before the commit: a failed publish rolls back and retries the chunk, and a
        # crash after publishing redelivers a duplicate alert, which dedup absorbs. Never a lost one.
        healthy = [slo_fingerprint(f.name) for f, e in evaluated if e.severity is Severity.OK]
        recovering = open_fingerprints(conn, healthy) if healthy else set()
        for flow, evaluation in evaluated:
            if evaluation.severity.is_breach:
                event = slo_alert(evaluation, flow, end, config.runbook_url(flow))
                breaches += 1
                log_event(
                    logger,
                    logging.WARNING,
                    "evaluate.breach",
                    flow=flow.name,
                    severity=evaluation.severity.value,
                    title=event.title,
                )
            elif slo_fingerprint(flow.name) in recovering:
                event = slo_resolved(evaluation, flow, end, config.runbook_url(flow))
                recovered += 1
                log_event(logger, logging.WARNING, "evaluate.recovered", flow=flow.name)
            else:
                continue
            app.send_task(names.TASK_DISPATCH_ALERT, kwargs=event.as_kwargs(), queue=names.QUEUE_ALERTS)
    log_event(
        logger,
        logging.INFO,
        "evaluate.chunk",
        as_of=as_of,
        flows=len(chunk),
        snapshots=saved,
        breaches=breaches,
        recovered=recovered,
    )
    return {"flows": len(chunk), "snapshots": saved, "breaches": breaches, "recovered": recovered}
