"""Email through the Resend API (RESEND_API_KEY, ADMIN_EMAILS, RESEND_API_URL).

One POST {RESEND_API_URL}/emails per message, with the message key as Idempotency-Key so a retried
send within Resend's 24 h window is not a second email. The API key is sent only in the
Authorization header and never appears in an error or log line.

Config: ``[alerts.channels.email]`` needs ``sender = "relops <alerts@example.com>"`` (a verified
Resend sender).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from email.utils import parseaddr

from relops.channels.base import Channel, DeliveryError, MessageContext, Notification
from relops.channels.email_format import render_email
from relops.channels.http import post_json, url_problem
from relops.config import ChannelSettings
from relops.config.routing import ReceiverConfig
from relops.redaction import known_secrets, redact_url, url_credentials
from relops.settings import named_variable

__all__ = ["EmailChannel", "idempotency_key", "render_email", "valid_sender"]

#: Resend accepts at most this many recipients per email.
MAX_RECIPIENTS = 50
#: Resend's limit on an Idempotency-Key.
MAX_IDEMPOTENCY_KEY_CHARS = 256
_ADDRESS = re.compile(r"^[^@\s<>\"(),;:]+@[^@\s<>\"(),;:]+\.[^@\s<>\"(),;:]+$")
_PRINTABLE_ASCII = re.compile(r"^[\x21-\x7e]+$")
#: Resend keeps an idempotency key this long; a resend after that would be a second email.
RESEND_IDEMPOTENCY_S = 24 * 3600
#: Our window: Resend's less an hour, for the clocks of two machines and the time a send takes.
IDEMPOTENCY_WINDOW_S = RESEND_IDEMPOTENCY_S - 3600
#: Resend's 409 names: the same key is still being processed (a concurrent retry: try again)...
CONCURRENT_IDEMPOTENT_REQUESTS = "concurrent_idempotent_requests"
#: ...or the key was used for a different email (ADMIN_EMAILS or the sender changed between
#: attempts): sending again would never succeed and the first email may have gone out.
INVALID_IDEMPOTENT_REQUEST = "invalid_idempotent_request"


def retry_409_when_concurrent(status: int, body: str) -> bool:
    """Only a 409 for a request still in flight is worth retrying."""
    return status == 409 and CONCURRENT_IDEMPOTENT_REQUESTS in body


def valid_sender(sender: object) -> bool:
    """``alerts@example.com`` or ``relops <alerts@example.com>``, on one line."""
    if not isinstance(sender, str) or not sender.strip() or any(c in sender for c in "\r\n\x00"):
        return False
    _, address = parseaddr(sender)
    return bool(_ADDRESS.match(address))


def idempotency_key(message_key: str) -> str:
    """``message_key`` if Resend accepts it as is (≤ 256 printable ASCII characters), else a
    stable digest of it: the same message always gets the same key."""
    if len(message_key) <= MAX_IDEMPOTENCY_KEY_CHARS and _PRINTABLE_ASCII.match(message_key):
        return message_key
    return "relops-" + hashlib.sha256(message_key.encode("utf-8")).hexdigest()


class EmailChannel(Channel):
    """Sends alert emails (see email_format.render_email) to ADMIN_EMAILS through Resend."""

    name = "email"
    default_breaker = "resend_email"
    destination_keys = frozenset({"to", "to_env"})
    default_severities = ("critical",)
    default_rate_per_s = 2.0
    options = frozenset({"sender"})
    idempotency_window_s = IDEMPOTENCY_WINDOW_S

    @classmethod
    def settings_problem(cls, config: ChannelSettings) -> str | None:
        if config.max_outage_wait_s > IDEMPOTENCY_WINDOW_S:
            return (
                f"max_outage_wait_s={config.max_outage_wait_s} is longer than Resend keeps an idempotency key "
                f"(24 h, {IDEMPOTENCY_WINDOW_S} s with a margin): a resend after that could be a second email; "
                f"use at most {IDEMPOTENCY_WINDOW_S}"
            )
        return None

    @classmethod
    def receiver_problem(cls, receiver: ReceiverConfig) -> str | None:
        if receiver.to is None and receiver.to_env is None:
            return "an email receiver needs 'to' (a list of addresses) or 'to_env' (a variable that lists them)"
        bad = [a for a in receiver.to or () if not _ADDRESS.match(a)]
        if bad:
            return f"'to': {bad[0][:100]!r} is not an email address"
        return None

    def _recipients_variable(self) -> str | None:
        """The variable the recipients come from; None when the config lists them."""
        if self.spec is None:
            return "ADMIN_EMAILS"
        return self.spec.to_env

    def _recipients(self) -> list[str]:
        if self.spec is None:
            return self.settings.admin_email_list
        if self.spec.to is not None:
            return list(self.spec.to)
        listed = named_variable(self.spec.to_env or "")
        return [a.strip() for a in listed.get_secret_value().split(",") if a.strip()] if listed else []

    def _api_key(self) -> str | None:
        secret = self.settings.resend_api_key
        key = secret.get_secret_value().strip() if secret is not None else ""
        return key or None

    def _sender(self) -> object:
        return self.config.options.get("sender")

    def missing_configuration(self) -> str | None:
        key = self._api_key()
        if key is None:
            return "RESEND_API_KEY is not set"
        if not _PRINTABLE_ASCII.match(key):
            return "RESEND_API_KEY contains spaces, control or non-ASCII characters"
        recipients = self._recipients()
        source = self._recipients_variable() or f"receivers.{self.receiver}.to"
        if not recipients:
            return f"{source} is empty" if self.spec is None or self.spec.to is not None else f"{source} is not set"
        if len(recipients) > MAX_RECIPIENTS:
            return f"{source} has {len(recipients)} addresses; Resend accepts at most {MAX_RECIPIENTS} per email"
        bad = [a for a in recipients if not _ADDRESS.match(a)]
        if bad:
            return f"{source}: {bad[0][:100]!r} is not an email address"
        sender = self._sender()
        if sender is None or (isinstance(sender, str) and not sender.strip()):
            return 'alerts.channels.email.sender is not set (e.g. sender = "relops <alerts@example.com>")'
        if not valid_sender(sender):
            return (
                f"alerts.channels.email.sender {str(sender)[:100]!r} is not an email address "
                '(e.g. "relops <alerts@example.com>")'
            )
        return url_problem(self.settings.resend_api_url, "RESEND_API_URL")

    def destination(self) -> str:
        return redact_url(self.settings.resend_api_url, "resend").rstrip("/")

    def send(self, notifications: Sequence[Notification], context: MessageContext) -> None:
        problem = self.missing_configuration()
        key = self._api_key()
        if problem is not None or key is None:
            raise DeliveryError(problem or "RESEND_API_KEY is not set", retryable=False)
        subject, html, text = render_email(notifications, context)
        base = self.settings.resend_api_url.strip().rstrip("/")
        payload = {
            "from": self._sender(),
            "to": self._recipients(),
            "subject": subject,
            "html": html,
            "text": text,
        }
        try:
            self._post(base, payload, key, context)
        except DeliveryError as error:
            if error.status == 409 and not error.retryable:
                raise DeliveryError(
                    f"{error.reason} (Resend holds a different email under this message's idempotency key: "
                    "ADMIN_EMAILS or the sender changed between attempts; the first may have been sent)",
                    retryable=False,
                    status=409,
                ) from None
            raise

    def _post(self, base: str, payload: dict[str, object], key: str, context: MessageContext) -> None:
        post_json(
            f"{base}/emails",
            payload,
            timeout=(self.config.connect_timeout_s, self.config.read_timeout_s),
            describe=self.destination() + "/emails",
            headers={"Authorization": f"Bearer {key}", "Idempotency-Key": idempotency_key(context.message_key)},
            secrets=[key, *url_credentials(base), *known_secrets(self.settings)],
            retry_when=retry_409_when_concurrent,
        )
