"""The reliability snapshot: burn rates, dependency health, cron health and open incidents in one
structure. One implementation for ``relops status`` and the dashboard (page and JSON API)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from redis import Redis
from relops_client.breakers import BreakerRegistry
from relops_client.redis_scripts import REDIS_FAULTS
from sqlalchemy import Connection, Engine, text

from relops import redis_keys
from relops.config import FlowConfig, RelopsConfig
from relops.store.cron import job_states
from relops.store.incidents import list_incidents

TREND_POINTS = 12

_LATEST = text("""
SELECT DISTINCT ON (flow) flow, evaluated_at, severity, windows, budget_remaining, time_to_exhaustion_s,
       excluded_events, budget_remaining_uncorrected
FROM ops_burn_rate_snapshots ORDER BY flow, evaluated_at DESC
""")

_LATEST_OF_FLOW = text("""
SELECT flow, evaluated_at, severity, windows, budget_remaining, time_to_exhaustion_s,
       excluded_events, budget_remaining_uncorrected
FROM ops_burn_rate_snapshots WHERE flow = :flow ORDER BY evaluated_at DESC LIMIT 1
""")

_TREND = text("""
SELECT flow, evaluated_at, severity, windows FROM (
    SELECT flow, evaluated_at, severity, windows,
           row_number() OVER (PARTITION BY flow ORDER BY evaluated_at DESC) AS n
    FROM ops_burn_rate_snapshots
) recent WHERE n <= :points ORDER BY flow, evaluated_at
""")

_RANK = {"ok": 0, "no_data": 0, "warning": 1, "critical": 2}


def _burn(windows: list[dict[str, Any]], name: str) -> dict[str, Any] | None:
    return next((w for w in windows if w.get("window") == name), None)


def flow_source(flow: FlowConfig) -> str:
    if flow.prometheus is not None:
        return "prometheus"
    return "otlp" if flow.spans is not None else "pushed"


def flow_row(config: RelopsConfig, flow: FlowConfig, snap: Any, trend: list[dict[str, Any]]) -> dict[str, Any]:
    """A flow as the dashboard, the API and `relops status` show it: its latest evaluation (``snap``,
    a snapshot row, or None before the first) and its ``trend``."""
    windows = snap.windows if snap else []
    return {
        "flow": flow.name,
        "objective_percent": float(flow.objective_percent),
        # Where its counts come from: "pushed" by services, pulled from "prometheus", or counted
        # from OpenTelemetry spans ("otlp").
        "source": flow_source(flow),
        "severity": snap.severity if snap else "no_data",
        "evaluated_at": snap.evaluated_at.isoformat() if snap else None,
        "windows": {
            w.name: _burn(windows, w.name) or {"burn_rate": None, "status": "no_data", "events": 0, "errors": 0}
            for w in config.evaluation.windows
        },
        "budget_remaining": float(snap.budget_remaining) if snap and snap.budget_remaining is not None else None,
        "time_to_exhaustion_s": snap.time_to_exhaustion_s if snap else None,
        # What corrections (maintenance windows, one-off corrections) left out, and the
        # budget as it would be without them.
        "excluded_events": snap.excluded_events if snap else 0,
        "budget_remaining_uncorrected": float(snap.budget_remaining_uncorrected)
        if snap and snap.budget_remaining_uncorrected is not None
        else None,
        "trend": trend,
        "runbook_url": config.runbook_url(flow),
    }


def flow_rows(conn: Connection, config: RelopsConfig) -> list[dict[str, Any]]:
    latest = {row.flow: row for row in conn.execute(_LATEST)}
    trends: dict[str, list[dict[str, Any]]] = defaultdict(list)
    first_window = config.evaluation.windows[0].name
    for row in conn.execute(_TREND, {"points": TREND_POINTS}):
        window = _burn(row.windows, first_window)
        trends[row.flow].append(
            {
                "at": row.evaluated_at.isoformat(),
                "severity": row.severity,
                "burn_rate": window["burn_rate"] if window else None,
            }
        )
    rows = [flow_row(config, flow, latest.get(flow.name), trends.get(flow.name, [])) for flow in config.flows]
    rows.sort(key=lambda r: (-_RANK.get(r["severity"], 0), r["flow"]))
    return rows


def flow_now(conn: Connection, config: RelopsConfig, flow: FlowConfig) -> dict[str, Any]:
    """One flow's row as the dashboard shows it (its latest evaluation), without the trend."""
    return flow_row(config, flow, conn.execute(_LATEST_OF_FLOW, {"flow": flow.name}).first(), [])


def _jsonable(row: Any) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in dict(row).items()}


def overall_status(
    flows: list[dict[str, Any]],
    breakers: dict[str, dict[str, Any]],
    jobs: list[dict[str, Any]],
    incidents: list[dict[str, Any]],
) -> str:
    """CRITICAL if a flow or an open incident is critical; WARNING if anything else is wrong."""
    if any(f["severity"] == "critical" for f in flows) or any(
        i["severity"] == "critical" and i["status"] == "open" for i in incidents
    ):
        return "CRITICAL"
    if (
        any(f["severity"] == "warning" for f in flows)
        or any(b["state"] not in ("closed", "unknown") for b in breakers.values())
        or any(j["state"] in ("failing", "missed", "overrun", "unknown") for j in jobs)
        or any(i["status"] == "open" for i in incidents)
    ):
        return "WARNING"
    return "HEALTHY"


def reliability_snapshot(
    conn: Connection,
    config: RelopsConfig,
    breakers: dict[str, dict[str, Any]],
    task_faults: dict[str, int] | None,
) -> dict[str, Any]:
    flows = flow_rows(conn, config)
    jobs = [_jsonable(j) for j in job_states(conn)]
    incidents = [_jsonable(i) for i in list_incidents(conn)]
    return {
        "status": overall_status(flows, breakers, jobs, incidents),
        "flows": flows,
        "breakers": breakers,
        "cron": jobs,
        "incidents": incidents,
        "task_faults": task_faults,
    }


def read_task_faults(client: Redis) -> dict[str, int] | None:
    """Retries, final failures and rejected messages per task since Redis started; None when Redis
    cannot be asked."""
    try:
        raw = client.hgetall(redis_keys.task_faults())
    except REDIS_FAULTS:
        return None
    return {key.decode(): int(count) for key, count in raw.items()}


def collect_snapshot(engine: Engine, client: Redis, config: RelopsConfig, breakers: BreakerRegistry) -> dict[str, Any]:
    """The snapshot now: one Redis pipeline for the breakers, one for the task faults, and the
    database reads inside one connection."""
    states, faults = breakers.states(), read_task_faults(client)
    with engine.connect() as conn:
        return reliability_snapshot(conn, config, states, faults)
