"""relops.record_flow_outcomes and relops.record_flow_outcome_batches: flow outcome batches from
services and the HTTP intake (relops.application.ingest)."""

from __future__ import annotations

from typing import Any

from relops import names
from relops.application.ingest import record_outcome_batches, record_outcomes
from tasks.base import RelopsTask, worker_deps
from workers import app


@app.task(name=names.TASK_RECORD_FLOW_OUTCOMES, base=RelopsTask)
def record_flow_outcomes(*args: Any, batch_id: Any = None, counts: Any = None, **unknown: Any) -> dict[str, int]:
    return record_outcomes(worker_deps(), batch_id, counts, args=args, unknown=unknown)


@app.task(name=names.TASK_RECORD_FLOW_OUTCOME_BATCHES, base=RelopsTask)
def record_flow_outcome_batches(*args: Any, **payload: Any) -> dict[str, int]:
    return record_outcome_batches(worker_deps(), payload, args=args)
