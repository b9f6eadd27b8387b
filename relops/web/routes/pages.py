"""The dashboard's HTML pages (the overview, a flow's, a job's and an incident's page) and the forms
they post (add and expire a silence, acknowledge or resolve an incident), which answer with a
redirect back to the page."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from relops.application.silences import expire as expire_silence_now
from relops.application.snapshot import collect_snapshot, flow_now
from relops.config import FlowConfig
from relops.errors import InputRejected
from relops.state.sli_pulls import load_pull
from relops.store.audit import recent_audit
from relops.store.cron import last_runs
from relops.web.auth import Principal
from relops.web.charts import JOB_RANGES
from relops.web.deps import Acting, SignedIn, WebDeps, Wired
from relops.web.forms import form_text, signed_form
from relops.web.operations import change, flow_series, incident_action, incident_story, job_runs, new_silence, silences
from relops.web.overview import FLOW_SORTS, STRIP_CELLS, run_strip, sorted_flows
from relops.web.ranges import DEFAULT_RANGE, RANGES
from relops.web.responses import REFRESH_S
from relops.web.templating import TEMPLATES, path_segment

#: The newest audit entries the overview shows.
AUDIT_ROWS_SHOWN = 20

router = APIRouter(include_in_schema=False)


def _chart_page(request: Request, principal: Principal, template: str, **context: Any) -> Response:
    return TEMPLATES.TemplateResponse(request, template, {**context, "user": principal.user})


@router.post("/silences")
async def silence_form(request: Request, deps: Wired, principal: SignedIn, who: Acting) -> Response:
    checked = await signed_form(request, principal)
    if isinstance(checked, Response):
        return checked
    spec = {
        "matchers": [form_text(checked, "matcher") or ""],
        "duration": form_text(checked, "duration") or "",
        "reason": form_text(checked, "reason") or "",
    }
    try:
        await run_in_threadpool(new_silence, deps, who, spec)
    except InputRejected as exc:
        return HTMLResponse(
            TEMPLATES.get_template("form_error.html").render(field=exc.field, reason=exc.reason), status_code=422
        )
    return RedirectResponse("/#silences", status_code=303)


@router.post("/silences/{silence_id}/expire")
async def silence_expire_form(
    silence_id: int, request: Request, deps: Wired, principal: SignedIn, who: Acting
) -> Response:
    checked = await signed_form(request, principal)
    if isinstance(checked, Response):
        return checked
    await run_in_threadpool(expire_silence_now, deps.engine, who, silence_id, deps.now())
    return RedirectResponse("/#silences", status_code=303)


def source_of(deps: WebDeps, flow: FlowConfig) -> dict[str, Any]:
    """How far a Prometheus-sourced flow has been pulled and whether its source answers (empty for
    a flow whose counts are pushed)."""
    if flow.prometheus is None:
        return {}
    state, health = load_pull(deps.redis, flow.name)
    return {
        "pulled_until": state.pulled_until,
        "backfilling": state.backfill_until is not None,
        "failing_since": health.failing_since,
        "last_error": health.last_error,
    }


@router.get("/flows/{name:path}", response_class=HTMLResponse)
def flow_page(
    name: str,
    request: Request,
    deps: Wired,
    principal: SignedIn,
    range_name: str | None = Query(None, alias="range"),
) -> Response:
    series = flow_series(deps, name, range_name)
    flow = deps.config.flows_by_name[name]
    with deps.engine.connect() as conn:
        # The latest tick's evaluation, as the dashboard row shows it (the charts draw counters).
        now = flow_now(conn, deps.config, flow)
    return _chart_page(
        request,
        principal,
        "flow.html",
        flow=flow,
        source=source_of(deps, flow),
        now=now,
        series=series,
        series_url=f"/api/v1/flows/{path_segment(name)}/series?range={series['range']}",
        ranges=list(RANGES),
        range_chosen=range_name is None,
    )


@router.get("/jobs/{name:path}", response_class=HTMLResponse)
def job_page(
    name: str,
    request: Request,
    deps: Wired,
    principal: SignedIn,
    range_name: str = Query(DEFAULT_RANGE, alias="range"),
) -> Response:
    runs = job_runs(deps, name, range_name)
    return _chart_page(
        request,
        principal,
        "job.html",
        job=deps.config.jobs_by_name[name],
        runs=runs,
        runs_url=f"/api/v1/jobs/{path_segment(name)}/runs?range={range_name}",
        ranges=list(JOB_RANGES),
    )


@router.get("/incidents/{incident_id}", response_class=HTMLResponse)
def incident_page(incident_id: int, request: Request, deps: Wired, principal: SignedIn) -> Response:
    context = {"incident": incident_story(deps, incident_id), "user": principal.user, "csrf": principal.csrf}
    return TEMPLATES.TemplateResponse(request, "incident.html", context)


@router.get("/", response_class=HTMLResponse)
def dashboard(request: Request, deps: Wired, principal: SignedIn, sort: str = Query("budget")) -> Response:
    config = deps.config
    snap = collect_snapshot(deps.engine, deps.redis, config, deps.breakers)
    sort = sort if sort in FLOW_SORTS else "budget"
    reported = {row["name"] for row in snap["cron"]}
    jobs = [job for job in config.jobs if job.name in reported]
    with deps.engine.connect() as conn:
        changes = recent_audit(conn, AUDIT_ROWS_SHOWN)
        runs = last_runs(conn, [job.name for job in jobs], STRIP_CELLS)
    now = deps.now()
    context = {
        "snap": {**snap, "flows": sorted_flows(snap["flows"], sort)},
        "sort": sort,
        "sorts": FLOW_SORTS,
        "strips": {job.name: run_strip(job, runs[job.name], now) for job in jobs},
        "audit": changes,
        "silences": silences(deps, include_past=False),
        "user": principal.user,
        "csrf": principal.csrf,
        "refresh_s": REFRESH_S,
    }
    return TEMPLATES.TemplateResponse(request, "dashboard.html", context)


@router.post("/incidents/{incident_id}/{action}")
async def incident_form(
    incident_id: int, action: str, request: Request, deps: Wired, principal: SignedIn, who: Acting
) -> Response:
    checked = await signed_form(request, principal)
    if isinstance(checked, Response):
        return checked
    await run_in_threadpool(change, deps, who, incident_id, incident_action(action))
    return RedirectResponse("/", status_code=303)
