"""``relops config check``: load and validate the config file as every relops process will."""

from __future__ import annotations

import click


@click.group()
def config() -> None:
    """Inspect the config file (RELOPS_CONFIG)."""


@config.command("check")
def config_check() -> None:
    """Load and validate the config file, channel sections included; print a summary."""
    from relops.runtime import load_checked_config
    from relops.settings import get_settings

    settings = get_settings()
    loaded = load_checked_config(settings.config_path)
    windows = ", ".join(w.name for w in loaded.evaluation.windows)
    click.echo(
        f"{settings.config_path}: {len(loaded.flows)} flows, {len(loaded.jobs)} jobs, windows {windows}, "
        f"tick every {loaded.evaluation.tick_interval_s}s"
    )
