"""``relops slo export --format openslo``: flows as OpenSLO v1 ``SLO`` documents. Pure.

Each flow becomes one SLO with an inline ratio indicator (``counter: true``), budgeting by
occurrences over a rolling window of its period, and one objective whose ``target`` is the
objective as a fraction. A Prometheus-sourced flow's queries go in ``metricSource.spec.query``
(type ``Prometheus``); a flow whose counts services push has no query anywhere, so its sources are
of type ``relops`` with ``spec.flow`` naming it (and, for a flow counted from OpenTelemetry spans,
``spec.spans`` holding its ``[flows.spans]`` rules). The flow keys OpenSLO has no field for (the
Prometheus URL variable and timeout, the runbook) are annotations, written only when not relops'
defaults; ``relops slo import`` reads all of it back to the same flows.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from relops.config import FlowConfig
from relops.config.sli_sources import DEFAULT_URL_ENV, PrometheusSource
from relops.slo_files import openslo_terms as terms
from relops.slo_files.yaml_text import dump_documents

_DEFAULT_TIMEOUT_S = PrometheusSource.model_fields["timeout_s"].default


#: The flow keys the export writes (and the import reads back), and those it leaves out: relops'
#: own, about its breakers and maintenance windows. A key in neither would be dropped unsaid.
EXPORTED_KEYS = frozenset(
    {"name", "objective_percent", "period_days", "description", "runbook", "labels", "spans", "prometheus"}
)
LEFT_OUT_KEYS = ("depends_on", "exclude_maintenance")

#: OpenSLO requires names that RFC 1123 allows (its tools refuse others); relops' names are freer.
_RFC1123_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


def openslo_caveats(flow: FlowConfig) -> list[str]:
    """What of ``flow`` an OpenSLO tool may refuse or not see in its export, one line each."""
    caveats = []
    if not _RFC1123_NAME.match(flow.name):
        caveats.append("its name is not an RFC 1123 name (lowercase letters, digits, -): OpenSLO tools may refuse it")
    if terms.SERVICE_LABEL not in flow.labels:
        caveats.append(
            f"no {terms.SERVICE_LABEL!r} label, so no spec.service, which OpenSLO requires: give the flow one"
        )
    left_out = [key for key in LEFT_OUT_KEYS if getattr(flow, key)]
    if left_out:
        caveats.append(f"{', '.join(left_out)} not exported (relops' own: OpenSLO has no field for it)")
    return caveats


def export_openslo(flows: Iterable[FlowConfig]) -> str:
    """The flows as one multi-document OpenSLO YAML text."""
    return dump_documents([slo_document(flow) for flow in flows])


def slo_document(flow: FlowConfig) -> dict[str, Any]:
    labels = {name: value for name, value in flow.labels.items() if name != terms.SERVICE_LABEL}
    metadata: dict[str, Any] = {"name": flow.name}
    if labels:
        metadata["labels"] = labels
    annotations = _annotations(flow)
    if annotations:
        metadata["annotations"] = annotations
    spec: dict[str, Any] = {}
    if flow.description:
        spec["description"] = flow.description
    if terms.SERVICE_LABEL in flow.labels:
        spec["service"] = flow.labels[terms.SERVICE_LABEL]
    spec["indicator"] = {"metadata": {"name": flow.name}, "spec": {"ratioMetric": _ratio_metric(flow)}}
    spec["timeWindow"] = [{"duration": f"{flow.period_days}d", "isRolling": True}]
    spec["budgetingMethod"] = terms.OCCURRENCES
    spec["objectives"] = [{"displayName": flow.name, "target": _fraction(flow.objective_percent)}]
    return {"apiVersion": terms.API_VERSION, "kind": "SLO", "metadata": metadata, "spec": spec}


def _ratio_metric(flow: FlowConfig) -> dict[str, Any]:
    source = flow.prometheus
    if source is None:
        return {"counter": True, "good": _relops_source(flow), "total": _relops_source(flow)}
    counted = "good" if source.good is not None else "bad"
    counted_query = source.good if source.good is not None else source.bad
    return {
        "counter": True,
        counted: {"metricSource": {"type": terms.PROMETHEUS, "spec": {"query": counted_query}}},
        "total": {"metricSource": {"type": terms.PROMETHEUS, "spec": {"query": source.total}}},
    }


def _relops_source(flow: FlowConfig) -> dict[str, Any]:
    """The counts relops receives: pushed by services, or counted by its intake from the spans that
    meet the flow's rules (written as [flows.spans] takes them)."""
    spec: dict[str, Any] = {"flow": flow.name}
    if flow.spans is not None:
        spec[terms.SPANS_KEY] = flow.spans.model_dump(mode="json", exclude_defaults=True)
    return {"metricSource": {"type": terms.RELOPS_SOURCE, "spec": spec}}


def _annotations(flow: FlowConfig) -> dict[str, str]:
    annotations: dict[str, str] = {}
    if flow.runbook:
        annotations[terms.RUNBOOK_ANNOTATION] = flow.runbook
    if flow.prometheus is not None:
        if flow.prometheus.url_env != DEFAULT_URL_ENV:
            annotations[terms.URL_ENV_ANNOTATION] = flow.prometheus.url_env
        if flow.prometheus.timeout_s != _DEFAULT_TIMEOUT_S:
            annotations[terms.TIMEOUT_ANNOTATION] = repr(flow.prometheus.timeout_s)
    return annotations


def _fraction(percent: Decimal) -> Decimal:
    # Exact: 99.9 -> 0.999, never 0.9990000000000001.
    return Decimal(format((percent / 100).normalize(), "f"))
