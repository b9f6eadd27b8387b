"""The numbers behind the chart pages (a flow's, a job's, the dashboard's budget trends), as the
JSON API serves them and the pages' tables show them.

A flow's page reads its counters for the whole range (and the period or window the first point
looks back over): hour rows, and for the minute ranges the minute rows as well; small queries add
what its evaluation leaves out, its incident, its corrections and silences; relops.slo.series turns
the counters into points. Times are UNIX seconds, as the chart library takes them; budget is in
percent of the period's budget.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from relops.config import FlowConfig, JobConfig, RelopsConfig
from relops.cron.history import job_history
from relops.silencing.maintenance import excluded_spans
from relops.slo.burn_alerts import slo_labels
from relops.slo.burnrate import objective_fraction
from relops.slo.corrections import flow_exclusions, window_covers
from relops.slo.series import (
    DAY,
    HOUR,
    FlowSeries,
    daily_budget,
    first_hour_needed,
    flow_series,
    minute_series,
    within,
)
from relops.store.corrections import correction_spans
from relops.store.cron import job_state, runs_since
from relops.store.series import (
    daily_counts,
    excluded_by_hour,
    first_counted,
    flow_corrections,
    flow_incident,
    hour_rows,
    minute_rows,
)
from relops.store.silences import as_silence, silences_overlapping
from relops.timeutil import evaluation_end, floor_hour
from relops.web.ranges import MINUTE_RANGES, RANGES, UnknownRange, default_range, range_span

#: Runs a job page shows at most: the newest of the range.
MAX_RUNS = 1000
#: A job's ranges: its runs over a day, a week or a month.
JOB_RANGES: dict[str, int] = {"24h": 24, "7d": 7 * 24, "30d": 30 * 24}
#: Where the budget chart's axis stops. Budget left is 1 - (error ratio / allowed ratio) over the
#: period so far, so on a period that holds a few minutes of events (a new flow, the first minutes
#: of its counters) it extrapolates those minutes to the whole period: 2 bad of 10 events at 99.9 %
#: reads -19,900 %, which says "the error ratio is 200x the allowance" (the burn-rate chart's job),
#: not that 199 budgets were spent. Below -100 % (the budget spent twice over) the line is drawn at
#: the floor, and the true value stays what the evaluation said: in the table, the chart's legend and
#: the note above it. A budget against the period's expected volume was the other choice; it would
#: disagree with the evaluation's budget (the dashboard's, the one that pages), so it was not taken.
BUDGET_FLOOR_PERCENT = -100.0


def _seconds(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp())


def _percent(value: float | None) -> float | None:
    return None if value is None else round(value * 100, 4)


def opening_range(conn: Connection, flow: FlowConfig, now: datetime) -> str:
    """The range a flow page opens on when the request names none (relops.web.ranges)."""
    incident = flow_incident(conn, flow.name, now)
    opened = incident["opened_at"] if incident is not None and incident["resolved_at"] is None else None
    longest = max(span for span in RANGES.values() if span is not None and span <= 7 * DAY)
    return default_range(now, first_counted(conn, flow.name, floor_hour(now - longest)), opened)


def _hourly_series(
    conn: Connection, config: RelopsConfig, flow: FlowConfig, span: timedelta, now: datetime
) -> tuple[FlowSeries, datetime, datetime]:
    end = floor_hour(now) + HOUR
    start = end - span
    rules = config.evaluation.windows
    origin = first_hour_needed(start, rules, flow.period_s)
    counters = hour_rows(conn, flow.name, origin, end)
    corrections = correction_spans(conn, [flow.name], origin).get(flow.name, [])
    spans = flow_exclusions(flow, config.maintenance, corrections, origin, end)
    series = flow_series(
        counters,
        start=start,
        end=end,
        objective=objective_fraction(flow.objective_percent),
        rules=rules,
        period_s=flow.period_s,
        excluded=excluded_by_hour(conn, flow.name, spans) if spans else None,
    )
    return series, start, end


def _minute_series(
    conn: Connection, config: RelopsConfig, flow: FlowConfig, span: timedelta, now: datetime
) -> tuple[FlowSeries, datetime, datetime]:
    end = evaluation_end(now)  # the close of the current minute, as the evaluation's windows end
    start = end - span
    rules = config.evaluation.windows
    # The minute rows retention keeps for certain (relops.store.retention's horizon, at this moment).
    minutes_from = floor_hour(now - timedelta(seconds=config.evaluation.minute_retention_s))
    longest = timedelta(seconds=config.evaluation.longest_window_s)
    hour_origin = floor_hour(start - max(timedelta(seconds=flow.period_s), longest))
    minute_origin = max(minutes_from, min(floor_hour(start), start - longest))
    minutes = minute_rows(conn, flow.name, minute_origin, end)
    hours = hour_rows(conn, flow.name, hour_origin, floor_hour(end) + HOUR)
    corrections = correction_spans(conn, [flow.name], hour_origin).get(flow.name, [])
    spans = flow_exclusions(flow, config.maintenance, corrections, hour_origin, end)
    series = minute_series(
        minutes,
        hours,
        start=start,
        end=end,
        minutes_from=minutes_from,
        objective=objective_fraction(flow.objective_percent),
        rules=rules,
        period_s=flow.period_s,
        excluded_minutes=within(minutes, spans) if spans else None,
        excluded_hours=excluded_by_hour(conn, flow.name, spans) if spans else None,
    )
    return series, start, end


def step_label(step_s: int) -> str:
    """``60`` -> "1 min", ``3600`` -> "1 h", ``32400`` -> "9 h"."""
    return f"{step_s // 3600} h" if step_s % 3600 == 0 else f"{step_s // 60} min"


def budget_below_floor(
    points: list[int], budget_percent: list[float | None], period_events: list[int]
) -> dict[str, Any] | None:
    """The lowest budget under the chart's floor, when it was and on how many events, or None."""
    known = [(value, index) for index, value in enumerate(budget_percent) if value is not None]
    if not known or min(known)[0] >= BUDGET_FLOOR_PERCENT:
        return None
    value, index = min(known)
    return {"lowest_percent": value, "at": points[index], "period_events": period_events[index]}


def flow_series_payload(
    conn: Connection, config: RelopsConfig, flow: FlowConfig, range_name: str, now: datetime
) -> dict[str, Any]:
    """Everything a flow's charts draw over ``range_name`` ending now. The newest point is the
    current hour (or minute, for the minute ranges) so far, drawn at ``now``."""
    span = range_span(range_name, flow)
    build = _minute_series if range_name in MINUTE_RANGES else _hourly_series
    series, start, end = build(conn, config, flow, span, now)
    incident = flow_incident(conn, flow.name, start)
    step_s = int(series.step.total_seconds())
    points = [min(int(point.timestamp()), int(now.timestamp())) for point in series.points]
    budget = [_percent(value) for value in series.budget_remaining]
    return {
        "flow": flow.name,
        "range": range_name,
        "as_of": int(now.timestamp()),
        "objective_percent": float(flow.objective_percent),
        "period_days": flow.period_days,
        "step_s": step_s,
        "step_label": step_label(step_s),
        "points": points,
        "good": series.good,
        "bad": series.bad,
        "budget_remaining_percent": budget,
        "period_events": series.period_events,
        "budget_floor_percent": BUDGET_FLOOR_PERCENT,
        "budget_below_floor": budget_below_floor(points, budget, series.period_events),
        "windows": [
            {
                "name": window.name,
                "window_hours": window.window_hours,
                "window_s": window.window_s,
                "warning_burn": window.warning_burn,
                "critical_burn": window.critical_burn,
                "burn_rates": [None if rate is None else round(rate, 4) for rate in window.burn_rates],
            }
            for window in series.windows
        ],
        "incident": None
        if incident is None
        else {
            "id": incident["id"],
            "status": incident["status"],
            "severity": incident["severity"],
            "opened_at": _seconds(incident["opened_at"]),
            "acknowledged_at": _seconds(incident["acknowledged_at"]),
            "resolved_at": _seconds(incident["resolved_at"]),
        },
        "corrections": [
            {"starts_at": _seconds(row["starts_at"]), "ends_at": _seconds(row["ends_at"]), "reason": row["reason"]}
            for row in flow_corrections(conn, flow.name, start, end)
        ],
        "silences": flow_silences(conn, flow, start, end),
        "maintenance": maintenance_spans(config, flow, start, end),
    }


def maintenance_spans(config: RelopsConfig, flow: FlowConfig, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Every occurrence in [start, end) of the maintenance windows that silence the flow's alerts,
    whether or not the flow leaves their minutes out of its budget."""
    return [
        {"name": window.name, "starts_at": _seconds(span_start), "ends_at": _seconds(span_end)}
        for window in config.maintenance
        if window_covers(window, flow)
        for span_start, span_end in excluded_spans(window, start, end)
    ]


def flow_silences(conn: Connection, flow: FlowConfig, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """The silences that muted the flow's burn-rate alerts, at either severity, during [start, end)."""
    shown = []
    for row in silences_overlapping(conn, start, end):
        silence = as_silence(row)
        if any(silence.matches(slo_labels(flow, severity)) for severity in ("warning", "critical")):
            shown.append(
                {
                    "id": row["id"],
                    "starts_at": _seconds(silence.starts_at),
                    "ends_at": _seconds(silence.ends_at),
                    "reason": silence.reason,
                }
            )
    return shown


def job_runs_payload(conn: Connection, job: JobConfig, range_name: str, now: datetime) -> dict[str, Any]:
    """A job's runs over ``range_name`` ending now (the newest MAX_RUNS), the starts it missed, and
    what the monitor expects next."""
    if range_name not in JOB_RANGES:
        raise UnknownRange(f"range must be one of {', '.join(JOB_RANGES)}, got {range_name[:40]!r}")
    start = now - JOB_RANGES[range_name] * HOUR
    history = job_history(job, runs_since(conn, job.name, start, MAX_RUNS), start, now)
    state = job_state(conn, job.name)
    return {
        "job": job.name,
        "range": range_name,
        "from": int(start.timestamp()),
        "as_of": int(now.timestamp()),
        "schedule": job.schedule,
        "timezone": job.timezone,
        "period_s": job.period_s,
        "grace_s": job.grace_s,
        "max_runtime_s": job.max_runtime_s,
        "state": None
        if state is None
        else {
            "state": state["state"],
            "consecutive_failures": state["consecutive_failures"],
            "must_start_by": _seconds(state["next_deadline"]),
            # The deadline is the next scheduled start plus grace.
            "next_expected_start": None
            if state["next_deadline"] is None
            else _seconds(state["next_deadline"]) - job.grace_s,
            "running_since": _seconds(state["running_since"]),
        },
        "runs": [
            {
                "run_id": run.run_id,
                "status": run.status,
                "started_at": _seconds(run.started_at),
                "finished_at": _seconds(run.finished_at),
                "duration_s": None if run.duration_s is None else round(run.duration_s, 3),
                "overran": run.overran,
                "streak": run.streak,
                "result_tail": run.result_tail,
                "error_tail": run.error_tail,
            }
            for run in history.runs
        ],
        "missed": [_seconds(moment) for moment in history.missed],
        "missed_truncated": history.truncated,
    }


def budget_trends(conn: Connection, config: RelopsConfig, now: datetime) -> dict[str, Any]:
    """Every flow's budget left at the end of each whole UTC day of its period: the dashboard's
    small charts, from one query of daily sums."""
    end = now.replace(hour=0, minute=0, second=0, microsecond=0)
    since = {flow.name: end - 2 * flow.period_days * DAY for flow in config.flows}
    days = daily_counts(conn, since, end)
    trends: dict[str, Any] = {}
    for flow in config.flows:
        points, budget = daily_budget(
            days[flow.name], end=end, objective=objective_fraction(flow.objective_percent), period_days=flow.period_days
        )
        if any(value is not None for value in budget):
            trends[flow.name] = {
                "points": [int(point.timestamp()) for point in points],
                "budget_remaining_percent": [_percent(value) for value in budget],
            }
    return {"as_of": int(now.timestamp()), "flows": trends}
