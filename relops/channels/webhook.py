"""A webhook: one JSON POST per message. The default receiver posts to MONITORING_ALERT_WEBHOOK_URL; a
[receivers.NAME] of type webhook to the variable its url_env names, in the payload its ``format`` says:

- ``slack`` (the default; the only one of the default receiver): Slack Block Kit (slack_format);
- ``alertmanager``: Alertmanager's webhook notifications, version 4 (alertmanager_webhook_format),
  one POST per incident unless ``group_by_incident = false``;
- ``json``: relops' own versioned JSON (json_format).

The last two carry an ``Idempotency-Key`` header, stable across a message's retries (the draft IETF
header, for receivers that drop a repeated POST by it), and, with ``bearer_token_env``, an
``Authorization: Bearer`` header (for tools whose Alertmanager endpoint takes its token in a header
rather than in its URL); the token is a secret like the URL.

The webhook URL is a credential (whoever has it can post): it never appears in a log line, an
error or destination(). destination() keeps scheme, host, port and path, drops the query and any
user info, and masks the path's secret segments (relops.redaction.redact_url says which).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from relops.channels.alertmanager_webhook_format import alertmanager_webhook_payloads
from relops.channels.base import Channel, DeliveryError, MessageContext, Notification
from relops.channels.http import header_secret_problem, post_json, url_problem
from relops.channels.json_format import render_json
from relops.channels.slack_format import render_slack
from relops.config import ChannelSettings
from relops.config.routing import ReceiverConfig
from relops.redaction import known_secrets, redact_url, url_secrets
from relops.settings import named_variable
from relops.timeutil import utcnow

__all__ = ["IDEMPOTENCY_HEADER", "WebhookChannel", "render_slack"]

#: The header that carries a payload's idempotency key (draft-ietf-httpapi-idempotency-key-header).
IDEMPOTENCY_HEADER = "Idempotency-Key"


class WebhookChannel(Channel):
    """Posts Slack Block Kit messages (see slack_format.render_slack) to the configured webhook."""

    name = "webhook"
    default_breaker = "webhook"
    destination_keys = frozenset({"url_env", "format", "max_alerts", "group_by_incident", "bearer_token_env"})
    default_severities = ("warning", "critical")
    default_rate_per_s = 1.0
    default_silence_notices = True
    #: ``slack_buttons = false``: no Acknowledge, Resolve and Silence buttons on this receiver's
    #: messages though the Slack app is configured (a channel of another Slack app, a Mattermost
    #: webhook that takes Slack's format but cannot send the clicks to relops).
    options = frozenset({"slack_buttons"})

    @classmethod
    def settings_problem(cls, config: ChannelSettings) -> str | None:
        if not isinstance(config.options.get("slack_buttons", True), bool):
            return "slack_buttons must be true or false"
        return None

    @classmethod
    def receiver_problem(cls, receiver: ReceiverConfig) -> str | None:
        if receiver.url_env is None:
            return "a webhook receiver needs url_env: the environment variable that holds its URL"
        payload = receiver.format or "slack"
        if payload == "slack" and receiver.max_alerts is not None:
            return "max_alerts bounds the alertmanager and json formats; a slack message counts what it cannot show"
        if payload == "slack" and receiver.bearer_token_env is not None:
            return "bearer_token_env is for the alertmanager and json formats: a Slack webhook's URL is its credential"
        if payload != "alertmanager" and receiver.group_by_incident is not None:
            return "group_by_incident is a key of the alertmanager format"
        if payload == "alertmanager" and receiver.overrides.get("silence_notices") is True:
            return (
                "the alertmanager format takes no silence notices: they are about relops, not alerts "
                '(use format = "json" or "slack" to hear them)'
            )
        return None

    def _format(self) -> str:
        return (self.spec.format if self.spec is not None else None) or "slack"

    def payload_format(self) -> str | None:
        return self._format()

    def _variable(self) -> str:
        if self.spec is not None and self.spec.url_env:
            return self.spec.url_env
        return "MONITORING_ALERT_WEBHOOK_URL"

    def _url(self) -> str | None:
        secret = self.settings.webhook_url if self.spec is None else named_variable(self._variable())
        url = secret.get_secret_value().strip() if secret is not None else ""
        return url or None

    def _token(self) -> str | None:
        variable = self.spec.bearer_token_env if self.spec is not None else None
        value = named_variable(variable) if variable else None
        return value.get_secret_value() if value is not None else None

    def missing_configuration(self) -> str | None:
        url = self._url()
        if url is None:
            return f"{self._variable()} is not set"
        token_variable = self.spec.bearer_token_env if self.spec is not None else None
        if token_variable is not None:
            problem = header_secret_problem(token_variable, self._token())
            if problem is not None:
                return problem
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
        token = self._token()
        auth = {"Authorization": f"Bearer {token}"} if token else {}
        secrets = [*([token] if token else []), *url_secrets(url), *known_secrets(self.settings)]
        for key, payload in self._payloads(notifications, context):
            post_json(
                url,
                payload,
                timeout=(self.config.connect_timeout_s, self.config.read_timeout_s),
                describe=self.destination(),
                headers={**auth, **({IDEMPOTENCY_HEADER: key} if key else {})},
                secrets=secrets,
            )

    def _payloads(
        self, notifications: Sequence[Notification], context: MessageContext
    ) -> list[tuple[str | None, dict[str, Any]]]:
        """The POSTs of one message, each with its idempotency key (None: the format has none)."""
        payload = self._format()
        max_alerts = (self.spec.max_alerts if self.spec is not None else None) or 0
        if payload == "alertmanager":
            per_incident = self.spec is None or self.spec.group_by_incident is not False
            return list(
                alertmanager_webhook_payloads(
                    notifications,
                    context,
                    utcnow(),
                    receiver=self.receiver,
                    max_alerts=max_alerts,
                    per_incident=per_incident,
                )
            )
        if payload == "json":
            rendered = render_json(notifications, context, receiver=self.receiver, max_notifications=max_alerts)
            return [(context.message_key, rendered)]
        # Buttons only when the Slack app that takes their clicks is configured, and the receiver
        # does not say no.
        buttons = self.settings.slack_signing_secret is not None and self.config.options.get("slack_buttons", True)
        return [(None, render_slack(notifications, context, buttons=buttons))]
