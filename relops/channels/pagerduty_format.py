"""relops notifications as PagerDuty Events API v2 alert events. Pure: no I/O, no clock.

One event per notification (PagerDuty wants one event per alert, not a digest), posted one by one
to ``/v2/enqueue`` (https://developer.pagerduty.com/docs/events-api-v2/trigger-events/):

- ``event_action``: ``trigger`` for a firing (and its repeats: a trigger on an open alert only adds
  to its log), ``acknowledge`` for a relops acknowledgement, ``resolve`` for a resolution;
- ``dedup_key``: the incident's episode (relops.alerting.episode_keys), so one relops incident
  episode is one PagerDuty alert, and a re-fire after a resolution opens a new one;
- ``payload`` (trigger only; PagerDuty ignores it on the others): ``summary`` (the title, at most
  1,024 characters), ``source`` (what is affected: the flow, job or dependency), ``severity`` (by
  the receiver's ``severity_map``), ``timestamp``, ``component``, ``group``, ``class`` and
  ``custom_details`` (labels, the alert's details with its burn rates, the incident);
- ``links``: the runbook, the flow's (or job's) page and the incident's page on the dashboard;
  ``client`` "relops" and ``client_url`` the dashboard.

Limits (Events API v2 overview, "API Limits" and the trigger parameters): ``dedup_key`` at most 255
characters, ``summary`` at most 1,024, a whole event at most 512 KB: an event over it loses its
details (``custom_details.details``), then its links, and says so.

A retried message must be safe to send again from its start, since a message is a group of events
and a retry resends every one: a ``trigger`` sent again after its ``resolve`` went out would open
a new PagerDuty incident. So each episode's events of one message are reduced (plan()) to its
resolution alone when it has one, else its latest trigger and then its acknowledgement: any prefix
of that, sent twice, changes nothing in PagerDuty.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Final

from relops.alerting.episode_keys import episode_key
from relops.channels.alertmanager_format import generator_url, incident_page, relops_labels
from relops.channels.base import MessageContext, Notification
from relops.channels.facts import labelled_title, printable, safe_link, subject, truncate
from relops.timeutil import parse_utc

#: PagerDuty's Events API v2 endpoint (EU accounts: https://events.eu.pagerduty.com/v2/enqueue).
EVENTS_URL: Final = "https://events.pagerduty.com/v2/enqueue"
#: "The maximum permitted length of this property is 255 characters." (dedup_key)
MAX_DEDUP_KEY_CHARS: Final = 255
#: "The maximum permitted length of this property is 1024 characters." (payload.summary)
MAX_SUMMARY_CHARS: Final = 1024
#: "Events API payloads are limited to 512 KB": read as 512,000 bytes, as Alertmanager's notifier does.
MAX_EVENT_BYTES: Final = 512_000
#: source, component, group and class have no documented limit: bounded like the summary.
MAX_FIELD_CHARS: Final = 1024
#: payload.severity: "This can be critical, error, warning or info."
SEVERITIES: Final = ("critical", "error", "warning", "info")
#: relops severity -> PagerDuty severity, unless the receiver's severity_map says otherwise.
DEFAULT_SEVERITY_MAP: Final[Mapping[str, str]] = {"critical": "critical", "warning": "warning"}
CLIENT: Final = "relops"
#: The notification kinds that become events, and their event_action.
ACTIONS: Final[Mapping[str, str]] = {"firing": "trigger", "acknowledged": "acknowledge", "resolved": "resolve"}


def dedup_key(n: Notification) -> str:
    """The episode's key; a notification stored before episodes were recorded falls back to its
    fingerprint (cut to the limit)."""
    if n.incident_id is not None and n.opened_at:
        try:
            return episode_key(n.incident_id, parse_utc(n.opened_at))
        except ValueError:
            pass
    return n.fingerprint[:MAX_DEDUP_KEY_CHARS]


def pagerduty_severity(severity: str, severity_map: Mapping[str, str] | None) -> str:
    """The PagerDuty severity of a relops one: the receiver's map, else the default one, else error."""
    mapped = {**DEFAULT_SEVERITY_MAP, **(severity_map or {})}.get(severity, "error")
    return mapped if mapped in SEVERITIES else "error"


def plan(notifications: Sequence[Notification]) -> list[Notification]:
    """The notifications of one message worth an event, in the order to send them: per episode its
    resolution alone, or its latest trigger then its acknowledgement (see the module doc); notices
    and unknown kinds left out. Episodes keep the order they first appear in."""
    by_key: dict[str, dict[str, Notification]] = {}
    for n in notifications:
        action = ACTIONS.get(n.kind)
        if action is not None:
            by_key.setdefault(dedup_key(n), {})[action] = n
    planned: list[Notification] = []
    for actions in by_key.values():
        if "resolve" in actions:
            planned.append(actions["resolve"])
            continue
        planned.extend(actions[a] for a in ("trigger", "acknowledge") if a in actions)
    return planned


def _field(text: str) -> str:
    return truncate(printable(text).strip(), MAX_FIELD_CHARS)


def _links(n: Notification, context: MessageContext) -> list[dict[str, str]]:
    found: list[dict[str, str]] = []
    runbook = safe_link(n.runbook_url) if n.runbook_url else None
    if runbook:
        found.append({"href": runbook, "text": "Runbook"})
    page = generator_url(n, context.dashboard_url)
    incident = incident_page(n, context.dashboard_url) if n.incident_id is not None else None
    if page and page != incident:
        found.append({"href": page, "text": f"{subject(n)} on relops"})
    if incident:
        found.append({"href": incident, "text": f"relops incident {n.incident_id}"})
    return found


def _payload(n: Notification, severity_map: Mapping[str, str] | None) -> dict[str, Any]:
    labels = relops_labels(n)
    payload: dict[str, Any] = {
        "summary": truncate(printable(labelled_title(n)), MAX_SUMMARY_CHARS),
        "source": _field(subject(n)) or CLIENT,
        "severity": pagerduty_severity(n.severity, severity_map),
        "timestamp": n.occurred_at,
        "custom_details": {
            "summary": n.summary,
            "incident_id": n.incident_id,
            "fingerprint": n.fingerprint,
            "labels": labels,
            "details": n.details,
        },
    }
    optional = {
        "component": labels.get("component") or labels.get("flow") or labels.get("job"),
        "group": labels.get("team") or labels.get("service"),
        "class": labels.get("alertname") or n.source,
    }
    payload.update({name: _field(value) for name, value in optional.items() if value})
    return payload


def event_size(event: Mapping[str, Any]) -> int:
    """The bytes the event takes as posted (compact UTF-8 JSON, as relops.channels.http sends it)."""
    return len(json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def _within_limit(event: dict[str, Any]) -> dict[str, Any]:
    """The event cut to MAX_EVENT_BYTES: its details first, then its links, then every custom detail."""
    if event_size(event) <= MAX_EVENT_BYTES:
        return event
    details = event["payload"]["custom_details"]
    details["details"] = {"omitted": f"the alert's details are over PagerDuty's {MAX_EVENT_BYTES:,}-byte event limit"}
    if event_size(event) > MAX_EVENT_BYTES:
        event.pop("links", None)
    if event_size(event) > MAX_EVENT_BYTES:
        event["payload"]["custom_details"] = {"omitted": "over PagerDuty's event size limit"}
    return event


def pagerduty_event(
    n: Notification, context: MessageContext, routing_key: str, severity_map: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """One notification as one Events API v2 event (``n.kind`` firing, acknowledged or resolved)."""
    action = ACTIONS[n.kind]
    event: dict[str, Any] = {"routing_key": routing_key, "event_action": action, "dedup_key": dedup_key(n)}
    if action != "trigger":
        return event
    event["payload"] = _payload(n, severity_map)
    event["client"] = CLIENT
    client_url = safe_link(context.dashboard_url)
    if client_url:
        event["client_url"] = client_url
    links = _links(n, context)
    if links:
        event["links"] = links
    return _within_limit(event)


def pagerduty_events(
    notifications: Sequence[Notification],
    context: MessageContext,
    routing_key: str,
    severity_map: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """The events one message sends, in order (plan() says which)."""
    return [pagerduty_event(n, context, routing_key, severity_map) for n in plan(notifications)]
