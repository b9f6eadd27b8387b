"""What a page and its JSON twin both do: read a flow's series, a job's runs, an incident's story,
the silences; add a silence, acknowledge or resolve an incident. Each takes the process's WebDeps;
a name the config lacks is a 404, a range none of the offered ones a 422."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from fastapi import HTTPException
from sqlalchemy import Connection

from relops.alerting.timeline import incident_timeline
from relops.application.audit import Actor
from relops.application.incidents import UNKNOWN_ACTION, Action, as_action, change_incident
from relops.application.silences import Added, add_requested_silence, read_silence_request, silence_view
from relops.store.incidents import incident_audit, incident_notifications, incident_row
from relops.store.silences import silence_rows
from relops.web.charts import flow_series_payload, job_runs_payload, opening_range
from relops.web.deps import WebDeps
from relops.web.ranges import UnknownRange


def _charted(
    deps: WebDeps, kind: str, subject: object, name: str, build: Callable[[Connection], dict[str, Any]]
) -> dict[str, Any]:
    """What a flow's or a job's page draws: 404 for a name the config lacks, 422 for a range."""
    if subject is None:
        raise HTTPException(404, f"{name[:100]!r} is not a {kind} in the relops config")
    try:
        with deps.engine.connect() as conn:
            return build(conn)
    except UnknownRange as exc:
        raise HTTPException(422, {"field": "range", "error": str(exc)}) from None


def flow_series(deps: WebDeps, name: str, range_name: str | None) -> dict[str, Any]:
    """A flow's series over ``range_name``, or over the range its data calls for when None."""
    flow = deps.config.flows_by_name.get(name)

    def build(conn: Connection) -> dict[str, Any]:
        now = deps.now()
        chosen = opening_range(conn, flow, now) if range_name is None else range_name
        return flow_series_payload(conn, deps.config, flow, chosen, now)

    return _charted(deps, "flow", flow, name, build)


def job_runs(deps: WebDeps, name: str, range_name: str) -> dict[str, Any]:
    """A job's runs and missed starts over ``range_name``."""
    job = deps.config.jobs_by_name.get(name)
    return _charted(deps, "job", job, name, lambda conn: job_runs_payload(conn, job, range_name, deps.now()))


def incident_story(deps: WebDeps, incident_id: int) -> dict[str, Any]:
    """An incident and its events in time order: notifications, acks, escalations."""
    with deps.engine.connect() as conn:
        row = incident_row(conn, incident_id)
        if row is None:
            raise HTTPException(404, f"incident {incident_id} does not exist")
        events = incident_timeline(row, incident_notifications(conn, incident_id), incident_audit(conn, incident_id))
    fields = ("id", "fingerprint", "status", "severity", "source", "title", "runbook_url", "occurrences", "route")
    moments = ("opened_at", "acknowledged_at", "resolved_at", "last_seen")
    return {
        **{name: row[name] for name in fields},
        **{name: None if row[name] is None else row[name].isoformat() for name in moments},
        "events": [
            {
                "at": event.at.isoformat(),
                "kind": event.kind,
                "detail": event.detail,
                "status": event.status,
                "severity": event.severity,
            }
            for event in events
        ],
    }


def silences(deps: WebDeps, include_past: bool) -> list[dict[str, Any]]:
    """The active and pending silences (and past ones), as people read them."""
    with deps.engine.connect() as conn:
        rows = silence_rows(conn, include_past=include_past)
    now = deps.now()
    return [silence_view(row, now) for row in rows]


def new_silence(deps: WebDeps, who: Actor, spec: Mapping[str, Any]) -> Added:
    """A silence from the API's JSON or a dashboard form; InputRejected names the field."""
    now = deps.now()
    asked = read_silence_request(
        deps.config,
        now,
        matchers=spec.get("matchers"),
        match_all=spec.get("all") is True,
        starts_at=spec.get("starts_at"),
        ends_at=spec.get("ends_at"),
        duration=spec.get("duration"),
        reason=spec.get("reason"),
    )
    return add_requested_silence(deps.engine, deps.config, who, asked, now)


def incident_action(name: str) -> Action:
    """The action a URL names; 404 for any but ack and resolve."""
    action = as_action(name)
    if action is None:
        raise HTTPException(404, UNKNOWN_ACTION)
    return action


def change(deps: WebDeps, who: Actor, incident_id: int, action: Action) -> bool:
    """Whether ``action`` changed the incident (False: it does not exist, or its status forbids it)."""
    changed = change_incident(
        deps.engine, deps.redis, deps.receivers, incident_id, action, deps.now(), who, followers=deps.followers
    )
    return changed is not None
