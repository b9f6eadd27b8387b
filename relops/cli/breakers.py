"""``relops breakers``: every dependency breaker's shared state, from one Redis call."""

from __future__ import annotations

from datetime import UTC, datetime

import click


def _when(ms: int | None) -> str:
    return "-" if not ms else datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


@click.command()
def breakers() -> None:
    """State, failure count, last failure and last transition of each dependency's breaker."""
    from relops.wiring import config_breakers

    click.echo(f"{'dependency':<20} {'state':<10} {'failures':>8}  {'last failure':<19}  last transition")
    for name, state in config_breakers().states().items():
        click.echo(
            f"{name:<20} {state['state']:<10} {state.get('failures', 0):>8}  "
            f"{_when(state.get('last_failure_ms')):<19}  {_when(state.get('last_transition_ms'))}"
        )
