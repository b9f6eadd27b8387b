"""OpenSLO v1 ``SLO`` documents (with the ``SLI`` and ``DataSource`` documents they name) as relops
flow entries. Pure: parsed YAML in, TOML-shaped flow dicts out, every unsupported field a Refused.

What relops can express: a ratio of counters (``ratioMetric`` good or bad, and total) counted by
occurrences over a rolling window of whole days, with one objective. The rest (thresholds,
time slices, calendar windows, several objectives, sources other than Prometheus) is refused,
never approximated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from relops.slo_files import openslo_terms as terms
from relops.slo_files.fields import items, mapping, number, string_labels, text
from relops.slo_files.queries import counter_query
from relops.slo_files.refusals import Refused

#: Kinds that describe alerting: relops pages by its own burn-rate windows ([evaluation]).
ALERTING_KINDS = frozenset({"AlertPolicy", "AlertCondition", "AlertNotificationTarget"})
KINDS = frozenset({"SLO", "SLI", "DataSource", "Service"}) | ALERTING_KINDS
_DURATION = re.compile(r"^([1-9][0-9]{0,6})([mhdwMQY])$")
_MINUTES_PER_UNIT = {"m": 1, "h": 60, "d": 1440, "w": 7 * 1440}
MAX_PERIOD_DAYS = 365


@dataclass
class Catalog:
    """The named documents an SLO may refer to, from every file of one import."""

    #: SLI name -> its spec.
    indicators: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: DataSource name -> its spec.type.
    data_sources: dict[str, Any] = field(default_factory=dict)


def slo_flow(document: dict[str, Any], catalog: Catalog) -> dict[str, Any]:
    """The flow entry an OpenSLO ``SLO`` document makes; Refused naming the field otherwise."""
    metadata = mapping(document.get("metadata"), "metadata")
    name = text(metadata.get("name"), "metadata.name")
    spec = mapping(document.get("spec"), "spec")
    method = spec.get("budgetingMethod")
    if method != terms.OCCURRENCES:
        stated = "is required" if method is None else f"is {method!r}"
        raise Refused(
            "spec.budgetingMethod",
            f"{stated}; relops counts occurrences (good events over all events), so only "
            f"{terms.OCCURRENCES!r}: time slices are not what its burn rates measure",
        )
    period_days = _period_days(spec.get("timeWindow"))
    source_kind, source = _indicator_source(spec, name, catalog)
    objective_percent = _objective_percent(spec.get("objectives"))
    labels = string_labels(metadata.get("labels"), "metadata.labels")
    service = text(spec.get("service"), "spec.service", required=False)
    if service:
        labels[terms.SERVICE_LABEL] = service
    flow: dict[str, Any] = {
        "name": name,
        "objective_percent": objective_percent,
        "period_days": period_days,
        "description": text(spec.get("description"), "spec.description", required=False),
        "labels": labels,
    }
    annotations = mapping(metadata.get("annotations"), "metadata.annotations", required=False)
    runbook = annotations.get(terms.RUNBOOK_ANNOTATION)
    if runbook is not None:
        flow["runbook"] = text(runbook, f"metadata.annotations.{terms.RUNBOOK_ANNOTATION}")
    if source_kind == terms.PROMETHEUS and source is not None:
        flow["prometheus"] = {**_source_settings(annotations), **source}
    elif source is not None:
        flow["spans"] = source
    return flow


def _period_days(value: Any) -> int:
    windows = items(value, "spec.timeWindow")
    if len(windows) != 1:
        raise Refused("spec.timeWindow", f"has {len(windows)} windows; OpenSLO allows exactly one")
    window = mapping(windows[0], "spec.timeWindow[0]")
    if window.get("calendar") is not None or window.get("isRolling") is not True:
        raise Refused(
            "spec.timeWindow[0].isRolling",
            "is not true: a calendar-aligned window restarts its budget at each calendar boundary; "
            "relops' periods are rolling (the last N days)",
        )
    duration = window.get("duration")
    match = _DURATION.match(duration) if isinstance(duration, str) else None
    if match is None:
        raise Refused("spec.timeWindow[0].duration", f"{duration!r} is not a duration shorthand such as 28d or 4w")
    count, unit = int(match.group(1)), match.group(2)
    if unit not in _MINUTES_PER_UNIT:
        raise Refused(
            "spec.timeWindow[0].duration",
            f"{duration!r}: months, quarters and years are not a fixed number of days; relops' period is "
            "whole days (give e.g. 30d)",
        )
    minutes = count * _MINUTES_PER_UNIT[unit]
    if minutes % 1440 or not 1 <= minutes // 1440 <= MAX_PERIOD_DAYS:
        raise Refused(
            "spec.timeWindow[0].duration",
            f"{duration!r}: relops' period is a whole number of days from 1 to {MAX_PERIOD_DAYS}",
        )
    return minutes // 1440


def _objective_percent(value: Any) -> Decimal:
    objectives = items(value, "spec.objectives")
    if len(objectives) != 1:
        raise Refused(
            "spec.objectives",
            f"has {len(objectives)} objectives; a relops flow has one objective (write one SLO per objective)",
        )
    objective = mapping(objectives[0], "spec.objectives[0]")
    for key, why in (
        ("indicator", "a composite SLO (an indicator per objective)"),
        ("indicatorRef", "a composite SLO (an indicator per objective)"),
        ("op", "a threshold on a metric's value"),
        ("value", "a threshold on a metric's value"),
        ("timeSliceTarget", "time-slice budgeting"),
        ("timeSliceWindow", "time-slice budgeting"),
    ):
        if objective.get(key) is not None:
            raise Refused(f"spec.objectives[0].{key}", f"is {why}, which relops does not express")
    target, percent = objective.get("target"), objective.get("targetPercent")
    if (target is None) == (percent is None):
        raise Refused("spec.objectives[0].target", "give target (a fraction) or targetPercent, exactly one")
    if target is not None:
        result = number(target, "spec.objectives[0].target") * 100
        where = "spec.objectives[0].target"
    else:
        result = number(percent, "spec.objectives[0].targetPercent")
        where = "spec.objectives[0].targetPercent"
    if not 0 < result < 100:
        raise Refused(where, "must be above 0 and below 1 (0% and 100% are not objectives)")
    return Decimal(format(result.normalize(), "f"))


def _indicator_source(spec: dict[str, Any], flow: str, catalog: Catalog) -> tuple[str, dict[str, Any] | None]:
    """(``Prometheus``, its queries: good or bad, and total), or (``relops``, the flow's span rules or
    None when services push its counts)."""
    if spec.get("indicator") is not None and spec.get("indicatorRef") is not None:
        raise Refused("spec.indicatorRef", "give indicator or indicatorRef, not both")
    if spec.get("indicator") is not None:
        indicator = mapping(spec["indicator"], "spec.indicator")
        path = "spec.indicator.spec"
        sli_spec = mapping(indicator.get("spec"), path)
    elif spec.get("indicatorRef") is not None:
        reference = text(spec["indicatorRef"], "spec.indicatorRef")
        if reference not in catalog.indicators:
            raise Refused("spec.indicatorRef", f"no SLI named {reference!r} among the files imported")
        path = f"spec.indicatorRef (SLI {reference}) spec"
        sli_spec = catalog.indicators[reference]
    else:
        raise Refused("spec.indicator", "give indicator or indicatorRef")
    if sli_spec.get("thresholdMetric") is not None:
        raise Refused(
            f"{path}.thresholdMetric",
            "a threshold on a metric's value is not a count of good and bad events, which relops needs",
        )
    ratio = mapping(sli_spec.get("ratioMetric"), f"{path}.ratioMetric")
    path = f"{path}.ratioMetric"
    for key in ("raw", "rawType"):
        if ratio.get(key) is not None:
            raise Refused(f"{path}.{key}", "a precomputed ratio cannot be counted into good and bad events")
    if ratio.get("counter") is False:
        raise Refused(f"{path}.counter", "is false: relops counts the increases of counters, not gauges")
    if (ratio.get("good") is None) == (ratio.get("bad") is None):
        raise Refused(f"{path}.good", "give good or bad (with total), exactly one")
    counted = "good" if ratio.get("good") is not None else "bad"
    sides = {key: _metric_source(ratio.get(key), f"{path}.{key}", catalog) for key in (counted, "total")}
    types = {source_type.lower() for source_type, _ in sides.values()}
    if types == {terms.RELOPS_SOURCE}:
        return terms.RELOPS_SOURCE, _relops_counts(sides, path, flow)
    if types != {terms.PROMETHEUS.lower()}:
        side = next(key for key, (kind, _) in sides.items() if kind.lower() != terms.PROMETHEUS.lower())
        raise Refused(
            f"{path}.{side}.metricSource.type",
            f"is {sides[side][0]!r}; relops pulls counts from Prometheus only (or, type "
            f"{terms.RELOPS_SOURCE!r}, takes them pushed), the same for good or bad and total",
        )
    queries: dict[str, str] = {}
    for key, (_, source_spec) in sides.items():
        where = f"{path}.{key}.metricSource.spec.query"
        try:
            queries[key] = counter_query(text(source_spec.get("query"), where))
        except ValueError as exc:
            raise Refused(where, str(exc)) from None
    return terms.PROMETHEUS, queries


def _relops_counts(sides: dict[str, tuple[str, dict[str, Any]]], path: str, flow: str) -> dict[str, Any] | None:
    """The span rules of a flow whose counts relops receives (None: pushed by services); both sides
    name the flow and carry the same rules, since they are one count seen twice."""
    rules = []
    for key, (_, source_spec) in sides.items():
        if source_spec.get("flow") != flow:
            raise Refused(
                f"{path}.{key}.metricSource.spec.flow",
                f"must name the flow itself ({flow!r}): relops receives its counts",
            )
        rules.append(source_spec.get(terms.SPANS_KEY))
    if rules[0] != rules[1]:
        raise Refused(f"{path}.total.metricSource.spec.{terms.SPANS_KEY}", "differs from the other side's")
    if rules[0] is None:
        return None
    return mapping(rules[0], f"{path}.total.metricSource.spec.{terms.SPANS_KEY}")


def _metric_source(value: Any, path: str, catalog: Catalog) -> tuple[str, dict[str, Any]]:
    """(type, spec) of one side's metricSource, its type from its DataSource if it names one."""
    source = mapping(mapping(value, path).get("metricSource"), f"{path}.metricSource")
    source_type = source.get("type")
    reference = source.get("metricSourceRef")
    if source_type is None and reference is not None:
        reference = text(reference, f"{path}.metricSource.metricSourceRef")
        if reference not in catalog.data_sources:
            raise Refused(f"{path}.metricSource.metricSourceRef", f"no DataSource named {reference!r} among the files")
        source_type = catalog.data_sources[reference]
    kind = text(source_type, f"{path}.metricSource.type")
    return kind, mapping(source.get("spec"), f"{path}.metricSource.spec")


def _source_settings(annotations: dict[str, Any]) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    if annotations.get(terms.URL_ENV_ANNOTATION) is not None:
        settings["url_env"] = text(
            annotations[terms.URL_ENV_ANNOTATION], f"metadata.annotations.{terms.URL_ENV_ANNOTATION}"
        )
    if annotations.get(terms.TIMEOUT_ANNOTATION) is not None:
        where = f"metadata.annotations.{terms.TIMEOUT_ANNOTATION}"
        try:
            settings["timeout_s"] = float(str(annotations[terms.TIMEOUT_ANNOTATION]))
        except ValueError:
            raise Refused(where, "must be a number of seconds") from None
    return settings
