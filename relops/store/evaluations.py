"""Evaluation ticks and burn-rate snapshots."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import Connection, text
from sqlalchemy.dialects.postgresql import insert

from models import EvaluationTick
from relops.config import FlowConfig
from relops.slo.burn_alerts import rounded_rate, snapshot_window
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


# One statement for a chunk's snapshots, columns as arrays: a row per flow through executemany cost
# more than evaluating the flow. Every tick of a minute evaluates at the same as_of (the minute's
# close), so the minute's row is the latest of them: the dashboard, `relops status` and the API
# show each tick at once, and the history keeps one row per flow and minute (the minute's last
# tick). A row the evaluation would not change is left alone (no dead tuple for an idle flow).
_SAVE_SNAPSHOTS = text("""
INSERT INTO ops_burn_rate_snapshots (flow, evaluated_at, severity, objective_percent, budget_remaining,
    time_to_exhaustion_s, period_events, period_errors, excluded_events, excluded_errors,
    budget_remaining_uncorrected, windows)
SELECT flow, :evaluated_at, severity, objective, budget, tte, events, errors, excluded_events, excluded_errors,
       uncorrected, w.windows
FROM unnest(CAST(:flows AS text[]), CAST(:severities AS text[]), CAST(:objectives AS numeric[]),
            CAST(:budgets AS numeric[]), CAST(:ttes AS bigint[]), CAST(:events AS bigint[]),
            CAST(:errors AS bigint[]), CAST(:excluded_events AS bigint[]), CAST(:excluded_errors AS bigint[]),
            CAST(:uncorrected AS numeric[]))
     WITH ORDINALITY AS s(flow, severity, objective, budget, tte, events, errors, excluded_events,
                          excluded_errors, uncorrected, i)
JOIN jsonb_array_elements(CAST(:windows AS jsonb)) WITH ORDINALITY AS w(windows, i) USING (i)
ON CONFLICT ON CONSTRAINT uq_ops_burn_rate_snapshots_flow_evaluated_at DO UPDATE SET
    severity = EXCLUDED.severity, objective_percent = EXCLUDED.objective_percent,
    budget_remaining = EXCLUDED.budget_remaining, time_to_exhaustion_s = EXCLUDED.time_to_exhaustion_s,
    period_events = EXCLUDED.period_events, period_errors = EXCLUDED.period_errors,
    excluded_events = EXCLUDED.excluded_events, excluded_errors = EXCLUDED.excluded_errors,
    budget_remaining_uncorrected = EXCLUDED.budget_remaining_uncorrected, windows = EXCLUDED.windows
WHERE (ops_burn_rate_snapshots.severity, ops_burn_rate_snapshots.objective_percent,
       ops_burn_rate_snapshots.budget_remaining, ops_burn_rate_snapshots.time_to_exhaustion_s,
       ops_burn_rate_snapshots.period_events, ops_burn_rate_snapshots.period_errors,
       ops_burn_rate_snapshots.excluded_events, ops_burn_rate_snapshots.excluded_errors,
       ops_burn_rate_snapshots.budget_remaining_uncorrected, ops_burn_rate_snapshots.windows)
      IS DISTINCT FROM
      (EXCLUDED.severity, EXCLUDED.objective_percent, EXCLUDED.budget_remaining, EXCLUDED.time_to_exhaustion_s,
       EXCLUDED.period_events, EXCLUDED.period_errors, EXCLUDED.excluded_events, EXCLUDED.excluded_errors,
       EXCLUDED.budget_remaining_uncorrected, EXCLUDED.windows)
""")
_COLUMNS = (
    "flows",
    "severities",
    "objectives",
    "budgets",
    "ttes",
    "events",
    "errors",
    "excluded_events",
    "excluded_errors",
    "uncorrected",
    "windows",
)
_encode_json = msgspec.json.Encoder().encode


def save_snapshots(
    conn: Connection,
    as_of: datetime,
    evaluated: Sequence[tuple[FlowConfig, FlowEvaluation]],
    no_data: Collection[str] = (),
) -> int:
    """Write each flow's snapshot of ``as_of``'s minute (for flows with data, and for the flows in
    ``no_data``, whose counts cannot be read: their "no data" must replace what the dashboard showed),
    replacing what an earlier tick of the minute wrote; the rows inserted or changed."""
    columns: dict[str, list[Any]] = {name: [] for name in _COLUMNS}
    for flow, evaluation in evaluated:
        if not evaluation.non_empty_windows and not evaluation.period_events and flow.name not in no_data:
            continue
        windows = [snapshot_window(w) for w in evaluation.windows if w.events]
        columns["flows"].append(flow.name)
        columns["severities"].append(evaluation.severity.value)
        columns["objectives"].append(flow.objective_percent)
        columns["budgets"].append(rounded_rate(evaluation.budget_remaining))
        columns["ttes"].append(evaluation.time_to_exhaustion_s)
        columns["events"].append(evaluation.period_events)
        columns["errors"].append(evaluation.period_errors)
        columns["excluded_events"].append(evaluation.excluded_events)
        columns["excluded_errors"].append(evaluation.excluded_errors)
        columns["uncorrected"].append(
            rounded_rate(evaluation.budget_remaining_uncorrected) if evaluation.excluded_events else None
        )
        columns["windows"].append(windows)
    if not columns["flows"]:
        return 0
    # The windows go as one JSON document: JSON texts in a text array would each be escaped.
    params = {"evaluated_at": as_of, **columns, "windows": _encode_json(columns["windows"]).decode()}
    return conn.execute(_SAVE_SNAPSHOTS, params).rowcount
