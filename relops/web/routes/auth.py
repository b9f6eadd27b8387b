"""Signing in (a user's name and token for a server-side session, throttled per address) and out."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from relops_client.logs import log_event
from starlette.concurrency import run_in_threadpool

from relops.web.deps import SignedIn, Wired, client_address
from relops.web.forms import signed_form
from relops.web.login_form import LoginBodyRefused, check_login_media_type, parse_login_body, read_login_body
from relops.web.responses import DATABASE_UNAVAILABLE, database_unavailable
from relops.web.templating import TEMPLATES

router = APIRouter(include_in_schema=False)
logger = logging.getLogger(__name__)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> Response:
    return TEMPLATES.TemplateResponse(request, "login.html", {"error": None})


@router.post("/login")
async def login(request: Request, deps: Wired) -> Response:
    client = client_address(request)
    # The throttle is per address only, so it is decided before the body is read.
    wait_s = await run_in_threadpool(deps.throttle.retry_after_s, client)
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
    authenticator = deps.authenticator
    try:
        principal = await run_in_threadpool(authenticator.sign_in, name, token, client)
    except DATABASE_UNAVAILABLE as exc:
        return database_unavailable(request, exc, deps.engine.url.password)
    if principal is None:
        await run_in_threadpool(deps.throttle.failed, client)
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
        max_age=deps.settings.web_session_max_s,
    )
    return response


@router.post("/logout")
async def logout(request: Request, deps: Wired, principal: SignedIn) -> Response:
    checked = await signed_form(request, principal)
    if isinstance(checked, Response):
        return checked
    await run_in_threadpool(deps.authenticator.sign_out, principal)
    response = RedirectResponse("/login", status_code=303)
    authenticator = deps.authenticator
    response.delete_cookie(authenticator.cookie_name(request), path="/", secure=authenticator.secure(request))
    return response
