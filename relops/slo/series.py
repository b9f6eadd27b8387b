"""A flow's history for its charts: burn rate per window and error budget left at each point, and
good and bad events per step. Pure: no I/O, no clock.

Computed from the hour counters, as the evaluation computes the period's budget, so a point at a
whole hour ``t`` says what an evaluation at ``t`` said: each window sums the hours in
[t - window, t), the budget the hours since ``floor_hour(t - period)``. Windows shorter than an hour
or not a whole number of hours are drawn over the whole hours that hold them (``window_hours``).
Prefix sums make every point O(1), so a year of hours costs the same per point as a day; a range
of more than ``max_points`` hours is drawn every ``step`` hours, each step's events summed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction

from relops.config import WindowRule
from relops.slo.burnrate import Counts, budget_left, burn_rate

HOUR = timedelta(hours=1)
MAX_POINTS = 1000


@dataclass(frozen=True, slots=True)
class WindowSeries:
    name: str
    #: Whole hours the window is drawn over (its length rounded up to hours).
    window_hours: int
    warning_burn: float
    critical_burn: float
    #: At each point; None where the window holds no events (no data is not a burn rate of 0).
    burn_rates: list[float | None]


@dataclass(frozen=True, slots=True)
class FlowSeries:
    #: Each point's moment: the end of the hours it sums, oldest first.
    points: list[datetime]
    step_hours: int
    #: Events of the step that ends at each point.
    good: list[int]
    bad: list[int]
    windows: list[WindowSeries]
    #: Fraction of the period's budget left at each point (1 untouched, 0 spent, below 0 overspent);
    #: None where the period holds no events.
    budget_remaining: list[float | None]


def window_hours(window_s: int) -> int:
    return max(1, math.ceil(window_s / 3600))


def first_hour_needed(start: datetime, rules: Sequence[WindowRule], period_s: int) -> datetime:
    """The oldest hour a series from ``start`` reads: its first point looks back a period or a
    window, whichever is longer."""
    longest = max([window_hours(rule.window_s) for rule in rules] + [math.ceil(period_s / 3600)])
    return start - longest * HOUR


class _Prefix:
    """Sums of counters kept per ``unit`` (an hour, a day) over any [from, to) of whole units, in O(1)."""

    def __init__(
        self, buckets: Mapping[datetime, Counts], origin: datetime, end: datetime, unit: timedelta = HOUR
    ) -> None:
        self.origin, self.unit = origin, unit
        length = int((end - origin) / unit)
        good, bad = [0] * (length + 1), [0] * (length + 1)
        for index in range(length):
            counts = buckets.get(origin + index * unit)
            good[index + 1] = good[index] + (counts.good if counts else 0)
            bad[index + 1] = bad[index] + (counts.bad if counts else 0)
        self.good, self.bad, self.length = good, bad, length

    def _index(self, moment: datetime) -> int:
        return min(self.length, max(0, int((moment - self.origin) / self.unit)))

    def counts(self, start: datetime, end: datetime) -> Counts:
        lo, hi = self._index(start), self._index(end)
        return Counts(good=self.good[hi] - self.good[lo], bad=self.bad[hi] - self.bad[lo])


def _number(value: Fraction | None) -> float | None:
    return None if value is None else float(value)


def flow_series(
    hours: Mapping[datetime, Counts],
    *,
    start: datetime,
    end: datetime,
    objective: Fraction,
    rules: Sequence[WindowRule],
    period_s: int,
    max_points: int = MAX_POINTS,
    excluded: Mapping[datetime, Counts] | None = None,
) -> FlowSeries:
    """The series over (start, end], whole hours both, from ``hours`` (hour -> counts; a missing
    hour counted nothing). Points are anchored at ``end``, so the newest is always drawn.
    ``excluded`` (hour -> counts) are the events corrections and maintenance windows leave out of
    the burn rates and the budget, as the evaluation leaves them out; the events per step are all
    that happened."""
    if start.minute or start.second or start.microsecond or end.minute or end.second or end.microsecond:
        raise ValueError("a series starts and ends on whole hours")
    total_hours = int((end - start) / HOUR)
    if total_hours < 1:
        raise ValueError("a series spans at least one hour")
    step = max(1, math.ceil(total_hours / max_points))
    points = sorted(end - k * step * HOUR for k in range(total_hours // step))
    origin = first_hour_needed(start, rules, period_s)
    prefix = _Prefix(hours, origin, end)
    left_out = _Prefix(excluded, origin, end) if excluded else None

    def counted(lo: datetime, hi: datetime) -> Counts:
        whole = prefix.counts(lo, hi)
        if left_out is None:
            return whole
        out = left_out.counts(lo, hi)
        return Counts(good=whole.good - out.good, bad=whole.bad - out.bad)

    period = timedelta(seconds=period_s)
    steps = [prefix.counts(point - step * HOUR, point) for point in points]
    windows = [
        WindowSeries(
            name=rule.name,
            window_hours=window_hours(rule.window_s),
            warning_burn=float(rule.warning_burn),
            critical_burn=float(rule.critical_burn),
            burn_rates=[
                _number(burn_rate(counted(point - window_hours(rule.window_s) * HOUR, point), objective))
                for point in points
            ],
        )
        for rule in rules
    ]
    budget = [_number(budget_left(counted(_period_start(point, period), point), objective)) for point in points]
    return FlowSeries(
        points=points,
        step_hours=step,
        good=[counts.good for counts in steps],
        bad=[counts.bad for counts in steps],
        windows=windows,
        budget_remaining=budget,
    )


def _period_start(point: datetime, period: timedelta) -> datetime:
    """As relops.store.windows.period_start: the period begins on a whole hour."""
    moment = point - period
    return moment.replace(minute=0, second=0, microsecond=0)


DAY = timedelta(days=1)


def daily_budget(
    days: Mapping[datetime, Counts], *, end: datetime, objective: Fraction, period_days: int
) -> tuple[list[datetime], list[float | None]]:
    """Budget left at the end of each of the last ``period_days`` whole UTC days before ``end`` (a
    midnight), from daily sums: the dashboard's small chart of a flow's budget over its period."""
    if end.hour or end.minute or end.second or end.microsecond:
        raise ValueError("daily points end on a UTC midnight")
    period = period_days * DAY
    prefix = _Prefix(days, end - 2 * period, end, DAY)
    points = [end - k * DAY for k in range(period_days - 1, -1, -1)]
    return points, [_number(budget_left(prefix.counts(point - period, point), objective)) for point in points]
