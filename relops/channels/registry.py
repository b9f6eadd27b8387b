"""Names the channel types, checks the config's channel, receiver and route sections against them,
and builds the receivers the config and environment enable."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from functools import cache

from relops_client.logs import log_event

from relops.alerting.routes import build_tree, tree_problems
from relops.channels.alertmanager import AlertmanagerChannel
from relops.channels.apprise import AppriseChannel
from relops.channels.base import Channel
from relops.channels.email import EmailChannel
from relops.channels.pagerduty import PagerDutyChannel
from relops.channels.teams import TeamsChannel
from relops.channels.webhook import WebhookChannel
from relops.config import AlertsConfig, ChannelSettings, RelopsConfig, quoted
from relops.config.routing import ReceiverConfig
from relops.errors import ConfigError
from relops.names import ALL_QUEUES, channel_queue
from relops.settings import Settings

logger = logging.getLogger(__name__)

#: The channel types this installation can deliver through.
CHANNEL_TYPES: tuple[type[Channel], ...] = (
    EmailChannel,
    WebhookChannel,
    AlertmanagerChannel,
    AppriseChannel,
    PagerDutyChannel,
    TeamsChannel,
)
#: The [receivers.NAME] keys that belong to some channel types only (each type's destination_keys).
TYPE_KEYS = tuple(key for key in ReceiverConfig.model_fields if key not in ("type", "breaker", "queue"))


@cache
def channel_classes() -> dict[str, type[Channel]]:
    """Every channel type, by the name the config calls it: adding a channel is a module with its
    class, and its class in CHANNEL_TYPES."""
    return {channel.name: channel for channel in CHANNEL_TYPES}


@cache
def default_receivers() -> tuple[str, ...]:
    """The channel types' default receivers (each named after its type): the root route's receivers
    when the config does not name them."""
    return tuple(name for name, channel in channel_classes().items() if channel.has_default_receiver)


def check_channel_config(config: AlertsConfig, source: str) -> None:
    """A config entry for a channel or an option that does not exist is a typo, not something to ignore."""
    classes = channel_classes()
    unknown = sorted(set(config.channels) - set(classes))
    if unknown:
        raise ConfigError(
            f"{source}: alerts.channels: unknown channel {quoted(unknown[0])}; known: {', '.join(sorted(classes))}"
        )
    for name, entry in sorted(config.channels.items()):
        extra = sorted(set(entry.options) - classes[name].options)
        if extra:
            known = ", ".join(sorted({*ChannelSettings.model_fields, *classes[name].options}))
            raise ConfigError(f"{source}: alerts.channels.{name}: unknown key {quoted(extra[0])}; known: {known}")
        problem = classes[name].settings_problem(entry)
        if problem:
            raise ConfigError(f"{source}: alerts.channels.{name}: {problem}")


def check_receivers(config: RelopsConfig, source: str) -> None:
    """[receivers.NAME] entries name a channel type this installation has and say where they send
    in that type's keys; the route tree names only receivers that exist and reaches every route."""
    classes = channel_classes()
    problems = []
    for name, receiver in sorted(config.receivers.items()):
        where = f"{source}: receivers.{name}"
        cls = classes.get(receiver.type)
        if name in default_receivers():
            problems.append(
                f"{where}: {name!r} is the default receiver of the {name} channel; configure it in "
                f"[alerts.channels.{name}] or pick another name"
            )
            continue
        if cls is None:
            problems.append(
                f"{where} field 'type': unknown channel {quoted(receiver.type)}; known: {', '.join(sorted(classes))}"
            )
            continue
        given = {key for key in TYPE_KEYS if getattr(receiver, key) is not None}
        for key in sorted(given - cls.destination_keys):
            problems.append(f"{where} field {key!r}: not a key of a {receiver.type} receiver")
        extra = sorted(set(receiver.overrides) - set(ChannelSettings.model_fields) - cls.options)
        if extra:
            known = ", ".join(sorted({*ChannelSettings.model_fields, *cls.options, *cls.destination_keys}))
            problems.append(f"{where}: unknown key {quoted(extra[0])}; known: {known}, type, breaker, queue")
        problem = cls.receiver_problem(receiver) or cls.settings_problem(config.receiver_settings(name))
        if problem:
            problems.append(f"{where}: {problem}")
    try:
        tree = build_tree(config, default_receivers())
    except ValueError as exc:
        problems.append(f"{source}: {exc}")
    else:
        problems += [f"{source}: {p}" for p in tree_problems(tree, {*default_receivers(), *config.receivers})]
    if problems:
        raise ConfigError("invalid config:\n  " + "\n  ".join(problems[:20]))


def check_alerting_config(config: RelopsConfig, source: str) -> None:
    """Everything about alert delivery that needs the installed channels to check."""
    check_channel_config(config.alerts, source)
    check_receivers(config, source)


def configured_receivers(settings: Settings, config: RelopsConfig) -> dict[str, tuple[Channel, str | None]]:
    """Every receiver the config knows (each channel type's default one and [receivers.NAME]), with
    why it cannot deliver in this environment (None: it can)."""
    found: dict[str, tuple[Channel, str | None]] = {}
    for name in default_receivers():
        cls = channel_classes()[name]
        entry = config.alerts.channels.get(name, ChannelSettings())
        channel = cls(settings, entry)
        found[name] = (channel, None if entry.enabled else "disabled in the config")
    for name, spec in config.receivers.items():
        receiver_settings = config.receiver_settings(name)
        channel = channel_classes()[spec.type](settings, receiver_settings, name, spec)
        found[name] = (channel, None if receiver_settings.enabled else "disabled in the config")
    return {name: (channel, problem or channel.missing_configuration()) for name, (channel, problem) in found.items()}


def queue_names(config: RelopsConfig) -> tuple[str, ...]:
    """Every queue relops' workers consume: the contract's (relops.names.ALL_QUEUES), each channel
    type's alerts.<type> and each receiver's queue of its own."""
    channel_queues = [channel_queue(name) for name in channel_classes()]
    own = [spec.queue for spec in config.receivers.values() if spec.queue]
    return tuple(dict.fromkeys([*ALL_QUEUES, *channel_queues, *own]))


def build_receivers(settings: Settings, config: RelopsConfig) -> dict[str, Channel]:
    """The receivers that are enabled and configured, by name: each channel type's default receiver
    and the config's [receivers.NAME]. Each one skipped is said once, here."""
    ready: dict[str, Channel] = {}
    for name, (channel, problem) in configured_receivers(settings, config).items():
        if problem is not None:
            level = logging.INFO if problem == "disabled in the config" else logging.WARNING
            log_event(logger, level, "channel.skipped", channel=channel.name, receiver=name, reason=problem)
            continue
        ready[name] = channel
    return ready


def routed_severities(channel: Channel) -> tuple[str, ...]:
    return channel.config.severities or channel.default_severities


def rate_per_s(channel: Channel) -> float:
    return channel.config.rate_per_s or channel.default_rate_per_s


def resend_intervals(receivers: Mapping[str, Channel]) -> dict[str, int]:
    """The receivers that must hear a firing alert again to keep it firing, and how often (their
    repeats: relops.alerting.followups)."""
    found = {name: channel.resend_interval_s() for name, channel in receivers.items()}
    return {name: every for name, every in found.items() if every is not None}


def silence_notices(channel: Channel) -> bool:
    """Whether the receiver is told when a silence is created and when it ends. A [receivers.NAME]
    receiver is told only when its own entry says ``silence_notices = true``: a team's channel
    should not hear of every other team's silences."""
    if channel.spec is not None:
        return channel.spec.overrides.get("silence_notices") is True
    configured = channel.config.silence_notices
    return channel.default_silence_notices if configured is None else configured
