"""An operator's acknowledge or resolve of an incident, audited: one implementation for the CLI and the web."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Literal, cast

from redis import Redis
from sqlalchemy import Engine, RowMapping

from relops.application.audit import Actor
from relops.state.dedup import forget_dedup
from relops.store.incidents import set_status

Action = Literal["ack", "resolve"]
#: The status each action moves an incident to.
STATUS_OF: dict[str, str] = {"ack": "acknowledged", "resolve": "resolved"}
#: Why an action given by name is refused.
UNKNOWN_ACTION = "action must be ack or resolve"


def as_action(name: str) -> Action | None:
    """The action called ``name`` (ack, resolve), or None for any other name."""
    return cast(Action, name) if name in STATUS_OF else None


def unchanged_reason(incident_id: int, action: Action) -> str:
    """Why ``change_incident`` changed nothing, for the operator who asked."""
    return f"incident {incident_id} does not exist or cannot become {STATUS_OF[action]} from its status"


def change_incident(
    engine: Engine,
    redis: Redis,
    receivers: Collection[str],
    incident_id: int,
    action: Action,
    now: datetime,
    actor: Actor,
    *,
    opened_at: datetime | None = None,
) -> RowMapping | None:
    """Apply ``action`` for ``actor``; returns the changed row, or None when the incident does not
    exist or its status does not allow it (acknowledging a resolved incident, resolving twice), or,
    with ``opened_at``, its current episode is not the one that opened then. A change and its audit
    row commit together.

    A resolution forgets the incident's dedup windows, so its next firing pages at once; relops' own
    alerts use the fingerprint as their dedup key.
    """
    status = STATUS_OF[action]
    with engine.begin() as conn:
        row = set_status(conn, incident_id, status, now, opened_at=opened_at)
        if row is not None:
            actor.record(conn, f"incident.{action}", f"incident {incident_id}", fingerprint=row["fingerprint"])
    if row is not None and status == "resolved":
        forget_dedup(redis, list(receivers), row["fingerprint"])
    return row
