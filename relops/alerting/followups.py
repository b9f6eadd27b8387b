"""What an open incident is owed by now: repeats, resends and escalation steps. Pure: the clock is an
argument.

- **Repeat:** a receiver that heard of the incident by its route hears again once the route's
  ``repeat_interval_s`` has passed since it last heard, for as long as the incident stays open,
  unacknowledged and unmuted. After a silence or an inhibition, the interval counts from the last
  alert it muted: a source that keeps firing (a burning flow) pages at its next alert through
  relops.dispatch_alert, and one that fired once (a failed job) is repeated an interval later. A
  receiver that never heard of the incident (muted from its first alert) hears at its next alert.
- **Resend:** a receiver that forgets a firing alert it does not hear again (Alertmanager ends it at
  the ``endsAt`` it was sent with) hears it every ``resend_interval_s`` of its own instead of by the
  route's repeat interval, for as long as the incident stays open, unacknowledged and unmuted;
  also when an escalation step told it, for as long as that step's route still matches. It is the
  repeat machinery with a shorter interval: the same claim, the same stops.
- **Escalation:** a CRITICAL incident open and unacknowledged ``after_s`` after it opened tells
  the step's receiver, once per step and episode, in order.

Acknowledged, resolved and muted incidents are never candidates (relops.store.incidents.followup_candidates).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from relops.alerting.incident_state import Heard, OpenIncident
from relops.alerting.routes import Route, matching_routes, reach
from relops.config.routing import EscalationStep

#: Beat sends relops.check_incidents this often: a repeat, a resend or an escalation is at most this
#: late, and resends come at most this often whatever a receiver's resend_interval_s says.
CHECK_INTERVAL_S = 15


def resend_cadence_s(resend_interval_s: float) -> float:
    """How often a receiver with ``resend_interval_s`` really hears a firing alert again, at most: the
    check runs every CHECK_INTERVAL_S (Prometheus likewise sets endsAt from the longer of its resend
    delay and its evaluation interval)."""
    return max(resend_interval_s, CHECK_INTERVAL_S)


@dataclass(frozen=True)
class FollowUp:
    #: "resend": a repeat to a receiver that keeps an alert only while it hears it (same payload).
    kind: Literal["repeat", "resend", "escalation"]
    receiver: str
    #: The route that owes it (its group timing applies).
    route: Route
    #: Escalations: the step, and its key ("route.routes[0]#1") on the incident.
    step: EscalationStep | None = None
    step_key: str | None = None


def step_key(route: Route, index: int) -> str:
    return f"{route.path}#{index}"


def repeat_interval_s(route: Route, receiver: str, resend_intervals: Mapping[str, int]) -> int:
    """How often ``receiver``, reached by ``route``, hears a firing incident again: its own resend
    interval if it keeps alerts only while it hears them, else the route's repeat interval."""
    return resend_intervals.get(receiver, route.repeat_interval_s)


def _due(heard: Heard, interval_s: int, now: datetime) -> bool:
    last = heard.at or heard.muted_at
    return last is None or (now - last).total_seconds() >= interval_s


def plan_followups(
    incident: OpenIncident,
    root: Route,
    receiver_severities: Mapping[str, Collection[str]],
    now: datetime,
    resend_intervals: Mapping[str, int] | None = None,
) -> list[FollowUp]:
    """The repeats, resends and escalation steps ``incident`` is owed at ``now``. Repeats and resends
    go to the receivers that can deliver (``receiver_severities``); ``resend_intervals`` names those
    that must hear a firing alert again to keep it (relops.channels.registry.resend_intervals). An
    escalation step is owed whether or not its receiver can (the caller says when it cannot)."""
    resend = resend_intervals or {}
    owed: list[FollowUp] = []
    landed = matching_routes(root, incident.labels)
    targets = reach(root, incident.labels, incident.severity, receiver_severities).targets
    for target in targets:
        heard = incident.notified.get(target.receiver)
        # Never told (muted from its first alert): its next alert tells it. Told by an escalation
        # step: that was once, by design (unless it must keep hearing it: below).
        if heard is None or (heard.via != "route" and target.receiver not in resend):
            continue
        if _due(heard, repeat_interval_s(target.route, target.receiver, resend), now):
            kind: Literal["repeat", "resend"] = "resend" if target.receiver in resend else "repeat"
            owed.append(FollowUp(kind, target.receiver, target.route))
    reached = {t.receiver for t in targets}
    for route in landed:
        for step in route.escalation:
            heard = incident.notified.get(step.to)
            # An escalation receiver outside the routes, told by its step: kept firing while the
            # step's route still matches.
            if step.to in reached or step.to not in resend or step.to not in receiver_severities or heard is None:
                continue
            reached.add(step.to)
            if _due(heard, resend[step.to], now):
                owed.append(FollowUp("resend", step.to, route))
    if incident.severity != "critical":
        return owed
    open_s = (now - incident.opened_at).total_seconds()
    for route in landed:
        for index, step in enumerate(route.escalation):
            key = step_key(route, index)
            if key in incident.escalated or open_s < step.after_s:
                continue
            owed.append(FollowUp("escalation", step.to, route, step, key))
    return owed
