"""Breaker states as alert events: OPEN raises a WARNING, CLOSED resolves it. Pure: no I/O.

Two paths raise them. The process whose call moves a breaker reports the transition at once
(relops workers install a transition listener); and relops.check_breakers (beat) reads every
breaker's shared state, so a breaker opened by a service that uses ``guard()`` on its own, with no
listener, still pages. Both use one fingerprint per dependency: dedup and the incident absorb the
second report of the same opening.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from typing import Any

from relops_client.breaker_machine import State

from relops.alerting.events import AlertEvent
from relops.config import RelopsConfig

SOURCE_BREAKER = "breaker"
#: docs/runbooks/breakers.md, under the config's runbook_base_url.
BREAKER_RUNBOOK = "breakers.md"


def breaker_fingerprint(dependency: str) -> str:
    return f"{SOURCE_BREAKER}:{dependency}"


def breaker_runbook_url(config: RelopsConfig) -> str:
    base = config.runbook_base_url
    return f"{base.rstrip('/')}/{BREAKER_RUNBOOK}" if base else BREAKER_RUNBOOK


def breaker_event(
    dependency: str,
    before: State,
    after: State,
    at_ms: int,
    runbook_url: str = "",
    labels: Mapping[str, str] | None = None,
) -> AlertEvent | None:
    """The alert a transition calls for, if any (HALF_OPEN comings and goings call for none).
    ``labels``: the breaker's own, from its [breakers.NAME] section."""
    key = breaker_fingerprint(dependency)

    def labelled(severity: str) -> dict[str, str]:
        return {**(labels or {}), "source": SOURCE_BREAKER, "severity": severity, "dependency": dependency}

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
            runbook_url=runbook_url,
            occurred_at=at,
            labels=labelled("warning"),
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
            runbook_url=runbook_url,
            occurred_at=at,
            status="resolved",
            labels=labelled("ok"),
        )
    return None


def watched_breaker_events(
    states: Mapping[str, Mapping[str, Any]],
    open_incidents: Collection[str],
    now_ms: int,
    runbook_url: str,
    labels: Mapping[str, Mapping[str, str]] | None = None,
) -> list[AlertEvent]:
    """What the shared states call for, given which breaker incidents are unresolved: an alert for a
    breaker that is not CLOSED and has none, a resolution for a CLOSED one that has one.

    Timed ``now_ms`` (when it was seen), not at the transition: an operator may have resolved the
    incident by hand since, and only a newer event reopens it. A breaker whose state is unknown
    (Redis unreachable) calls for nothing either way.
    """
    events = []
    for dependency, state in sorted(states.items()):
        name = state.get("state")
        has_incident = breaker_fingerprint(dependency) in open_incidents
        own = (labels or {}).get(dependency)
        event = None
        if name in (State.OPEN.value, State.HALF_OPEN.value) and not has_incident:
            event = breaker_event(dependency, State.CLOSED, State.OPEN, now_ms, runbook_url, own)
        elif name == State.CLOSED.value and has_incident:
            event = breaker_event(dependency, State.HALF_OPEN, State.CLOSED, now_ms, runbook_url, own)
        if event is not None:
            events.append(event)
    return events
