"""``relops evaluate`` and ``relops tick``: look at burn rates now, or ask the workers to evaluate."""

from __future__ import annotations

import click

from relops.slo.burnrate import FlowEvaluation


def _format_burn(evaluation: FlowEvaluation, name: str) -> str:
    window = next(w for w in evaluation.windows if w.name == name)
    if window.burn_rate is None:
        return "no data"
    return f"{float(window.burn_rate):.2f}x {window.status.value}"


@click.command()
def evaluate() -> None:
    """Compute every flow's burn rates now, in this process (read-only: no snapshot, no alert)."""
    from relops.slo.evaluation import evaluate_chunk
    from relops.store.windows import fetch_flow_counts
    from relops.timeutil import evaluation_end, utcnow
    from relops.wiring import engine, get_config

    config = get_config()
    as_of = evaluation_end(utcnow())
    with engine().connect() as conn:
        counts = fetch_flow_counts(conn, config.flows, config.evaluation.windows, as_of)
    evaluated = evaluate_chunk(config.flows, counts, config.evaluation)
    names = [w.name for w in config.evaluation.windows]
    click.echo(f"as of {as_of.isoformat()}")
    click.echo(f"{'flow':<30} {'severity':<9} " + " ".join(f"{n:>22}" for n in names) + f" {'budget left':>12}")
    for flow, evaluation in evaluated:
        budget = evaluation.budget_remaining
        budget_text = "no data" if budget is None else f"{float(budget) * 100:.1f}%"
        cells = " ".join(f"{_format_burn(evaluation, n):>22}" for n in names)
        click.echo(f"{flow.name[:30]:<30} {evaluation.severity.value:<9} {cells} {budget_text:>12}")


@click.command()
def tick() -> None:
    """Ask the workers to evaluate every flow now (beat does this on its schedule): the dashboard,
    `relops status` and the API show the result as soon as the workers finish, and a breach pages."""
    from relops import names
    from relops.wiring import task_producer

    # The producer, not the workers' Celery app: importing that app installs a worker's hooks (its
    # breaker transitions page) in whatever process runs this command.
    # manual: evaluated even if beat already ticked in this slot, which stays beat's.
    task_id = task_producer().send(names.TASK_EVALUATE_TICK, {"manual": True}, names.QUEUE_EVALUATE)
    click.echo(f"sent {names.TASK_EVALUATE_TICK} task_id={task_id}")
