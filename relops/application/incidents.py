"""An operator's acknowledge or resolve of an incident, audited: one implementation for the CLI, the
web and the PagerDuty webhook.

Receivers that track an incident's whole life (Channel.follows_incidents: PagerDuty) hear the
change too, as any notification: owed in the outbox in the transaction of the change, then flushed
to their queue, retried and dead-lettered like the rest. Only receivers that heard the episode's
firing are told, and never the receivers of the channel type the change came from (``origin``): an
acknowledgement made in PagerDuty is not sent back to PagerDuty.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, cast

from kombu.exceptions import KombuError
from redis import Redis, RedisError
from relops_client.logs import log_event
from sqlalchemy import Connection, Engine, RowMapping

from relops.alerting.events import validate_alert_event
from relops.application.audit import Actor
from relops.application.deps import Publisher
from relops.application.group_windows import Destination, send_notify
from relops.application.route_alert import notification_payload
from relops.channels.registry import channel_classes, default_receivers
from relops.config import RelopsConfig
from relops.errors import InputRejected
from relops.names import channel_queue
from relops.state.dedup import forget_dedup
from relops.store.incidents import set_status
from relops.store.notifications import enqueue

logger = logging.getLogger(__name__)

Action = Literal["ack", "resolve"]
#: The status each action moves an incident to.
STATUS_OF: dict[str, str] = {"ack": "acknowledged", "resolve": "resolved"}
#: The notification kind each action owes the receivers that follow incidents.
KIND_OF: dict[str, str] = {"ack": "acknowledged", "resolve": "resolved"}
#: Why an action given by name is refused.
UNKNOWN_ACTION = "action must be ack or resolve"


@dataclass(frozen=True)
class Followers:
    """The receivers this process knows that follow incidents (by name: where their tasks go), and
    how to ask for their flush; without ``publish`` the sweeper flushes what is owed."""

    destinations: Mapping[str, Destination] = field(default_factory=dict)
    publish: Publisher | None = None


def followers_of(config: RelopsConfig, publish: Publisher | None = None) -> Followers:
    """The config's receivers that follow incidents, whether or not this process could deliver to
    them: the dashboard needs no routing key to owe PagerDuty an acknowledgement, its worker sends it."""
    classes = channel_classes()
    found = {
        name: Destination(spec.type, name, spec.queue or channel_queue(spec.type))
        for name, spec in config.receivers.items()
        if spec.type in classes and classes[spec.type].follows_incidents
    }
    found.update(
        {
            name: Destination(name, name, channel_queue(name))
            for name in default_receivers()
            if classes[name].follows_incidents
        }
    )
    return Followers(found, publish)


def as_action(name: str) -> Action | None:
    """The action called ``name`` (ack, resolve), or None for any other name."""
    return cast(Action, name) if name in STATUS_OF else None


def unchanged_reason(incident_id: int, action: Action) -> str:
    """Why ``change_incident`` changed nothing, for the operator who asked."""
    return f"incident {incident_id} does not exist or cannot become {STATUS_OF[action]} from its status"


def _owe_followers(
    conn: Connection, row: RowMapping, action: Action, followers: Followers, origin: str | None
) -> list[Destination]:
    """Owe the change to each follower that heard the episode; the destinations owed."""
    heard = [followers.destinations[name] for name in row["notified"] or {} if name in followers.destinations]
    told = [d for d in heard if d.channel != origin]
    if not told:
        return []
    try:
        event = validate_alert_event(row["last_event"])
    except InputRejected as exc:  # stored by relops from a validated event: never expected
        log_event(logger, logging.ERROR, "incident.change_untold", incident_id=row["id"], reason=str(exc))
        return []
    kind = KIND_OF[action]
    payload: dict[str, Any] = notification_payload(
        event, kind, row["severity"], incident_id=row["id"], opened_at=row["opened_at"], labels=row["labels"]
    )
    for to in told:
        enqueue(
            conn,
            incident_id=row["id"],
            channel=to.channel,
            receiver=to.receiver,
            kind=kind,
            severity=row["severity"],
            payload=payload,
        )
    return told


def _flush(followers: Followers, told: list[Destination]) -> None:
    """Ask for the flush of each receiver told. Best effort: the change and what it owes are
    committed, so a broker that is down, or that refuses this process the receiver's queue (the
    intake's Redis user may push to the ingest and cron queues only), leaves it to the sweeper."""
    if followers.publish is None:
        return
    for to in told:
        try:
            send_notify(followers.publish, to)
        except (KombuError, RedisError, OSError) as exc:
            log_event(
                logger,
                logging.WARNING,
                "notify.flush_not_scheduled",
                channel=to.channel,
                receiver=to.receiver,
                error=type(exc).__name__,
                reason="left for the sweeper",
            )


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
    followers: Followers | None = None,
    origin: str | None = None,
) -> RowMapping | None:
    """Apply ``action`` for ``actor``; returns the changed row, or None when the incident does not
    exist or its status does not allow it (acknowledging a resolved incident, resolving twice). A
    change, its audit row and what it owes the receivers that follow incidents (``followers``; none
    of type ``origin``) commit together. ``opened_at``: only if the incident is still in the episode
    that opened then (a receiver's event about an earlier episode changes nothing).

    A resolution forgets the incident's dedup windows, so its next firing pages at once; relops' own
    alerts use the fingerprint as their dedup key.
    """
    status = STATUS_OF[action]
    followers = followers or Followers()
    with engine.begin() as conn:
        row = set_status(conn, incident_id, status, now, opened_at=opened_at)
        told: list[Destination] = []
        if row is not None:
            actor.record(conn, f"incident.{action}", f"incident {incident_id}", fingerprint=row["fingerprint"])
            told = _owe_followers(conn, row, action, followers, origin)
    if row is not None and status == "resolved":
        forget_dedup(redis, list(receivers), row["fingerprint"])
    _flush(followers, told)
    return row
