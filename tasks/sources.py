"""relops.pull_sli_sources (beat): the counts of flows that take them from Prometheus
(relops.application.sli_pull)."""

from __future__ import annotations

from typing import Any

from relops import names
from relops.application.sli_pull import pull_sli_sources
from relops.sources.prometheus import PrometheusReaders
from tasks.base import RelopsTask, worker_deps
from workers import app


@app.task(name=names.TASK_PULL_SLI_SOURCES, base=RelopsTask)
def pull_sli_sources_task(**_: Any) -> dict[str, Any]:
    deps = worker_deps()
    with PrometheusReaders(deps.config.sources.max_response_bytes) as readers:
        return pull_sli_sources(deps, readers)
