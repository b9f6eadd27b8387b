"""Alert events: the payload of ``relops.dispatch_alert``. Pure: building and validating only.

Field names are part of the contract (README, "Alert events").
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from fractions import Fraction
from typing import Any

from relops.burnrate import FlowEvaluation
from relops.errors import InputRejected
from relops.slo_config import MAX_URL_CHARS, FlowConfig
from relops.timeutil import parse_utc

SEVERITIES = ("warning", "critical")
#: firing: the condition holds; resolved: it cleared, and the incident closes.
STATUSES = ("firing", "resolved")
MAX_KEY_CHARS = 300
MAX_TITLE_CHARS = 300
MAX_SUMMARY_CHARS = 4000
MAX_DETAILS_BYTES = 64 * 1024
SOURCE_SLO = "slo"


@dataclass(frozen=True, slots=True)
class AlertEvent:
    dedup_key: str
    fingerprint: str
    severity: str
    source: str
    title: str
    summary: str
    details: dict[str, Any]
    runbook_url: str
    occurred_at: str
    status: str = "firing"

    def as_kwargs(self) -> dict[str, Any]:
        return asdict(self)


REQUIRED_FIELDS = tuple(name for name in AlertEvent.__dataclass_fields__ if name != "status")
OPTIONAL_FIELDS = ("status",)


def _rate(value: Fraction | None) -> float | None:
    return None if value is None else round(float(value), 4)


def slo_fingerprint(flow: str) -> str:
    """One incident per flow, whatever its severity: also the dedup key of its notifications."""
    return f"{SOURCE_SLO}:{flow}"


def evaluation_details(evaluation: FlowEvaluation, flow: FlowConfig, as_of: datetime) -> dict[str, Any]:
    """The numbers an on-call needs: per-window counts and burn, budget left, time to exhaustion."""
    return {
        "flow": flow.name,
        "objective_percent": float(flow.objective_percent),
        "evaluated_at": as_of.isoformat(),
        "windows": {
            w.name: {
                "window_s": w.window_s,
                "events": w.events,
                "errors": w.errors,
                "burn_rate": _rate(w.burn_rate),
                "status": w.status.value,
            }
            for w in evaluation.windows
        },
        "period_days": flow.period_days,
        "period_events": evaluation.period_events,
        "period_errors": evaluation.period_errors,
        "budget_remaining": _rate(evaluation.budget_remaining),
        "budget_exhausted": evaluation.budget_exhausted,
        "time_to_exhaustion_s": evaluation.time_to_exhaustion_s,
    }


def slo_alert(evaluation: FlowEvaluation, flow: FlowConfig, as_of: datetime, runbook_url: str) -> AlertEvent:
    """The alert event for a flow that breaches (WARNING or CRITICAL)."""
    if not evaluation.severity.is_breach:
        raise ValueError(f"flow {flow.name!r} is {evaluation.severity}, not a breach")
    firing = [w for w in evaluation.windows if w.status.value == evaluation.severity.value]
    worst = max(firing, key=lambda w: w.burn_rate or 0, default=None)
    if worst is not None:
        cause = f"burning its error budget at {float(worst.burn_rate or 0):.1f}x over {worst.name}"
        counts = f"{worst.errors} bad of {worst.events} events in the last {worst.name}"
    else:
        cause = "has exhausted its error budget"
        counts = f"{evaluation.period_errors} bad of {evaluation.period_events} events this period"
    budget = evaluation.budget_remaining
    budget_text = "no data" if budget is None else f"{float(budget) * 100:.1f}%"
    summary = f"{flow.name} {cause}: {counts}. Objective {flow.objective_percent}%, budget remaining {budget_text}."
    if evaluation.time_to_exhaustion_s:
        summary += f" Budget exhausted in about {evaluation.time_to_exhaustion_s // 60} min at the current rate."
    key = slo_fingerprint(flow.name)
    return AlertEvent(
        dedup_key=key,
        fingerprint=key,
        severity=evaluation.severity.value,
        source=SOURCE_SLO,
        title=f"{evaluation.severity.value.upper()}: {flow.name} {cause}",
        summary=summary,
        details=evaluation_details(evaluation, flow, as_of),
        runbook_url=runbook_url,
        occurred_at=as_of.isoformat(),
    )


def slo_resolved(evaluation: FlowEvaluation, flow: FlowConfig, as_of: datetime, runbook_url: str) -> AlertEvent:
    """The event that closes a flow's incident once every window is healthy again."""
    budget = evaluation.budget_remaining
    budget_text = "no data" if budget is None else f"{float(budget) * 100:.1f}%"
    rates = ", ".join(
        f"{w.name} {float(w.burn_rate):.1f}x" if w.burn_rate is not None else f"{w.name} no data"
        for w in evaluation.windows
    )
    key = slo_fingerprint(flow.name)
    return AlertEvent(
        dedup_key=key,
        fingerprint=key,
        severity="ok",
        source=SOURCE_SLO,
        title=f"RESOLVED: {flow.name} is no longer burning its error budget",
        summary=f"{flow.name} is back within its objective ({rates}). Budget remaining {budget_text}.",
        details=evaluation_details(evaluation, flow, as_of),
        runbook_url=runbook_url,
        occurred_at=as_of.isoformat(),
        status="resolved",
    )


def _text(payload: Mapping[str, Any], field: str, limit: int, *, allow_empty: bool = False) -> str:
    value = payload.get(field)
    if not isinstance(value, str):
        raise InputRejected(field, "must be a string")
    if not allow_empty and not value.strip():
        raise InputRejected(field, "must not be empty")
    if len(value) > limit:
        raise InputRejected(field, f"is {len(value)} characters, more than {limit}")
    if "\x00" in value:
        raise InputRejected(field, "contains a NUL character")
    return value


def validate_alert_event(payload: Mapping[str, Any]) -> AlertEvent:
    """Check an incoming alert event field by field; raises InputRejected naming the field."""
    missing = [f for f in REQUIRED_FIELDS if f not in payload]
    if missing:
        raise InputRejected(missing[0], "is missing")
    unknown = sorted(set(payload) - set(REQUIRED_FIELDS) - set(OPTIONAL_FIELDS))
    if unknown:
        raise InputRejected(str(unknown[0])[:60], "is not a field of an alert event")
    status = payload.get("status", "firing")
    if status not in STATUSES:
        raise InputRejected("status", f"must be one of {', '.join(STATUSES)}, got {str(status)[:40]!r}")
    severity = payload["severity"]
    allowed = SEVERITIES if status == "firing" else ("ok", *SEVERITIES)
    if severity not in allowed:
        raise InputRejected("severity", f"must be one of {', '.join(allowed)}, got {str(severity)[:40]!r}")
    details = payload["details"]
    if not isinstance(details, dict):
        raise InputRejected("details", "must be an object")
    try:
        size = len(json.dumps(details))
    except (TypeError, ValueError, RecursionError):
        raise InputRejected("details", "is not JSON-serialisable") from None
    if size > MAX_DETAILS_BYTES:
        raise InputRejected("details", f"is {size} bytes of JSON, more than {MAX_DETAILS_BYTES}")
    occurred_at = _text(payload, "occurred_at", 64)
    try:
        parse_utc(occurred_at)
    except ValueError as exc:
        raise InputRejected("occurred_at", f"not an ISO-8601 UTC timestamp ({exc})") from None
    return AlertEvent(
        dedup_key=_text(payload, "dedup_key", MAX_KEY_CHARS),
        fingerprint=_text(payload, "fingerprint", MAX_KEY_CHARS),
        severity=severity,
        source=_text(payload, "source", 50),
        title=_text(payload, "title", MAX_TITLE_CHARS),
        summary=_text(payload, "summary", MAX_SUMMARY_CHARS, allow_empty=True),
        details=details,
        runbook_url=_text(payload, "runbook_url", MAX_URL_CHARS, allow_empty=True),
        occurred_at=occurred_at,
        status=status,
    )
