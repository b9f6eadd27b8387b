"""The sign-in form, read by hand: anyone may post to ``/login``, so it takes only what its form
sends (a small urlencoded body of a few fields), never multipart, never a file.

``parse_login_body`` is pure; ``read_login_body`` reads the request's body up to the cap.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.requests import Request

#: A user name and a token (at most 200 characters each, see auth.MAX_CREDENTIAL_CHARS), encoded.
LOGIN_MAX_BODY_BYTES = 2048
#: The form has two fields; a few more are tolerated (a browser extension's), a flood is not.
LOGIN_MAX_FIELDS = 8
FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"


class LoginBodyRefused(Exception):
    """The sign-in request's body is not one the form sends: ``status`` and a reason to show."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def check_login_media_type(content_type: str | None) -> None:
    media_type = (content_type or "").partition(";")[0].strip().lower()
    if media_type != FORM_MEDIA_TYPE:
        raise LoginBodyRefused(415, f"Sign in with the form: the body must be {FORM_MEDIA_TYPE}.")


def parse_login_body(body: bytes) -> tuple[str, str]:
    """(name, token) from the form's urlencoded body, each stripped; a missing field is ""."""
    try:
        fields = parse_qsl(
            body.decode("ascii"), keep_blank_values=True, max_num_fields=LOGIN_MAX_FIELDS, errors="strict"
        )
    except ValueError:  # more fields than allowed, bytes outside ASCII, %-escapes that are not UTF-8
        raise LoginBodyRefused(400, "The sign-in form could not be read.") from None
    values: dict[str, str] = {}
    for field, value in fields:
        values.setdefault(field, value)
    return values.get("name", "").strip(), values.get("token", "").strip()


async def read_login_body(request: Request) -> bytes:
    """The body, refused (413) as soon as it is known to be larger than LOGIN_MAX_BODY_BYTES."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > LOGIN_MAX_BODY_BYTES:
        raise LoginBodyRefused(413, "The sign-in form is larger than any it sends.")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > LOGIN_MAX_BODY_BYTES:
            raise LoginBodyRefused(413, "The sign-in form is larger than any it sends.")
        chunks.append(chunk)
    return b"".join(chunks)
