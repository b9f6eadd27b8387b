"""Which format a scrape gets, as prometheus_client negotiates it: OpenMetrics when the scraper's
Accept asks for it (Prometheus does), the classic text format otherwise. Pure."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from prometheus_client.exposition import choose_encoder
from prometheus_client.openmetrics import exposition as openmetrics
from prometheus_client.registry import Collector

OPENMETRICS_TYPE = "application/openmetrics-text"
Encoder = Callable[[Collector], bytes]


def encoder_for(accept: str) -> tuple[Encoder, str]:
    """(encoder, content type) for a scrape whose Accept header is ``accept``.

    prometheus_client (0.26) writes OpenMetrics sample names with the "underscores" escaping it picks
    when the scraper names none, but its HELP and TYPE lines without it, so a name with a colon
    (Sloth's slo:objective:ratio) comes out as two names, slo:objective:ratio and slo_objective_ratio
    (github.com/prometheus/client_python issue 1177). Every metric and label name relops writes is in
    Prometheus' legacy character set, which "underscores" leaves as it is: its "allow-utf-8" writer
    writes exactly that, on every line.
    """
    encoder, content_type = choose_encoder(accept)
    if content_type.startswith(OPENMETRICS_TYPE):
        version = getattr(encoder, "keywords", {}).get("version", "1.0.0")
        encoder = partial(openmetrics.generate_latest, escaping=openmetrics.ALLOWUTF8, version=version)
    return encoder, content_type
