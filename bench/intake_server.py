"""The intake as `relops intake` serves it, plus one bare endpoint that only answers 202, so the
benchmark compares the two on the very same server stack (uvicorn, its access log, the app)."""

from __future__ import annotations

import sys

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from relops.intake.server import serve

BARE_PATH = "/bench/bare"


async def bare(request: Request) -> Response:
    await request.body()
    return Response(status_code=202)


if __name__ == "__main__":
    serve(host="127.0.0.1", port=int(sys.argv[1]), extra_routes=[Route(BARE_PATH, bare, methods=["GET", "POST"])])
