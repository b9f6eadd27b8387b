"""The intake as `relops intake` serves it, plus bare endpoints on the very same server stack (uvicorn,
its access log, the app), so the benchmarks compare like with like: one that only answers 202, and
one that decodes an OTLP trace export with the same protobuf classes and answers OTLP's empty 200."""

from __future__ import annotations

import sys

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from relops.intake.server import serve

BARE_PATH = "/bench/bare"
BARE_OTLP_PATH = "/bench/bare-otlp"
_EMPTY_RESPONSE = ExportTraceServiceResponse().SerializeToString()


async def bare(request: Request) -> Response:
    await request.body()
    return Response(status_code=202)


async def bare_otlp(request: Request) -> Response:
    ExportTraceServiceRequest.FromString(await request.body())
    return Response(_EMPTY_RESPONSE, media_type="application/x-protobuf")


if __name__ == "__main__":
    routes = [Route(BARE_PATH, bare, methods=["GET", "POST"]), Route(BARE_OTLP_PATH, bare_otlp, methods=["POST"])]
    serve(host="127.0.0.1", port=int(sys.argv[1]), extra_routes=routes)
