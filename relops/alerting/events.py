"""Alert events: the payload of ``relops.dispatch_alert``. Pure: the event type and its validation.

Field names are part of the contract (README, "Alert events").
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from relops.config import MAX_URL_CHARS
from relops.errors import InputRejected
from relops.labels import complete_labels, validate_labels
from relops.names import QUEUE_ALERTS, TASK_DISPATCH_ALERT
from relops.timeutil import parse_utc

SEVERITIES = ("warning", "critical")
#: firing: the condition holds; resolved: it cleared, and the incident closes.
STATUSES = ("firing", "resolved")
#: The ``source`` of relops' own alerts (a service's may be anything else).
SOURCE_SLO = "slo"
SOURCE_CRON = "cron"
SOURCE_BREAKER = "breaker"
#: A flow's counts could not be read from where they come from (Prometheus).
SOURCE_SLI = "sli_source"
MAX_KEY_CHARS = 300
MAX_TITLE_CHARS = 300
MAX_SUMMARY_CHARS = 4000
MAX_DETAILS_BYTES = 64 * 1024


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
    #: What silences, maintenance windows and routes match on (relops.labels).
    labels: dict[str, str] = field(default_factory=dict)

    def as_kwargs(self) -> dict[str, Any]:
        # Shallow: asdict() deep-copies details and labels, which the router paid for twice per alert.
        return {name: getattr(self, name) for name in _FIELD_NAMES}


_FIELD_NAMES = tuple(AlertEvent.__dataclass_fields__)
OPTIONAL_FIELDS = ("status", "labels")
REQUIRED_FIELDS = tuple(name for name in AlertEvent.__dataclass_fields__ if name not in OPTIONAL_FIELDS)


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


def _lowercase(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def validate_alert_event(payload: Mapping[str, Any]) -> AlertEvent:
    """Check an incoming alert event field by field; raises InputRejected naming the field."""
    missing = [f for f in REQUIRED_FIELDS if f not in payload]
    if missing:
        raise InputRejected(missing[0], "is missing")
    unknown = sorted(set(payload) - set(REQUIRED_FIELDS) - set(OPTIONAL_FIELDS))
    if unknown:
        raise InputRejected(str(unknown[0])[:60], "is not a field of an alert event")
    # Producers written against the original design send "CRITICAL": both enumerations are taken
    # in any case and stored lowercase.
    status = _lowercase(payload.get("status", "firing"))
    if status not in STATUSES:
        raise InputRejected("status", f"must be one of {', '.join(STATUSES)}, got {str(status)[:40]!r}")
    severity = _lowercase(payload["severity"])
    allowed = SEVERITIES if status == "firing" else ("ok", *SEVERITIES)
    if severity not in allowed:
        raise InputRejected(
            "severity", f"must be one of {', '.join(allowed)} (any case), got {str(payload['severity'])[:40]!r}"
        )
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
    fingerprint = _text(payload, "fingerprint", MAX_KEY_CHARS)
    source = _text(payload, "source", 50)
    labels = validate_labels(payload.get("labels"))
    return AlertEvent(
        dedup_key=_text(payload, "dedup_key", MAX_KEY_CHARS),
        fingerprint=fingerprint,
        severity=severity,
        source=source,
        title=_text(payload, "title", MAX_TITLE_CHARS),
        summary=_text(payload, "summary", MAX_SUMMARY_CHARS, allow_empty=True),
        details=details,
        runbook_url=_text(payload, "runbook_url", MAX_URL_CHARS, allow_empty=True),
        occurred_at=occurred_at,
        status=status,
        labels=complete_labels(labels, source=source, severity=severity, fingerprint=fingerprint, details=details),
    )


def alert_message(event: AlertEvent) -> tuple[str, dict[str, Any], str]:
    """``event`` as the message that sends it to the alert router."""
    return TASK_DISPATCH_ALERT, event.as_kwargs(), QUEUE_ALERTS


def publish_alert(publish: Callable[..., None], event: AlertEvent) -> None:
    """Send ``event`` to the alert router (relops.dispatch_alert on the alerts queue)."""
    publish(TASK_DISPATCH_ALERT, event.as_kwargs(), QUEUE_ALERTS)
