"""What an incident's receivers have heard, and an open incident as repeats and escalations see it:
the value types relops.store.incidents reads and relops.alerting.followups decides on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Heard:
    """When a receiver last heard of an incident's current episode, at what severity, and how."""

    at: datetime | None
    severity: str
    #: "route" or "escalation"
    via: str
    #: When an alert of the incident was last muted (a silence, an inhibition), if since it heard.
    muted_at: datetime | None = None

    def as_json(self) -> dict[str, Any]:
        return {"at": self.at.isoformat() if self.at else None, "severity": self.severity, "via": self.via}


@dataclass(frozen=True)
class OpenIncident:
    """An open, unmuted incident, as repeats and escalations see it."""

    id: int
    fingerprint: str
    severity: str
    labels: dict[str, str]
    opened_at: datetime
    occurrences: int
    last_event: dict[str, Any]
    notified: dict[str, Heard]
    #: The raw "at" of each receiver's entry: what a repeat compares and sets (compare-and-set).
    notified_at_raw: dict[str, str | None]
    #: The keys of the escalation steps already taken in this episode.
    escalated: frozenset[str]
