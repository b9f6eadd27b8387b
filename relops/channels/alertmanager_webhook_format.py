"""relops notifications as Alertmanager's webhook notifications (version 4), the payload every tool with
an "Alertmanager integration" (Grafana OnCall, incident.io, Rootly, Squadcast, ...) reads. Pure: the
clock is an argument.

The payload is the one Alertmanager's webhook notifier posts (prometheus/alertmanager
``notify/webhook/webhook.go``, ``Message``; its fields beyond version, groupKey and truncatedAlerts
are ``template.Data`` in ``template/template.go``)::

    {"version": "4", "groupKey": str, "truncatedAlerts": int, "status": "firing" | "resolved",
     "receiver": str, "groupLabels": {...}, "commonLabels": {...}, "commonAnnotations": {...},
     "externalURL": str,
     "alerts": [{"status", "labels", "annotations", "startsAt", "endsAt", "generatorURL", "fingerprint"}]}

Each alert's labels, annotations, startsAt and generatorURL are those relops posts to Alertmanager's
API (alertmanager_format.postable_alert: one mapping for both). As Alertmanager does:

- ``status`` is ``firing`` when any alert of the payload fires, else ``resolved``;
- a firing alert's ``endsAt`` is Go's zero time (``types.Alerts`` hides an end not yet reached);
- ``fingerprint`` is the label set's FNV-1a 64 fingerprint in 16 hex digits (prometheus/common
  ``model.LabelSet.Fingerprint``), so it equals the one Alertmanager itself would show;
- ``commonLabels`` and ``commonAnnotations`` are the pairs every alert of the payload shares;
- ``max_alerts`` (0: no bound) keeps the first alerts and counts the rest in ``truncatedAlerts``.

Grouping: with ``per_incident`` (the default) every relops incident is an Alertmanager group of its
own (as a route with ``group_by: [relops_fingerprint]``): one payload per incident, ``groupKey``
stable for the incident's whole life, so a tool that opens one incident per groupKey and resolves it
on ``status: resolved`` (Grafana OnCall's default) follows relops' incidents exactly. Otherwise one
payload holds the whole message (a route with ``group_by: []``): fewer requests, for tools that track
each alert by its fingerprint.

Notices (a silence created or ended) are about relops, not alerts: they are not sent.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from relops.channels.alertmanager_format import FINGERPRINT_LABEL, postable_alert
from relops.channels.base import MessageContext, Notification
from relops.timeutil import parse_utc

#: The webhook protocol version Alertmanager has sent since 0.8.
VERSION = "4"
#: Go's time.Time{} as encoding/json writes it: the endsAt of an alert still firing.
ZERO_TIME = "0001-01-01T00:00:00Z"
#: prometheus/common model: the FNV-1a 64 offset basis and prime, and the separator byte between names
#: and values.
_FNV_OFFSET = 14695981039346656037
_FNV_PRIME = 1099511628211
_SEPARATOR = 0xFF
_MASK = (1 << 64) - 1
#: What a fingerprint keeps unquoted in an idempotency key, and how long its quoted form may be.
_KEY_SAFE = ":/-._~@"
MAX_KEY_FINGERPRINT_CHARS = 200
#: Any positive number: a firing alert's endsAt is replaced by ZERO_TIME.
_UNUSED_RESEND_S = 60.0


def fingerprint(labels: Mapping[str, str]) -> str:
    """prometheus/common ``labelSetToFingerprint``: FNV-1a 64 over each name and value in name order,
    each followed by 0xff; ``Fingerprint.String()`` writes it as 16 hex digits."""
    digest = _FNV_OFFSET
    for name in sorted(labels):
        for part in (name, labels[name]):
            for byte in part.encode("utf-8"):
                digest = ((digest ^ byte) * _FNV_PRIME) & _MASK
            digest = ((digest ^ _SEPARATOR) * _FNV_PRIME) & _MASK
    return f"{digest:016x}"


def label_set_text(labels: Mapping[str, str]) -> str:
    """``model.LabelSet.String()``: ``{a="x", b="y"}``, pairs sorted, values quoted."""
    pairs = sorted(f"{name}={json.dumps(value, ensure_ascii=False)}" for name, value in labels.items())
    return "{" + ", ".join(pairs) + "}"


def webhook_alert(n: Notification, context: MessageContext, now: datetime) -> dict[str, Any]:
    """One notification as an alert of a webhook notification (template.Alert)."""
    posted = postable_alert(n, context, now, _UNUSED_RESEND_S)
    firing = n.kind != "resolved"
    return {
        "status": "firing" if firing else "resolved",
        "labels": posted["labels"],
        "annotations": posted["annotations"],
        "startsAt": posted["startsAt"],
        "endsAt": ZERO_TIME if firing else posted["endsAt"],
        "generatorURL": posted.get("generatorURL", ""),
        "fingerprint": fingerprint(posted["labels"]),
    }


def idempotency_key(message_key: str, relops_fingerprint: str) -> str:
    """The key of one incident's payload of a message: header-safe whatever the fingerprint holds (an
    event's fingerprint may carry any character), readable when it is plain, bounded when it is long."""
    quoted = quote(relops_fingerprint, safe=_KEY_SAFE)
    if len(quoted) > MAX_KEY_FINGERPRINT_CHARS:
        quoted = "sha256-" + hashlib.sha256(relops_fingerprint.encode("utf-8")).hexdigest()[:32]
    return f"{message_key}:{quoted}"


def _moment(occurred_at: str) -> datetime:
    try:
        return parse_utc(occurred_at)
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)


def _common(maps: Sequence[Mapping[str, str]]) -> dict[str, str]:
    """The pairs every map holds with the same value (template.Data's commonLabels)."""
    if not maps:
        return {}
    first, rest = maps[0], maps[1:]
    return {k: v for k, v in first.items() if all(other.get(k) == v for other in rest)}


def notification_payload(
    alerts: Sequence[dict[str, Any]],
    *,
    receiver: str,
    group_labels: Mapping[str, str],
    external_url: str,
    max_alerts: int,
) -> dict[str, Any]:
    """One webhook notification of ``alerts`` (webhook.go Notify: truncate, then template data)."""
    truncated = max(0, len(alerts) - max_alerts) if max_alerts else 0
    kept = list(alerts[: len(alerts) - truncated])
    return {
        "receiver": receiver,
        "status": "firing" if any(a["status"] == "firing" for a in kept) else "resolved",
        "alerts": kept,
        "groupLabels": dict(group_labels),
        "commonLabels": _common([a["labels"] for a in kept]),
        "commonAnnotations": _common([a["annotations"] for a in kept]),
        "externalURL": external_url,
        "version": VERSION,
        "groupKey": "{}:" + label_set_text(group_labels),
        "truncatedAlerts": truncated,
    }


def alertmanager_webhook_payloads(
    notifications: Sequence[Notification],
    context: MessageContext,
    now: datetime,
    *,
    receiver: str,
    max_alerts: int = 0,
    per_incident: bool = True,
) -> list[tuple[str, dict[str, Any]]]:
    """The webhook notifications of one message, each with its idempotency key (stable across the
    message's retries): per incident, the message key and the incident's fingerprint; else the
    message key. Empty when the message holds only notices."""
    alerts = [(n, webhook_alert(n, context, now)) for n in notifications if n.kind != "notice"]
    external_url = context.dashboard_url
    if not per_incident:
        if not alerts:
            return []
        payload = notification_payload(
            [a for _, a in alerts], receiver=receiver, group_labels={}, external_url=external_url, max_alerts=max_alerts
        )
        return [(context.message_key, payload)]
    by_incident: dict[str, tuple[Notification, dict[str, Any]]] = {}
    for n, alert in alerts:
        # A message may hold an incident's firing and its resolution: the later one is its state.
        seen = by_incident.get(n.fingerprint)
        if seen is None or _moment(n.occurred_at) >= _moment(seen[0].occurred_at):
            by_incident[n.fingerprint] = (n, alert)
    return [
        (
            idempotency_key(context.message_key, relops_fingerprint),
            notification_payload(
                [alert],
                receiver=receiver,
                group_labels={FINGERPRINT_LABEL: relops_fingerprint},
                external_url=external_url,
                max_alerts=max_alerts,
            ),
        )
        for relops_fingerprint, (_, alert) in by_incident.items()
    ]
