"""relops.dispatch_alert: validates an alert event, keeps its incident, routes it to receivers, dedups
(relops.alerting.routing); relops.check_silences (relops.silencing.housekeeping); relops.check_incidents
(relops.alerting.incident_check)."""

from __future__ import annotations

from typing import Any

from relops import names
from relops.alerting import incident_check, routing
from relops.silencing import housekeeping
from tasks.base import RelopsTask, worker_deps
from workers import app


@app.task(name=names.TASK_DISPATCH_ALERT, base=RelopsTask, bind=True)
def dispatch_alert(self: Any, *args: Any, **payload: Any) -> dict[str, Any]:
    return routing.dispatch_alert(worker_deps(), payload, event_id=self.request.id or "", args=args)


@app.task(name=names.TASK_CHECK_SILENCES, base=RelopsTask)
def check_silences(**_: Any) -> dict[str, int]:
    return housekeeping.check_silences(worker_deps())


@app.task(name=names.TASK_CHECK_INCIDENTS, base=RelopsTask)
def check_incidents(**_: Any) -> dict[str, int]:
    return incident_check.check_incidents(worker_deps())
