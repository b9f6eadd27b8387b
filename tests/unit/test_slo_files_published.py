"""relops slo import against the examples OpenSLO and Sloth publish (tests/data/openslo, tests/data/sloth,
copied unmodified with their license): the ones relops can express become the expected flows, the
others are refused naming the document and the field."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from relops.config import FlowConfig
from relops.slo_files.importing import ImportResult, import_files

DATA = Path(__file__).resolve().parents[1] / "data"
SLOTH = DATA / "sloth" / "examples"
OPENSLO = DATA / "openslo" / "examples"


def _import(*paths: Path) -> ImportResult:
    return import_files([(path.name, path.read_text()) for path in paths])


def _flow(**fields: object) -> FlowConfig:
    return FlowConfig.model_validate(fields)


MYSERVICE_LABELS = {"owner": "myteam", "repo": "myorg/myservice", "tier": "2", "service": "myservice"}
AVAILABILITY = "Common SLO based on availability for HTTP request responses."


def test_sloths_getting_started_becomes_a_flow_counting_5xx_and_429_over_all_requests() -> None:
    result = _import(SLOTH / "getting-started.yml")

    assert result.refusals == []
    assert result.flows == [
        _flow(
            name="requests-availability",
            objective_percent=Decimal("99.9"),
            period_days=30,
            description=AVAILABILITY,
            labels=MYSERVICE_LABELS,
            prometheus={
                "bad": 'sum(http_request_duration_seconds_count{job="myservice",code=~"(5..|429)"})',
                "total": 'sum(http_request_duration_seconds_count{job="myservice"})',
            },
        )
    ]
    assert result.notes == [
        "getting-started.yml: Sloth service myservice: alerting: not imported "
        "(relops pages by its own burn-rate windows, [evaluation] in its config)"
    ]


def test_sloths_multi_line_queries_become_one_summed_selector() -> None:
    result = _import(SLOTH / "no-alerts.yml")

    assert result.refusals == []
    assert [flow.prometheus for flow in result.flows] == [
        _flow(
            name="x",
            objective_percent=99,
            prometheus={
                "bad": 'sum(http_request_duration_seconds_count{job="myapp", code=~"(5..|429)"})',
                "total": 'sum(http_request_duration_seconds_count{job="myapp"})',
            },
        ).prometheus
    ]
    assert result.flows[0].objective_percent == Decimal("99.99")
    assert result.flows[0].labels == {"owner": "myteam", "service": "myapp"}


def test_the_apiserver_availability_slo_imports_and_the_latency_difference_is_refused() -> None:
    result = _import(SLOTH / "kubernetes-apiserver.yml")

    assert [flow.name for flow in result.flows] == ["requests-availability"]
    flow = result.flows[0]
    assert flow.labels == {
        "cluster": "valhalla",
        "component": "kubernetes",
        "category": "availability",
        "service": "k8s-apiserver",
    }
    assert flow.prometheus is not None
    assert flow.prometheus.bad == 'sum(apiserver_request_total{code=~"(5..|429)"})'
    assert flow.prometheus.total == "sum(apiserver_request_total)"
    [refusal] = result.refusals
    assert (refusal.document, refusal.field) == (
        "Sloth service k8s-apiserver SLO requests-latency",
        "slos[1].sli.events.error_query",
    )
    assert "never a ratio, a difference or another function" in refusal.reason


def test_two_services_with_one_slo_name_make_one_flow_and_the_second_is_refused_by_name() -> None:
    result = _import(SLOTH / "multifile.yml")

    assert [(flow.name, flow.labels["service"], flow.objective_percent) for flow in result.flows] == [
        ("requests-availability", "myservice", Decimal("99.9"))
    ]
    [refusal] = result.refusals
    assert (refusal.file, refusal.document, refusal.field) == (
        "multifile.yml",
        "Sloth service myservice2 SLO requests-availability",
        "slos[0].name",
    )
    assert "already made by multifile.yml: Sloth service myservice SLO requests-availability" in refusal.reason


@pytest.mark.parametrize(
    ("path", "refused"),
    [
        (
            SLOTH / "home-wifi.yml",
            [
                ("Sloth service home-wifi SLO good-wifi-client-satisfaction", "slos[0].sli.events.error_query"),
                ("Sloth service home-wifi SLO risk-wifi-client-satisfaction", "slos[1].sli.events.error_query"),
            ],
        ),
        (SLOTH / "raw-home-wifi.yml", [("Sloth service home-wifi SLO wifi-client-satisfaction", "slos[0].sli.raw")]),
        (
            SLOTH / "plugin-getting-started.yml",
            [("Sloth service myservice SLO requests-availability", "slos[0].sli.plugin")],
        ),
        (SLOTH / "slo-plugin-getting-started.yml", [("Sloth service myservice", "slo_plugins")]),
        (SLOTH / "openslo-getting-started.yml", [("SLO sloth-slo-my-service", "apiVersion")]),
        (SLOTH / "k8s-getting-started.yml", [("PrometheusServiceLevel sloth-slo-my-service", "apiVersion")]),
        (
            OPENSLO / "budgeting-method" / "occurences-slo.yaml",
            [("SLO search-slo", "spec.indicator.spec.thresholdMetric")],
        ),
        (
            DATA / "openslo" / "oslo" / "test" / "inputs" / "validate" / "v1.yaml",
            [("SLO web-availability", "spec.budgetingMethod")],
        ),
        (OPENSLO / "budgeting-method" / "ratio-timeslices.yaml", [("SLO main-page", "spec.budgetingMethod")]),
        (OPENSLO / "budgeting-method" / "timeslices-slo.yaml", [("SLO service-availability", "spec.budgetingMethod")]),
        (
            OPENSLO / "treat-low-traffic-as-equally-important" / "timeslices-slo.yaml",
            [("SLO service-availability", "spec.budgetingMethod")],
        ),
    ],
    ids=lambda value: value.name if isinstance(value, Path) else "",
)
def test_a_published_example_relops_cannot_express_is_refused_naming_document_and_field(
    path: Path, refused: list[tuple[str, str]]
) -> None:
    result = _import(path)

    assert result.flows == []
    assert [(refusal.file, refusal.document, refusal.field) for refusal in result.refusals] == [
        (path.name, document, field) for document, field in refused
    ]


def test_the_copied_examples_keep_their_license_and_their_source_commit() -> None:
    for directory, commit in (
        (DATA / "openslo", "aa5cb78d7044bbd8ab4915ea0af0d988f4db8a59"),
        (DATA / "sloth", "0e395d81513ff701f5d27b7aa47d794cb764fd5e"),
        (DATA / "openslo", "2f07e9230a00b0bd4fadd3abcc6125b72c88cba0"),
    ):
        assert "Apache License" in (directory / "LICENSE").read_text()
        assert commit in (directory / "README.md").read_text()
    assert "Apache License" in (DATA / "openslo" / "oslo" / "LICENSE").read_text()
