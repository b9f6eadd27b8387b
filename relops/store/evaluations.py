"""Evaluation ticks and burn-rate snapshots."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection
from sqlalchemy.dialects.postgresql import insert

from models import BurnRateSnapshot, EvaluationTick
from relops.config import FlowConfig
from relops.slo.alerts import evaluation_details
from relops.slo.burnrate import FlowEvaluation


def claim_tick(conn: Connection, *, slot: datetime, as_of: datetime, flows: int, chunks: int) -> bool:
    """Record the tick for its slot. False when another tick (a second beat) already took the slot."""
    row = conn.execute(
        insert(EvaluationTick)
        .values(slot=slot, as_of=as_of, flows=flows, chunks=chunks)
        .on_conflict_do_nothing(index_elements=["slot"])
        .returning(EvaluationTick.slot)
    ).first()
    return row is not None


def save_snapshots(conn: Connection, as_of: datetime, evaluated: Sequence[tuple[FlowConfig, FlowEvaluation]]) -> int:
    """Persist one snapshot per flow that has data; a redelivered chunk adds nothing (unique key)."""
    rows = []
    for flow, evaluation in evaluated:
        if not evaluation.non_empty_windows and not evaluation.period_events:
            continue
        details = evaluation_details(evaluation, flow, as_of)
        rows.append(
            {
                "flow": flow.name,
                "evaluated_at": as_of,
                "severity": evaluation.severity.value,
                "objective_percent": flow.objective_percent,
                "budget_remaining": details["budget_remaining"],
                "time_to_exhaustion_s": evaluation.time_to_exhaustion_s,
                "period_events": evaluation.period_events,
                "period_errors": evaluation.period_errors,
                "excluded_events": evaluation.excluded_events,
                "excluded_errors": evaluation.excluded_errors,
                "budget_remaining_uncorrected": details.get("budget_remaining_uncorrected"),
                "windows": [
                    {"window": name, **window} for name, window in details["windows"].items() if window["events"]
                ],
            }
        )
    if not rows:
        return 0
    result = conn.execute(
        insert(BurnRateSnapshot).on_conflict_do_nothing(constraint="uq_ops_burn_rate_snapshots_flow_evaluated_at"),
        rows,
    )
    return result.rowcount
