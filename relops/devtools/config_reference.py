"""Writes docs/reference/configuration.md from the config models (``make docs`` runs it first).

    python -m relops.devtools.config_reference [PATH]

relops.config.reference renders the page; this module gathers what it needs from the installed
channel types and the route tree's defaults, and writes the file only when its text changed.
"""

from __future__ import annotations

import sys
from pathlib import Path

from relops.alerting.routes import build_tree
from relops.channels.base import Channel
from relops.channels.registry import channel_classes
from relops.config import RelopsConfig
from relops.config.reference import ChannelDefaults, configuration_reference

#: The page, relative to the repository root.
PAGE = Path("docs/reference/configuration.md")


def channel_defaults(channel: type[Channel]) -> ChannelDefaults:
    return ChannelDefaults(
        name=channel.name,
        severities=channel.default_severities,
        rate_per_s=channel.default_rate_per_s,
        silence_notices=channel.default_silence_notices,
        breaker=channel.default_breaker,
        options=tuple(sorted(channel.options)),
        max_outage_wait_s=channel.idempotency_window_s,
    )


def current_page() -> str:
    """The page as the models and channel types say it should read now."""
    classes = channel_classes()
    root = build_tree(RelopsConfig(), list(classes))
    root_route = {
        "receivers": root.receivers,
        "group_wait_s": root.group_wait_s,
        "critical_group_wait_s": root.critical_group_wait_s,
        "group_interval_s": root.group_interval_s,
        "repeat_interval_s": root.repeat_interval_s,
    }
    return configuration_reference([channel_defaults(c) for c in classes.values()], root_route)


def main(argv: list[str]) -> int:
    path = Path(argv[0]) if argv else PAGE
    text = current_page()
    if path.exists() and path.read_text() == text:
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
