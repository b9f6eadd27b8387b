"""``relops routes test|show``: which receivers an alert reaches, and why (like ``amtool config routes test``)."""

from __future__ import annotations

import click

SEVERITIES = ("warning", "critical")


@click.group()
def routes() -> None:
    """The route tree of the config file (RELOPS_CONFIG)."""


@routes.command("test")
@click.option("--label", "-l", "labels", multiple=True, required=True, help="A label of the alert: name=value.")
@click.option(
    "--config", "config_file", type=click.Path(dir_okay=False), help="A config file other than RELOPS_CONFIG."
)
def test(labels: tuple[str, ...], config_file: str | None) -> None:
    """Print the routes an alert with these labels lands on and the receivers it reaches, with why.

    Without a severity label, both severities are shown.
    """
    from relops.alerting.routes import build_tree, explain
    from relops.channels.registry import configured_receivers, default_receivers, routed_severities
    from relops.cli.config import checked_config
    from relops.settings import get_settings

    parsed: dict[str, str] = {}
    for text in labels:
        name, sep, value = text.partition("=")
        if not sep or not name.strip():
            raise click.UsageError(f"--label: {text[:80]!r} is not name=value")
        parsed[name.strip()] = value.strip()
    config, _ = checked_config(config_file)
    tree = build_tree(config, default_receivers())
    receivers = configured_receivers(get_settings(), config)
    severities = {name: routed_severities(channel) for name, (channel, _) in receivers.items()}
    unavailable = {name: problem for name, (_, problem) in receivers.items() if problem}
    resend = {name: channel.resend_interval_s() for name, (channel, _) in receivers.items()}
    asked = [parsed["severity"]] if "severity" in parsed else list(SEVERITIES)
    for severity in asked:
        if severity not in SEVERITIES:
            raise click.UsageError(f"--label severity={severity[:40]!r}: alerts are warning or critical")
        labels_now = {**parsed, "severity": severity}
        found = explain(tree, labels_now, severity, severities)
        click.echo(f"severity={severity}:")
        for route, chain in found.landed:
            click.echo(f"  lands on {route.label} (via {' > '.join(r.label for r in chain)})")
        for target in found.reached:
            route = target.route
            missing = unavailable.get(target.receiver)
            every = resend.get(target.receiver)
            repeat = f"re-sent every {every}s" if every is not None else f"repeat every {route.repeat_interval_s}s"
            click.echo(
                f"  -> {target.receiver} (by {route.label}; group wait {route.opening_wait_s(severity):g}s, "
                f"{repeat})" + (f" [cannot deliver here: {missing}]" if missing else "")
            )
            for step in route.escalation if severity == "critical" else ():
                click.echo(f"     escalates to {step.to} after {step.after_s}s open and unacknowledged")
        for receiver, why in found.passed_over:
            click.echo(f"  -- {receiver}: {why}")
        if not found.reached:
            click.echo("  reaches no receiver")
