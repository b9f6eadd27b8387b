"""relops.pull_sli_sources (beat): the counts of flows that take them from Prometheus
(relops.application.sli_pull)."""

from __future__ import annotations

from typing import Any

from relops import names
from relops.application.sli_pull import pull_sli_sources
from relops.config.sli_sources import PrometheusSource
from relops.settings import named_variable
from relops.sources.prometheus import PrometheusReader
from tasks.base import RelopsTask, worker_deps
from workers import app


@app.task(name=names.TASK_PULL_SLI_SOURCES, base=RelopsTask)
def pull_sli_sources_task(**_: Any) -> dict[str, Any]:
    deps = worker_deps()
    readers: dict[tuple[str, float], PrometheusReader] = {}

    def reader_for(source: PrometheusSource) -> PrometheusReader | str:
        url = named_variable(source.url_env)
        if url is None:
            return f"{source.url_env} is not set: it names the Prometheus to read ([[flows]] prometheus.url_env)"
        key = (url.get_secret_value(), source.timeout_s)
        if key not in readers:
            readers[key] = PrometheusReader(
                key[0], timeout_s=source.timeout_s, max_response_bytes=deps.config.sources.max_response_bytes
            )
        return readers[key]

    try:
        return pull_sli_sources(deps, reader_for)
    finally:
        for reader in readers.values():
            reader.close()
