"""Sloth's and OpenSLO's Prometheus queries as the counter queries relops counts exactly."""

from __future__ import annotations

import pytest

from relops.slo_files.queries import counter_query


@pytest.mark.parametrize(
    ("query", "counted"),
    [
        (
            'sum(rate(http_requests_total{job="a",code=~"(5..|429)"}[{{.window}}]))',
            'sum(http_requests_total{job="a",code=~"(5..|429)"})',
        ),
        ("sum(increase(http_requests_total[5m]))", "sum(http_requests_total)"),
        ('rate(http_requests_total{job="a"}[1h])', 'sum(http_requests_total{job="a"})'),
        ("increase(http_requests_total[{{ .window }}])", "sum(http_requests_total)"),
        ('sum(\n  rate(x_total{code=~"[45].."}[{{.window}}])\n)\n', 'sum(x_total{code=~"[45].."})'),
        # Already what relops takes: kept as written, so an export imports back unchanged.
        ('sum(http_requests_total{job="a"})', 'sum(http_requests_total{job="a"})'),
        ('http_requests_total{job="a"}', 'http_requests_total{job="a"}'),
    ],
)
def test_a_rate_or_increase_of_a_counter_selector_is_counted_as_the_sum_of_the_selector(
    query: str, counted: str
) -> None:
    assert counter_query(query) == counted


@pytest.mark.parametrize(
    "query",
    [
        "sum(rate(errors_total[5m])) / sum(rate(requests_total[5m]))",
        "sum(rate(a_total[5m])) - sum(rate(b_total[5m]))",
        "sum_over_time((count(ratio < 0.75))[{{.window}}:])",
        "sum(rate(sum(x_total)[5m:]))",
        "histogram_quantile(0.99, sum(rate(latency_bucket[5m])) by (le))",
        "sum by (code) (rate(x_total[5m])) > 0",
        "",
    ],
)
def test_a_query_relops_cannot_count_exactly_is_refused_saying_what_it_takes(query: str) -> None:
    with pytest.raises(ValueError, match="never a ratio, a difference or another function"):
        counter_query(query)
