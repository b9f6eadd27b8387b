"""Slack-style incoming webhook (MONITORING_ALERT_WEBHOOK_URL): one Block Kit JSON POST per message.

The webhook URL is a credential (whoever has it can post): it never appears in a log line, an
error or destination(). destination() keeps scheme, host, port and path, drops the query and any
user info, and masks the path's secret segments: all of them after /services/ (Slack and
Slack-compatible receivers, whatever the host), after /hooks/ or /webhooks/ (Mattermost, Discord,
Rocket.Chat), and any token-like segment elsewhere.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import unquote, urlsplit

from relops.channels.base import Channel, DeliveryError, MessageContext, Notification
from relops.channels.http import post_json, url_problem
from relops.channels.slack_format import render_slack

__all__ = ["CHANNEL", "WebhookChannel", "redact_url", "render_slack", "url_secrets"]

MASK = "***"
_SLACK_HOSTS = ("hooks.slack.com", "hooks.slack-gov.com")
#: Path segments after which every segment is a secret: Slack's /services/T…/B…/TOKEN (first
#: segment only), Mattermost's /hooks/KEY, Discord's and Rocket.Chat's /…/webhooks/ID/TOKEN.
_SECRET_AFTER_FIRST = "services"
_SECRET_AFTER_ANY = frozenset({"hooks", "webhooks"})
#: A path segment that looks like a token anywhere else: 16+ URL-safe characters mixing letters
#: and digits. Plain words ("alerts", "webhook-receiver") and numeric ids stay visible.
_TOKEN = re.compile(r"^(?=[^/]*[A-Za-z])(?=[^/]*\d)[A-Za-z0-9_\-.~=+%]{16,}$")


def _masked_segments(host: str, path: str) -> list[bool]:
    """For each "/"-separated segment of ``path``: whether it is a secret."""
    segments = path.split("/")
    named = [i for i, s in enumerate(segments) if s]
    first = named[0] if named else len(segments)
    if host in _SLACK_HOSTS or (named and segments[first].lower() == _SECRET_AFTER_FIRST):
        # Slack (and Slack-compatible receivers): /services/T…/B…/TOKEN, /triggers/…, /workflows/…
        return [i > first and bool(s) for i, s in enumerate(segments)]
    masks = []
    secret_from_here = False
    for segment in segments:
        masks.append(bool(segment) and (secret_from_here or bool(_TOKEN.match(segment))))
        secret_from_here = secret_from_here or segment.lower() in _SECRET_AFTER_ANY
    return masks


def redact_url(url: str) -> str:
    """scheme://host[:port]/path of ``url`` with no user info, query or fragment, and the path's
    secret segments replaced by "***"."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return "webhook (malformed URL)"
    host = (parts.hostname or "").lower()
    shown_host = f"[{host}]" if ":" in host else host
    segments = parts.path.split("/")
    masks = _masked_segments(host, parts.path)
    path = "/".join(MASK if masked else s for s, masked in zip(segments, masks, strict=True))
    return f"{parts.scheme.lower()}://{shown_host}{f':{port}' if port else ''}{path}"


def url_secrets(url: str) -> list[str]:
    """Every part of ``url`` an error message must not quote: the URL, its path, query, password
    and masked path segments (raw and percent-decoded)."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return [url]
    host = (parts.hostname or "").lower()
    secrets = {url, url.strip(), parts.query, parts.fragment, parts.password or ""}
    if parts.query:
        secrets.add(f"{parts.path}?{parts.query}")
    segments = parts.path.split("/")
    for segment, masked in zip(segments, _masked_segments(host, parts.path), strict=True):
        if masked and len(segment) >= 4:
            secrets.update({segment, unquote(segment)})
    return sorted((s for s in secrets if s), key=len, reverse=True)


class WebhookChannel(Channel):
    """Posts Slack Block Kit messages (see slack_format.render_slack) to the configured webhook."""

    name = "webhook"
    breaker = "webhook"
    default_severities = ("warning", "critical")
    default_rate_per_s = 1.0

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
            secrets=url_secrets(url),
        )


CHANNEL = WebhookChannel
