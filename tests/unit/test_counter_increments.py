"""Counting a flow's events per minute from counters' raw samples, exactly: resets, baselines,
several series, minutes without samples; and the PromQL a Prometheus-sourced flow may give."""

from __future__ import annotations

import random

import pytest

from relops.config.counter_query import parse_counter_query
from relops.slo.counter_increments import FlowMinute, flow_minutes, minute_increases

M = 1_765_000_020 // 60 * 60  # a minute start


def test_each_increase_is_counted_in_the_minute_of_the_sample_that_saw_it():
    series = [[(M - 15, 100.0), (M, 103.0), (M + 15, 104.0), (M + 59.9, 110.0), (M + 60, 111.0), (M + 75, 111.0)]]
    assert minute_increases(series, M, M + 120) == {M: 10.0, M + 60: 1.0}


def test_a_reset_counts_the_new_value_and_the_baseline_counts_nothing():
    series = [[(M + 5, 50.0), (M + 20, 55.0), (M + 35, 2.0), (M + 50, 4.0)]]
    # 50 is the baseline; +5; reset to 0 then +2; +2.
    assert minute_increases(series, M, M + 60) == {M: 9.0}


def test_series_are_summed_and_samples_before_the_span_are_only_baselines():
    a = [(M - 30, 10.0), (M + 10, 12.0)]
    b = [(M - 45, 7.0), (M - 15, 9.0), (M + 30, 10.0)]
    assert minute_increases([a, b], M, M + 60) == {M: 3.0}


def test_a_minute_without_any_sample_is_unknown_not_zero():
    series = [[(M + 10, 1.0), (M + 130, 5.0)]]
    assert minute_increases(series, M, M + 180) == {M: 0.0, M + 120: 4.0}


def test_random_counters_with_resets_add_up_to_what_was_counted():
    generator = random.Random(7)
    expected: dict[int, float] = {}
    series = []
    for _ in range(3):
        value, samples = 0.0, [(M - 15.0, 0.0)]
        for step in range(40):
            timestamp = M + step * 15.0
            # The process restarted: counting from 0 again. A reset shows only as a value below the
            # one before (the next increment, at most 9, stays below 20): so does Prometheus' own.
            if value > 20 and generator.random() < 0.1:
                value = 0.0
            increment = generator.randint(0, 9)
            value += increment
            samples.append((timestamp, value))
            expected[timestamp // 60 * 60] = expected.get(timestamp // 60 * 60, 0.0) + increment
        series.append(samples)
    assert minute_increases(series, M, M + 600) == expected


def test_flow_minutes_from_good_or_bad_with_the_counted_part_held_within_the_total():
    total = {M: 10.0, M + 60: 5.0, M + 120: 0.0}
    assert flow_minutes(total, {M: 2.0, M + 120: 0.0}, counts_good=False) == [
        FlowMinute(M, 8, 2),
        FlowMinute(M + 60, 5, 0),
        FlowMinute(M + 120, 0, 0),
    ]
    assert flow_minutes(total, {M: 12.0}, counts_good=True) == [
        FlowMinute(M, 10, 0),
        FlowMinute(M + 60, 0, 5),
        FlowMinute(M + 120, 0, 0),
    ]


@pytest.mark.parametrize(
    ("text", "selector"),
    [
        ('http_requests_total{job="checkout"}', 'http_requests_total{job="checkout"}'),
        ('sum(http_requests_total{job="checkout",code!~"5.."})', 'http_requests_total{job="checkout",code!~"5.."}'),
        ("sum by (code) (x_total)", "x_total"),
        ('sum(x_total{a=~"b|c", d!=""}) without (instance)', 'x_total{a=~"b|c", d!=""}'),
        ('{__name__="x_total",job="a"}', '{__name__="x_total",job="a"}'),
        ("sum(x_total{path='/a)b'})", "x_total{path='/a)b'}"),
    ],
)
def test_counter_selectors_optionally_summed_are_taken(text: str, selector: str):
    assert parse_counter_query(text).selector == selector


@pytest.mark.parametrize(
    "text",
    [
        "",
        "rate(x_total[5m])",
        "sum(rate(x_total[5m]))",
        "increase(x_total[1m])",
        "x_total / y_total",
        "sum(x_total) + 1",
        'x_total{a="unterminated}',
        "x_total[5m]",
        "sum by (a) (x_total) by (b)",
        "max(x_total)",
        "x" * 2001,
    ],
)
def test_anything_else_is_refused_saying_what_to_give(text: str):
    with pytest.raises(ValueError) as refused:
        parse_counter_query(text)
    message = str(refused.value)
    assert "counter selector" in message or "characters long" in message or "empty" in message
