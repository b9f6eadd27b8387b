"""The dashboard and JSON API. Every ops endpoint and page: anonymous 401, viewer 403, admin 200.

One middleware decides before any route, parameter or body is looked at: who is asking (a bearer
token, or a server-side session), whether they may (admins only; a viewer may only sign out), and,
for a state-changing request made with the session cookie, whether it comes from this origin (and,
for the JSON API, carries the session's CSRF token; forms carry it as a field). Every response
gets the security headers, and everything but the stylesheet ``Cache-Control: no-store``.

The service reads with the relops_web database role: it may read the ops tables, change an
incident's status, keep sessions and append audit rows, nothing else.

While PostgreSQL is unreachable, tokens and sessions cannot be checked: a request that carries
either gets a 503 that says so, never ops data and never a 500 with the driver's message; a request
with neither is still refused with a 401. The engine's pre-ping reconnects when the database is
back, so the process recovers without a restart.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy import Connection, create_engine
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.middleware.base import BaseHTTPMiddleware

from relops import __version__
from relops.alerting.incidents import UNKNOWN_ACTION, Action, as_action, change_incident, unchanged_reason
from relops.alerting.timeline import incident_timeline
from relops.audit import Actor
from relops.breakers.client import process_breakers
from relops.db import CONNECT_TIMEOUT_S
from relops.errors import InputRejected
from relops.logs import log_event
from relops.runtime import get_config, get_receivers, redis
from relops.settings import Settings, get_settings
from relops.silencing.service import Added, add_requested_silence, read_silence_request, silence_view
from relops.silencing.service import expire as expire_silence_now
from relops.snapshot import collect_snapshot, flow_now
from relops.store.audit import recent_audit
from relops.store.cron import last_runs
from relops.store.incidents import incident_audit, incident_notifications, incident_row
from relops.store.silences import silence_rows
from relops.timeutil import utcnow
from relops.web.auth import AmbiguousCookie, Authenticator, Principal
from relops.web.body_limit import MAX_BODY_BYTES, BodyLimit
from relops.web.charts import (
    JOB_RANGES,
    budget_trends,
    flow_series_payload,
    job_runs_payload,
    opening_range,
)
from relops.web.login_form import LoginBodyRefused, check_login_media_type, parse_login_body, read_login_body
from relops.web.overview import FLOW_SORTS, STRIP_CELLS, run_strip, sorted_flows
from relops.web.protection import NO_STORE, SAFE_METHODS, SECURITY_HEADERS, csrf_matches, same_origin
from relops.web.ranges import DEFAULT_RANGE, RANGES, UnknownRange
from relops.web.throttle import LoginThrottle

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
STATIC_DIR = Path(__file__).parent / "static"
REFRESH_S = 30
AUDIT_ROWS_SHOWN = 20
#: Routes anyone may reach: signing in, the health check, the stylesheet.
PUBLIC_PATHS = frozenset({"/login", "/healthz"})
PUBLIC_PREFIXES = ("/static/",)
#: A viewer may reach these and nothing else: they can sign out of their session.
VIEWER_PATHS = frozenset({"/logout"})
#: The database cannot be reached right now (refused, connection cut, pool exhausted): a later
#: request can succeed, so these are a 503, not a 500. Other database errors (a missing grant, a
#: bad query) are bugs and stay 500s.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError, PoolTimeoutError)
#: What a 503 tells clients to wait before trying again: the dashboard's own refresh interval.
RETRY_AFTER_S = REFRESH_S
UNAVAILABLE_DETAIL = (
    "The database is unavailable: ops data cannot be read and tokens cannot be checked right now. Try again shortly."
)

logger = logging.getLogger(__name__)


def _safe_link(url: str) -> str | None:
    """Only absolute http(s) URLs become links; anything else is shown as text."""
    return url if url.startswith(("https://", "http://")) else None


def _when(value: str | datetime | None) -> str:
    """2026-11-27 12:04:44 UTC from an ISO timestamp or a datetime; "-" for none."""
    if not value:
        return "-"
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _evaluated_minute(value: str | datetime | None) -> str:
    """The minute an evaluation covers, from its as_of (the minute's close, which lies ahead of the
    clock while the minute runs): "2026-11-27 12:04 UTC" for 12:05:00."""
    if not value:
        return "-"
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return (moment.astimezone(UTC) - timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M UTC")


def _when_ms(epoch_ms: int | None) -> str:
    return "-" if not epoch_ms else datetime.fromtimestamp(epoch_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _when_epoch(epoch_s: int | None) -> str:
    return "-" if epoch_s is None else datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _path_segment(value: str) -> str:
    """``value`` as one URL path segment: a flow name may hold a slash."""
    return quote(value, safe="")


def _trend_height(burn_rate: float | None) -> int:
    """A trend bar's height class (4-20 px): the page may not carry inline styles."""
    return max(4, min(int((burn_rate or 0) * 2), 20))


TEMPLATES.env.filters.update(
    safe_link=_safe_link,
    when=_when,
    evaluated_minute=_evaluated_minute,
    when_ms=_when_ms,
    when_epoch=_when_epoch,
    trend_height=_trend_height,
    path_segment=_path_segment,
)


def form_text(form: FormData, field: str) -> str | None:
    """A text field of a submitted form (an uploaded file in its place counts as missing)."""
    value = form.get(field)
    return value if isinstance(value, str) else None


async def signed_form(request: Request) -> tuple[Principal, FormData] | Response:
    """A dashboard form's fields, once its CSRF token is the session's (a bearer caller needs none)."""
    principal: Principal = request.state.principal
    form = await request.form()
    if principal.via == "web" and not csrf_matches(principal.session_id or "", form_text(form, "csrf")):
        return refusal(request, 403, "missing or wrong form token", principal)
    return principal, form


def client_address(request: Request) -> str:
    """The client as the trusted proxy reports it (uvicorn applies RELOPS_WEB_TRUSTED_PROXIES)."""
    return request.client.host if request.client else "unknown"


def own_origin(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"


def database_unavailable(request: Request, exc: Exception, password: str | None = None) -> Response:
    """The 503 for a request that needed an unreachable database.

    The body is fixed text: the driver's message names the server, port and user, so it goes only
    to the log (its first line, with the connection's password masked should a message quote it).
    """
    cause = getattr(exc, "orig", None) or exc
    reason = (str(cause).strip().splitlines() or ["-"])[0]
    if password:
        reason = reason.replace(password, "***")
    log_event(
        logger,
        logging.ERROR,
        "web.database_unavailable",
        method=request.method,
        path=request.url.path,
        error=type(cause).__name__,
        reason=reason,
    )
    headers = {"Retry-After": str(RETRY_AFTER_S)}
    if request.url.path.startswith("/api/"):
        return JSONResponse({"detail": UNAVAILABLE_DETAIL}, status_code=503, headers=headers)
    return TEMPLATES.TemplateResponse(
        request,
        "unavailable.html",
        {"detail": UNAVAILABLE_DETAIL, "refresh_s": RETRY_AFTER_S},
        status_code=503,
        headers=headers,
    )


def refusal(request: Request, status: int, detail: str, principal: Principal | None = None) -> Response:
    """401 or 403, in JSON for the API and as a page otherwise; never any ops data."""
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    if request.url.path.startswith("/api/"):
        return JSONResponse({"detail": detail}, status_code=status, headers=headers)
    if status == 401:
        return TEMPLATES.TemplateResponse(request, "login.html", {"error": None}, status_code=401, headers=headers)
    context = {
        "user": principal.user if principal else None,
        "detail": detail,
        "csrf": principal.csrf if principal else "",
    }
    return TEMPLATES.TemplateResponse(request, "forbidden.html", context, status_code=403)


def with_protection_headers(request: Request, response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    if not request.url.path.startswith(PUBLIC_PREFIXES):
        response.headers.update(NO_STORE)
    return response


class AccessControl(BaseHTTPMiddleware):
    """Authentication, authorization and cross-site checks for every route, before routing."""

    def __init__(self, app: Any, authenticator: Authenticator, password: str | None) -> None:
        super().__init__(app)
        self.authenticator = authenticator
        self.password = password

    async def dispatch(self, request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        return with_protection_headers(request, await self._checked(request, call_next))

    async def _checked(self, request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        path, unsafe = request.url.path, request.method not in SAFE_METHODS
        if path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES):
            # Signing in from another site (login CSRF) would sign the victim in as the attacker.
            if unsafe and not same_origin(request.headers, own_origin(request)):
                return refusal(request, 403, "cross-site request refused")
            return await call_next(request)
        try:
            principal = await run_in_threadpool(self.authenticator.identify, request)
        except AmbiguousCookie:
            log_event(logger, logging.WARNING, "web.cookie_ambiguous", path=path, client=client_address(request))
            principal = None
        except DATABASE_UNAVAILABLE as exc:
            return database_unavailable(request, exc, self.password)
        if principal is None:
            return refusal(request, 401, "authentication required")
        if not principal.user.is_admin and path not in VIEWER_PATHS:
            return refusal(request, 403, "only admins may read ops data", principal)
        if unsafe and principal.via == "web":
            if not same_origin(request.headers, own_origin(request)):
                return refusal(request, 403, "cross-site request refused", principal)
            if path.startswith("/api/") and not csrf_matches(
                principal.session_id or "", request.headers.get("x-csrf-token")
            ):
                return refusal(request, 403, "missing or wrong X-CSRF-Token for a signed-in session", principal)
        request.state.principal = principal
        return await call_next(request)


def create_app(database_url: str | None = None, settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    engine = create_engine(
        database_url or settings.web_db_url,
        pool_pre_ping=True,
        connect_args={"connect_timeout": CONNECT_TIMEOUT_S},
    )
    authenticator = Authenticator(engine, settings)
    throttle = LoginThrottle(redis())
    # The API's schema is served to admins; no docs pages (they would load scripts from a CDN).
    app = FastAPI(title="relops", version=__version__, docs_url=None, redoc_url=None, openapi_url="/api/openapi.json")
    # Inside AccessControl: a caller is identified (and refused) before any body is read, and the
    # 413 gets the security headers.
    app.add_middleware(BodyLimit, max_bytes=MAX_BODY_BYTES)
    app.add_middleware(AccessControl, authenticator=authenticator, password=engine.url.password)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    def on_database_unavailable(request: Request, exc: Exception) -> Response:
        return with_protection_headers(request, database_unavailable(request, exc, engine.url.password))

    for error in DATABASE_UNAVAILABLE:
        app.add_exception_handler(error, on_database_unavailable)

    def actor(request: Request) -> tuple[Principal, Actor]:
        principal: Principal = request.state.principal
        return principal, Actor(principal.user.name, principal.via, client_address(request))

    def change(request: Request, incident_id: int, action: Action) -> bool:
        _, who = actor(request)
        receivers = list(get_receivers())
        return change_incident(engine, redis(), receivers, incident_id, action, utcnow(), who) is not None

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/api/v1/snapshot", summary="The reliability snapshot: burn rates, breakers, cron jobs, incidents")
    def snapshot() -> JSONResponse:
        return JSONResponse(collect_snapshot(engine, redis(), get_config(), process_breakers()))

    @app.get("/api/v1/audit", summary="The newest audit entries: who acknowledged, resolved or changed what")
    def audit(limit: int = 50) -> JSONResponse:
        with engine.connect() as conn:
            rows = recent_audit(conn, max(1, min(limit, 500)))
        return JSONResponse([{**row, "at": row["at"].isoformat()} for row in rows])

    @app.post("/api/v1/incidents/{incident_id}/{action}", summary="Acknowledge or resolve an incident")
    def incident_api(incident_id: int, action: str, request: Request) -> dict[str, Any]:
        chosen = as_action(action)
        if chosen is None:
            raise HTTPException(404, UNKNOWN_ACTION)
        if not change(request, incident_id, chosen):
            raise HTTPException(409, unchanged_reason(incident_id, chosen))
        return {"incident": incident_id, "action": action}

    def silences_now() -> list[dict[str, Any]]:
        with engine.connect() as conn:
            rows = silence_rows(conn, include_past=False)
        now = utcnow()
        return [silence_view(row, now) for row in rows]

    def new_silence(request: Request, spec: Mapping[str, Any]) -> Added:
        """A silence from the API's JSON or a dashboard form; InputRejected names the field."""
        _, who = actor(request)
        now = utcnow()
        asked = read_silence_request(
            get_config(),
            now,
            matchers=spec.get("matchers"),
            match_all=spec.get("all") is True,
            starts_at=spec.get("starts_at"),
            ends_at=spec.get("ends_at"),
            duration=spec.get("duration"),
            reason=spec.get("reason"),
        )
        return add_requested_silence(engine, get_config(), who, asked, now)

    @app.get("/api/v1/silences", summary="Active and pending silences (?all=true: past ones too)")
    def list_silences(include_past: bool = Query(False, alias="all")) -> JSONResponse:
        with engine.connect() as conn:
            rows = silence_rows(conn, include_past=include_past)
        now = utcnow()
        return JSONResponse([silence_view(row, now) for row in rows])

    @app.post("/api/v1/silences", status_code=201, summary="Add a silence")
    async def create_silence(request: Request) -> JSONResponse:
        try:
            spec = await request.json()
        except ValueError:
            return JSONResponse({"detail": {"field": "body", "reason": "must be a JSON object"}}, status_code=422)
        if not isinstance(spec, dict):
            return JSONResponse({"detail": {"field": "body", "reason": "must be a JSON object"}}, status_code=422)
        try:
            added = await run_in_threadpool(new_silence, request, spec)
        except InputRejected as exc:
            return JSONResponse({"detail": {"field": exc.field, "reason": exc.reason}}, status_code=422)
        matching = [{"id": r["id"], "title": r["title"], "status": r["status"]} for r in added.matches_now]
        return JSONResponse({"id": added.silence_id, "matches_now": matching}, status_code=201)

    @app.delete("/api/v1/silences/{silence_id}", summary="Expire a silence now")
    def delete_silence(silence_id: int, request: Request) -> dict[str, Any]:
        _, who = actor(request)
        row = expire_silence_now(engine, who, silence_id, utcnow())
        if row is None:
            raise HTTPException(404, f"silence {silence_id} does not exist or is over already")
        return {"silence": silence_id, "expired": True, "muted": row["muted"]}

    @app.post("/silences", include_in_schema=False)
    async def silence_form(request: Request) -> Response:
        checked = await signed_form(request)
        if isinstance(checked, Response):
            return checked
        _principal, form = checked
        spec = {
            "matchers": [form_text(form, "matcher") or ""],
            "duration": form_text(form, "duration") or "",
            "reason": form_text(form, "reason") or "",
        }
        try:
            await run_in_threadpool(new_silence, request, spec)
        except InputRejected as exc:
            return HTMLResponse(
                TEMPLATES.get_template("form_error.html").render(field=exc.field, reason=exc.reason), status_code=422
            )
        return RedirectResponse("/#silences", status_code=303)

    @app.post("/silences/{silence_id}/expire", include_in_schema=False)
    async def silence_expire_form(silence_id: int, request: Request) -> Response:
        checked = await signed_form(request)
        if isinstance(checked, Response):
            return checked
        _principal, _form = checked
        _, who = actor(request)
        await run_in_threadpool(expire_silence_now, engine, who, silence_id, utcnow())
        return RedirectResponse("/#silences", status_code=303)

    def charted(kind: str, subject: Any, name: str, build: Callable[[Connection], dict[str, Any]]) -> dict[str, Any]:
        """What a flow's or a job's page draws: 404 for a name the config lacks, 422 for a range."""
        if subject is None:
            raise HTTPException(404, f"{name[:100]!r} is not a {kind} in the relops config")
        try:
            with engine.connect() as conn:
                return build(conn)
        except UnknownRange as exc:
            raise HTTPException(422, {"field": "range", "error": str(exc)}) from None

    def flow_series(name: str, range_name: str | None) -> dict[str, Any]:
        """A flow's series over ``range_name``, or over the range its data calls for when None."""
        config = get_config()
        flow = config.flows_by_name.get(name)

        def build(conn: Connection) -> dict[str, Any]:
            now = utcnow()
            chosen = opening_range(conn, flow, now) if range_name is None else range_name
            return flow_series_payload(conn, config, flow, chosen, now)

        return charted("flow", flow, name, build)

    def job_runs(name: str, range_name: str) -> dict[str, Any]:
        job = get_config().jobs_by_name.get(name)
        return charted("job", job, name, lambda conn: job_runs_payload(conn, job, range_name, utcnow()))

    def chart_page(request: Request, template: str, **context: Any) -> Response:
        principal: Principal = request.state.principal
        return TEMPLATES.TemplateResponse(request, template, {**context, "user": principal.user})

    trends_cache: dict[str, tuple[float, dict[str, Any]]] = {}

    @app.get("/api/v1/flows/budgets", summary="Every flow's budget left at the end of each day of its period")
    def budgets_api() -> JSONResponse:
        # Past days change only with late data, and every open dashboard asks every 30 s.
        cached = trends_cache.get("trends")
        if cached is None or time.monotonic() - cached[0] >= settings.web_trends_ttl_s:
            with engine.connect() as conn:
                cached = trends_cache["trends"] = (time.monotonic(), budget_trends(conn, get_config(), utcnow()))
        return JSONResponse(cached[1])

    @app.get(
        "/api/v1/flows/{name:path}/series",
        summary="A flow's burn rate per window, budget left and events over time (range: 1h, 6h, 24h, 7d, 30d, period)",
    )
    def flow_series_api(name: str, range_name: str = Query(DEFAULT_RANGE, alias="range")) -> JSONResponse:
        return JSONResponse(flow_series(name, range_name))

    @app.get("/flows/{name:path}", response_class=HTMLResponse, include_in_schema=False)
    def flow_page(name: str, request: Request, range_name: str | None = Query(None, alias="range")) -> Response:
        series = flow_series(name, range_name)
        config = get_config()
        flow = config.flows_by_name[name]
        with engine.connect() as conn:
            # The latest tick's evaluation, as the dashboard row shows it (the charts draw counters).
            now = flow_now(conn, config, flow)
        return chart_page(
            request,
            "flow.html",
            flow=flow,
            now=now,
            series=series,
            series_url=f"/api/v1/flows/{_path_segment(name)}/series?range={series['range']}",
            ranges=list(RANGES),
            range_chosen=range_name is None,
        )

    @app.get(
        "/api/v1/jobs/{name:path}/runs",
        summary="A job's runs (status, start, duration, result or error tail) and missed starts (range: 24h, 7d, 30d)",
    )
    def job_runs_api(name: str, range_name: str = Query(DEFAULT_RANGE, alias="range")) -> JSONResponse:
        return JSONResponse(job_runs(name, range_name))

    @app.get("/jobs/{name:path}", response_class=HTMLResponse, include_in_schema=False)
    def job_page(name: str, request: Request, range_name: str = Query(DEFAULT_RANGE, alias="range")) -> Response:
        runs = job_runs(name, range_name)
        return chart_page(
            request,
            "job.html",
            job=get_config().jobs_by_name[name],
            runs=runs,
            runs_url=f"/api/v1/jobs/{_path_segment(name)}/runs?range={range_name}",
            ranges=list(JOB_RANGES),
        )

    def incident_story(incident_id: int) -> dict[str, Any]:
        with engine.connect() as conn:
            row = incident_row(conn, incident_id)
            if row is None:
                raise HTTPException(404, f"incident {incident_id} does not exist")
            events = incident_timeline(
                row, incident_notifications(conn, incident_id), incident_audit(conn, incident_id)
            )
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

    @app.get("/api/v1/incidents/{incident_id}", summary="An incident and its events: notifications, acks, escalations")
    def incident_api_read(incident_id: int) -> JSONResponse:
        return JSONResponse(incident_story(incident_id))

    @app.get("/incidents/{incident_id}", response_class=HTMLResponse, include_in_schema=False)
    def incident_page(incident_id: int, request: Request) -> Response:
        principal: Principal = request.state.principal
        context = {"incident": incident_story(incident_id), "user": principal.user, "csrf": principal.csrf}
        return TEMPLATES.TemplateResponse(request, "incident.html", context)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def dashboard(request: Request, sort: str = Query("budget")) -> Response:
        principal: Principal = request.state.principal
        config = get_config()
        snap = collect_snapshot(engine, redis(), config, process_breakers())
        sort = sort if sort in FLOW_SORTS else "budget"
        reported = {row["name"] for row in snap["cron"]}
        jobs = [job for job in config.jobs if job.name in reported]
        with engine.connect() as conn:
            changes = recent_audit(conn, AUDIT_ROWS_SHOWN)
            runs = last_runs(conn, [job.name for job in jobs], STRIP_CELLS)
        now = utcnow()
        context = {
            "snap": {**snap, "flows": sorted_flows(snap["flows"], sort)},
            "sort": sort,
            "sorts": FLOW_SORTS,
            "strips": {job.name: run_strip(job, runs[job.name], now) for job in jobs},
            "audit": changes,
            "silences": silences_now(),
            "user": principal.user,
            "csrf": principal.csrf,
            "refresh_s": REFRESH_S,
        }
        return TEMPLATES.TemplateResponse(request, "dashboard.html", context)

    @app.get("/login", response_class=HTMLResponse, include_in_schema=False)
    def login_page(request: Request) -> Response:
        return TEMPLATES.TemplateResponse(request, "login.html", {"error": None})

    @app.post("/login", include_in_schema=False)
    async def login(request: Request) -> Response:
        client = client_address(request)
        # The throttle is per address only, so it is decided before the body is read.
        wait_s = await run_in_threadpool(throttle.retry_after_s, client)
        if wait_s is not None:
            log_event(logger, logging.WARNING, "web.login_throttled", client=client, retry_after_s=wait_s)
            error = f"Too many failed sign-ins: try again in {wait_s} s."
            headers = {"Retry-After": str(wait_s)}
            return TEMPLATES.TemplateResponse(request, "login.html", {"error": error}, status_code=429, headers=headers)
        try:
            check_login_media_type(request.headers.get("content-type"))
            name, token = parse_login_body(await read_login_body(request))
        except LoginBodyRefused as exc:
            log_event(logger, logging.WARNING, "web.login_refused", client=client, status=exc.status)
            return TEMPLATES.TemplateResponse(request, "login.html", {"error": exc.reason}, status_code=exc.status)
        try:
            principal = await run_in_threadpool(authenticator.sign_in, name, token, client)
        except DATABASE_UNAVAILABLE as exc:
            return database_unavailable(request, exc, engine.url.password)
        if principal is None:
            await run_in_threadpool(throttle.failed, client)
            log_event(logger, logging.WARNING, "web.login_failed", client=client)
            error = "Unknown user name or token."
            return TEMPLATES.TemplateResponse(request, "login.html", {"error": error}, status_code=401)
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(
            authenticator.cookie_name(request),
            principal.session_id or "",
            httponly=True,
            samesite="strict",
            secure=authenticator.secure(request),
            path="/",
            max_age=settings.web_session_max_s,
        )
        return response

    @app.post("/logout", include_in_schema=False)
    async def logout(request: Request) -> Response:
        checked = await signed_form(request)
        if isinstance(checked, Response):
            return checked
        principal, _form = checked
        await run_in_threadpool(authenticator.sign_out, principal)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(authenticator.cookie_name(request), path="/", secure=authenticator.secure(request))
        return response

    @app.post("/incidents/{incident_id}/{action}", include_in_schema=False)
    async def incident_form(incident_id: int, action: str, request: Request) -> Response:
        checked = await signed_form(request)
        if isinstance(checked, Response):
            return checked
        _principal, _form = checked
        chosen = as_action(action)
        if chosen is None:
            raise HTTPException(404, UNKNOWN_ACTION)
        await run_in_threadpool(change, request, incident_id, chosen)
        return RedirectResponse("/", status_code=303)

    return app
