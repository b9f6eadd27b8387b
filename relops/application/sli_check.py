"""``relops config check``'s questions to Prometheus: does it take each query of each
Prometheus-sourced flow? Asked only of a Prometheus that answers: one that does not is said, and
the queries' form has been checked offline when the config loaded."""

from __future__ import annotations

from dataclasses import dataclass

from relops.application.sli_pull import ReaderFor
from relops.config import RelopsConfig
from relops.config.counter_query import parse_counter_query
from relops.sources.prometheus import SourceUnavailable


@dataclass(frozen=True)
class QueryCheck:
    flow: str
    #: ``prometheus.good``, ``prometheus.bad`` or ``prometheus.total``; "prometheus.url_env" when
    #: nothing could be asked.
    field: str
    #: None: Prometheus took the query.
    problem: str | None
    #: True when the problem is the query's (Prometheus refused it), False when nobody was asked.
    refused: bool = False


def check_queries(config: RelopsConfig, reader_for: ReaderFor) -> list[QueryCheck]:
    """One QueryCheck per query of every Prometheus-sourced flow (one per flow when its Prometheus
    cannot be asked)."""
    checks: list[QueryCheck] = []
    for flow in config.flows:
        source = flow.prometheus
        if source is None:
            continue
        reader = reader_for(source)
        if isinstance(reader, str):
            checks.append(QueryCheck(flow.name, "prometheus.url_env", f"not checked: {reader}"))
            continue
        queries = {"good": source.good, "bad": source.bad, "total": source.total}
        for name, query in queries.items():
            if query is None:
                continue
            try:
                reader.check(parse_counter_query(query))
            except SourceUnavailable as exc:
                if not exc.refused:
                    checks.append(QueryCheck(flow.name, "prometheus.url_env", f"not checked: {exc}"))
                    break
                checks.append(QueryCheck(flow.name, f"prometheus.{name}", str(exc), refused=True))
                continue
            checks.append(QueryCheck(flow.name, f"prometheus.{name}", None))
    return checks
