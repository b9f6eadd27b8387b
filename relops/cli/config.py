"""``relops config check [FILE]``: load and validate a config file as every relops process will."""

from __future__ import annotations

from pathlib import Path

import click

from relops.config import RelopsConfig


def checked_config(config_file: str | None) -> tuple[RelopsConfig, Path]:
    """The config file given (else RELOPS_CONFIG's), validated as a process validates it at start."""
    from relops.settings import get_settings
    from relops.wiring import load_checked_config

    path = Path(config_file) if config_file else get_settings().config_path
    return load_checked_config(path), path


@click.group()
def config() -> None:
    """Inspect the config file (RELOPS_CONFIG)."""


@config.command("check")
@click.argument("config_file", required=False, type=click.Path(dir_okay=False))
@click.option("--strict", is_flag=True, help="Fail (exit 1) when a receiver cannot deliver in this environment.")
def config_check(config_file: str | None, strict: bool) -> None:
    """Validate CONFIG_FILE (default: RELOPS_CONFIG) without starting anything: the file's own rules,
    its channel, receiver and route sections; then say which receivers can deliver here."""
    from relops.alerting.routes import build_tree
    from relops.channels.registry import channel_classes, configured_receivers
    from relops.settings import get_settings

    loaded, path = checked_config(config_file)
    windows = ", ".join(w.name for w in loaded.evaluation.windows)
    routes = len(build_tree(loaded, list(channel_classes())).walk())
    click.echo(
        f"{path}: {len(loaded.flows)} flows, {len(loaded.jobs)} jobs, windows {windows}, "
        f"tick every {loaded.evaluation.tick_interval_s}s, {len(loaded.receivers)} receivers beyond the "
        f"defaults, {routes} routes"
    )
    problems = 0
    for name, (channel, problem) in configured_receivers(get_settings(), loaded).items():
        if problem is None:
            click.echo(f"  receiver {name} ({channel.name}): delivers to {channel.destination()} via {channel.queue}")
        else:
            problems += 1
            click.echo(f"  receiver {name} ({channel.name}): skipped here: {problem}")
    if strict and problems:
        raise click.ClickException(f"{problems} receiver(s) cannot deliver in this environment")
