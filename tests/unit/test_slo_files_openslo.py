"""OpenSLO v1 documents to relops flows: what maps to which key, and what is refused, by document and field."""

from __future__ import annotations

from decimal import Decimal
from textwrap import dedent

import pytest

from relops.slo_files.importing import ImportResult, import_files

SLO = """\
apiVersion: openslo/v1
kind: SLO
metadata:
  name: checkout
  labels:
    team: payments
    tier: ["1"]
spec:
  description: Orders placed
  service: shop
  indicator:
    metadata:
      name: checkout-errors
    spec:
      ratioMetric:
        counter: true
        bad:
          metricSource:
            type: Prometheus
            spec:
              query: sum(rate(http_requests_total{job="checkout",code=~"5.."}[5m]))
        total:
          metricSource:
            type: Prometheus
            spec:
              query: sum(rate(http_requests_total{job="checkout"}[5m]))
  timeWindow:
    - duration: 4w
      isRolling: true
  budgetingMethod: Occurrences
  objectives:
    - displayName: Orders
      target: 0.999
"""


def _import(*texts: str) -> ImportResult:
    return import_files([(f"file{index}.yaml", text) for index, text in enumerate(texts, start=1)])


def _refused(text: str) -> tuple[str, str, str]:
    result = _import(text)
    assert result.flows == []
    [refusal] = result.refusals
    return refusal.document, refusal.field, refusal.reason


def test_an_slo_with_an_inline_prometheus_ratio_becomes_a_flow() -> None:
    result = _import(SLO)

    assert result.refusals == []
    [flow] = result.flows
    assert flow.name == "checkout"
    assert flow.objective_percent == Decimal("99.9")
    assert str(flow.objective_percent) == "99.9"
    assert flow.period_days == 28
    assert flow.description == "Orders placed"
    assert flow.labels == {"team": "payments", "tier": "1", "service": "shop"}
    assert flow.prometheus is not None
    assert flow.prometheus.bad == 'sum(http_requests_total{job="checkout",code=~"5.."})'
    assert flow.prometheus.total == 'sum(http_requests_total{job="checkout"})'
    assert flow.prometheus.url_env == "PROMETHEUS_URL"


def test_an_indicator_and_its_data_source_may_be_referenced_by_name_from_another_file() -> None:
    slo = dedent(
        """\
        apiVersion: openslo/v1
        kind: Service
        metadata: {name: shop}
        spec: {description: The shop}
        ---
        apiVersion: openslo/v1
        kind: SLO
        metadata: {name: search}
        spec:
          service: shop
          indicatorRef: search-ok
          timeWindow: [{duration: 7d, isRolling: true}]
          budgetingMethod: Occurrences
          objectives: [{targetPercent: 99.5}]
        """
    )
    sli = dedent(
        """\
        apiVersion: openslo/v1
        kind: DataSource
        metadata: {name: prom}
        spec: {type: Prometheus, connectionDetails: {url: "http://prometheus:9090"}}
        ---
        apiVersion: openslo/v1
        kind: SLI
        metadata: {name: search-ok}
        spec:
          ratioMetric:
            counter: true
            good: {metricSource: {metricSourceRef: prom, spec: {query: 'sum(search_total{ok="true"})'}}}
            total: {metricSource: {metricSourceRef: prom, spec: {query: sum(search_total)}}}
        """
    )
    result = _import(slo, sli)

    assert result.refusals == []
    [flow] = result.flows
    assert (flow.name, flow.objective_percent, flow.period_days) == ("search", Decimal("99.5"), 7)
    assert flow.prometheus is not None
    assert (flow.prometheus.good, flow.prometheus.total) == ('sum(search_total{ok="true"})', "sum(search_total)")


def test_alert_policies_are_noted_not_imported() -> None:
    policy = "apiVersion: openslo/v1\nkind: AlertPolicy\nmetadata: {name: page}\nspec: {}\n"
    result = _import(SLO + "---\n" + policy)

    assert [flow.name for flow in result.flows] == ["checkout"]
    assert result.notes == [
        "file1.yaml: AlertPolicy page: not imported (relops pages by its own burn-rate windows, "
        "[evaluation] in its config)"
    ]


@pytest.mark.parametrize(
    ("duration", "days"), [("1d", 1), ("30d", 30), ("2w", 14), ("48h", 2), ("1440m", 1), ("365d", 365)]
)
def test_a_rolling_window_of_whole_days_is_the_period(duration: str, days: int) -> None:
    [flow] = _import(SLO.replace("duration: 4w", f"duration: {duration}")).flows
    assert flow.period_days == days


@pytest.mark.parametrize(
    ("change", "field", "why"),
    [
        (("budgetingMethod: Occurrences", "budgetingMethod: Timeslices"), "spec.budgetingMethod", "Timeslices"),
        (("budgetingMethod: Occurrences", "budgetingMethod: RatioTimeslices"), "spec.budgetingMethod", "time slices"),
        (("  budgetingMethod: Occurrences\n", ""), "spec.budgetingMethod", "is required"),
        (("isRolling: true", "isRolling: false"), "spec.timeWindow[0].isRolling", "rolling"),
        (("duration: 4w", "duration: 1M"), "spec.timeWindow[0].duration", "not a fixed number of days"),
        (("duration: 4w", "duration: 1Y"), "spec.timeWindow[0].duration", "not a fixed number of days"),
        (("duration: 4w", "duration: 36h"), "spec.timeWindow[0].duration", "whole number of days"),
        (("duration: 4w", "duration: 400d"), "spec.timeWindow[0].duration", "from 1 to 365"),
        (("duration: 4w", "duration: four weeks"), "spec.timeWindow[0].duration", "duration shorthand"),
        (
            ("      target: 0.999", "      target: 0.999\n    - displayName: Stricter\n      target: 0.9999"),
            "spec.objectives",
            "2 objectives",
        ),
        (
            ("      target: 0.999", "      target: 0.999\n      timeSliceWindow: 1m"),
            "spec.objectives[0].timeSliceWindow",
            "time-slice",
        ),
        (("      target: 0.999", "      targetPercent: 100"), "spec.objectives[0].targetPercent", "below 1"),
        (("      target: 0.999", "      target: '0.999'"), "spec.objectives[0].target", "must be a number"),
        (("type: Prometheus", "type: Datadog"), "spec.indicator.spec.ratioMetric.bad.metricSource.type", "Datadog"),
        (("counter: true", "counter: false"), "spec.indicator.spec.ratioMetric.counter", "gauges"),
        (
            ('sum(rate(http_requests_total{job="checkout",code=~"5.."}[5m]))', "sum(rate(errors_total[5m])) / 2"),
            "spec.indicator.spec.ratioMetric.bad.metricSource.spec.query",
            "never a ratio",
        ),
        (('    tier: ["1"]', '    tier: ["1", "2"]'), "metadata.labels.tier", "has 2 values"),
        (("apiVersion: openslo/v1", "apiVersion: openslo/v2alpha"), "apiVersion", "openslo/v2alpha"),
        (("kind: SLO", "kind: Composite"), "kind", "Composite"),
    ],
)
def test_what_relops_cannot_express_is_refused_naming_the_field(change: tuple[str, str], field: str, why: str) -> None:
    old, new = change
    assert old in SLO
    document, refused_field, reason = _refused(SLO.replace(old, new, 1))

    assert document in ("SLO checkout", "Composite checkout")
    assert refused_field == field
    assert why in reason


def test_a_threshold_metric_or_a_raw_ratio_is_refused() -> None:
    threshold = SLO.replace("ratioMetric:", "thresholdMetric:", 1)
    assert _refused(threshold)[1] == "spec.indicator.spec.thresholdMetric"
    raw = SLO.replace("        counter: true\n", "        counter: true\n        rawType: success\n", 1)
    assert _refused(raw)[1] == "spec.indicator.spec.ratioMetric.rawType"


def test_an_indicator_named_but_not_given_is_refused() -> None:
    start, end = SLO.index("  indicator:"), SLO.index("  timeWindow:")
    document = SLO[:start] + "  indicatorRef: nowhere\n" + SLO[end:]
    assert _refused(document)[1:] == ("spec.indicatorRef", "no SLI named 'nowhere' among the files imported")


def test_an_objective_relops_would_never_page_on_is_refused_by_relops_own_config_model() -> None:
    # 1 / (1 - 0.9) = 10: the default 1 h rule's 14x can never be reached.
    document, field, reason = _refused(SLO.replace("target: 0.999", "target: 0.9"))
    assert (document, field) == ("SLO checkout", "(as a relops flow)")
    assert "objective_percent" in reason


def test_a_label_relops_cannot_carry_is_refused_by_relops_own_config_model() -> None:
    _, field, reason = _refused(SLO.replace("team: payments", "team.name: payments"))
    assert field == "(as a relops flow)"
    assert "team.name" in reason


def test_a_file_that_is_not_yaml_is_refused_with_the_parser_s_line() -> None:
    result = _import("apiVersion: openslo/v1\nkind: [SLO\n")
    [refusal] = result.refusals
    assert (refusal.file, refusal.field) == ("file1.yaml", "(YAML)")
    assert "line" in refusal.reason


def test_a_flow_whose_counts_are_pushed_comes_from_sources_of_type_relops() -> None:
    pushed = (
        SLO.replace("type: Prometheus", "type: relops")
        .replace('query: sum(rate(http_requests_total{job="checkout",code=~"5.."}[5m]))', "flow: checkout")
        .replace('query: sum(rate(http_requests_total{job="checkout"}[5m]))', "flow: checkout")
    )
    [flow] = _import(pushed).flows
    assert flow.prometheus is None
    other = pushed.replace("flow: checkout", "flow: search", 1)
    assert _refused(other)[1] == "spec.indicator.spec.ratioMetric.bad.metricSource.spec.flow"


def test_an_sli_defined_twice_is_refused_rather_than_picking_one() -> None:
    sli = "apiVersion: openslo/v1\nkind: SLI\nmetadata: {name: ok}\nspec: {ratioMetric: {}}\n"
    result = _import(sli, sli)

    [refusal] = result.refusals
    assert (refusal.file, refusal.document, refusal.field) == ("file2.yaml", "SLI ok", "metadata.name")
    assert "already defined in file1.yaml" in refusal.reason


def test_an_indicator_given_both_inline_and_by_name_is_refused() -> None:
    both = SLO.replace("  indicator:\n", "  indicatorRef: other\n  indicator:\n", 1)
    assert _refused(both)[1:] == ("spec.indicatorRef", "give indicator or indicatorRef, not both")


def test_yaml_nested_beyond_the_parser_stack_is_refused_not_a_crash() -> None:
    result = _import("[" * 5000 + "]" * 5000)
    [refusal] = result.refusals
    assert refusal.field == "(YAML)"
