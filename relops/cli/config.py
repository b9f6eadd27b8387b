"""``relops config check [FILE]``: load and validate a config file as every relops process will;
``relops config reference``: every key of the file, its default, bounds and meaning, from the models."""

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
@click.option("--offline", is_flag=True, help="Do not ask Prometheus whether it takes the flows' queries.")
def config_check(config_file: str | None, strict: bool, offline: bool) -> None:
    """Validate CONFIG_FILE (default: RELOPS_CONFIG) without starting anything: the file's own rules,
    its channel, receiver and route sections; then say which receivers can deliver here, and ask the
    Prometheus of each Prometheus-sourced flow whether it takes its queries (unless --offline): a
    query it refuses fails the check, naming the flow and the field."""
    from relops.alerting.routes import build_tree
    from relops.channels.registry import configured_receivers, default_receivers
    from relops.settings import get_settings

    loaded, path = checked_config(config_file)
    windows = ", ".join(w.name for w in loaded.evaluation.windows)
    routes = len(build_tree(loaded, default_receivers()).walk())
    click.echo(
        f"{path}: {len(loaded.flows)} flows, {len(loaded.jobs)} jobs, windows {windows}, "
        f"tick every {loaded.evaluation.tick_interval_s}s, {len(loaded.receivers)} receivers beyond the "
        f"defaults, {routes} routes"
    )
    problems = 0
    for name, (channel, problem) in configured_receivers(get_settings(), loaded).items():
        # A webhook's format shows when it is not Slack's (the default): what the far end must take.
        payload = channel.payload_format()
        kind = channel.name + (f", format {payload}" if payload not in (None, "slack") else "")
        if problem is None:
            click.echo(f"  receiver {name} ({kind}): delivers to {channel.destination()} via {channel.queue}")
        else:
            problems += 1
            click.echo(f"  receiver {name} ({kind}): skipped here: {problem}")
    refused = 0 if offline else _check_sources(loaded)
    if refused:
        raise click.ClickException(f"Prometheus refused {refused} flow quer{'y' if refused == 1 else 'ies'}")
    if strict and problems:
        raise click.ClickException(f"{problems} receiver(s) cannot deliver in this environment")


def _check_sources(loaded: RelopsConfig) -> int:
    """Ask each flow's Prometheus about its queries; the number it refused."""
    from relops.application.sli_check import check_queries
    from relops.sources.prometheus import PrometheusReaders

    refused = 0
    with PrometheusReaders(loaded.sources.max_response_bytes) as readers:
        checks = check_queries(loaded, readers)
    for check in checks:
        if check.problem is None:
            click.echo(f"  flow {check.flow}: {check.field}: Prometheus takes it")
        elif check.refused:
            refused += 1
            click.echo(f"  flow {check.flow}: {check.field}: refused: {check.problem}")
        else:
            click.echo(f"  flow {check.flow}: {check.field}: {check.problem}")
    return refused


#: Where the documentation site keeps the reference (``make docs`` writes it there).
REFERENCE_PAGE = Path("docs/reference/configuration.md")


def reference_page() -> str:
    """The configuration reference as the config models, the channel types and the route tree's
    defaults say it reads now (relops.config.reference renders it)."""
    from relops.alerting.routes import build_tree
    from relops.channels.registry import channel_classes, default_receivers
    from relops.config.reference import ChannelDefaults, configuration_reference

    classes = channel_classes()
    root = build_tree(RelopsConfig(), default_receivers())
    root_route = {
        "receivers": root.receivers,
        "group_wait_s": root.group_wait_s,
        "critical_group_wait_s": root.critical_group_wait_s,
        "group_interval_s": root.group_interval_s,
        "repeat_interval_s": root.repeat_interval_s,
    }
    channels = [
        ChannelDefaults(
            name=channel.name,
            severities=channel.default_severities,
            rate_per_s=channel.default_rate_per_s,
            silence_notices=channel.default_silence_notices,
            breaker=channel.default_breaker if channel.has_default_receiver else None,
            options=tuple(sorted(channel.options)),
            max_outage_wait_s=channel.idempotency_window_s,
        )
        for channel in classes.values()
    ]
    return configuration_reference(channels, root_route)


@config.command("reference")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the page here (only when its text changed) instead of printing it.",
)
def config_reference(output: Path | None) -> None:
    """Print the configuration reference (Markdown): every section and key, its type, default,
    bounds and meaning, for this installation's relops."""
    text = reference_page()
    if output is None:
        click.echo(text, nl=False)
        return
    if output.exists() and output.read_text() == text:
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text)
    click.echo(f"wrote {output}")
