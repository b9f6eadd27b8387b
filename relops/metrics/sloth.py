"""The series Sloth's recording rules make, for relops' flows (``[metrics] sloth_compatible``). Pure.

Names and labels are Sloth's own, as its code writes them (github.com/slok/sloth:
pkg/common/conventions/slo.go, and the rules of internal/plugin/slo/core/sli_rules_v1 and
metadata_rules_v1), so what was made to read Sloth's series (its Grafana dashboard, its UI, burn-rate
queries people wrote) reads relops' flows unchanged. Values are computed as those rules compute
them, from the counts of relops' latest evaluation instead of rate() over a service's counters:

- ``slo:sli_error:ratio_rate<W>{sloth_window="<W>"}``: errors / events in window W, for each of
  relops' windows and for the flow's SLO period (Sloth's "total period" window; NaN with no events,
  as 0/0 is in Prometheus); W is written as Prometheus writes durations (1h, 6h, 1d, 30d, 1w).
- ``slo:objective:ratio``, ``slo:error_budget:ratio`` (1 - objective), ``slo:time_period:days``.
- ``slo:current_burn_rate:ratio``: the error ratio of relops' shortest window over the error budget
  (Sloth's is its 5m window: relops evaluates the windows of its config).
- ``slo:period_burn_rate:ratio`` and ``slo:period_error_budget_remaining:ratio`` (1 - the burn), over
  the flow's whole SLO period: exact counts, where Sloth averages its 5m ratio over the period.
- ``sloth_slo_info`` with ``sloth_version``, ``sloth_mode``, ``sloth_spec`` and ``sloth_objective``.

Every series carries ``sloth_id`` (``<service>-<flow>``, as Sloth makes an SLO's id), ``sloth_service``
(the flow's ``service`` label, else ``[metrics] sloth_service``) and ``sloth_slo`` (the flow), then the
flow's own labels (as Sloth adds an SLO's labels to every rule), except names Sloth or Prometheus
reserve (``sloth_*``, ``__*``).
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Final

from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.samples import Sample

from relops.config import FlowConfig, RelopsConfig
from relops.metrics.facts import Facts

SLI_ERROR_PREFIX: Final = "slo:sli_error:ratio_rate"
OBJECTIVE: Final = "slo:objective:ratio"
ERROR_BUDGET: Final = "slo:error_budget:ratio"
TIME_PERIOD_DAYS: Final = "slo:time_period:days"
CURRENT_BURN_RATE: Final = "slo:current_burn_rate:ratio"
PERIOD_BURN_RATE: Final = "slo:period_burn_rate:ratio"
PERIOD_BUDGET_REMAINING: Final = "slo:period_error_budget_remaining:ratio"
#: Sloth records it as a gauge named sloth_slo_info; prometheus_client writes an info family so.
INFO_FAMILY: Final = "sloth_slo"

ID_LABEL: Final = "sloth_id"
SERVICE_LABEL: Final = "sloth_service"
SLO_LABEL: Final = "sloth_slo"
WINDOW_LABEL: Final = "sloth_window"
#: The flow label that names its service, where a flow has one.
FLOW_SERVICE_LABEL: Final = "service"
#: What sloth_slo_info says made the series (Sloth writes its version, mode and spec there).
MODE: Final = "relops"
SPEC: Final = "relops/v1"

# Go's prometheus/common model.Duration.String(): years and weeks only when they divide exactly.
_UNITS: Final = (
    ("y", 365 * 86400, True),
    ("w", 7 * 86400, True),
    ("d", 86400, False),
    ("h", 3600, False),
    ("m", 60, False),
    ("s", 1, False),
)


def prometheus_duration(seconds: int) -> str:
    """A duration as Prometheus (and so Sloth's metric names) writes it: 3600 → 1h, 86400 → 1d,
    30 days → 30d, 7 days → 1w, 5400 → 1h30m."""
    if seconds <= 0:
        return "0s"
    left, text = seconds, ""
    for unit, size, exact in _UNITS:
        if exact and left % size:
            continue
        count, left = divmod(left, size)
        if count:
            text += f"{count}{unit}"
    return text


def go_float(value: Decimal) -> str:
    """A decimal as Go's strconv.FormatFloat(v, 'f', -1, 64) writes it (Sloth's sloth_objective):
    99.9 → "99.9", 99 → "99"."""
    return format(value.normalize(), "f")


def sloth_labels(config: RelopsConfig, flow: FlowConfig) -> dict[str, str]:
    """The labels every Sloth series of ``flow`` carries."""
    service = flow.labels.get(FLOW_SERVICE_LABEL) or config.metrics.sloth_service
    own = {k: v for k, v in flow.labels.items() if not k.startswith(("sloth_", "__"))}
    return {**own, ID_LABEL: f"{service}-{flow.name}", SERVICE_LABEL: service, SLO_LABEL: flow.name}


def _ratio(errors: int, events: int) -> float:
    return errors / events if events else math.nan


def sloth_families(config: RelopsConfig, facts: Facts, *, version: str) -> list[Metric]:
    """Sloth's series for every flow: the constants for each, the ratios for those with an evaluation."""
    objective = GaugeMetricFamily(OBJECTIVE, "The SLO objective as a ratio (Sloth's slo:objective:ratio).")
    budget = GaugeMetricFamily(ERROR_BUDGET, "1 - the objective: the error ratio the SLO allows.")
    period = GaugeMetricFamily(TIME_PERIOD_DAYS, "The SLO period in days.")
    current = GaugeMetricFamily(CURRENT_BURN_RATE, "The shortest window's error ratio over the error budget.")
    period_burn = GaugeMetricFamily(PERIOD_BURN_RATE, "The SLO period's error ratio over the error budget.")
    remaining = GaugeMetricFamily(PERIOD_BUDGET_REMAINING, "1 - the period burn rate: the error budget left.")
    info = InfoMetricFamily(INFO_FAMILY, "The SLO and what made its series (Sloth's sloth_slo_info).")
    sli: dict[str, GaugeMetricFamily] = {}

    def sli_family(window: str) -> GaugeMetricFamily:
        family = sli.get(window)
        if family is None:
            family = sli[window] = GaugeMetricFamily(
                SLI_ERROR_PREFIX + window, f"The error ratio over {window} (Sloth's SLI error ratio)."
            )
        return family

    # Each window's name as Prometheus writes its length, and its family, once for every flow; two
    # windows of one length (1h and 60m) are one Sloth window.
    rules = sorted(config.evaluation.windows, key=lambda rule: rule.window_s)
    shortest = rules[0].name
    windows: dict[str, str] = {}
    for rule in rules:
        windows.setdefault(prometheus_duration(rule.window_s), rule.name)
    periods: dict[int, str] = {}
    objectives: dict[Decimal, str] = {}
    for flow in config.flows:
        labels = sloth_labels(config, flow)
        # Sloth's arithmetic: the objective over 100 in float64, and 1 - that.
        objective_ratio = float(flow.objective_percent) / 100
        allowance = 1 - objective_ratio
        objective.samples.append(Sample(OBJECTIVE, labels, objective_ratio))
        budget.samples.append(Sample(ERROR_BUDGET, labels, allowance))
        period.samples.append(Sample(TIME_PERIOD_DAYS, labels, float(flow.period_days)))
        written = objectives.get(flow.objective_percent)
        if written is None:
            written = objectives[flow.objective_percent] = go_float(flow.objective_percent)
        described = {
            **labels,
            "sloth_version": version,
            "sloth_mode": MODE,
            "sloth_spec": SPEC,
            "sloth_objective": written,
        }
        info.samples.append(Sample(INFO_FAMILY + "_info", described, 1.0))
        snap = facts.flows.get(flow.name)
        if snap is None:
            continue
        for window, rule_name in windows.items():
            counts = snap.windows.get(rule_name)
            ratio = _ratio(counts.errors, counts.events) if counts is not None else math.nan
            sli_family(window).samples.append(
                Sample(SLI_ERROR_PREFIX + window, {**labels, WINDOW_LABEL: window}, ratio)
            )
        first = snap.windows.get(shortest)
        current_ratio = _ratio(first.errors, first.events) if first is not None else math.nan
        current.samples.append(Sample(CURRENT_BURN_RATE, labels, current_ratio / allowance))
        period_ratio = _ratio(snap.period_errors, snap.period_events)
        window = periods.get(flow.period_s)
        if window is None:
            window = periods[flow.period_s] = prometheus_duration(flow.period_s)
        if window not in windows:
            sli_family(window).samples.append(
                Sample(SLI_ERROR_PREFIX + window, {**labels, WINDOW_LABEL: window}, period_ratio)
            )
        period_burn.samples.append(Sample(PERIOD_BURN_RATE, labels, period_ratio / allowance))
        remaining.samples.append(Sample(PERIOD_BUDGET_REMAINING, labels, 1 - period_ratio / allowance))
    return [objective, budget, period, current, period_burn, remaining, info, *sli.values()]
