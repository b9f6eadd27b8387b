"""relops' own webhook JSON (``format = "json"``): what a home-made receiver wants, every field of each
notification, versioned. Pure: no I/O, no clock.

The JSON Schema in docs/reference/relops-webhook-v1.schema.json describes it (and the tests validate
every payload sent against it). Within one ``version`` fields are only ever added; a change that a
receiver could trip on is a new version. ``message_key`` is stable across the retries of a message
(and sent as the ``Idempotency-Key`` header): a receiver that remembers it takes each message once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from relops.channels.alertmanager_format import generator_url, incident_page, relops_labels
from relops.channels.base import MessageContext, Notification, ordered
from relops.channels.facts import safe_link

#: The version of the payload's shape (the schema's ``version`` const).
VERSION = "1"


def message_status(notifications: Sequence[Notification]) -> str:
    """``firing`` when any notification fires, else ``resolved`` when any resolves, else ``notice``."""
    kinds = {n.kind for n in notifications}
    if "firing" in kinds:
        return "firing"
    return "resolved" if "resolved" in kinds else "notice"


def _notification(n: Notification, context: MessageContext) -> dict[str, Any]:
    alert = n.kind != "notice"
    return {
        "fingerprint": n.fingerprint,
        "kind": n.kind,
        "severity": n.severity,
        "source": n.source,
        "title": n.title,
        "summary": n.summary,
        "labels": relops_labels(n) if alert else dict(n.labels),
        "details": n.details,
        "incident_id": n.incident_id,
        "opened_at": n.opened_at,
        "occurred_at": n.occurred_at,
        "links": {
            "runbook": safe_link(n.runbook_url),
            "incident": incident_page(n, context.dashboard_url) if n.incident_id is not None else None,
            "page": generator_url(n, context.dashboard_url) if alert else None,
        },
        "runbook_url": n.runbook_url,
    }


def render_json(
    notifications: Sequence[Notification], context: MessageContext, *, receiver: str, max_notifications: int = 0
) -> dict[str, Any]:
    """The payload of one message: its notifications worst first, at most ``max_notifications`` of
    them (0: all), the rest counted in ``truncated_notifications``."""
    if not notifications:
        raise ValueError("a message needs at least one notification")
    worst = ordered(notifications)
    kept = worst[:max_notifications] if max_notifications else worst
    return {
        "version": VERSION,
        "message_key": context.message_key,
        "receiver": receiver,
        "status": message_status(worst),
        "dashboard_url": safe_link(context.dashboard_url),
        "notifications": [_notification(n, context) for n in kept],
        "truncated_notifications": len(worst) - len(kept),
    }
