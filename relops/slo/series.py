"""A flow's history for its charts: burn rate per window and error budget left at each point, and
good and bad events per step. Pure: no I/O, no clock.

``flow_series`` draws a point per hour from the hour counters, as the evaluation computes the
period's budget, so a point at a whole hour ``t`` says what an evaluation at ``t`` said: each window
sums the hours in [t - window, t), the budget the hours since ``floor_hour(t - period)``. Windows
shorter than an hour or not a whole number of hours are drawn over the whole hours that hold them
(``window_hours``). Prefix sums make every point O(1), so a year of hours costs the same per point
as a day; a range of more than ``max_points`` hours is drawn every ``step`` hours, each step's
events summed.

``minute_series`` draws a point per minute (the short ranges, where hourly points would leave one
dot) from the minute counters, with the hour counters for what lies before them: each window sums
the minutes in [t - window, t), as the evaluation reads them, and the budget the whole hours since
``floor_hour(t - period)`` plus the minutes of ``t``'s own hour, which is what the hour row held
when an evaluation ran at ``t``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction
from itertools import accumulate

from relops.config import WindowRule
from relops.slo.burnrate import Counts, budget_left, burn_rate
from relops.timeutil import floor_hour

HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)
MAX_POINTS = 1000


@dataclass(frozen=True, slots=True)
class WindowSeries:
    name: str
    #: Whole hours the window is drawn over at hourly points (its length rounded up to hours).
    window_hours: int
    #: Seconds the window is drawn over: whole hours at hourly points, its own length at minute points.
    window_s: int
    warning_burn: float
    critical_burn: float
    #: At each point; None where the window holds no events (no data is not a burn rate of 0).
    burn_rates: list[float | None]


@dataclass(frozen=True, slots=True)
class FlowSeries:
    #: Each point's moment: the end of the step it sums, oldest first.
    points: list[datetime]
    #: Time between points: whole hours from the hour counters, whole minutes from the minute ones.
    step: timedelta
    #: Events of the step that ends at each point.
    good: list[int]
    bad: list[int]
    windows: list[WindowSeries]
    #: Fraction of the period's budget left at each point (1 untouched, 0 spent, below 0 overspent);
    #: None where the period holds no events.
    budget_remaining: list[float | None]
    #: Events the period counted at each point (what the budget is a fraction of).
    period_events: list[int]

    @property
    def step_hours(self) -> int:
        return self.step // HOUR


def window_hours(window_s: int) -> int:
    return max(1, math.ceil(window_s / 3600))


def first_hour_needed(start: datetime, rules: Sequence[WindowRule], period_s: int) -> datetime:
    """The oldest hour a series from ``start`` reads: its first point looks back a period or a
    window, whichever is longer."""
    longest = max([window_hours(rule.window_s) for rule in rules] + [math.ceil(period_s / 3600)])
    return start - longest * HOUR


#: A counter row as the store reads it: its bucket's start in UNIX seconds, good, bad.
CounterRow = tuple[int, int, int]
#: Counters per bucket: a mapping of bucket -> counts, or the store's rows as read (a year of hour
#: rows is 17,520 of them: a datetime and a Counts made for each cost more than the whole series).
Buckets = Mapping[datetime, Counts] | Sequence[CounterRow]


def counter_rows(buckets: Buckets) -> Iterable[CounterRow]:
    if isinstance(buckets, Mapping):
        return ((int(moment.timestamp()), counts.good, counts.bad) for moment, counts in buckets.items())
    return buckets


class _Prefix:
    """Sums of counters kept per ``unit`` (a minute, an hour, a day) over any [from, to) of whole
    units, in O(1). Indexed in integer seconds: datetime arithmetic cost more than the sums."""

    def __init__(self, buckets: Buckets, origin: datetime, end: datetime, unit: timedelta = HOUR) -> None:
        self.origin_s, self.unit_s = int(origin.timestamp()), int(unit.total_seconds())
        length = max(0, (int(end.timestamp()) - self.origin_s) // self.unit_s)
        good, bad = [0] * (length + 1), [0] * (length + 1)
        for at_s, bucket_good, bucket_bad in counter_rows(buckets):
            index = (at_s - self.origin_s) // self.unit_s
            if 0 <= index < length:
                good[index + 1] += bucket_good
                bad[index + 1] += bucket_bad
        self.good, self.bad, self.length = list(accumulate(good)), list(accumulate(bad)), length

    def _index(self, at_s: int) -> int:
        return min(self.length, max(0, (at_s - self.origin_s) // self.unit_s))

    def sums(self, start_s: int, end_s: int) -> tuple[int, int]:
        """(good, bad) over [start_s, end_s), UNIX seconds."""
        lo, hi = self._index(start_s), self._index(end_s)
        return self.good[hi] - self.good[lo], self.bad[hi] - self.bad[lo]

    def counts(self, start: datetime, end: datetime) -> Counts:
        good, bad = self.sums(int(start.timestamp()), int(end.timestamp()))
        return Counts(good=good, bad=bad)


class _Counted:
    """Sums of a flow's counters less what its corrections and excluded maintenance leave out."""

    def __init__(self, whole: _Prefix, left_out: _Prefix | None) -> None:
        self.whole, self.left_out = whole, left_out

    def sums(self, start_s: int, end_s: int) -> tuple[int, int]:
        good, bad = self.whole.sums(start_s, end_s)
        if self.left_out is None:
            return good, bad
        out_good, out_bad = self.left_out.sums(start_s, end_s)
        return good - out_good, bad - out_bad

    def counts(self, start: datetime, end: datetime) -> Counts:
        good, bad = self.sums(int(start.timestamp()), int(end.timestamp()))
        return Counts(good=good, bad=bad)


def _counted(
    buckets: Buckets,
    excluded: Buckets | None,
    origin: datetime,
    end: datetime,
    unit: timedelta,
) -> tuple[_Prefix, _Counted]:
    """Every event (the steps' bars) and the events the evaluation counts (burn rates, budget)."""
    whole = _Prefix(buckets, origin, end, unit)
    return whole, _Counted(whole, _Prefix(excluded, origin, end, unit) if excluded else None)


def _number(value: Fraction | None) -> float | None:
    return None if value is None else float(value)


def flow_series(
    hours: Buckets,
    *,
    start: datetime,
    end: datetime,
    objective: Fraction,
    rules: Sequence[WindowRule],
    period_s: int,
    max_points: int = MAX_POINTS,
    excluded: Buckets | None = None,
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
    prefix, counted = _counted(hours, excluded, origin, end, HOUR)
    at_s = [int(point.timestamp()) for point in points]  # in seconds: see minute_series
    steps = [prefix.sums(point_s - step * 3600, point_s) for point_s in at_s]

    def window(point_s: int, length_s: int) -> Counts:
        return Counts(*counted.sums(point_s - length_s, point_s))

    # The period begins on a whole hour, as relops.slo.spans.period_start has it.
    periods = [Counts(*counted.sums(_floor_hour_s(point_s - period_s), point_s)) for point_s in at_s]
    # Hourly points draw each window over whole hours.
    return _assembled(
        points, step * HOUR, steps, objective, rules, lambda r: window_hours(r.window_s) * 3600, window, periods
    )


def _assembled(
    points: list[datetime],
    step: timedelta,
    steps: Sequence[tuple[int, int]],
    objective: Fraction,
    rules: Sequence[WindowRule],
    length_s: Callable[[WindowRule], int],
    window: Callable[[int, int], Counts],
    periods: Sequence[Counts],
) -> FlowSeries:
    """A series from its sums: ``steps`` (good, bad) per point, ``window(point_s, length_s)`` the
    counts of a window of ``length_s(rule)`` seconds ending at a point, ``periods`` the period's
    counts at each point."""
    at_s = [int(point.timestamp()) for point in points]
    windows = []
    for rule in rules:
        rule_s = length_s(rule)
        windows.append(
            WindowSeries(
                name=rule.name,
                window_hours=window_hours(rule.window_s),
                window_s=rule_s,
                warning_burn=float(rule.warning_burn),
                critical_burn=float(rule.critical_burn),
                burn_rates=[_number(burn_rate(window(point_s, rule_s), objective)) for point_s in at_s],
            )
        )
    return FlowSeries(
        points=points,
        step=step,
        good=[good for good, _ in steps],
        bad=[bad for _, bad in steps],
        windows=windows,
        budget_remaining=[_number(budget_left(counts, objective)) for counts in periods],
        period_events=[counts.total for counts in periods],
    )


def _floor_hour_s(at_s: int) -> int:
    return at_s - at_s % 3600


def minute_series(
    minutes: Buckets,
    hours: Buckets,
    *,
    start: datetime,
    end: datetime,
    minutes_from: datetime,
    objective: Fraction,
    rules: Sequence[WindowRule],
    period_s: int,
    max_points: int = MAX_POINTS,
    excluded_minutes: Buckets | None = None,
    excluded_hours: Buckets | None = None,
) -> FlowSeries:
    """The series over (start, end], whole minutes both, a point per minute, from ``minutes``
    (minute -> counts, kept from ``minutes_from``, a whole hour, on) and ``hours`` (hour -> counts)
    for the whole hours before them. ``excluded_minutes`` and ``excluded_hours`` are the events
    corrections and excluded maintenance windows leave out, per minute and per hour, as
    ``flow_series`` takes them.

    A window whose old edge lies before the kept minutes (a 24 h window at a point more than the
    retention margin old) starts at the whole hour that holds its edge: at most 59 minutes longer
    than it is, where the minutes that would cut that hour are no longer kept."""
    if any(moment.second or moment.microsecond for moment in (start, end)):
        raise ValueError("minute points start and end on whole minutes")
    if minutes_from != floor_hour(minutes_from):
        raise ValueError("minute counters are kept from a whole hour")
    if minutes_from > start:
        raise ValueError("minute points need the minute counters of their whole range")
    total = int((end - start) / MINUTE)
    if total < 1:
        raise ValueError("a series spans at least one minute")
    step = max(1, math.ceil(total / max_points))
    points = sorted(end - k * step * MINUTE for k in range(total // step))
    longest = timedelta(seconds=max(rule.window_s for rule in rules))
    period = timedelta(seconds=period_s)
    # Minutes from the oldest a window reaches back to (or the oldest kept), and at least from the
    # first point's own hour, which its budget reads minute by minute.
    minute_origin = max(minutes_from, min(floor_hour(start), start - longest))
    hour_origin = floor_hour(start - max(period, longest))
    every_minute, by_minute = _counted(minutes, excluded_minutes, minute_origin, end, MINUTE)
    _, by_hour = _counted(hours, excluded_hours, hour_origin, floor_hour(end) + HOUR, HOUR)
    # In UNIX seconds from here: a 6 h range is 360 points x every window, and datetime arithmetic
    # cost more than the sums.
    kept_s, step_s = int(minutes_from.timestamp()), step * 60
    at_s = [int(point.timestamp()) for point in points]

    def window(point_s: int, length_s: int) -> Counts:
        edge_s = point_s - length_s
        if edge_s >= kept_s:
            good, bad = by_minute.sums(edge_s, point_s)
            return Counts(good=good, bad=bad)
        head_good, head_bad = by_hour.sums(_floor_hour_s(edge_s), kept_s)
        tail_good, tail_bad = by_minute.sums(kept_s, point_s)
        return Counts(good=head_good + tail_good, bad=head_bad + tail_bad)

    def in_period(point_s: int) -> Counts:
        hour_s = _floor_hour_s(point_s)
        whole_good, whole_bad = by_hour.sums(_floor_hour_s(point_s - period_s), hour_s)
        good, bad = by_minute.sums(hour_s, point_s)
        return Counts(good=whole_good + good, bad=whole_bad + bad)

    steps = [every_minute.sums(point_s - step_s, point_s) for point_s in at_s]
    periods = [in_period(point_s) for point_s in at_s]
    # Minute points draw each window over its own length.
    return _assembled(points, step * MINUTE, steps, objective, rules, lambda r: r.window_s, window, periods)


def within(buckets: Buckets, spans: Sequence[tuple[datetime, datetime]]) -> list[CounterRow]:
    """The rows of ``buckets`` (minutes) that fall inside ``spans`` ([start, end))."""
    bounds = [(int(start.timestamp()), int(end.timestamp())) for start, end in spans]
    return [row for row in counter_rows(buckets) if any(lo <= row[0] < hi for lo, hi in bounds)]


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
