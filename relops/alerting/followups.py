"""What an open incident is owed by now: repeats and escalation steps. Pure: the clock is an argument.

- **Repeat:** a receiver that heard of the incident by its route hears again once the route's
  ``repeat_interval_s`` has passed since it last heard, for as long as the incident stays open,
  unacknowledged and unmuted. After a silence or an inhibition, the interval counts from the last
  alert it muted: a source that keeps firing (a burning flow) pages at its next alert through
  relops.dispatch_alert, and one that fired once (a failed job) is repeated an interval later. A
  receiver that never heard of the incident (muted from its first alert) hears at its next alert.
- **Escalation:** a CRITICAL incident open and unacknowledged ``after_s`` after it opened tells
  the step's receiver, once per step and episode, in order.

Acknowledged, resolved and muted incidents are never candidates (relops.store.incidents.followup_candidates).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from relops.alerting.incident_state import OpenIncident
from relops.alerting.routes import Route, matching_routes, reach
from relops.config.routing import EscalationStep


@dataclass(frozen=True)
class FollowUp:
    kind: Literal["repeat", "escalation"]
    receiver: str
    #: The route that owes it (its group timing applies).
    route: Route
    #: Escalations: the step, and its key ("route.routes[0]#1") on the incident.
    step: EscalationStep | None = None
    step_key: str | None = None


def step_key(route: Route, index: int) -> str:
    return f"{route.path}#{index}"


def plan_followups(
    incident: OpenIncident,
    root: Route,
    receiver_severities: Mapping[str, Collection[str]],
    now: datetime,
) -> list[FollowUp]:
    """The repeats and escalation steps ``incident`` is owed at ``now``. Repeats go to the receivers
    that can deliver (``receiver_severities``); an escalation step is owed whether or not its
    receiver can (the caller says when it cannot)."""
    owed: list[FollowUp] = []
    for target in reach(root, incident.labels, incident.severity, receiver_severities).targets:
        heard = incident.notified.get(target.receiver)
        # Never told (muted from its first alert): its next alert tells it. Told by an escalation
        # step: that was once, by design.
        if heard is None or heard.via != "route":
            continue
        last = heard.at or heard.muted_at
        if last is None or (now - last).total_seconds() >= target.route.repeat_interval_s:
            owed.append(FollowUp("repeat", target.receiver, target.route))
    if incident.severity != "critical":
        return owed
    open_s = (now - incident.opened_at).total_seconds()
    for route in matching_routes(root, incident.labels):
        for index, step in enumerate(route.escalation):
            key = step_key(route, index)
            if key in incident.escalated or open_s < step.after_s:
                continue
            owed.append(FollowUp("escalation", step.to, route, step, key))
    return owed
