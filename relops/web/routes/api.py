"""The JSON API (/api/v1): the snapshot, the audit, incidents, silences, a flow's series, a job's runs.
Refusals are JSON too: ``{"detail": ...}``, naming the field at fault for a silence."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from relops.application.incidents import unchanged_reason
from relops.application.silences import expire as expire_silence_now
from relops.application.snapshot import collect_snapshot
from relops.errors import InputRejected
from relops.store.audit import recent_audit
from relops.web.charts import budget_trends
from relops.web.deps import Acting, Wired
from relops.web.operations import change, flow_series, incident_action, incident_story, job_runs, new_silence, silences
from relops.web.ranges import DEFAULT_RANGE

router = APIRouter()


@router.get("/api/v1/snapshot", summary="The reliability snapshot: burn rates, breakers, cron jobs, incidents")
def snapshot(deps: Wired) -> JSONResponse:
    return JSONResponse(collect_snapshot(deps.engine, deps.redis, deps.config, deps.breakers))


@router.get("/api/v1/audit", summary="The newest audit entries: who acknowledged, resolved or changed what")
def audit(deps: Wired, limit: int = 50) -> JSONResponse:
    with deps.engine.connect() as conn:
        rows = recent_audit(conn, max(1, min(limit, 500)))
    return JSONResponse([{**row, "at": row["at"].isoformat()} for row in rows])


@router.post("/api/v1/incidents/{incident_id}/{action}", summary="Acknowledge or resolve an incident")
def incident_api(incident_id: int, action: str, deps: Wired, who: Acting) -> dict[str, Any]:
    chosen = incident_action(action)
    if not change(deps, who, incident_id, chosen):
        raise HTTPException(409, unchanged_reason(incident_id, chosen))
    return {"incident": incident_id, "action": action}


@router.get("/api/v1/silences", summary="Active and pending silences (?all=true: past ones too)")
def list_silences(deps: Wired, include_past: bool = Query(False, alias="all")) -> JSONResponse:
    return JSONResponse(silences(deps, include_past))


@router.post("/api/v1/silences", status_code=201, summary="Add a silence")
async def create_silence(request: Request, deps: Wired, who: Acting) -> JSONResponse:
    try:
        spec = await request.json()
    except ValueError:
        return JSONResponse({"detail": {"field": "body", "reason": "must be a JSON object"}}, status_code=422)
    if not isinstance(spec, dict):
        return JSONResponse({"detail": {"field": "body", "reason": "must be a JSON object"}}, status_code=422)
    try:
        added = await run_in_threadpool(new_silence, deps, who, spec)
    except InputRejected as exc:
        return JSONResponse({"detail": {"field": exc.field, "reason": exc.reason}}, status_code=422)
    matching = [{"id": r["id"], "title": r["title"], "status": r["status"]} for r in added.matches_now]
    return JSONResponse({"id": added.silence_id, "matches_now": matching}, status_code=201)


@router.delete("/api/v1/silences/{silence_id}", summary="Expire a silence now")
def delete_silence(silence_id: int, deps: Wired, who: Acting) -> dict[str, Any]:
    row = expire_silence_now(deps.engine, who, silence_id, deps.now())
    if row is None:
        raise HTTPException(404, f"silence {silence_id} does not exist or is over already")
    return {"silence": silence_id, "expired": True, "muted": row["muted"]}


@router.get("/api/v1/flows/budgets", summary="Every flow's budget left at the end of each day of its period")
def budgets_api(deps: Wired) -> JSONResponse:
    def compute() -> dict[str, Any]:
        with deps.engine.connect() as conn:
            return budget_trends(conn, deps.config, deps.now())

    return JSONResponse(deps.budget_trends.get(deps.settings.web_trends_ttl_s, compute))


@router.get(
    "/api/v1/flows/{name:path}/series",
    summary="A flow's burn rate per window, budget left and events over time (range: 1h, 6h, 24h, 7d, 30d, period)",
)
def flow_series_api(deps: Wired, name: str, range_name: str = Query(DEFAULT_RANGE, alias="range")) -> JSONResponse:
    return JSONResponse(flow_series(deps, name, range_name))


@router.get(
    "/api/v1/jobs/{name:path}/runs",
    summary="A job's runs (status, start, duration, result or error tail) and missed starts (range: 24h, 7d, 30d)",
)
def job_runs_api(deps: Wired, name: str, range_name: str = Query(DEFAULT_RANGE, alias="range")) -> JSONResponse:
    return JSONResponse(job_runs(deps, name, range_name))


@router.get("/api/v1/incidents/{incident_id}", summary="An incident and its events: notifications, acks, escalations")
def incident_api_read(deps: Wired, incident_id: int) -> JSONResponse:
    return JSONResponse(incident_story(deps, incident_id))
