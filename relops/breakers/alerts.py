"""Breaker transitions as alert events: OPEN raises a WARNING, CLOSED resolves it."""

from __future__ import annotations

from datetime import UTC, datetime

from relops.alert_event import AlertEvent
from relops.breakers.machine import State

SOURCE_BREAKER = "breaker"
#: docs/runbooks/breakers.md, under the config's runbook_base_url.
BREAKER_RUNBOOK = "breakers.md"


def breaker_event(dependency: str, before: State, after: State, at_ms: int, runbook_url: str = "") -> AlertEvent | None:
    """The alert a transition calls for, if any (HALF_OPEN comings and goings call for none)."""
    key = f"{SOURCE_BREAKER}:{dependency}"
    at = datetime.fromtimestamp(at_ms / 1000, UTC).isoformat()
    details = {"dependency": dependency, "from": before.value, "to": after.value}
    if before is State.CLOSED and after is State.OPEN:
        return AlertEvent(
            dedup_key=key,
            fingerprint=key,
            severity="warning",
            source=SOURCE_BREAKER,
            title=f"WARNING: {dependency} is degraded (circuit open)",
            summary=f"Calls to {dependency} are failing; relops stopped calling it and fails fast until "
            "trial calls succeed.",
            details=details,
            runbook_url="",
            occurred_at=at,
        )
    if after is State.CLOSED:
        return AlertEvent(
            dedup_key=key,
            fingerprint=key,
            severity="ok",
            source=SOURCE_BREAKER,
            title=f"RESOLVED: {dependency} is answering again (circuit closed)",
            summary=f"Trial calls to {dependency} succeeded; calls flow normally.",
            details=details,
            runbook_url="",
            occurred_at=at,
            status="resolved",
        )
    return None
