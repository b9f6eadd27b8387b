"""A cap on every request body the dashboard and API read, whatever the route and parser.

Starlette reads what a route asks for: ``request.form()`` alone takes up to 1,000 multipart fields
of 1 MB each and any number of file parts, so an unbounded body is memory an anonymous caller can
spend. This ASGI middleware answers 413 before the app runs when ``Content-Length`` says the body
is too large, and otherwise counts the bytes as the app receives them, failing the read with a 413
the moment they pass the cap (a chunked body declares no length).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from relops_client.logs import log_event
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from relops.redaction import redact_request_target

#: Every body the app takes (a silence, a form of a few fields) fits many times over.
MAX_BODY_BYTES = 64 * 1024

logger = logging.getLogger(__name__)


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` once the body passed the cap; the app's handler answers 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, too_large_detail(limit))


def too_large_detail(limit: int) -> str:
    return f"the request body is larger than {limit} bytes"


def declared_length(scope: Scope) -> int | None:
    """The Content-Length the request declares; None when it declares none (chunked) or an
    unreadable one (which the server itself refuses)."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = declared_length(scope)
        path = redact_request_target(scope.get("path", ""))
        if declared is not None and declared > self.max_bytes:
            log_event(logger, logging.WARNING, "web.body_too_large", path=path, declared=declared)
            await self._refuse(send)
            return
        received = 0
        started = False

        async def capped_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    log_event(logger, logging.WARNING, "web.body_too_large", path=path, streamed=True)
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, capped_receive, tracked_send)
        except BodyTooLarge:
            # A route that caught HTTPExceptions itself, or a reader outside the app's handlers.
            if started:
                raise
            await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        body = json.dumps({"detail": too_large_detail(self.max_bytes)}).encode()
        headers: list[Any] = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            # The rest of the body is not read: the connection cannot carry another request.
            (b"connection", b"close"),
        ]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})
