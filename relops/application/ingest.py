"""relops.record_flow_outcomes' logic: validate a batch, then add its valid counts once; and
relops.record_flow_outcome_batches', which does the same for each batch of a message."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from relops_client.logs import log_event

from relops import names
from relops.application.deps import Deps
from relops.application.rejections import log_rejections, reject_payload
from relops.errors import InputRejected, listed_items
from relops.slo.outcome_batch import parse_counts, validate_batch_id
from relops.slo.retention import horizons
from relops.store.outcomes import ingest_batch
from relops.store.rejections import record_rejections

logger = logging.getLogger(__name__)


def record_outcomes(
    deps: Deps, batch_id: Any, counts: Any, *, args: Sequence[Any] = (), unknown: Mapping[str, Any] | None = None
) -> dict[str, int]:
    """Add a batch's valid counts to the minute and hour counters, once per batch id (a redelivered
    or resent batch changes nothing); reject bad items one by one and a malformed batch whole."""
    now = deps.now()
    for name in unknown or {}:
        log_event(logger, logging.WARNING, "ingest.unknown_field", batch_id=batch_id, field=name)
    try:
        if args:
            raise InputRejected("args", "outcome batches are sent as kwargs, not positional arguments")
        batch_id = validate_batch_id(batch_id)
        limits = horizons(deps.config, now)
        items, rejections = parse_counts(
            counts,
            known_flows=deps.config.pushed_flows_by_name,
            refused_flows=deps.config.sourced_flow_refusals,
            now=now,
            oldest=limits.hours,
        )
    except InputRejected as exc:
        reject_payload(
            deps.engine,
            logger,
            task=names.TASK_RECORD_FLOW_OUTCOMES,
            event="ingest.rejected",
            reference=("batch_id", batch_id),
            error=exc,
            payload={"batch_id": batch_id, "counts": counts},
        )
        return {"accepted": 0, "rejected": 1}

    with deps.engine.begin() as conn:
        fresh = ingest_batch(conn, batch_id, items, rejected=len(rejections), minute_horizon=limits.minutes)
        if fresh:
            record_rejections(conn, names.TASK_RECORD_FLOW_OUTCOMES, batch_id, rejections)
    if not fresh:
        log_event(logger, logging.INFO, "ingest.duplicate_batch", batch_id=batch_id)
        return {"accepted": 0, "rejected": 0}
    log_rejections(logger, "ingest.rejected", {"batch_id": batch_id}, rejections)
    log_event(logger, logging.INFO, "ingest.batch", batch_id=batch_id, accepted=len(items), rejected=len(rejections))
    return {"accepted": len(items), "rejected": len(rejections)}


def record_outcome_batches(deps: Deps, payload: Mapping[str, Any], *, args: Sequence[Any] = ()) -> dict[str, int]:
    """relops.record_flow_outcome_batches: each of ``batches`` handled as relops.record_flow_outcomes
    handles one, in order and in its own transaction, so a redelivered message changes nothing (each
    batch counts once by its id) and a bad batch is rejected alone."""
    try:
        batches = listed_items(payload, args, "batches", names.MAX_OUTCOME_BATCHES_PER_MESSAGE, "outcome batches")
    except InputRejected as exc:
        _reject_message(deps, exc, dict(payload))
        return {"accepted": 0, "rejected": 1}
    totals = {"accepted": 0, "rejected": 0}
    for batch in batches:
        if not isinstance(batch, Mapping):
            error = InputRejected("batches", f"each batch must be an object, not {type(batch).__name__}")
            _reject_message(deps, error, batch)
            totals["rejected"] += 1
            continue
        fields = dict(batch)
        batch_id, counts = fields.pop("batch_id", None), fields.pop("counts", None)
        outcome = record_outcomes(deps, batch_id, counts, unknown=fields)
        totals["accepted"] += outcome["accepted"]
        totals["rejected"] += outcome["rejected"]
    return totals


def _reject_message(deps: Deps, error: InputRejected, payload: Any) -> None:
    reject_payload(
        deps.engine,
        logger,
        task=names.TASK_RECORD_FLOW_OUTCOME_BATCHES,
        event="ingest.rejected",
        reference=("batch_id", None),
        error=error,
        payload=payload,
    )
