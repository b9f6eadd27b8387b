"""Slack-style incoming webhook: one Block Kit JSON POST per message. The default receiver posts to
MONITORING_ALERT_WEBHOOK_URL; a [receivers.NAME] of type webhook to the variable its url_env names.

The webhook URL is a credential (whoever has it can post): it never appears in a log line, an
error or destination(). destination() keeps scheme, host, port and path, drops the query and any
user info, and masks the path's secret segments (relops.redaction.redact_url says which).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from relops.channels.base import Channel, DeliveryError, MessageContext, Notification
from relops.channels.http import post_json, url_problem
from relops.channels.slack_format import render_slack
from relops.config.routing import ReceiverConfig
from relops.redaction import known_secrets, redact_url, url_secrets
from relops.settings import named_variable

__all__ = ["WebhookChannel", "render_slack"]


class WebhookChannel(Channel):
    """Posts Slack Block Kit messages (see slack_format.render_slack) to the configured webhook."""

    name = "webhook"
    default_breaker = "webhook"
    destination_keys = frozenset({"url_env"})
    default_severities = ("warning", "critical")
    default_rate_per_s = 1.0
    default_silence_notices = True

    @classmethod
    def receiver_problem(cls, receiver: ReceiverConfig) -> str | None:
        if receiver.url_env is None:
            return "a webhook receiver needs url_env: the environment variable that holds its URL"
        return None

    def _variable(self) -> str:
        if self.spec is not None and self.spec.url_env:
            return self.spec.url_env
        return "MONITORING_ALERT_WEBHOOK_URL"

    def _url(self) -> str | None:
        secret = self.settings.webhook_url if self.spec is None else named_variable(self._variable())
        url = secret.get_secret_value().strip() if secret is not None else ""
        return url or None

    def missing_configuration(self) -> str | None:
        url = self._url()
        if url is None:
            return f"{self._variable()} is not set"
        return url_problem(url, self._variable())

    def destination(self) -> str:
        url = self._url()
        return redact_url(url) if url else "webhook (not configured)"

    def rate_limit_key(self) -> str:
        # Slack limits each webhook on its own, and two webhooks read the same once their secret
        # path is masked: a digest of the whole URL tells them apart without revealing it.
        url = self._url() or ""
        return f"{self.destination()}#{hashlib.sha256(url.encode()).hexdigest()[:16]}"

    def send(self, notifications: Sequence[Notification], context: MessageContext) -> None:
        problem = self.missing_configuration()
        url = self._url()
        if problem is not None or url is None:
            raise DeliveryError(problem or f"{self._variable()} is not set", retryable=False)
        post_json(
            url,
            # Buttons only when the Slack app that takes their clicks is configured.
            render_slack(notifications, context, buttons=self.settings.slack_signing_secret is not None),
            timeout=(self.config.connect_timeout_s, self.config.read_timeout_s),
            describe=self.destination(),
            secrets=[*url_secrets(url), *known_secrets(self.settings)],
        )
