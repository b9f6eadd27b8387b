"""Slack-style incoming webhook (MONITORING_ALERT_WEBHOOK_URL): one Block Kit JSON POST per message.

The webhook URL is a credential (whoever has it can post): it never appears in a log line, an
error or destination(). destination() keeps scheme, host, port and path, drops the query and any
user info, and masks the path's secret segments (relops.redaction.redact_url says which).
"""

from __future__ import annotations

from collections.abc import Sequence

from relops.channels.base import Channel, DeliveryError, MessageContext, Notification
from relops.channels.http import post_json, url_problem
from relops.channels.slack_format import render_slack
from relops.redaction import known_secrets, redact_url, url_secrets

__all__ = ["CHANNEL", "WebhookChannel", "render_slack"]


class WebhookChannel(Channel):
    """Posts Slack Block Kit messages (see slack_format.render_slack) to the configured webhook."""

    name = "webhook"
    breaker = "webhook"
    default_severities = ("warning", "critical")
    default_rate_per_s = 1.0
    default_silence_notices = True

    def _url(self) -> str | None:
        secret = self.settings.webhook_url
        url = secret.get_secret_value().strip() if secret is not None else ""
        return url or None

    def missing_configuration(self) -> str | None:
        url = self._url()
        if url is None:
            return "MONITORING_ALERT_WEBHOOK_URL is not set"
        return url_problem(url, "MONITORING_ALERT_WEBHOOK_URL")

    def destination(self) -> str:
        url = self._url()
        return redact_url(url) if url else "webhook (not configured)"

    def send(self, notifications: Sequence[Notification], context: MessageContext) -> None:
        problem = self.missing_configuration()
        url = self._url()
        if problem is not None or url is None:
            raise DeliveryError(problem or "MONITORING_ALERT_WEBHOOK_URL is not set", retryable=False)
        post_json(
            url,
            render_slack(notifications, context),
            timeout=(self.config.connect_timeout_s, self.config.read_timeout_s),
            describe=self.destination(),
            secrets=[*url_secrets(url), *known_secrets(self.settings)],
        )


CHANNEL = WebhookChannel
