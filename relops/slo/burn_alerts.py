"""The alert events of a flow that burns its error budget, and of one that recovers. Pure: no I/O."""

from __future__ import annotations

from datetime import datetime
from fractions import Fraction
from typing import Any

from relops.alerting.events import SOURCE_SLO, AlertEvent
from relops.config import FlowConfig
from relops.slo.burnrate import FlowEvaluation, WindowResult


def rounded_rate(value: Fraction | None) -> float | None:
    """A burn rate or budget as details and snapshots show it: four decimals."""
    return None if value is None else round(float(value), 4)


def snapshot_window(window: WindowResult) -> dict[str, Any]:
    """One window as a snapshot stores it: its details, named."""
    return {"window": window.name, **_window_details(window)}


def _window_details(window: WindowResult) -> dict[str, Any]:
    return {
        "window_s": window.window_s,
        "events": window.events,
        "errors": window.errors,
        "burn_rate": rounded_rate(window.burn_rate),
        "status": window.status.value,
    }


def slo_labels(flow: FlowConfig, severity: str) -> dict[str, str]:
    """The flow's own labels from the config, then what relops sets."""
    return {**flow.labels, "source": SOURCE_SLO, "severity": severity, "flow": flow.name}


def slo_fingerprint(flow: str) -> str:
    """One incident per flow, whatever its severity: also the dedup key of its notifications."""
    return f"{SOURCE_SLO}:{flow}"


def evaluation_details(evaluation: FlowEvaluation, flow: FlowConfig, as_of: datetime) -> dict[str, Any]:
    """The numbers an on-call needs: per-window counts and burn, budget left, time to exhaustion."""
    corrected = {}
    if evaluation.excluded_events:
        corrected = {
            "excluded_events": evaluation.excluded_events,
            "excluded_errors": evaluation.excluded_errors,
            "budget_remaining_uncorrected": rounded_rate(evaluation.budget_remaining_uncorrected),
        }
    return {
        "flow": flow.name,
        "objective_percent": float(flow.objective_percent),
        "evaluated_at": as_of.isoformat(),
        "windows": {w.name: _window_details(w) for w in evaluation.windows},
        "period_days": flow.period_days,
        "period_events": evaluation.period_events,
        "period_errors": evaluation.period_errors,
        "budget_remaining": rounded_rate(evaluation.budget_remaining),
        "budget_exhausted": evaluation.budget_exhausted,
        "time_to_exhaustion_s": evaluation.time_to_exhaustion_s,
        **corrected,
    }


def slo_alert(
    evaluation: FlowEvaluation,
    flow: FlowConfig,
    as_of: datetime,
    runbook_url: str,
    evaluated_at: datetime | None = None,
) -> AlertEvent:
    """The alert event for a flow that breaches (WARNING or CRITICAL). ``as_of`` is the end of the
    windows the evaluation read (the close of the current minute: in the future); the event
    occurred when the evaluation ran, ``evaluated_at`` (default ``as_of``)."""
    if not evaluation.severity.is_breach:
        raise ValueError(f"flow {flow.name!r} is {evaluation.severity}, not a breach")
    firing = [w for w in evaluation.windows if w.status.value == evaluation.severity.value]
    worst = max(firing, key=lambda w: w.burn_rate or 0, default=None)
    if worst is not None:
        cause = f"burning its error budget at {float(worst.burn_rate or 0):.1f}x over {worst.name}"
        counts = f"{worst.errors} bad of {worst.events} events in the last {worst.name}"
    else:
        cause = "has exhausted its error budget"
        counts = f"{evaluation.period_errors} bad of {evaluation.period_events} events this period"
    budget = evaluation.budget_remaining
    budget_text = "no data" if budget is None else f"{float(budget) * 100:.1f}%"
    summary = f"{flow.name} {cause}: {counts}. Objective {flow.objective_percent}%, budget remaining {budget_text}."
    if evaluation.time_to_exhaustion_s:
        summary += f" Budget exhausted in about {evaluation.time_to_exhaustion_s // 60} min at the current rate."
    key = slo_fingerprint(flow.name)
    return AlertEvent(
        dedup_key=key,
        fingerprint=key,
        severity=evaluation.severity.value,
        source=SOURCE_SLO,
        title=f"{evaluation.severity.value.upper()}: {flow.name} {cause}",
        summary=summary,
        details=evaluation_details(evaluation, flow, as_of),
        runbook_url=runbook_url,
        occurred_at=(evaluated_at or as_of).isoformat(),
        labels=slo_labels(flow, evaluation.severity.value),
    )


def slo_resolved(
    evaluation: FlowEvaluation,
    flow: FlowConfig,
    as_of: datetime,
    runbook_url: str,
    evaluated_at: datetime | None = None,
) -> AlertEvent:
    """The event that closes a flow's incident once every window is healthy again (times as for
    slo_alert)."""
    budget = evaluation.budget_remaining
    budget_text = "no data" if budget is None else f"{float(budget) * 100:.1f}%"
    rates = ", ".join(
        f"{w.name} {float(w.burn_rate):.1f}x" if w.burn_rate is not None else f"{w.name} no data"
        for w in evaluation.windows
    )
    key = slo_fingerprint(flow.name)
    return AlertEvent(
        dedup_key=key,
        fingerprint=key,
        severity="ok",
        source=SOURCE_SLO,
        title=f"RESOLVED: {flow.name} is no longer burning its error budget",
        summary=f"{flow.name} is back within its objective ({rates}). Budget remaining {budget_text}.",
        details=evaluation_details(evaluation, flow, as_of),
        runbook_url=runbook_url,
        occurred_at=(evaluated_at or as_of).isoformat(),
        status="resolved",
        labels=slo_labels(flow, "ok"),
    )
