"""relops.record_flow_outcomes: flow outcome batches from services (relops.slo.ingest)."""

from __future__ import annotations

from typing import Any

from relops import names
from relops.slo.ingest import record_outcomes
from tasks.base import RelopsTask, worker_deps
from workers import app


@app.task(name=names.TASK_RECORD_FLOW_OUTCOMES, base=RelopsTask)
def record_flow_outcomes(*args: Any, batch_id: Any = None, counts: Any = None, **unknown: Any) -> dict[str, int]:
    return record_outcomes(worker_deps(), batch_id, counts, args=args, unknown=unknown)
