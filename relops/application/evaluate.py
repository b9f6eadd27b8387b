"""relops.evaluate_tick's and relops.evaluate_flows' logic: the burn-rate pipeline.

The tick fans the configured flows out in chunks; each chunk costs one task and two queries, so
1,000 flows are ten tasks rather than a thousand (a trivial task costs ~2 ms of worker CPU).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from relops_client.logs import log_event
from sqlalchemy import Connection

from relops import names
from relops.alerting.events import AlertEvent, alert_message
from relops.application.deps import Deps
from relops.config import FlowConfig, RelopsConfig
from relops.slo.burn_alerts import slo_alert, slo_fingerprint, slo_resolved
from relops.slo.burnrate import Severity
from relops.slo.corrections import flow_exclusions
from relops.slo.evaluation import chunked, evaluate_chunk
from relops.slo.spans import period_start
from relops.state.sli_pulls import unreachable_flows
from relops.store.corrections import correction_spans
from relops.store.evaluations import claim_tick, save_snapshots
from relops.store.incidents import open_fingerprints
from relops.store.windows import fetch_flow_counts
from relops.timeutil import evaluation_end, floor_to_interval

logger = logging.getLogger(__name__)


def exclusions(
    conn: Connection, config: RelopsConfig, flows: Sequence[FlowConfig], as_of: datetime
) -> dict[str, list[tuple[datetime, datetime]]]:
    """Each flow's spans left out of its sums over its SLO period: its maintenance windows (when it
    excludes them) and its one-off corrections. One query for the whole chunk."""
    if not flows:
        return {}
    since = min(period_start(as_of, f) for f in flows)
    corrections = correction_spans(conn, [f.name for f in flows], since)
    return {
        f.name: flow_exclusions(f, config.maintenance, corrections.get(f.name, ()), period_start(as_of, f), as_of)
        for f in flows
    }


def tick(deps: Deps, manual: bool = False) -> dict[str, Any]:
    """Claim this tick's slot, then send one relops.evaluate_flows per chunk of flows.

    A manual tick (``relops tick``) evaluates even when beat already took the slot, and claims
    nothing: it must not make beat's next tick in the slot skip."""
    config = deps.config
    now = deps.now()
    interval_s = config.evaluation.tick_interval_s
    slot = floor_to_interval(now, interval_s)
    as_of = evaluation_end(now)
    chunks = chunked([f.name for f in config.flows], config.evaluation.chunk_size)
    # Publish inside the transaction: if publishing fails the claim rolls back and the retry
    # claims the slot again; a tick is never marked done without its chunks sent.
    with deps.engine.begin() as conn:
        if not manual and not claim_tick(conn, slot=slot, as_of=as_of, flows=len(config.flows), chunks=len(chunks)):
            log_event(logger, logging.INFO, "tick.skipped", slot=slot.isoformat(), reason="slot already evaluated")
            return {"slot": slot.isoformat(), "chunks": 0}
        for chunk in chunks:
            payload = {"as_of": as_of.isoformat(), "flows": chunk}
            deps.publish(names.TASK_EVALUATE_FLOWS, payload, names.QUEUE_EVALUATE)
    log_event(
        logger,
        logging.INFO,
        "tick.sent",
        slot=slot.isoformat(),
        as_of=as_of.isoformat(),
        flows=len(config.flows),
        chunks=len(chunks),
        manual=manual,
    )
    return {"slot": slot.isoformat(), "chunks": len(chunks)}


def unreachable_sources(deps: Deps, chunk: Sequence[FlowConfig], now: datetime) -> set[str]:
    """The flows of ``chunk`` whose source (Prometheus) has not answered for [sources]
    unreachable_after_s: evaluated as no data (relops.application.sli_pull raises their WARNING)."""
    sourced = [flow.name for flow in chunk if flow.prometheus is not None]
    if not sourced:
        return set()
    unreachable = unreachable_flows(deps.redis, sourced, now.timestamp(), deps.config.sources.unreachable_after_s)
    for name in sorted(unreachable):
        log_event(logger, logging.WARNING, "evaluate.source_unreachable", flow=name)
    return unreachable


def evaluate_flows(deps: Deps, as_of: datetime, flows: Sequence[str]) -> dict[str, int]:
    """Evaluate a chunk of flows at ``as_of``, write their snapshots of the minute (what the
    dashboard, ``relops status`` and the API show) in the same transaction as the alerts, publish an
    alert per breach and a resolution per recovered flow with an open incident."""
    config = deps.config
    known = config.flows_by_name
    chunk = [known[name] for name in flows if name in known]
    for name in sorted(set(flows) - known.keys()):
        log_event(logger, logging.WARNING, "evaluate.unknown_flow", flow=name, reason="not in the config any more")

    breaches = recovered = 0
    # Events say when they happened; the windows' end (as_of) is the close of the current minute.
    evaluated_at = deps.now()
    with deps.engine.begin() as conn:
        excluded = exclusions(conn, config, chunk, as_of)
        counts = fetch_flow_counts(conn, chunk, config.evaluation.windows, as_of, excluded)
        unreachable = unreachable_sources(deps, chunk, evaluated_at)
        for name in unreachable:
            counts.pop(name, None)  # its counts stopped coming: no data, never a healthy-looking lull
        evaluated = evaluate_chunk(chunk, counts, config.evaluation)
        saved = save_snapshots(conn, as_of, evaluated, no_data=unreachable)
        # Alerts go out before the commit: a failed publish rolls back and retries the chunk, and a
        # crash after publishing redelivers a duplicate alert, which dedup absorbs. Never a lost one.
        # No race either: relops.dispatch_alert reads nothing this transaction writes (the event
        # carries the evaluation), unlike a delivery, which reads its claim (delivery.py).
        healthy = [slo_fingerprint(f.name) for f, e in evaluated if e.severity is Severity.OK]
        recovering = open_fingerprints(conn, healthy) if healthy else set()
        messages = []
        for flow, evaluation in evaluated:
            event: AlertEvent
            if evaluation.severity.is_breach:
                event = slo_alert(evaluation, flow, as_of, config.runbook_url(flow), evaluated_at)
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
                event = slo_resolved(evaluation, flow, as_of, config.runbook_url(flow), evaluated_at)
                recovered += 1
                log_event(logger, logging.WARNING, "evaluate.recovered", flow=flow.name)
            else:
                continue
            messages.append(alert_message(event))
        # One round trip for the chunk's alerts: while many flows burn, every tick sends them all.
        deps.publish_all(messages)
    log_event(
        logger,
        logging.INFO,
        "evaluate.chunk",
        as_of=as_of.isoformat(),
        flows=len(chunk),
        snapshots=saved,
        breaches=breaches,
        recovered=recovered,
    )
    return {"flows": len(chunk), "snapshots": saved, "breaches": breaches, "recovered": recovered}
