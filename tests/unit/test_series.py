"""The chart series against sums taken hour by hour from known counters: burn rate per window and
budget left at every point, the period's rolling start, steps when a range has too many hours."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest

from relops.config import WindowRule
from relops.slo.burnrate import Counts, budget_left, burn_rate, objective_fraction
from relops.slo.series import HOUR, MAX_POINTS, daily_budget, first_hour_needed, flow_series, minute_series, within

END = datetime(2026, 11, 30, 12, tzinfo=UTC)
OBJECTIVE = objective_fraction("99.5")
RULES = (
    WindowRule(name="1h", window_s=3600, min_events=1, warning_burn=Decimal(7), critical_burn=Decimal(14)),
    WindowRule(name="6h", window_s=21600, min_events=1, warning_burn=Decimal(3), critical_burn=Decimal(6)),
    WindowRule(name="5m", window_s=300, min_events=1, warning_burn=Decimal(20), critical_burn=Decimal(40)),
)
PERIOD_S = 7 * 86400


def known_hours(start: datetime, end: datetime, seed: int = 7) -> dict[datetime, Counts]:
    """Counters with gaps (hours that counted nothing), quiet hours and bursts of failures."""
    rng = random.Random(seed)
    hours, moment = {}, start
    while moment < end:
        if rng.random() > 0.1:
            hours[moment] = Counts(good=rng.randint(0, 500), bad=rng.choice([0, 0, 1, 3, 40]))
        moment += HOUR
    return hours


def summed(hours: dict[datetime, Counts], start: datetime, end: datetime) -> Counts:
    inside = [c for hour, c in hours.items() if start <= hour < end]
    return Counts(good=sum(c.good for c in inside), bad=sum(c.bad for c in inside))


def as_float(value: Fraction | None) -> float | None:
    return None if value is None else float(value)


@pytest.mark.parametrize("range_hours", [24, 7 * 24, 30 * 24])
def test_every_point_is_what_an_evaluation_at_that_hour_computes(range_hours: int) -> None:
    start = END - range_hours * HOUR
    hours = known_hours(first_hour_needed(start, RULES, PERIOD_S) - 5 * HOUR, END)
    series = flow_series(hours, start=start, end=END, objective=OBJECTIVE, rules=RULES, period_s=PERIOD_S)
    assert series.step_hours == 1 and len(series.points) == range_hours and series.points[-1] == END
    for index, point in enumerate(series.points):
        assert (series.good[index], series.bad[index]) == (
            hours.get(point - HOUR, Counts()).good,
            hours.get(point - HOUR, Counts()).bad,
        )
        for window, rule_hours in zip(series.windows, (1, 6, 1), strict=True):
            expected = burn_rate(summed(hours, point - rule_hours * HOUR, point), OBJECTIVE)
            assert window.burn_rates[index] == as_float(expected), (window.name, point)
        period_start = point - timedelta(seconds=PERIOD_S)
        assert series.budget_remaining[index] == as_float(budget_left(summed(hours, period_start, point), OBJECTIVE))
    assert [w.window_hours for w in series.windows] == [1, 6, 1], "a 5-minute window is drawn over its hour"
    assert series.windows[0].warning_burn == 7 and series.windows[0].critical_burn == 14


def test_the_period_rolls_hour_by_hour_and_an_empty_span_has_no_value() -> None:
    start = END - 48 * HOUR
    burst = END - 30 * HOUR
    hours = {burst: Counts(good=90, bad=10)}
    series = flow_series(hours, start=start, end=END, objective=OBJECTIVE, rules=RULES[:1], period_s=86400)
    by_point = dict(zip(series.points, series.budget_remaining, strict=True))
    assert by_point[burst] is None, "before the burst the period holds no events"
    assert by_point[burst + HOUR] == float(1 - Fraction(10, 100) / (1 - OBJECTIVE))  # -19: overspent
    assert by_point[burst + 24 * HOUR] == by_point[burst + HOUR], "still inside the 24-hour period"
    assert by_point[burst + 25 * HOUR] is None, "the burst has rolled out of the period"
    burn = dict(zip(series.points, series.windows[0].burn_rates, strict=True))
    assert burn[burst + HOUR] == 20.0 and burn[burst + 2 * HOUR] is None


def test_a_long_range_is_drawn_in_steps_whose_events_add_up() -> None:
    start = END - 365 * 24 * HOUR
    hours = known_hours(first_hour_needed(start, RULES, PERIOD_S), END, seed=11)
    series = flow_series(hours, start=start, end=END, objective=OBJECTIVE, rules=RULES, period_s=PERIOD_S)
    assert series.step_hours == 9 and len(series.points) <= MAX_POINTS and series.points[-1] == END
    assert all(b - a == 9 * HOUR for a, b in zip(series.points, series.points[1:], strict=False))
    for index in (0, 500, len(series.points) - 1):
        point = series.points[index]
        step = summed(hours, point - 9 * HOUR, point)
        assert (series.good[index], series.bad[index]) == (step.good, step.bad)
        expected = budget_left(summed(hours, point - timedelta(seconds=PERIOD_S), point), OBJECTIVE)
        assert series.budget_remaining[index] == as_float(expected)


def test_a_series_is_made_of_whole_hours() -> None:
    with pytest.raises(ValueError, match="whole hours"):
        flow_series(
            {}, start=END - HOUR, end=END + timedelta(minutes=5), objective=OBJECTIVE, rules=RULES, period_s=3600
        )
    with pytest.raises(ValueError, match="at least one hour"):
        flow_series({}, start=END, end=END, objective=OBJECTIVE, rules=RULES, period_s=3600)


def test_the_daily_budget_is_the_period_summed_to_each_midnight() -> None:
    end = END.replace(hour=0)
    days = {end - d * timedelta(days=1): Counts(good=1000, bad=d % 4) for d in range(1, 15)}
    points, budget = daily_budget(days, end=end, objective=OBJECTIVE, period_days=7)
    assert points[-1] == end and len(points) == 7
    for point, value in zip(points, budget, strict=True):
        inside = [c for day, c in days.items() if point - timedelta(days=7) <= day < point]
        expected = budget_left(Counts(sum(c.good for c in inside), sum(c.bad for c in inside)), OBJECTIVE)
        assert value == as_float(expected)
    with pytest.raises(ValueError, match="midnight"):
        daily_budget(days, end=END, objective=OBJECTIVE, period_days=7)


def test_what_corrections_leave_out_is_left_out_of_burn_rates_and_budget_not_of_the_events() -> None:
    start = END - 48 * HOUR
    hours = known_hours(first_hour_needed(start, RULES, PERIOD_S), END, seed=3)
    burst = END - 10 * HOUR
    hours[burst] = Counts(good=100, bad=900)
    excluded = {burst: Counts(good=60, bad=900)}  # a correction that covered most of that hour
    series = flow_series(
        hours, start=start, end=END, objective=OBJECTIVE, rules=RULES, period_s=PERIOD_S, excluded=excluded
    )
    kept = {hour: counts for hour, counts in hours.items()}
    kept[burst] = Counts(good=40, bad=0)
    index = series.points.index(burst + HOUR)
    assert (series.good[index], series.bad[index]) == (100, 900), "the events that happened are all drawn"
    assert series.windows[0].burn_rates[index] == as_float(burn_rate(kept[burst], OBJECTIVE)) == 0.0
    for position, point in enumerate(series.points):
        expected = budget_left(summed(kept, point - timedelta(seconds=PERIOD_S), point), OBJECTIVE)
        assert series.budget_remaining[position] == as_float(expected)


MINUTE = timedelta(minutes=1)


def known_minutes(start: datetime, end: datetime, seed: int = 5) -> dict[datetime, Counts]:
    """Minute counters with gaps, quiet minutes and bursts of failures."""
    rng = random.Random(seed)
    minutes, moment = {}, start
    while moment < end:
        if rng.random() > 0.2:
            minutes[moment] = Counts(good=rng.randint(0, 30), bad=rng.choice([0, 0, 0, 1, 5]))
        moment += MINUTE
    return minutes


def by_hour(minutes: dict[datetime, Counts]) -> dict[datetime, Counts]:
    """The hour rows the minute rows add up to, as the counters are written."""
    hours: dict[datetime, Counts] = {}
    for minute, counts in minutes.items():
        hour = minute.replace(minute=0)
        before = hours.get(hour, Counts())
        hours[hour] = Counts(good=before.good + counts.good, bad=before.bad + counts.bad)
    return hours


def less(whole: Counts, out: Counts) -> Counts:
    return Counts(good=whole.good - out.good, bad=whole.bad - out.bad)


MINUTE_END = END + 17 * MINUTE  # minute points end anywhere in an hour
#: Two days: the period's rolling start is exercised without summing a week of minutes by hand.
MINUTE_PERIOD_S = 2 * 86400
DAY_RULES = (*RULES, WindowRule(name="24h", window_s=86400, min_events=1, warning_burn=Decimal(1), critical_burn=3))


@pytest.mark.parametrize(("range_minutes", "kept_hours"), [(60, 30), (360, 30), (360, 8)])
def test_every_minute_point_is_what_an_evaluation_at_that_minute_computes(range_minutes: int, kept_hours: int) -> None:
    start = MINUTE_END - range_minutes * MINUTE
    period = timedelta(seconds=MINUTE_PERIOD_S)
    every = known_minutes((start - period).replace(minute=0) - HOUR, MINUTE_END)
    minutes_from = (MINUTE_END - kept_hours * HOUR).replace(minute=0)
    kept = {minute: counts for minute, counts in every.items() if minute >= minutes_from}
    series = minute_series(
        kept,
        by_hour(every),
        start=start,
        end=MINUTE_END,
        minutes_from=minutes_from,
        objective=OBJECTIVE,
        rules=DAY_RULES,
        period_s=MINUTE_PERIOD_S,
    )
    assert series.step == MINUTE and len(series.points) == range_minutes and series.points[-1] == MINUTE_END
    for index, point in enumerate(series.points):
        assert (series.good[index], series.bad[index]) == (
            every.get(point - MINUTE, Counts()).good,
            every.get(point - MINUTE, Counts()).bad,
        )
        for window, rule in zip(series.windows, DAY_RULES, strict=True):
            edge = point - timedelta(seconds=rule.window_s)
            # Where the minutes at the window's old edge are no longer kept, it starts at the whole
            # hour that holds the edge.
            edge = edge if edge >= minutes_from else edge.replace(minute=0)
            assert window.burn_rates[index] == as_float(burn_rate(summed(every, edge, point), OBJECTIVE)), (
                window.name,
                point,
            )
        in_period = summed(every, (point - period).replace(minute=0), point)
        assert series.budget_remaining[index] == as_float(budget_left(in_period, OBJECTIVE))
        assert series.period_events[index] == in_period.total
    assert [w.window_s for w in series.windows] == [3600, 21600, 300, 86400], "minute points draw each window exactly"


def test_minute_points_leave_out_what_corrections_leave_out_to_the_minute() -> None:
    start = MINUTE_END - 60 * MINUTE
    period = timedelta(seconds=MINUTE_PERIOD_S)
    every = known_minutes((start - period).replace(minute=0) - HOUR, MINUTE_END, seed=9)
    # A correction over a partial hour inside the range, and a whole day long ago.
    spans = [(MINUTE_END - 40 * MINUTE, MINUTE_END - 25 * MINUTE), (END - 36 * HOUR, END - 30 * HOUR - 20 * MINUTE)]
    for minute in (MINUTE_END - 35 * MINUTE, MINUTE_END - 30 * MINUTE):
        every[minute] = Counts(good=0, bad=500)  # the failures the correction forgives
    minutes_from = (MINUTE_END - 30 * HOUR).replace(minute=0)
    kept = {minute: counts for minute, counts in every.items() if minute >= minutes_from}
    left_out = {m: c for m, c in every.items() if any(s <= m < e for s, e in spans)}
    series = minute_series(
        kept,
        by_hour(every),
        start=start,
        end=MINUTE_END,
        minutes_from=minutes_from,
        objective=OBJECTIVE,
        rules=RULES,
        period_s=MINUTE_PERIOD_S,
        excluded_minutes=within(kept, spans),
        excluded_hours=by_hour(left_out),
    )
    burst = series.points.index(MINUTE_END - 34 * MINUTE)
    assert series.bad[burst] == 500, "the events that happened are all drawn"
    for index, point in enumerate(series.points):
        for window, rule in zip(series.windows, RULES, strict=True):
            lo = point - timedelta(seconds=rule.window_s)
            expected = less(summed(every, lo, point), summed(left_out, lo, point))
            assert window.burn_rates[index] == as_float(burn_rate(expected, OBJECTIVE)), (window.name, point)
        lo = (point - period).replace(minute=0)
        expected = less(summed(every, lo, point), summed(left_out, lo, point))
        assert series.budget_remaining[index] == as_float(budget_left(expected, OBJECTIVE))


def test_a_new_flow_has_a_point_for_each_of_its_first_minutes() -> None:
    """Five minutes of data: an hour's range draws them as five points, not one hourly dot."""
    first = MINUTE_END - 5 * MINUTE
    minutes = {first + k * MINUTE: Counts(good=8, bad=2) for k in range(5)}
    series = minute_series(
        minutes,
        by_hour(minutes),
        start=MINUTE_END - 60 * MINUTE,
        end=MINUTE_END,
        minutes_from=(MINUTE_END - 26 * HOUR).replace(minute=0),
        objective=OBJECTIVE,
        rules=RULES,
        period_s=PERIOD_S,
    )
    budget = [value for value in series.budget_remaining if value is not None]
    assert len(budget) == 5 and series.good[-5:] == [8] * 5 and series.good[:-5] == [0] * 55
    assert budget[0] == as_float(budget_left(Counts(good=8, bad=2), OBJECTIVE)) == -39.0, "a ratio: -3,900 %"
    assert series.period_events[-5:] == [10, 20, 30, 40, 50]


def test_minute_points_are_made_of_whole_minutes_within_the_kept_minutes() -> None:
    common = {"objective": OBJECTIVE, "rules": RULES, "period_s": 3600}
    kept_from = (MINUTE_END - 3 * HOUR).replace(minute=0)
    with pytest.raises(ValueError, match="whole minutes"):
        minute_series(
            {}, {}, start=MINUTE_END - HOUR, end=MINUTE_END + timedelta(seconds=5), minutes_from=kept_from, **common
        )
    with pytest.raises(ValueError, match="whole hour"):
        minute_series({}, {}, start=MINUTE_END - HOUR, end=MINUTE_END, minutes_from=MINUTE_END - 3 * HOUR, **common)
    with pytest.raises(ValueError, match="whole range"):
        minute_series({}, {}, start=MINUTE_END - 6 * HOUR, end=MINUTE_END, minutes_from=kept_from, **common)
    with pytest.raises(ValueError, match="at least one minute"):
        minute_series({}, {}, start=MINUTE_END, end=MINUTE_END, minutes_from=kept_from, **common)
