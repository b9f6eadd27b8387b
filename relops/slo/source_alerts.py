"""A flow's source not answering, as alert events: a WARNING while relops cannot read its counts
(the flow is evaluated as "no data" meanwhile, never as healthy), resolved once it answers again.
One incident per flow's source. Pure."""

from __future__ import annotations

from datetime import UTC, datetime

from relops.alerting.events import SOURCE_SLI, AlertEvent
from relops.config import FlowConfig


def source_fingerprint(flow: str) -> str:
    return f"{SOURCE_SLI}:{flow}"


def _labels(flow: FlowConfig, severity: str) -> dict[str, str]:
    return {**flow.labels, "source": SOURCE_SLI, "severity": severity, "flow": flow.name}


def _at(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat()


def source_unreachable(flow: FlowConfig, error: str, failing_since: float, now: float, runbook_url: str) -> AlertEvent:
    key = source_fingerprint(flow.name)
    minutes = max(0, round((now - failing_since) / 60))
    return AlertEvent(
        dedup_key=key,
        fingerprint=key,
        severity="warning",
        source=SOURCE_SLI,
        title=f"WARNING: {flow.name}'s SLI source is unreachable (Prometheus)",
        summary=f"relops has not been able to read {flow.name}'s counts from Prometheus for {minutes} min: "
        f"{error[:500]}. The flow is evaluated as no data meanwhile; its SLO alerts cannot fire.",
        details={"flow": flow.name, "error": error[:1000], "failing_since": _at(failing_since)},
        runbook_url=runbook_url,
        occurred_at=_at(now),
        labels=_labels(flow, "warning"),
    )


def source_answering(flow: FlowConfig, failing_since: float, now: float, runbook_url: str) -> AlertEvent:
    key = source_fingerprint(flow.name)
    return AlertEvent(
        dedup_key=key,
        fingerprint=key,
        severity="ok",
        source=SOURCE_SLI,
        title=f"RESOLVED: {flow.name}'s SLI source answers again (Prometheus)",
        summary=f"relops reads {flow.name}'s counts from Prometheus again; the minutes it missed are pulled now.",
        details={"flow": flow.name, "failing_since": _at(failing_since)},
        runbook_url=runbook_url,
        occurred_at=_at(now),
        status="resolved",
        labels=_labels(flow, "ok"),
    )
