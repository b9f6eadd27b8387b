"""Adding a one-off SLO correction: checked, stored, audited; and what it leaves out right now."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine

from relops.application.audit import Actor
from relops.config import RelopsConfig
from relops.errors import InputRejected
from relops.slo.burnrate import Counts
from relops.slo.corrections import whole_minutes
from relops.store.corrections import insert_correction
from relops.store.windows import fetch_flow_counts

MAX_REASON_CHARS = 1000


@dataclass(frozen=True)
class Corrected:
    correction_id: int
    #: The events of the span, as the counters hold them now: what the budget no longer counts.
    excluded: Counts


def add_correction(
    engine: Engine,
    config: RelopsConfig,
    actor: Actor,
    *,
    flow: str,
    starts_at: datetime,
    ends_at: datetime,
    reason: str,
    now: datetime,
) -> Corrected:
    """Leave [starts_at, ends_at) of ``flow``'s events out of its burn rates and budget; raises
    InputRejected naming the field when that cannot be what was meant."""
    flow_config = config.flows_by_name.get(flow)
    if flow_config is None:
        raise InputRejected("flow", f"{flow[:80]!r} is not a flow in the config")
    if not reason or not reason.strip():
        raise InputRejected("reason", "is required: say why these events do not count (a planned outage, ...)")
    if len(reason) > MAX_REASON_CHARS:
        raise InputRejected("reason", f"is {len(reason)} characters, more than {MAX_REASON_CHARS}")
    if ends_at <= starts_at:
        raise InputRejected("to", f"{ends_at.isoformat()} is not after the start, {starts_at.isoformat()}")
    if ends_at > now:
        raise InputRejected("to", "is in the future: a correction is for events already counted")
    if ends_at <= now - timedelta(seconds=flow_config.period_s):
        raise InputRejected("from", f"the span is older than {flow}'s {flow_config.period_days}-day SLO period")
    with engine.begin() as conn:
        correction_id = insert_correction(
            conn, flow=flow, starts_at=starts_at, ends_at=ends_at, reason=reason.strip(), created_by=actor.name
        )
        span = whole_minutes((starts_at, ends_at))
        counts = fetch_flow_counts(conn, [flow_config], config.evaluation.windows, now, {flow: [span]})
        excluded = counts[flow].period_excluded
        actor.record(
            conn,
            "correction.add",
            f"flow {flow}",
            correction=correction_id,
            starts_at=starts_at.isoformat(),
            ends_at=ends_at.isoformat(),
            reason=reason.strip(),
            excluded_events=excluded.total,
            excluded_errors=excluded.bad,
        )
    return Corrected(correction_id, excluded)
