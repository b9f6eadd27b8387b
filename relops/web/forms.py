"""The dashboard's forms: their text fields, once the form's CSRF token is the session's."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from relops.web.auth import Principal
from relops.web.protection import csrf_matches
from relops.web.responses import refusal


def form_text(form: FormData, field: str) -> str | None:
    """A text field of a submitted form (an uploaded file in its place counts as missing)."""
    value = form.get(field)
    return value if isinstance(value, str) else None


async def signed_form(request: Request, principal: Principal) -> FormData | Response:
    """A dashboard form's fields, once its CSRF token is the session's (a bearer caller needs none);
    otherwise the 403 to answer."""
    form = await request.form()
    if principal.via == "web" and not csrf_matches(principal.session_id or "", form_text(form, "csrf")):
        return refusal(request, 403, "missing or wrong form token", principal)
    return form
