"""Which range a flow page opens on, the ranges it offers, and what the budget chart says when the
budget runs off its axis."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from relops.config import parse_config
from relops.web.charts import BUDGET_FLOOR_PERCENT, budget_below_floor, step_label
from relops.web.ranges import MINUTE_RANGES, RANGES, UnknownRange, default_range, range_span

NOW = datetime(2026, 11, 30, 12, 34, 20, tzinfo=UTC)
MIN = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


@pytest.mark.parametrize(
    ("data_for", "expected"),
    [
        (None, "1h"),  # nothing counted yet: the first minutes show up as they come
        (4 * MIN, "1h"),
        (59 * MIN, "1h"),
        (61 * MIN, "6h"),
        (5 * HOUR, "6h"),
        (20 * HOUR, "24h"),
        (3 * DAY, "7d"),
        (90 * DAY, "7d"),  # a flow with history opens on a week, as before
    ],
)
def test_a_flow_page_opens_on_the_shortest_range_that_holds_its_data(data_for, expected) -> None:
    first = None if data_for is None else NOW - data_for
    assert default_range(NOW, first, None) == expected


@pytest.mark.parametrize(
    ("open_for", "expected"),
    [(3 * MIN, "1h"), (29 * MIN, "1h"), (40 * MIN, "6h"), (3 * HOUR, "6h"), (5 * HOUR, "24h"), (2 * DAY, "7d")],
)
def test_an_open_incident_takes_at_most_half_the_chart_it_opens_on(open_for, expected) -> None:
    """A flow with months of data, burning for a few minutes: the page opens on minute points."""
    assert default_range(NOW, NOW - 90 * DAY, NOW - open_for) == expected


def test_the_short_ranges_are_drawn_per_minute_and_a_period_is_the_flows() -> None:
    assert list(RANGES) == ["1h", "6h", "24h", "7d", "30d", "period"]
    assert {"1h", "6h"} <= MINUTE_RANGES and "24h" not in MINUTE_RANGES
    config = parse_config({"flows": [{"name": "checkout", "objective_percent": 99.9, "period_days": 28}]}, "t.toml")
    flow = config.flows_by_name["checkout"]
    assert range_span("6h", flow) == 6 * HOUR and range_span("period", flow) == 28 * DAY
    with pytest.raises(UnknownRange, match="range must be one of 1h, 6h, 24h"):
        range_span("1y", flow)


def test_minute_rows_are_kept_for_the_6_hour_range_even_when_every_window_is_shorter() -> None:
    one_hour = {"name": "1h", "window_s": 3600, "min_events": 1, "warning_burn": 7, "critical_burn": 14}
    config = parse_config(
        {"flows": [{"name": "checkout", "objective_percent": 99.9}], "evaluation": {"windows": [one_hour]}}, "t.toml"
    )
    assert config.evaluation.minute_retention_s == 6 * 3600 + config.evaluation.minute_retention_margin_s


def test_a_budget_below_the_axis_is_reported_with_its_true_value_and_its_events() -> None:
    points = [100, 160, 220, 280]
    assert budget_below_floor(points, [None, 100.0, -40.0, -100.0], [0, 5, 9, 12]) is None
    below = budget_below_floor(points, [None, -15_000.0, -19_900.0, -3_000.0], [0, 5, 9, 12])
    assert below == {"lowest_percent": -19_900.0, "at": 220, "period_events": 9}
    assert BUDGET_FLOOR_PERCENT == -100.0
    assert budget_below_floor([], [], []) is None


def test_a_step_is_labelled_in_its_unit() -> None:
    assert [step_label(s) for s in (60, 300, 3600, 9 * 3600)] == ["1 min", "5 min", "1 h", "9 h"]
