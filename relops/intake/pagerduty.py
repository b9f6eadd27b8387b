"""PagerDuty's v3 webhooks on the intake: an acknowledgement or resolution made in PagerDuty
applied to the relops incident it paged for (relops.alerting.pagerduty_webhook reads the request).

Applied by the same compare-and-set as the dashboard's (relops.application.incidents), pinned to
the episode the event names, audited as the PagerDuty user (``via = 'pagerduty'``), and told to no
PagerDuty receiver (no echo). A replayed event (PagerDuty redelivers until it hears a 2xx) changes
nothing a second time: the incident is already in the state it asks for, or in a later episode.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from redis import Redis
from sqlalchemy import Engine

from relops.alerting.pagerduty_webhook import WebhookChange
from relops.application.audit import Actor
from relops.application.incidents import Followers, change_incident, followers_of
from relops.channels.pagerduty import PagerDutyChannel
from relops.channels.registry import default_receivers
from relops.config import RelopsConfig
from relops.settings import Settings
from relops.timeutil import utcnow


@dataclass(frozen=True)
class Applied:
    changed: bool
    #: Why nothing changed (None: it did).
    reason: str | None = None

    def body(self, change: WebhookChange) -> dict[str, Any]:
        found: dict[str, Any] = {"event": change.event_id, "changed": self.changed}
        if change.episode is not None:
            found["incident"] = change.episode.incident_id
        if self.reason:
            found["reason"] = self.reason
        return found


class PagerDutyWebhooks:
    """What the endpoint needs beyond the request: the secrets, and where to apply a change."""

    def __init__(
        self,
        secrets: Sequence[str],
        engine: Engine,
        redis: Redis,
        receivers: Sequence[str],
        followers: Followers | None = None,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self.secrets = tuple(secrets)
        self._engine = engine
        self._redis = redis
        self._receivers = tuple(receivers)
        # Told through the outbox, flushed by the sweeper: the intake publishes no notify task.
        self._followers = followers
        self._now = now

    @classmethod
    def from_settings(
        cls, settings: Settings, config: RelopsConfig, engine: Engine, redis: Redis
    ) -> PagerDutyWebhooks | None:
        """None when RELOPS_PAGERDUTY_WEBHOOK_SECRETS is unset (the endpoint then answers 404)."""
        listed = settings.pagerduty_webhook_secrets
        secrets = [s.strip() for s in listed.get_secret_value().split(",") if s.strip()] if listed else []
        if not secrets:
            return None
        return cls(secrets, engine, redis, [*default_receivers(), *config.receivers], followers_of(config))

    def _apply(self, change: WebhookChange) -> Applied:
        episode = change.episode
        if episode is None:
            return Applied(False, "not an incident relops paged for (its incident_key is not a relops episode key)")
        actor = Actor(name=f"PagerDuty: {change.agent}", via="pagerduty", source=f"event {change.event_id}")
        row = change_incident(
            self._engine,
            self._redis,
            self._receivers,
            episode.incident_id,
            change.action,
            self._now(),
            actor,
            followers=self._followers,
            origin=PagerDutyChannel.name,
            opened_at=episode.opened_at,
        )
        if row is None:
            return Applied(False, "already so, or the incident has moved on to another episode")
        return Applied(True)

    async def apply(self, change: WebhookChange) -> Applied:
        """Apply ``change`` off the event loop (one short transaction)."""
        return await asyncio.to_thread(self._apply, change)
