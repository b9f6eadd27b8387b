"""GET /metrics: relops' state for Prometheus, read at scrape time (relops.application.metrics).

OpenMetrics when the scraper asks for it (Prometheus does, in its Accept header), the classic text
format otherwise: prometheus_client's own content negotiation, relops' writers of its families
(relops.metrics.exposition: the same bytes, several times faster). The access
middleware has checked the metrics key before this runs (relops.web.access).
"""

from __future__ import annotations

import gzip

from fastapi import APIRouter, Request
from fastapi.responses import Response

from relops.application.metrics import ScrapeCollector
from relops.metrics.exposition import writer_for
from relops.web.deps import Wired

router = APIRouter()
#: Prometheus asks for gzip on every scrape: 10,000 flows are about 9 MB of text, which the fastest
#: level shrinks twentyfold in some 20 ms, a small part of the time the text takes to write.
GZIP_LEVEL = 1


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request, deps: Wired) -> Response:
    collector = ScrapeCollector(
        deps.engine,
        deps.redis,
        deps.config,
        deps.breakers,
        receivers=deps.receivers,
        clock=deps.now,
        scraper=getattr(request.state, "scraper", None),
        queues=deps.read_queues,
    )
    write, content_type = writer_for(request.headers.get("accept", ""))
    body = write(collector.collect())
    headers = {}
    if "gzip" in request.headers.get("accept-encoding", ""):
        body = gzip.compress(body, compresslevel=GZIP_LEVEL)
        headers["Content-Encoding"] = "gzip"
    headers["Vary"] = "Accept-Encoding"
    return Response(body, media_type=content_type, headers=headers)
