"""One chunk's evaluation: counts in, evaluations out. Pure glue between store and burn-rate math."""

from __future__ import annotations

from collections.abc import Sequence

from relops.config import EvaluationConfig, FlowConfig
from relops.slo.burnrate import FlowEvaluation, evaluate_flow, objective_fraction
from relops.slo.spans import FlowCounts


def evaluate_chunk(
    flows: Sequence[FlowConfig], counts: dict[str, FlowCounts], settings: EvaluationConfig
) -> list[tuple[FlowConfig, FlowEvaluation]]:
    results = []
    for flow in flows:
        flow_counts = counts.get(flow.name, FlowCounts())
        evaluation = evaluate_flow(
            flow=flow.name,
            objective=objective_fraction(flow.objective_percent),
            period_s=flow.period_s,
            rules=settings.windows,
            window_counts=flow_counts.windows,
            confirm_counts=flow_counts.confirms,
            period_counts=flow_counts.period,
            budget_min_events=settings.budget_min_events,
            excluded=flow_counts.period_excluded,
        )
        results.append((flow, evaluation))
    return results


def chunked(names: Sequence[str], size: int) -> list[list[str]]:
    return [list(names[i : i + size]) for i in range(0, len(names), size)]
