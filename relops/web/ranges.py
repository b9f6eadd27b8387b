"""The time ranges a flow page offers, and which one it opens on. Pure: the clock is an argument.

The short ranges are drawn a point per minute from the minute counters, the others a point per hour
(or per step of hours). A page opened without a range opens on the shortest that shows the flow's
data well, as Grafana opens on the last hour or six rather than on a month of history:
- while the flow's burn-rate incident is open, the shortest range in which the incident takes at
  most half the chart, so that the hours before it show what changed (an outage 10 minutes old
  opens on 1 h of minute points, not a week of hourly ones with a single dot at its end);
- otherwise the shortest range that holds all of the flow's data, at most a week (a flow that began
  reporting 20 minutes ago opens on 1 h; one with months of history on 7 d, as before).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from relops.config import FlowConfig
from relops.config.models import MINUTE_CHART_RANGE_S

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)

#: A flow page's ranges; "period" is the flow's own SLO period.
RANGES: dict[str, timedelta | None] = {
    "1h": HOUR,
    "6h": timedelta(seconds=MINUTE_CHART_RANGE_S),
    "24h": DAY,
    "7d": 7 * DAY,
    "30d": 30 * DAY,
    "period": None,
}
#: The ranges drawn a point per minute: the minute rows are kept at least as long as the longest.
MINUTE_RANGES = frozenset({"1h", "6h"})
#: What the API draws when asked for no range (the page chooses with ``default_range``).
DEFAULT_RANGE = "7d"
#: The ranges a page may open on, shortest first; the longest is the cap.
_OPENING = ("1h", "6h", "24h", "7d")


class UnknownRange(ValueError):
    """A range the charts do not offer."""


def range_span(name: str, flow: FlowConfig) -> timedelta:
    if name not in RANGES:
        raise UnknownRange(f"range must be one of {', '.join(RANGES)}, got {name[:40]!r}")
    span = RANGES[name]
    return span if span is not None else timedelta(days=flow.period_days)


def default_range(now: datetime, first_counted: datetime | None, incident_opened: datetime | None) -> str:
    """The range a flow page opens on: ``first_counted`` is the oldest minute (or hour, for data
    older than the minute rows) the flow has counters for within the longest opening range, None
    when it has none; ``incident_opened`` when its burn-rate incident is open (not resolved)."""
    if incident_opened is not None:
        needed = 2 * max(now - incident_opened, timedelta(0))
    elif first_counted is not None:
        needed = max(now - first_counted, timedelta(0))
    else:
        needed = timedelta(0)  # nothing yet: the first minutes show up as they come
    for name in _OPENING:
        span = RANGES[name]
        if span is not None and needed <= span:
            return name
    return _OPENING[-1]
