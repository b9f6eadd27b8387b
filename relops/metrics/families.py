"""relops' own series, made from one scrape's facts. Pure.

Every name starts with ``relops_`` and ends with its unit where it has one (``_seconds``,
``_timestamp_seconds``, ``_ratio``; counters ``_total``). Labels are bounded by the config, never by
traffic: ``flow`` (the configured flows), ``window`` (the configured windows), ``job_name`` (not
``job``, which Prometheus gives every series of a scrape job), ``dependency``
(the breakers), ``receiver``, ``team`` (values the config declares), ``severity``, ``state``,
``status`` and ``endpoint`` (small fixed sets), ``key`` (metrics keys). docs/guides/prometheus.md
lists each series with its labels and cardinality; tests/unit/test_metrics_families.py holds them
to it.

States are exposed twice in one series: the label says which state (for a dashboard to colour) and
the value how bad it is as relops ranks it: 0 healthy, 1 warning, 2 critical (the severity of the
alert the state raises), so ``max`` finds the worst and an alert rule compares a number.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Final

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.samples import Sample

from relops.alerting.events import SEVERITIES
from relops.config import RelopsConfig
from relops.metrics.facts import Facts, IncidentCount

#: How bad each state is: 0 healthy, 1 warning, 2 critical. A flow's as relops' status ranks it
#: (no data is not a breach); a job's and a breaker's as the alert the state raises (a failing or
#: missed job pages CRITICAL, an overrun WARNING; an open breaker WARNING); "unknown" for a job means
#: relops itself lagged (the status shows WARNING), for a breaker that Redis could not be asked (the
#: status ignores it).
FLOW_LEVELS: Final[Mapping[str, int]] = {"no_data": 0, "ok": 0, "warning": 1, "critical": 2}
JOB_LEVELS: Final[Mapping[str, int]] = {"ok": 0, "running": 0, "unknown": 1, "overrun": 1, "failing": 2, "missed": 2}
BREAKER_LEVELS: Final[Mapping[str, int]] = {"closed": 0, "unknown": 0, "half_open": 1, "open": 1}
#: A state relops does not know (a newer writer's): counted as a warning rather than hidden.
UNKNOWN_LEVEL: Final = 1
#: Incident statuses that are not over.
UNRESOLVED: Final = ("open", "acknowledged")
#: The team of an incident whose team label the config never declares: the label's values stay
#: bounded by the config whatever labels alert events arrive with.
OTHER_TEAM: Final = "other"
SILENCE_STATES: Final = ("active", "pending")
NOTIFICATION_STATUSES: Final = ("pending", "sending")


def _seconds(moment: datetime) -> float:
    return moment.timestamp()


def relops_families(config: RelopsConfig, facts: Facts, *, receivers: Iterable[str], version: str) -> list[Metric]:
    """Every relops_ family of one scrape. ``receivers``: the receivers this installation delivers to
    (their outbox series are 0 rather than absent)."""
    return [
        *_build(version),
        *_windows(config),
        *_flows(config, facts),
        *_evaluation(facts),
        *_jobs(facts),
        *_breakers(facts),
        *_incidents(config, facts.incidents),
        *_silences(facts),
        *_outbox(facts, receivers),
        *_intake(facts),
        *_scrapes(facts),
        *_broker(facts),
    ]


def _build(version: str) -> list[Metric]:
    build = InfoMetricFamily("relops_build", "The relops version serving these metrics.")
    build.add_metric([], {"version": version})
    return [build]


def _windows(config: RelopsConfig) -> list[Metric]:
    length = GaugeMetricFamily(
        "relops_window_length_seconds", "Each burn-rate window's length.", labels=["window"], unit="seconds"
    )
    threshold = GaugeMetricFamily(
        "relops_window_burn_rate_threshold_ratio",
        "The burn rate above which a window is WARNING or CRITICAL.",
        labels=["window", "severity"],
        unit="ratio",
    )
    for rule in config.evaluation.windows:
        length.add_metric([rule.name], rule.window_s)
        threshold.add_metric([rule.name, "warning"], float(rule.warning_burn))
        threshold.add_metric([rule.name, "critical"], float(rule.critical_burn))
    return [length, threshold]


def _flows(config: RelopsConfig, facts: Facts) -> list[Metric]:
    """Per flow: its config (objective, period, labels), its severity, and its latest evaluation's
    budget and windows. The hot loop of a scrape (14 samples a flow with three windows): samples are
    appended directly, sharing one labels dict per flow and per (flow, window), since add_metric()
    would build a dict for each."""
    info = InfoMetricFamily(
        "relops_flow", "The config labels of each flow that has some (team, ...), to join on flow.", labels=["flow"]
    )
    objective = GaugeMetricFamily(
        "relops_flow_objective_ratio", "The flow's objective as a fraction (99.9 % is 0.999).", unit="ratio"
    )
    period = GaugeMetricFamily(
        "relops_flow_period_seconds", "The SLO period the budget is counted over.", unit="seconds"
    )
    severity = GaugeMetricFamily(
        "relops_flow_severity",
        "The flow's severity at its latest evaluation: the label names it (no_data, ok, warning, critical), "
        "the value ranks it (0 ok or no data, 1 warning, 2 critical).",
    )
    budget = GaugeMetricFamily(
        "relops_flow_error_budget_remaining_ratio",
        "The fraction of the period's error budget left at the latest evaluation: 1 untouched, 0 spent, below 0 "
        "overspent.",
        unit="ratio",
    )
    uncorrected = GaugeMetricFamily(
        "relops_flow_error_budget_remaining_uncorrected_ratio",
        "The budget left as it would be without SLO corrections and excluded maintenance windows.",
        unit="ratio",
    )
    burn = GaugeMetricFamily(
        "relops_flow_burn_rate_ratio",
        "The window's error ratio over the allowed error ratio at the latest evaluation (absent while the window "
        "has no events).",
        unit="ratio",
    )
    events = GaugeMetricFamily(
        "relops_flow_window_events", "Events in the window at the latest evaluation (corrections left out)."
    )
    errors = GaugeMetricFamily(
        "relops_flow_window_errors", "Bad events in the window at the latest evaluation (corrections left out)."
    )
    info_name = info.name + "_info"
    window_names = [rule.name for rule in config.evaluation.windows]
    latest = facts.flows
    for flow in config.flows:
        name = flow.name
        labels = {"flow": name}
        if flow.labels:
            own = {k: v for k, v in flow.labels.items() if not k.startswith("__")}
            info.samples.append(Sample(info_name, {**own, "flow": name}, 1))
        objective.samples.append(Sample(objective.name, labels, float(flow.objective_percent) / 100))
        period.samples.append(Sample(period.name, labels, flow.period_s))
        snap = latest.get(name)
        if snap is None:
            severity.samples.append(Sample(severity.name, {"flow": name, "severity": "no_data"}, 0))
            continue
        level = FLOW_LEVELS.get(snap.severity, UNKNOWN_LEVEL)
        severity.samples.append(Sample(severity.name, {"flow": name, "severity": snap.severity}, level))
        if snap.budget_remaining is not None:
            budget.samples.append(Sample(budget.name, labels, snap.budget_remaining))
            left = snap.budget_remaining_uncorrected
            uncorrected.samples.append(
                Sample(uncorrected.name, labels, snap.budget_remaining if left is None else left)
            )
        windows = snap.windows
        for window in window_names:
            pair = {"flow": name, "window": window}
            found = windows.get(window)
            if found is None:
                events.samples.append(Sample(events.name, pair, 0))
                errors.samples.append(Sample(errors.name, pair, 0))
                continue
            events.samples.append(Sample(events.name, pair, found.events))
            errors.samples.append(Sample(errors.name, pair, found.errors))
            if found.burn_rate is not None:
                burn.samples.append(Sample(burn.name, pair, found.burn_rate))
    return [info, objective, period, severity, budget, uncorrected, burn, events, errors]


def _evaluation(facts: Facts) -> list[Metric]:
    families: list[Metric] = []
    if facts.last_tick_at is not None:
        families.append(
            GaugeMetricFamily(
                "relops_last_tick_timestamp_seconds",
                "When the newest evaluation tick was claimed: beat and the tick task are alive.",
                value=_seconds(facts.last_tick_at),
                unit="seconds",
            )
        )
    newest = max((snap.evaluated_at for snap in facts.flows.values()), default=None)
    if newest is not None:
        families.append(
            GaugeMetricFamily(
                "relops_last_evaluation_timestamp_seconds",
                "The newest evaluation any flow has (the close of the minute it read, up to 60 s ahead of "
                "the clock): the evaluate workers are writing. Alert on time() minus this.",
                value=_seconds(newest),
                unit="seconds",
            )
        )
    return families


def _jobs(facts: Facts) -> list[Metric]:
    state = GaugeMetricFamily(
        "relops_job_state",
        "The job's state: the label names it (ok, running, failing, missed, overrun, unknown), the value "
        "ranks it (0 ok or running, 1 overrun or unknown, 2 failing or missed).",
        labels=["job_name", "state"],
    )
    started = GaugeMetricFamily(
        "relops_job_last_start_timestamp_seconds",
        "When the job's newest run started.",
        labels=["job_name"],
        unit="seconds",
    )
    succeeded = GaugeMetricFamily(
        "relops_job_last_success_timestamp_seconds",
        "When the job's newest successful run ended.",
        labels=["job_name"],
        unit="seconds",
    )
    duration = GaugeMetricFamily(
        "relops_job_last_duration_seconds",
        "How long the job's newest finished run took.",
        labels=["job_name"],
        unit="seconds",
    )
    streak = GaugeMetricFamily(
        "relops_job_consecutive_failures", "The job's newest runs that failed in a row.", labels=["job_name"]
    )
    deadline = GaugeMetricFamily(
        "relops_job_next_deadline_timestamp_seconds",
        "When the job's next run counts as missed if it has not started.",
        labels=["job_name"],
        unit="seconds",
    )
    for job in facts.jobs:
        labels = [job.name]
        state.add_metric([job.name, job.state], JOB_LEVELS.get(job.state, UNKNOWN_LEVEL))
        streak.add_metric(labels, job.consecutive_failures)
        if job.last_start is not None:
            started.add_metric(labels, _seconds(job.last_start))
        if job.last_success is not None:
            succeeded.add_metric(labels, _seconds(job.last_success))
        if job.last_duration_s is not None:
            duration.add_metric(labels, job.last_duration_s)
        if job.next_deadline is not None:
            deadline.add_metric(labels, _seconds(job.next_deadline))
    return [state, started, succeeded, duration, streak, deadline]


def _breakers(facts: Facts) -> list[Metric]:
    state = GaugeMetricFamily(
        "relops_breaker_state",
        "The dependency's circuit breaker: the label names its state (closed, open, half_open, unknown when "
        "Redis could not be asked), the value ranks it (0 closed, 1 open or half-open).",
        labels=["dependency", "state"],
    )
    failures = GaugeMetricFamily(
        "relops_breaker_failures", "Failures the breaker has counted toward opening.", labels=["dependency"]
    )
    transition = GaugeMetricFamily(
        "relops_breaker_last_transition_timestamp_seconds",
        "When the breaker last changed state.",
        labels=["dependency"],
        unit="seconds",
    )
    for dependency, shared in sorted(facts.breakers.items()):
        current = str(shared.get("state", "unknown"))
        state.add_metric([dependency, current], BREAKER_LEVELS.get(current, UNKNOWN_LEVEL))
        if "failures" in shared:
            failures.add_metric([dependency], float(shared["failures"]))
        moment_ms = shared.get("last_transition_ms")
        if moment_ms is not None:
            transition.add_metric([dependency], moment_ms / 1000)
    return [state, failures, transition]


def declared_teams(config: RelopsConfig) -> set[str]:
    """The team label values the config gives its flows, jobs and breakers."""
    owners = (*config.flows, *config.jobs, *config.breaker_settings().values())
    return {item.labels["team"] for item in owners if "team" in item.labels}


def _incidents(config: RelopsConfig, counts: Sequence[IncidentCount]) -> list[Metric]:
    teams = declared_teams(config)
    totals: dict[tuple[str, str, str], int] = defaultdict(int)
    # Zero for every combination the config can produce, so "no incident" reads 0, not no data.
    for status in UNRESOLVED:
        for severity in SEVERITIES:
            for team in ("", *teams):
                totals[(status, severity, team)] = 0
    for count in counts:
        team = count.team if count.team in teams or not count.team else OTHER_TEAM
        totals[(count.status, count.severity, team)] += count.count
    family = GaugeMetricFamily(
        "relops_unresolved_incidents",
        "Incidents open or acknowledged, by status, severity and team (the incident's team label; empty "
        "without one; 'other' for a team the config does not declare).",
        labels=["status", "severity", "team"],
    )
    for (status, severity, team), value in sorted(totals.items()):
        family.add_metric([status, severity, team], value)
    return [family]


def _silences(facts: Facts) -> list[Metric]:
    family = GaugeMetricFamily(
        "relops_silences", "Silences muting alerts now (active) and yet to start (pending).", labels=["state"]
    )
    family.add_metric(["active"], facts.silences_active)
    family.add_metric(["pending"], facts.silences_pending)
    return [family]


def _outbox(facts: Facts, receivers: Iterable[str]) -> list[Metric]:
    owed = {(receiver, status): 0 for receiver in receivers for status in NOTIFICATION_STATUSES}
    owed.update(facts.notifications)
    undelivered = GaugeMetricFamily(
        "relops_undelivered_notifications",
        "Notifications owed to a receiver: pending (not yet in a message) or sending (in a message being "
        "delivered or waiting for its retry).",
        labels=["receiver", "status"],
    )
    for (receiver, status), value in sorted(owed.items()):
        undelivered.add_metric([receiver, status], value)
    dead = CounterMetricFamily(
        "relops_dead_letters",
        "Messages a receiver never got after their last attempt (dead letters are never pruned).",
        labels=["receiver"],
    )
    given_up = {receiver: 0 for receiver in receivers}
    given_up.update(facts.dead_letters)
    for receiver, value in sorted(given_up.items()):
        dead.add_metric([receiver], value)
    return [undelivered, dead]


def _intake(facts: Facts) -> list[Metric]:
    family = CounterMetricFamily(
        "relops_intake_requests",
        "Requests the HTTP intake answered, by endpoint (outcomes, cron, ping, other) and HTTP status (202 "
        "accepted, the rest refused); kept in ops_intake_totals, which retention never prunes.",
        labels=["endpoint", "status"],
    )
    for total in facts.intake:
        family.add_metric([total.endpoint, str(total.status)], total.requests, created=_seconds(total.since))
    return [family]


def _scrapes(facts: Facts) -> list[Metric]:
    family = CounterMetricFamily(
        "relops_metrics_scrapes",
        "Scrapes of /metrics per metrics key (counted in Redis instead of an audit row per scrape).",
        labels=["key"],
    )
    for key, value in sorted(facts.scrapes.items()):
        family.add_metric([key], value)
    return [family]


def _broker(facts: Facts) -> list[Metric]:
    if facts.broker_answered is None:
        return []
    up = GaugeMetricFamily(
        "relops_broker_up", "1 when this scrape read the queues from the broker, 0 when the broker did not answer."
    )
    up.add_metric([], 1 if facts.broker_answered else 0)
    if facts.queues is None:
        return [up]
    waiting = GaugeMetricFamily(
        "relops_queue_messages",
        "Messages waiting in each relops queue for a worker to take them (RabbitMQ: ready, not those a "
        "worker holds; Redis: every priority's).",
        labels=["queue"],
    )
    for queue, value in sorted(facts.queues.items()):
        waiting.add_metric([queue], value)
    return [up, waiting]
