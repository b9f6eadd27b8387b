"""PagerDuty: relops' alerts as Events API v2 alert events (pagerduty_format says what each holds),
each POSTed on its own to ``https://events.pagerduty.com/v2/enqueue``.

A ``[receivers.NAME]`` of ``type = "pagerduty"``; the type has no default receiver::

    [receivers.pagerduty]
    type = "pagerduty"
    routing_key_env = "PAGERDUTY_ROUTING_KEY"     # the service's Events API v2 integration key
    events_url_env = "PAGERDUTY_EVENTS_URL"       # optional: an EU account, or a test server
    severity_map = { warning = "warning", critical = "critical" }   # optional

- **Answers** (Events API v2 overview, "Response Codes & Retry Logic"): 202 is success; 400 is a
  dead letter quoting PagerDuty's ``message`` and ``errors``; 429 waits (Retry-After when PagerDuty
  sends one, else the backoff of ``[alerts]`` retry_base_s/retry_max_s); 5xx, timeouts and network
  errors retry. The breaker is the receiver's own.
- **Life of an incident:** the receiver follows incidents (Channel.follows_incidents): besides
  firings and automatic resolutions it hears an operator's acknowledgement (``acknowledge``) and a
  resolution by hand (``resolve``) of every incident it was paged for.
- **Secrets:** the routing key never appears in a log line, an error, a stored payload or
  destination(), which reads "PagerDuty events (routing key in VAR)". The events are built when
  sent: the outbox stores the notification, never the key.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

from relops.channels.base import Channel, DeliveryError, MessageContext, Notification
from relops.channels.http import post_json, url_problem
from relops.channels.pagerduty_format import EVENTS_URL, pagerduty_events
from relops.config.routing import ReceiverConfig
from relops.redaction import known_secrets, redact_url, url_secrets
from relops.settings import named_variable

__all__ = ["PagerDutyChannel"]

#: Integration keys are 32 characters; any printable token is taken, so a key format PagerDuty adds
#: later still works, but spaces and control characters (a paste gone wrong) are refused at start.
_KEY = re.compile(r"^[\x21-\x7e]{1,256}$")


class PagerDutyChannel(Channel):
    """Sends one Events API v2 event per alert, acknowledgement and resolution to one PagerDuty service."""

    name = "pagerduty"
    #: Unused: every pagerduty receiver is a [receivers.NAME] with a breaker of its own.
    default_breaker = "pagerduty"
    has_default_receiver = False
    destination_keys = frozenset({"routing_key_env", "events_url_env", "severity_map"})
    default_severities = ("warning", "critical")
    # PagerDuty throttles per service "dynamically"; a storm's events are spread at this rate.
    default_rate_per_s = 5.0
    follows_incidents = True

    @classmethod
    def receiver_problem(cls, receiver: ReceiverConfig) -> str | None:
        if receiver.routing_key_env is None:
            return (
                "a pagerduty receiver needs routing_key_env: the environment variable that holds the "
                "service's Events API v2 routing key"
            )
        if receiver.overrides.get("silence_notices") is True:
            return "a pagerduty receiver takes no silence notices: they are about relops, not alerts"
        return None

    def _key_variable(self) -> str:
        return self.spec.routing_key_env if self.spec is not None and self.spec.routing_key_env else "-"

    def _routing_key(self) -> str | None:
        value = named_variable(self._key_variable()) if self.spec is not None else None
        return value.get_secret_value() if value is not None else None

    def _events_url(self) -> str:
        variable = self.spec.events_url_env if self.spec is not None else None
        value = named_variable(variable) if variable else None
        return value.get_secret_value() if value is not None else EVENTS_URL

    def missing_configuration(self) -> str | None:
        if self.spec is None:
            return 'a pagerduty receiver needs a [receivers.NAME] entry of type "pagerduty"'
        key = self._routing_key()
        if key is None:
            return f"{self._key_variable()} is not set"
        if not _KEY.match(key):
            return f"{self._key_variable()} contains spaces, control or non-ASCII characters"
        if self.spec.events_url_env is not None and named_variable(self.spec.events_url_env) is None:
            return f"{self.spec.events_url_env} is not set"
        return url_problem(self._events_url(), self.spec.events_url_env or "the Events API URL")

    def destination(self) -> str:
        return f"PagerDuty events (routing key in {self._key_variable()})"

    def rate_limit_key(self) -> str:
        # PagerDuty throttles per service (per routing key): two receivers of one key share a limit.
        digest = hashlib.sha256((self._routing_key() or "").encode()).hexdigest()[:16]
        return f"pagerduty#{digest}"

    def send(self, notifications: Sequence[Notification], context: MessageContext) -> None:
        problem = self.missing_configuration()
        key = self._routing_key()
        if problem is not None or key is None:
            raise DeliveryError(problem or f"{self._key_variable()} is not set", retryable=False)
        severity_map = self.spec.severity_map if self.spec is not None else None
        url = self._events_url()
        describe = f"{self.destination()} at {redact_url(url, 'pagerduty')}"
        secrets = [key, *url_secrets(url), *known_secrets(self.settings)]
        # One event per alert, in order; a failure stops the message, whose retry sends them all
        # again: pagerduty_format.plan() makes that safe.
        for event in pagerduty_events(notifications, context, key, severity_map):
            post_json(
                url,
                event,
                timeout=(self.config.connect_timeout_s, self.config.read_timeout_s),
                describe=describe,
                secrets=secrets,
                default_retry_after_s=None,
            )
