"""Alertmanager's webhook notifications (payload version 4) as relops alert events. Pure: the payload,
the severity rule and the clock in; alert events and the alerts refused out. The intake
(``POST /api/v1/alertmanager``) does the I/O.

One notification carries the alerts of one Alertmanager group, each with its full label set, so the
group's fields (``groupLabels``, ``commonLabels``, ``commonAnnotations``) add nothing and are not
read. Each alert becomes one event:

- ``fingerprint`` and ``dedup_key``: ``am:<the alert's fingerprint>`` (Alertmanager's hash of its
  label set, the same in every re-send, in every member of an HA pair and after a restart), so the
  same alert is one incident and one dedup window, and never one of relops' own (``slo:…``, …);
- ``severity``: from one label (``[intake]`` ``alertmanager_severity_label``) by the configured
  values; any other value, or no such label, is a warning, and the summary and
  ``details.alertmanager.severity`` say so;
- ``title``: the ``summary`` annotation, else the ``alertname`` label; ``summary``: the
  ``description`` annotation; ``runbook_url``: the ``runbook_url`` annotation;
- ``labels``: the alert's, sanitised (an empty value is no label, as in Prometheus; control
  characters become spaces; a value too long is cut) and checked by relops' label rules;
  ``source`` is always ``alertmanager`` and ``severity`` the mapped one;
- ``occurred_at``: ``startsAt`` for a firing alert, ``endsAt`` for a resolved one. A re-send carries
  the same ``startsAt``, so after a resolution it cannot reopen the incident; a new episode starts
  later than the last one ended, and reopens it.

An alert relops cannot take is refused alone (its index, the field at fault and why); the others
are taken. A payload that is not a version-4 notification is refused whole.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from relops.alerting.events import (
    MAX_DETAILS_BYTES,
    MAX_SUMMARY_CHARS,
    MAX_TITLE_CHARS,
    AlertEvent,
    validate_alert_event,
)
from relops.config import MAX_URL_CHARS
from relops.config.models import IntakeConfig
from relops.errors import InputRejected, Rejection, excerpt
from relops.labels import MAX_LABELS, MAX_VALUE_CHARS, label_problem

PAYLOAD_VERSION = "4"
SOURCE_ALERTMANAGER = "alertmanager"
FINGERPRINT_PREFIX = "am:"
#: The label relops' own alertmanager receiver puts on what it posts
#: (relops.channels.alertmanager_format.FINGERPRINT_LABEL): such an alert coming back is refused,
#: or relops would page for it twice, and loop if that receiver hears it again.
RELOPS_FINGERPRINT_LABEL = "relops_fingerprint"
#: Labels relops sets on every event itself: the alert's own are replaced, so they do not count
#: toward MAX_LABELS (the event's labels, completed, stay within it).
REPLACED_LABELS = ("source", "severity")
#: Alerts of one notification at most: past it the payload is refused (Alertmanager's webhook
#: ``max_alerts`` keeps a group's notification under it).
MAX_ALERTS = 10_000
#: Alertmanager's fingerprints are 16 hex digits; other senders get some room.
_FINGERPRINT = re.compile(r"^[0-9A-Za-z_-]{1,64}$")
#: What ``details`` keeps of each annotation, and how many.
MAX_ANNOTATION_CHARS = 1000
MAX_ANNOTATIONS = 32
MAX_CONTEXT_CHARS = 1000
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_SPACES = re.compile(r"\s+")
#: Go's time.Time in JSON (RFC 3339, up to nanoseconds, any offset).
_GO_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$")


@dataclass(frozen=True, slots=True)
class SeverityRule:
    """Which label says an alert's severity, and which of its values (lowercase) mean what."""

    label: str = "severity"
    critical: frozenset[str] = frozenset({"critical"})
    warning: frozenset[str] = frozenset({"warning"})

    @classmethod
    def from_config(cls, intake: IntakeConfig) -> SeverityRule:
        return cls(
            label=intake.alertmanager_severity_label,
            critical=frozenset(v.lower() for v in intake.alertmanager_critical),
            warning=frozenset(v.lower() for v in intake.alertmanager_warning),
        )

    def severity(self, labels: Mapping[str, str]) -> tuple[str, dict[str, Any]]:
        """The relops severity of an alert with ``labels``, and what the incident says about it."""
        value = labels.get(self.label)
        said: dict[str, Any] = {"label": self.label, "value": value}
        if value is not None and value.lower() in self.critical:
            return "critical", {**said, "taken_as": "critical"}
        if value is not None and value.lower() in self.warning:
            return "warning", {**said, "taken_as": "warning"}
        if value is None:
            note = f"no {self.label} label: taken as a warning"
        else:
            note = (
                f"{self.label}={value[:60]!r} is not a severity relops knows "
                "([intake] alertmanager_critical, alertmanager_warning): taken as a warning"
            )
        return "warning", {**said, "taken_as": "warning", "note": note}


@dataclass(frozen=True, slots=True)
class WebhookAlerts:
    """What one notification brought: the events to route and the alerts refused."""

    events: list[AlertEvent] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    #: Alerts Alertmanager left out of the notification (its webhook's ``max_alerts``).
    truncated_alerts: int = 0
    group_key: str = ""


def webhook_alerts(payload: Mapping[str, Any], rule: SeverityRule, now: datetime) -> WebhookAlerts:
    """The alert events of a webhook notification; raises InputRejected (naming the field) when the
    payload is not a version-4 notification at all."""
    version = payload.get("version")
    if version != PAYLOAD_VERSION:
        raise InputRejected(
            "version", f"must be {PAYLOAD_VERSION!r} (Alertmanager's webhook payload), got {str(version)[:40]!r}"
        )
    alerts = payload.get("alerts")
    if not isinstance(alerts, list):
        raise InputRejected("alerts", "must be a list of alerts")
    if len(alerts) > MAX_ALERTS:
        raise InputRejected(
            "alerts", f"has {len(alerts)} alerts, more than {MAX_ALERTS} (set max_alerts on the webhook)"
        )
    truncated = payload.get("truncatedAlerts", 0)
    if isinstance(truncated, bool) or not isinstance(truncated, int) or truncated < 0:
        raise InputRejected("truncatedAlerts", "must be a whole number of alerts")
    context = {
        "receiver": _short(payload.get("receiver")),
        "external_url": _short(payload.get("externalURL")),
        "group_key": _short(payload.get("groupKey")),
    }
    found = WebhookAlerts(truncated_alerts=truncated, group_key=context["group_key"])
    for index, alert in enumerate(alerts):
        try:
            if not isinstance(alert, Mapping):
                raise InputRejected("alerts", f"an alert must be an object, got {type(alert).__name__}")
            found.events.append(alert_event(alert, rule, now, context))
        except InputRejected as exc:
            found.rejections.append(Rejection(index, exc.field, exc.reason, excerpt(_identity(alert))))
    return found


def alert_event(alert: Mapping[str, Any], rule: SeverityRule, now: datetime, context: Mapping[str, str]) -> AlertEvent:
    """One alert of a notification as an alert event, checked by the contract's own validation."""
    fingerprint = alert.get("fingerprint")
    if not isinstance(fingerprint, str) or not _FINGERPRINT.match(fingerprint):
        raise InputRejected("fingerprint", "must be 1-64 letters, digits, _ or - (Alertmanager's hash of the labels)")
    status = alert.get("status")
    if status not in ("firing", "resolved"):
        raise InputRejected("status", f"must be firing or resolved, got {str(status)[:40]!r}")
    labels = sanitised_labels(alert.get("labels"))
    annotations = _annotations(alert.get("annotations"))
    starts_at = _moment(alert.get("startsAt"), "startsAt")
    ends_at = _moment(alert.get("endsAt"), "endsAt")
    if status == "firing":
        if starts_at is None:
            raise InputRejected("startsAt", "is missing: a firing alert says when it started")
        occurred_at = starts_at
    else:
        occurred_at = ends_at or now  # resolved without an end time: resolved when heard
    severity, severity_said = rule.severity(labels)
    key = FINGERPRINT_PREFIX + fingerprint
    note = severity_said.get("note")
    description = annotations.get("description") or annotations.get("message") or ""
    summary = description if note is None else f"{description}\n\n{note}".strip()
    runbook = _SPACES.sub(" ", annotations.get("runbook_url", "")).strip()
    details: dict[str, Any] = {
        "fingerprint": fingerprint,
        "status": status,
        "starts_at": None if starts_at is None else starts_at.isoformat(),
        "ends_at": None if ends_at is None else ends_at.isoformat(),
        "generator_url": _short(alert.get("generatorURL")),
        **context,
        "severity": severity_said,
        "annotations": {k: _cut(v, MAX_ANNOTATION_CHARS) for k, v in sorted(annotations.items())[:MAX_ANNOTATIONS]},
    }
    if len(runbook) > MAX_URL_CHARS:
        details["runbook_url_dropped"] = f"the runbook_url annotation is longer than {MAX_URL_CHARS} characters"
        runbook = ""
    details = _bounded({"alertmanager": details})
    event = {
        "dedup_key": key,
        "fingerprint": key,
        "severity": severity,
        "source": SOURCE_ALERTMANAGER,
        "title": _title(annotations.get("summary") or labels.get("alertname") or f"Alertmanager alert {fingerprint}"),
        "summary": _cut(summary, MAX_SUMMARY_CHARS),
        "details": details,
        "runbook_url": runbook,
        "occurred_at": occurred_at.isoformat(),
        "status": status,
        "labels": {name: value for name, value in labels.items() if name not in REPLACED_LABELS},
    }
    return validate_alert_event(event)


def sanitised_labels(raw: Any) -> dict[str, str]:
    """An alert's labels as relops keeps them; raises InputRejected naming a label relops cannot keep."""
    if not isinstance(raw, Mapping):
        raise InputRejected("labels", "must be an object of label names to string values")
    if RELOPS_FINGERPRINT_LABEL in raw:
        raise InputRejected(
            "labels",
            f"has {RELOPS_FINGERPRINT_LABEL}: it is relops' own alert, posted by an alertmanager receiver; taken "
            f"back it would page twice (route alerts with {RELOPS_FINGERPRINT_LABEL} away from this webhook)",
        )
    labels: dict[str, str] = {}
    for name, value in raw.items():
        if isinstance(value, str):
            if not value:
                continue  # Prometheus: a label with an empty value is no label
            value = _text(value)
            if len(value) > MAX_VALUE_CHARS:
                value = value[: MAX_VALUE_CHARS - 1] + "…"
        problem = label_problem(name, value)
        if problem:
            raise InputRejected("labels", problem)
        labels[name] = value
    kept = [name for name in labels if name not in REPLACED_LABELS]
    limit = MAX_LABELS - len(REPLACED_LABELS)
    if len(kept) > limit:
        raise InputRejected("labels", f"has {len(kept)} labels besides source and severity, more than {limit}")
    return labels


def _annotations(raw: Any) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise InputRejected("annotations", "must be an object of names to string values")
    found: dict[str, str] = {}
    for name, value in raw.items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise InputRejected("annotations", f"annotation {str(name)[:60]!r} must have a string value")
        found[_cut(_text(name), 100)] = _text(value, keep_lines=True)
    return found


def _moment(value: Any, name: str) -> datetime | None:
    """An RFC 3339 time as Go writes it; None when absent or Go's zero time (not set)."""
    if value is None or value == "":
        return None
    matched = _GO_TIME.match(value) if isinstance(value, str) else None
    if matched is None:
        raise InputRejected(name, f"must be an RFC 3339 time, got {str(value)[:40]!r}")
    whole, fraction, offset = matched.groups()
    micros = (fraction or "").ljust(6, "0")[:6]  # Go writes nanoseconds; Python keeps microseconds
    try:
        moment = datetime.fromisoformat(f"{whole}.{micros}{'+00:00' if offset == 'Z' else offset}")
    except ValueError as exc:
        raise InputRejected(name, f"is not a valid time ({exc})") from None
    if moment.year <= 1:
        return None
    return moment.astimezone(UTC)


def _text(value: str, *, keep_lines: bool = False) -> str:
    """``value`` without control characters (newlines kept in prose when ``keep_lines``) or lone
    surrogates, which no log, database or receiver should be handed."""
    if keep_lines:
        value = value.replace("\r\n", "\n")
        value = "\n".join(_CONTROL.sub(" ", line) for line in value.split("\n"))
    else:
        value = _CONTROL.sub(" ", value)
    return _SURROGATE.sub("\ufffd", value)


def _title(value: str) -> str:
    return _cut(_SPACES.sub(" ", value).strip() or "Alertmanager alert", MAX_TITLE_CHARS)


def _cut(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _short(value: Any) -> str:
    return _cut(_text(value), MAX_CONTEXT_CHARS) if isinstance(value, str) else ""


def _bounded(details: dict[str, Any]) -> dict[str, Any]:
    """``details`` within the alert event's bound: annotations give way first (the title, summary and
    runbook are taken from them already)."""
    size = len(json.dumps(details))
    if size <= MAX_DETAILS_BYTES:
        return details
    inner = dict(details["alertmanager"])
    dropped = inner.pop("annotations")
    inner["annotations_dropped"] = f"{len(dropped)} annotations, more than the {MAX_DETAILS_BYTES} bytes details hold"
    return {"alertmanager": inner}


def _identity(alert: Any) -> Any:
    """What a rejection quotes of an alert: what tells it apart, not its whole text."""
    if not isinstance(alert, Mapping):
        return alert
    return {k: alert.get(k) for k in ("fingerprint", "status", "labels") if k in alert}
