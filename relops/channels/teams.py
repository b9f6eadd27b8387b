"""Microsoft Teams, through a Workflows webhook ("When a Teams webhook request is received"): one
Adaptive Card per message (teams_format). Office 365 connectors, Teams' older incoming webhooks, are
retired; a Workflows webhook takes Adaptive Cards only.

A ``[receivers.NAME]`` of ``type = "teams"``; the type has no default receiver::

    [receivers.teams-oncall]
    type = "teams"
    url_env = "TEAMS_ONCALL_WEBHOOK_URL"

The URL is a credential (its ``sig`` query parameter signs every request): as for a webhook, it
never appears in a log line, an error or destination() (scheme, host and path only). Answers are
read as post_json reads every receiver's: Workflows answers 202 (200 from some flows) when it took
the message; 400 (a card it refuses) is a dead letter; 429 waits for its Retry-After; 5xx, timeouts
and connection errors are retried.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from relops.channels.base import MessageContext, Notification
from relops.channels.teams_format import render_teams
from relops.channels.webhook import WebhookChannel
from relops.config.routing import ReceiverConfig
from relops.redaction import redact_url

__all__ = ["TeamsChannel", "render_teams"]


class TeamsChannel(WebhookChannel):
    """A webhook whose payload is an Adaptive Card for a Teams channel or chat."""

    name = "teams"
    #: Unused: every teams receiver is a [receivers.NAME] with a breaker of its own.
    default_breaker = "teams"
    has_default_receiver = False
    destination_keys = frozenset({"url_env"})
    # Severities and the rate (one message a second: Workflows throttles a burst of flow runs with
    # 429) are the webhook's; a team's chat hears silence notices only when its entry asks.
    default_silence_notices = False
    #: None of the webhook's: a card carries no Slack buttons.
    options = frozenset[str]()

    def payload_format(self) -> str | None:
        return None  # one format: the Adaptive Card

    @classmethod
    def receiver_problem(cls, receiver: ReceiverConfig) -> str | None:
        if receiver.url_env is None:
            return "a teams receiver needs url_env: the environment variable that holds its Workflows webhook URL"
        return None

    def missing_configuration(self) -> str | None:
        if self.spec is None:
            return 'a teams receiver needs a [receivers.NAME] entry of type "teams"'
        return super().missing_configuration()

    def destination(self) -> str:
        url = self._url() if self.spec is not None else None
        return redact_url(url, "teams") if url else "teams (not configured)"

    def _payloads(
        self, notifications: Sequence[Notification], context: MessageContext
    ) -> list[tuple[str | None, dict[str, Any]]]:
        # Workflows has no idempotency key: a retry after a lost answer may post the card twice.
        return [(None, render_teams(notifications, context))]
