"""relops.evaluate_tick and relops.evaluate_flows: the burn-rate pipeline (relops.application.evaluate)."""

from __future__ import annotations

from typing import Any

from relops_client.cron import with_cron_tracking

from relops import names
from relops.application import evaluate
from relops.timeutil import parse_utc
from tasks.base import RelopsTask, celery_publish, worker_deps
from workers import app

#: The job name under which the tick reports its own runs (the design's self-tracking).
SELF_TRACKING_JOB = "relops-evaluate-tick"


def _report_run(kwargs: dict[str, Any]) -> None:
    celery_publish(names.TASK_CRON_RUN, kwargs, names.QUEUE_CRON)


@app.task(name=names.TASK_EVALUATE_TICK, base=RelopsTask)
@with_cron_tracking(SELF_TRACKING_JOB, sender=_report_run)
def evaluate_tick(manual: bool = False, **_: Any) -> dict[str, Any]:
    return evaluate.tick(worker_deps(), manual=manual is True)


@app.task(name=names.TASK_EVALUATE_FLOWS, base=RelopsTask)
def evaluate_flows(as_of: str, flows: list[str], **_: Any) -> dict[str, int]:
    # `snapshots` (sent by earlier versions) lands in **_: every evaluation writes its snapshot now.
    return evaluate.evaluate_flows(worker_deps(), parse_utc(as_of), flows)
