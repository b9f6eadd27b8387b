"""Whatever YAML relops slo import is handed, it answers with flows, refusals and notes, never an
exception: each field of OpenSLO and Sloth documents filled with values of every type."""

from __future__ import annotations

from decimal import Decimal

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relops.slo_files.importing import import_files

_KEYS = st.sampled_from(
    [
        "apiVersion",
        "kind",
        "metadata",
        "name",
        "labels",
        "annotations",
        "spec",
        "service",
        "description",
        "indicator",
        "indicatorRef",
        "ratioMetric",
        "thresholdMetric",
        "counter",
        "good",
        "bad",
        "total",
        "raw",
        "metricSource",
        "metricSourceRef",
        "type",
        "query",
        "timeWindow",
        "duration",
        "isRolling",
        "calendar",
        "budgetingMethod",
        "objectives",
        "target",
        "targetPercent",
        "op",
        "value",
        "version",
        "slos",
        "objective",
        "sli",
        "events",
        "error_query",
        "total_query",
        "plugin",
        "plugins",
        "slo_plugins",
        "alerting",
        "flow",
    ]
)
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(
        [
            "openslo/v1",
            "prometheus/v1",
            "SLO",
            "SLI",
            "DataSource",
            "Service",
            "Occurrences",
            "Prometheus",
            "relops",
            "30d",
            "1M",
            "sum(rate(x_total[5m]))",
            "x_total",
            "",
        ]
    ),
    st.text(max_size=10),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(_KEYS, children, max_size=5),
    max_leaves=25,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.dictionaries(_KEYS, _VALUES, max_size=8), min_size=1, max_size=3))
def test_any_document_is_imported_or_refused_never_raised(documents: list[dict[str, object]]) -> None:
    text = yaml.safe_dump_all(documents)
    result = import_files([("fuzz.yaml", text)])

    for flow in result.flows:
        assert Decimal(0) < flow.objective_percent < Decimal(100)
    assert all(refusal.file == "fuzz.yaml" for refusal in result.refusals)


_GOOD_OPENSLO = {
    "apiVersion": "openslo/v1",
    "kind": "SLO",
    "metadata": {"name": "checkout", "labels": {"team": ["payments"]}, "annotations": {"relops/runbook": "r.md"}},
    "spec": {
        "service": "shop",
        "description": "Orders",
        "indicator": {
            "metadata": {"name": "checkout"},
            "spec": {
                "ratioMetric": {
                    "counter": True,
                    "good": {"metricSource": {"type": "Prometheus", "spec": {"query": "sum(rate(ok_total[5m]))"}}},
                    "total": {"metricSource": {"metricSourceRef": "prom", "spec": {"query": "all_total"}}},
                }
            },
        },
        "timeWindow": [{"duration": "28d", "isRolling": True}],
        "budgetingMethod": "Occurrences",
        "objectives": [{"target": 0.999}],
    },
}
_DATA_SOURCE = {
    "apiVersion": "openslo/v1",
    "kind": "DataSource",
    "metadata": {"name": "prom"},
    "spec": {"type": "Prometheus"},
}
_GOOD_SLOTH = {
    "version": "prometheus/v1",
    "service": "shop",
    "labels": {"team": "payments"},
    "slos": [
        {
            "name": "checkout",
            "objective": 99.9,
            "labels": {"tier": "1"},
            "sli": {
                "events": {"error_query": "rate(bad_total[{{.window}}])", "total_query": "increase(all_total[1h])"}
            },
        }
    ],
}


def _paths(value: object, prefix: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    paths = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            paths += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            paths += _paths(child, (*prefix, index))
    return paths


def _replaced(document: object, path: tuple[object, ...], new: object) -> object:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(document, dict):
        return {key: _replaced(child, rest, new) if key == head else child for key, child in document.items()}
    assert isinstance(document, list)
    return [_replaced(child, rest, new) if index == head else child for index, child in enumerate(document)]


#: One value of each type YAML gives: every field of the good documents is replaced by each in turn.
_ODD_VALUES = [None, True, 0, -1, 1.5, "", "x", [], ["x"], {}, {"x": 1}, float("inf")]


@pytest.mark.parametrize("document", [_GOOD_OPENSLO, _GOOD_SLOTH], ids=["openslo", "sloth"])
def test_a_valid_document_with_any_field_of_any_type_is_imported_or_refused(document: dict[str, object]) -> None:
    for path in _paths(document)[1:]:
        for value in _ODD_VALUES:
            changed = _replaced(document, path, value)
            result = import_files([("fuzz.yaml", yaml.safe_dump_all([changed, _DATA_SOURCE]))])

            assert len(result.flows) + len(result.refusals) >= 1, (path, value)


def test_the_documents_the_fuzzing_starts_from_import() -> None:
    for documents in ([_GOOD_OPENSLO, _DATA_SOURCE], [_GOOD_SLOTH]):
        result = import_files([("good.yaml", yaml.safe_dump_all(documents))])

        assert result.refusals == []
        [flow] = result.flows
        assert flow.name == "checkout"
        assert flow.prometheus is not None
