"""PagerDuty's v3 webhooks as relops incident changes. Pure: bytes and secrets in, a verdict out;
the intake (``POST /api/v1/pagerduty/webhooks``) does the I/O.

- **Signature** (https://developer.pagerduty.com/docs/webhooks/webhook-signatures/, "Verifying the
  Signature"): ``X-PagerDuty-Signature`` holds one or more comma-separated ``v1=<hex>`` entries,
  each the HMAC-SHA256 of the raw body under one of the subscription's secrets (several during a
  rotation). The request is PagerDuty's when any entry matches the HMAC under any secret relops
  holds; every comparison is constant-time.
- **Event** (https://developer.pagerduty.com/docs/webhooks/v3-overview/, "Webhook Payload"):
  ``event.id``, ``event.event_type``, ``event.agent`` (who did it: ``summary`` is the user's name),
  ``event.data`` (an incident, whose ``incident_key`` is the ``dedup_key`` relops sent: its episode,
  relops.alerting.episode_keys). ``incident.acknowledged`` acknowledges the relops incident and
  ``incident.resolved`` resolves it. Any other event type (a subscription to every incident event,
  the ``pagey.ping`` of PagerDuty's "Send test event") is taken and ignored (IgnoredEvent): it is no
  error of the sender's, and PagerDuty redelivers what is not answered 2xx.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from relops.alerting.episode_keys import Episode, parse_episode_key
from relops.errors import InputRejected

HEADER: Final = "X-PagerDuty-Signature"
#: A v3 webhook carries one incident: a few KiB. Anything past this is not PagerDuty's.
MAX_BODY_BYTES: Final = 256 * 1024
#: Signature entries read at most (PagerDuty sends one per active secret: two during a rotation).
MAX_SIGNATURES: Final = 10
#: The event types taken, and the relops action each one is.
ACTIONS: Final[dict[str, Literal["ack", "resolve"]]] = {
    "incident.acknowledged": "ack",
    "incident.resolved": "resolve",
}
_MAX_TEXT_CHARS = 200


def signature_entries(header: str | None) -> list[str]:
    """The hex digests of the header's ``v1=`` entries (other versions ignored), at most MAX_SIGNATURES."""
    if not header:
        return []
    found = []
    for entry in header.split(",")[:MAX_SIGNATURES]:
        version, _, digest = entry.strip().partition("=")
        if version == "v1" and digest:
            found.append(digest.lower())
    return found


def signed(body: bytes, secret: str) -> str:
    """The v1 signature of ``body`` under ``secret``: hex HMAC-SHA256."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def signature_matches(body: bytes, header: str | None, secrets: Sequence[str]) -> bool:
    """Whether any ``v1=`` entry of ``header`` is the HMAC of ``body`` under any of ``secrets``.
    Every pair is compared, each in constant time, so the time taken says nothing of which matched."""
    entries = signature_entries(header)
    matched = False
    for secret in secrets:
        expected = signed(body, secret).encode("ascii")
        for entry in entries:
            matched |= hmac.compare_digest(expected, entry.encode("ascii", "replace"))
    return matched


@dataclass(frozen=True, slots=True)
class WebhookChange:
    """What one PagerDuty event asks of relops."""

    event_id: str
    event_type: str
    action: Literal["ack", "resolve"]
    #: The relops incident episode it is about; None: an incident relops did not send.
    episode: Episode | None
    #: Who did it in PagerDuty ("Jane Doe (PXPGF42)"), for the audit.
    agent: str


def _text(value: Any, limit: int = _MAX_TEXT_CHARS) -> str:
    text = value if isinstance(value, str) else ""
    return "".join(c if c.isprintable() else " " for c in text)[:limit].strip()


def agent_name(agent: Any) -> str:
    """The user who acted, as the audit shows them: their name and PagerDuty id, else whatever the
    agent says it is (an integration, a rule)."""
    if not isinstance(agent, dict):
        return "PagerDuty"
    name, ident = _text(agent.get("summary")), _text(agent.get("id"), 40)
    if name and ident:
        return f"{name} ({ident})"
    return name or ident or _text(agent.get("type")) or "PagerDuty"


@dataclass(frozen=True, slots=True)
class IgnoredEvent:
    """A signed event of a type relops does not act on."""

    event_id: str
    event_type: str

    @property
    def reason(self) -> str:
        return f"relops acts on {' and '.join(ACTIONS)} only; {self.event_type} is ignored"


def parse_webhook(body: bytes) -> WebhookChange | IgnoredEvent:
    """The change a (verified) webhook body asks for, or IgnoredEvent for an event type relops does
    not act on; InputRejected names the field and why for a body that is no v3 event."""
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise InputRejected("body", "is not JSON") from None
    event = document.get("event") if isinstance(document, dict) else None
    if not isinstance(event, dict):
        raise InputRejected("event", "a v3 webhook carries an event object")
    event_id = _text(event.get("id"))
    if not event_id:
        raise InputRejected("event.id", "is missing")
    event_type = _text(event.get("event_type"), 60)
    if not event_type:
        raise InputRejected("event.event_type", f"is missing; relops acts on {', '.join(ACTIONS)}")
    action = ACTIONS.get(event_type)
    if action is None:
        return IgnoredEvent(event_id, event_type)
    data = event.get("data")
    if not isinstance(data, dict) or data.get("type") != "incident":
        raise InputRejected("event.data", "an incident event carries the incident in data (type incident)")
    key = data.get("incident_key")
    episode = parse_episode_key(key) if isinstance(key, str) else None
    return WebhookChange(event_id, event_type, action, episode, agent_name(event.get("agent")))
