"""``relops status``: the reliability snapshot in the terminal (``--json`` for scripts)."""

from __future__ import annotations

import json
from typing import Any

import click


def _rate(window: dict[str, Any]) -> str:
    if window.get("burn_rate") is None:
        return "no data"
    return f"{window['burn_rate']:.2f}x {window.get('status', '')}"


@click.command()
@click.option("--json", "as_json", is_flag=True, help="The snapshot as JSON.")
def status(as_json: bool) -> None:
    """Overall status, burn rates, breakers, cron jobs and open incidents."""
    from relops.application.snapshot import collect_snapshot
    from relops.wiring import config_breakers, engine, get_config, redis

    snap = collect_snapshot(engine(), redis(), get_config(), config_breakers())
    if as_json:
        click.echo(json.dumps(snap, indent=2, default=str))
        return
    click.echo(f"relops: {snap['status']}\n")
    names = list(snap["flows"][0]["windows"]) if snap["flows"] else []
    click.echo(f"{'flow':<28} {'severity':<9} " + " ".join(f"{n:>20}" for n in names) + f" {'budget left':>12}")
    for flow in snap["flows"]:
        budget = "no data" if flow["budget_remaining"] is None else f"{flow['budget_remaining'] * 100:.1f}%"
        cells = " ".join(f"{_rate(flow['windows'][n]):>20}" for n in names)
        click.echo(f"{flow['flow'][:28]:<28} {flow['severity']:<9} {cells} {budget:>12}")
    click.echo("\ndependencies")
    for name, breaker in snap["breakers"].items():
        click.echo(f"  {name:<20} {breaker['state']:<10} failures {breaker.get('failures', 0)}")
    click.echo("\ncron jobs")
    for job in snap["cron"] or [{"name": "(none reported yet)", "state": "", "consecutive_failures": ""}]:
        state = "unknown (relops lagging)" if job["state"] == "unknown" else job["state"]
        click.echo(f"  {job['name']:<28} {state:<26} streak {job['consecutive_failures']}")
    click.echo("\nopen incidents")
    for incident in snap["incidents"] or [{"id": "", "severity": "", "title": "(none)"}]:
        click.echo(f"  {incident['id']:>5} {incident['severity']:<8} {incident['title']}")
    if snap["task_faults"] is None:
        click.echo("\ntask faults: unknown (redis unreachable)")
    elif snap["task_faults"]:
        click.echo("\ntask faults (retries and failures since Redis started)")
        for key, count in sorted(snap["task_faults"].items()):
            click.echo(f"  {key} = {count}")
