"""Finds the channel modules and builds the channels the config and environment enable."""

from __future__ import annotations

import importlib
import logging
import pkgutil
from functools import cache

import relops.channels
from relops.channels.base import Channel
from relops.config import AlertsConfig, ChannelSettings, quoted
from relops.errors import ConfigError
from relops.logs import log_event
from relops.settings import Settings

logger = logging.getLogger(__name__)


@cache
def channel_classes() -> dict[str, type[Channel]]:
    """Every module in relops/channels/ that defines CHANNEL: adding a channel is adding a module."""
    found: dict[str, type[Channel]] = {}
    for module_info in pkgutil.iter_modules(relops.channels.__path__):
        module = importlib.import_module(f"relops.channels.{module_info.name}")
        channel = getattr(module, "CHANNEL", None)
        if channel is not None:
            found[channel.name] = channel
    return found


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


def build_channels(settings: Settings, config: AlertsConfig) -> dict[str, Channel]:
    """The channels that are enabled and configured. Each one skipped is said once, here."""
    ready: dict[str, Channel] = {}
    for name, cls in channel_classes().items():
        entry = config.channels.get(name, ChannelSettings())
        if not entry.enabled:
            log_event(logger, logging.INFO, "channel.skipped", channel=name, reason="disabled in the config")
            continue
        channel = cls(settings, entry)
        missing = channel.missing_configuration()
        if missing:
            log_event(logger, logging.WARNING, "channel.skipped", channel=name, reason=missing)
            continue
        ready[name] = channel
    return ready


def routed_severities(channel: Channel) -> tuple[str, ...]:
    return channel.config.severities or channel.default_severities


def rate_per_s(channel: Channel) -> float:
    return channel.config.rate_per_s or channel.default_rate_per_s


def silence_notices(channel: Channel) -> bool:
    """Whether the channel is told when a silence is created and when it ends."""
    configured = channel.config.silence_notices
    return channel.default_silence_notices if configured is None else configured
