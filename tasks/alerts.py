"""relops.dispatch_alert: validates an alert event, keeps its incident, routes it to receivers, dedups
(relops.application.route_alert); relops.check_silences (relops.application.silence_housekeeping);
relops.check_incidents (relops.application.incident_check)."""

from __future__ import annotations

from typing import Any

from relops import names
from relops.application import incident_check, route_alert, silence_housekeeping
from tasks.base import RelopsTask, worker_deps
from workers import app


@app.task(name=names.TASK_DISPATCH_ALERT, base=RelopsTask, bind=True)
def dispatch_alert(self: Any, *args: Any, **payload: Any) -> dict[str, Any]:
    return route_alert.dispatch_alert(worker_deps(), payload, event_id=self.request.id or "", args=args)


@app.task(name=names.TASK_CHECK_SILENCES, base=RelopsTask)
def check_silences(**_: Any) -> dict[str, int]:
    return silence_housekeeping.check_silences(worker_deps())


@app.task(name=names.TASK_CHECK_INCIDENTS, base=RelopsTask)
def check_incidents(**_: Any) -> dict[str, int]:
    return incident_check.check_incidents(worker_deps())
