"""Which spans a flow's budget leaves out: merged, widened to whole minutes, clipped to the period."""

from datetime import UTC, datetime, timedelta

from relops.config import parse_config
from relops.slo.corrections import flow_exclusions, merge_spans, whole_minutes

T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def config(exclude: bool, matchers: list[str]):
    return parse_config(
        {
            "flows": [{"name": "checkout", "objective_percent": 99.9, "exclude_maintenance": exclude}],
            "maintenance": [
                {"name": "nightly", "schedule": "0 2 * * *", "duration_s": 1800, "matchers": matchers},
            ],
        },
        "t.toml",
    )


def test_overlapping_and_touching_spans_merge_and_empty_ones_drop():
    spans = [(at(10), at(20)), (at(0), at(5)), (at(15), at(30)), (at(30), at(31)), (at(40), at(40))]
    assert merge_spans(spans) == [(at(0), at(5)), (at(10), at(31))]


def test_a_span_covers_every_minute_it_touches():
    assert whole_minutes((at(1.5), at(3.25))) == (at(1), at(4))
    assert whole_minutes((at(1), at(3))) == (at(1), at(3))


def test_corrections_are_clipped_to_the_period_and_widened_first():
    flow = config(False, ["flow=checkout"]).flows[0]
    got = flow_exclusions(flow, [], [(at(-10.5), at(2.5)), (at(50), at(70))], at(0), at(60))
    assert got == [(at(0), at(3)), (at(50), at(60))]


def test_maintenance_is_left_out_only_when_the_flow_asks_and_the_window_matches_it():
    start, end = datetime(2026, 3, 10, 0, 0, tzinfo=UTC), datetime(2026, 3, 11, 0, 0, tzinfo=UTC)
    nightly = (datetime(2026, 3, 10, 2, 0, tzinfo=UTC), datetime(2026, 3, 10, 2, 30, tzinfo=UTC))
    opted_in = config(True, ["flow=checkout"])
    assert flow_exclusions(opted_in.flows[0], opted_in.maintenance, [], start, end) == [nightly]
    opted_out = config(False, ["flow=checkout"])
    assert flow_exclusions(opted_out.flows[0], opted_out.maintenance, [], start, end) == []
    other_flow = config(True, ["flow=login"])
    assert flow_exclusions(other_flow.flows[0], other_flow.maintenance, [], start, end) == []
    # A correction inside the window is not left out twice.
    inside = (nightly[0] + timedelta(minutes=5), nightly[0] + timedelta(minutes=10))
    assert flow_exclusions(opted_in.flows[0], opted_in.maintenance, [inside], start, end) == [nightly]
