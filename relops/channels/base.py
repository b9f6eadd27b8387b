"""What every alert channel implements. A channel type is a subclass of Channel in a module of its
own in relops/channels/, listed in registry.CHANNEL_TYPES; routing, dedup, grouping, rate limits,
retries and dead letters are the same for all of them and live outside the channel."""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Protocol

from relops.config import ChannelSettings
from relops.config.routing import ReceiverConfig
from relops.errors import RelopsError
from relops.names import channel_queue
from relops.settings import Settings
from relops.timeutil import parse_utc

SEVERITY_RANK = {"ok": 0, "warning": 1, "critical": 2}
#: Worst first: alerts, then resolutions, then notices about relops itself.
_KIND_RANK = {"firing": 0, "resolved": 1, "notice": 2}


@dataclass(frozen=True, slots=True)
class Notification:
    """One alert, or the resolution of one, as it appears in a message."""

    fingerprint: str
    #: "firing", "resolved", or "notice" (a silence created or ended: about relops, not an alert);
    #: "acknowledged" only to receivers that follow incidents (Channel.follows_incidents)
    kind: str
    #: "warning" or "critical" while firing; the incident's last severity when resolved
    severity: str
    source: str
    title: str
    summary: str
    details: dict[str, Any]
    runbook_url: str
    occurred_at: str
    #: The alert's labels (relops.labels); empty for notices and for rows stored before they were kept.
    labels: dict[str, str] = field(default_factory=dict)
    #: The incident it belongs to (None: a notice), and when the incident's current episode opened
    #: (ISO-8601), for receivers that track an alert's whole life (Alertmanager's startsAt).
    incident_id: int | None = None
    opened_at: str | None = None


class DeliveredParts(Protocol):
    """Which of a receiver's destinations took one message already (an Apprise receiver's URLs), as
    every worker process sees it: a retry sends only to the others, whichever process runs it."""

    def taken(self) -> frozenset[str]:
        """The names (digests) of the destinations that took the message."""
        ...

    def took(self, part: str) -> None:
        """Record at once that destination ``part`` took it: a crash right after must not resend there."""
        ...

    def finished(self) -> None:
        """Every destination took it: the record is no longer needed."""
        ...


@dataclass(frozen=True, slots=True)
class MessageContext:
    #: Stable across retries of one message: the idempotency key of a send.
    message_key: str
    dashboard_url: str
    #: In a grouped message, this many notifications are shown in full, the rest counted.
    max_full: int
    #: The shared record of which destinations took the message (relops.state.delivered_parts);
    #: None: nothing is recorded, and every attempt sends to every destination.
    delivered: DeliveredParts | None = None


class DeliveryError(RelopsError):
    """A send failed. ``retryable`` says whether another attempt can succeed; ``retry_after_s``
    is the receiver's own word on when (HTTP 429 Retry-After). ``partial``: a receiver of several
    destinations (an Alertmanager HA pair) took the message at some of them: worth retrying for the
    rest, but not an outage of the receiver (its breaker stays closed)."""

    def __init__(
        self,
        reason: str,
        *,
        retryable: bool,
        retry_after_s: float | None = None,
        status: int | None = None,
        partial: bool = False,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.retry_after_s = retry_after_s
        self.status = status
        self.partial = partial

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        # Keyword-only arguments would be lost on unpickling (prefork pool, Celery retry payloads).
        return (
            _rebuild_delivery_error,
            (self.reason, self.retryable, self.retry_after_s, self.status, self.partial),
        )


def _rebuild_delivery_error(
    reason: str, retryable: bool, retry_after_s: float | None, status: int | None, partial: bool = False
) -> DeliveryError:
    return DeliveryError(reason, retryable=retryable, retry_after_s=retry_after_s, status=status, partial=partial)


def ordered(notifications: Sequence[Notification]) -> list[Notification]:
    """Worst first: firing, then resolved, then notices; critical before warning; then oldest first."""
    return sorted(
        notifications,
        key=lambda n: (
            _KIND_RANK.get(n.kind, 3),
            -SEVERITY_RANK.get(n.severity, 0),
            _moment(n.occurred_at),
            n.fingerprint,
        ),
    )


def _moment(occurred_at: str) -> datetime:
    """Offsets differ between producers, so timestamps compare as instants, not as strings."""
    try:
        return parse_utc(occurred_at)
    except ValueError:
        return datetime.max.replace(tzinfo=UTC)


class Channel(abc.ABC):
    """A channel type, and as an instance one receiver of that type: a destination for alert messages.

    A channel type may have a default receiver named after it (webhook, email) whose destination
    comes from the environment (MONITORING_ALERT_WEBHOOK_URL, ADMIN_EMAILS) and which the root route
    reaches unless the config says otherwise; [receivers.NAME] entries add more, each with its own
    destination, dedup windows, group timer, breaker and rate limit. A type without a default
    receiver (alertmanager) delivers only through [receivers.NAME] entries.
    """

    #: Config key, queue suffix (alerts.NAME) and task suffix (relops.notify_NAME); also the name
    #: of the type's default receiver.
    name: ClassVar[str]
    #: The circuit breaker ([breakers.NAME]) that guards calls to the default receiver; a
    #: [receivers.NAME] receiver has its own (RelopsConfig.receiver_breaker).
    default_breaker: ClassVar[str]
    #: Severities routed here when the config file does not say.
    default_severities: ClassVar[tuple[str, ...]]
    #: Messages per second the destination accepts when the config file does not say.
    default_rate_per_s: ClassVar[float]
    #: Whether the channel hears when a silence is created and when it ends, unless the config says.
    default_silence_notices: ClassVar[bool] = False
    #: Whether the type has a default receiver named after it (on the root route unless the config
    #: names the root's receivers); False: it delivers only through [receivers.NAME] entries.
    has_default_receiver: ClassVar[bool] = True
    #: The channel's own keys in [alerts.channels.NAME], beyond ChannelSettings' fields.
    options: ClassVar[frozenset[str]] = frozenset()
    #: The type-specific [receivers.NAME] keys a receiver of this type takes: where it sends (webhook:
    #: url_env; email: to, to_env) and how (alertmanager: its credentials' variables, resend_interval_s).
    destination_keys: ClassVar[frozenset[str]] = frozenset()
    #: How long after a message's first attempt a resend still carries an idempotency key the
    #: receiver remembers; None: the receiver has no idempotency (a resend may be a duplicate).
    idempotency_window_s: ClassVar[float | None] = None
    #: Whether the receiver tracks an incident's whole life (PagerDuty): it then also hears an
    #: operator's acknowledgement and a resolution by hand of an incident it was paged for
    #: (relops.application.incidents), as notifications of kind "acknowledged" and "resolved".
    follows_incidents: ClassVar[bool] = False

    @classmethod
    def settings_problem(cls, config: ChannelSettings) -> str | None:
        """Why this channel's [alerts.channels.NAME] settings cannot work, or None."""
        return None

    def payload_format(self) -> str | None:
        """The payload's format, for a type that sends more than one (webhook: slack, alertmanager,
        json); None for a type of one format."""
        return None

    @classmethod
    def receiver_problem(cls, receiver: ReceiverConfig) -> str | None:
        """Why a [receivers.NAME] entry of this type cannot work as written, or None."""
        return None

    def __init__(
        self,
        settings: Settings,
        config: ChannelSettings,
        receiver: str | None = None,
        spec: ReceiverConfig | None = None,
    ) -> None:
        self.settings = settings
        self.config = config
        #: The receiver's name: the type's name for its default receiver.
        self.receiver = receiver or self.name
        #: Its [receivers.NAME] entry; None for the default receiver.
        self.spec = spec
        self.breaker = self.default_breaker if spec is None else spec.breaker or self.receiver
        self.queue = spec.queue if spec is not None and spec.queue else channel_queue(self.name)

    @abc.abstractmethod
    def missing_configuration(self) -> str | None:
        """Why this channel cannot send (e.g. "MONITORING_ALERT_WEBHOOK_URL is not set"), or None."""

    @abc.abstractmethod
    def destination(self) -> str:
        """A name for the receiver that holds no secret (host and path, no query or token): the key
        of the rate limit shared by every worker sending there."""

    def resend_interval_s(self) -> int | None:
        """How often the receiver must hear a firing alert again to keep it firing (Alertmanager ends an
        alert at the endsAt it was last sent with); its repeats then come this often, instead of its
        route's repeat_interval_s, and also after an escalation step told it. None: it keeps what it
        heard (a chat message, an email), and hears again by its route's repeat interval."""
        return None

    def rate_limit_key(self) -> str:
        """What the shared rate limit counts by: the destination. Receivers whose destinations read
        the same once masked (two Slack webhooks) but are different receivers override it."""
        return self.destination()

    @abc.abstractmethod
    def send(self, notifications: Sequence[Notification], context: MessageContext) -> None:
        """Deliver one message holding ``notifications`` (one or many); raise DeliveryError."""
