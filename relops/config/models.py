"""The config file's model: every section and key, its type, default and bounds, and the rules
that tie keys together. Key names are part of the contract (README, "Config file").

Pure: no file access (relops.config.loader reads the file) and no channel code (channel names and
options are checked where channels are assembled: relops.channels.registry).
"""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)
from relops_client.breaker_settings import SETTING_TYPES
from relops_client.breaker_settings import BreakerSettings as ClientBreakerSettings
from relops_client.names import DEFAULT_BREAKERS

from relops.config.messages import quoted
from relops.config.routing import ReceiverConfig, ReceiverName, RouteConfig
from relops.config.sli_sources import PrometheusSource, SourcesConfig
from relops.config.span_rules import SpanRules
from relops.errors import InputRejected
from relops.labels import MAX_LABELS, RESERVED, label_problem
from relops.matchers import Matcher, parse_matcher

#: Printable text without control characters: names reach logs, Slack and HTML, which escape them,
#: but a newline in a name would still forge log lines, and a NUL makes every alert naming it invalid.
_NAME_PATTERN = re.compile(r"^[^\x00-\x1f\x7f-\x9f]{1,200}$")
_CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f-\x9f]")

#: The alert event contract's limit on runbook_url (relops.alerting.events uses it): a flow or job whose
#: runbook URL is longer would have every one of its alerts refused at dispatch.
MAX_URL_CHARS = 2000


def _printable_name(value: str) -> str:
    if not _NAME_PATTERN.match(value):
        raise ValueError("must be 1-200 printable characters (no control characters)")
    return value


def _no_control_characters(value: str) -> str:
    if _CONTROL_CHARACTER.search(value):
        raise ValueError("must not contain control characters")
    return value


def _toml_number(value: object) -> object:
    # Lax Decimal parsing would take a quoted "99.9" (or true as 1); TOML has real numbers, so a
    # value of another type is a mistake in the file.
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ValueError("must be a number")
    return value


#: A flow's, job's, window's or breaker's name.
Name = Annotated[str, AfterValidator(_printable_name)]


def _config_labels(value: dict[str, str]) -> dict[str, str]:
    for name, label_value in value.items():
        problem = label_problem(name, label_value)
        if problem:
            raise ValueError(problem)
        if name in RESERVED:
            raise ValueError(f"label {name!r} is set by relops itself ({', '.join(RESERVED)}); pick another name")
    if len(value) > MAX_LABELS - len(RESERVED):
        raise ValueError(f"at most {MAX_LABELS - len(RESERVED)} labels")
    return value


#: Labels a flow, job or breaker adds to its alerts, e.g. { team = "payments", tier = "1" }.
Labels = Annotated[dict[str, str], Field(default_factory=dict, strict=False), AfterValidator(_config_labels)]
#: Breaker names a flow or job depends on (checked against the config's breakers).
DependsOn = Annotated[tuple[Name, ...], Field(default=(), strict=False, max_length=20)]
#: A URL or URL path that ends up in alert messages.
Url = Annotated[str, AfterValidator(_no_control_characters)]
#: Exact (99.9 stays 99.9, not 99.900000000000005684...), from a TOML integer or float.
Number = Annotated[Decimal, Field(strict=False), BeforeValidator(_toml_number)]
Percent = Annotated[Number, Field(gt=0, lt=100)]
#: Beyond this a burn rate needs an objective above 99.9999%; it also keeps TOML's unbounded
#: integers out of arithmetic and messages.
MAX_BURN = 1_000_000
#: Longest window (and retention margin): a year, like the longest SLO period.
MAX_WINDOW_S = 366 * 86400
#: Bound on counts: TOML integers are unbounded, and a 5000-digit one cannot even be printed.
MAX_COUNT = 10**9


#: The longest flow-page range drawn a point per minute from the minute rows (relops.web.ranges).
MINUTE_CHART_RANGE_S = 6 * 3600


class _Strict(BaseModel):
    # strict: the file's TOML types are taken as written (no "300" for 300, no true for 1); the
    # array fields opt out, since TOML arrays arrive as lists.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class WindowRule(_Strict):
    """One burn-rate window and its thresholds (the design's multi-window rules)."""

    name: Name = Field(max_length=20, description="The window's name in alerts and on the dashboard (`1h`); unique.")
    window_s: int = Field(gt=0, le=MAX_WINDOW_S, description="The window's length in seconds, whole minutes.")
    min_events: int = Field(
        ge=1, le=MAX_COUNT, description="Fewer events than this in the window: insufficient data, never a breach."
    )
    warning_burn: Number = Field(gt=0, le=MAX_BURN, description="A burn rate above this is WARNING.")
    critical_burn: Number = Field(
        gt=0,
        le=MAX_BURN,
        description="A burn rate above this is CRITICAL: at least `warning_burn`, and below 1 / (1 - objective) "
        "for every flow (a threshold that can never fire is refused).",
    )
    confirm_window_s: int | None = Field(
        None,
        gt=0,
        le=MAX_WINDOW_S,
        description="A short confirmation window (the SRE Workbook's multiwindow rule: 1/12 of the window): "
        "the rule fires only while both windows burn above its threshold, so an alert clears soon after "
        "recovery. Whole minutes, shorter than `window_s`; unset: single-window rule.",
    )
    min_bad_events: int = Field(
        0,
        ge=0,
        le=MAX_COUNT,
        description="Fewer bad events than this in the window never breach: for flows with little traffic.",
    )

    @model_validator(mode="after")
    def _coherent(self) -> WindowRule:
        if self.window_s % 60:
            raise ValueError(f"window_s={self.window_s} must be a whole number of minutes")
        if self.critical_burn < self.warning_burn:
            raise ValueError(f"critical_burn={self.critical_burn} is below warning_burn={self.warning_burn}")
        if self.confirm_window_s is not None:
            if self.confirm_window_s % 60:
                raise ValueError(f"confirm_window_s={self.confirm_window_s} must be whole minutes")
            if self.confirm_window_s >= self.window_s:
                raise ValueError(
                    f"confirm_window_s={self.confirm_window_s} must be shorter than window_s={self.window_s}"
                )
        return self


DEFAULT_WINDOWS: tuple[WindowRule, ...] = (
    WindowRule(name="1h", window_s=3600, min_events=3, warning_burn=Decimal(7), critical_burn=Decimal(14)),
    WindowRule(name="6h", window_s=21600, min_events=10, warning_burn=Decimal(3), critical_burn=Decimal(6)),
    WindowRule(name="24h", window_s=86400, min_events=30, warning_burn=Decimal("1.5"), critical_burn=Decimal(3)),
)


class EvaluationConfig(_Strict):
    """How and how often flows are evaluated."""

    #: A total outage crosses the 1 h rule's 14x about 50 s in (relops.slo.detection); a 20 s tick
    #: keeps the page within 90 s of the first error, and costs ~1.8 s of 2 cores per 10,000 flows.
    tick_interval_s: int = Field(
        20, ge=10, le=3600, description="Beat sends `relops.evaluate_tick` this often: every flow is evaluated."
    )
    chunk_size: int = Field(
        100,
        ge=1,
        le=5000,
        description="Flows per `relops.evaluate_flows` task. Each chunk has a fixed cost of three queries, a "
        "commit and a task: 250-500 suit thousands of flows.",
    )
    budget_min_events: int = Field(
        30,
        ge=1,
        le=MAX_COUNT,
        description="Events in the SLO period below which an exhausted error budget is not CRITICAL (one "
        "failed request out of one is not an exhausted budget); 1 follows the design to the letter.",
    )
    windows: tuple[WindowRule, ...] = Field(
        DEFAULT_WINDOWS, strict=False, description="The burn-rate windows and their thresholds."
    )
    minute_retention_margin_s: int = Field(
        7200,
        ge=3600,
        le=MAX_WINDOW_S,
        description="Minute rows are kept this long beyond the longest window (at least the flow pages' longest "
        "minute range), for late data and the window edges.",
    )
    snapshot_retention_days: int = Field(
        30, ge=1, le=3650, description="Burn-rate snapshots and evaluation ticks are kept this many days."
    )

    @field_validator("windows")
    @classmethod
    def _unique_windows(cls, windows: tuple[WindowRule, ...]) -> tuple[WindowRule, ...]:
        if not windows:
            raise ValueError("at least one window is required")
        names = [w.name for w in windows]
        if len(set(names)) != len(names):
            raise ValueError(f"window names must be unique, got {names}")
        return windows

    @property
    def longest_window_s(self) -> int:
        return max(w.window_s for w in self.windows)

    @property
    def minute_retention_s(self) -> int:
        # The flow pages' minute ranges read the minute rows too, so they are kept for the longest
        # of those ranges at least, even where every window is shorter.
        return max(self.longest_window_s, MINUTE_CHART_RANGE_S) + self.minute_retention_margin_s


class FlowConfig(_Strict):
    """A critical user flow with an availability SLO."""

    name: Name = Field(description="The flow's name, as services report it; unique among flows.")
    objective_percent: Percent = Field(description="The availability objective, e.g. 99.9.")
    period_days: int = Field(30, ge=1, le=365, description="The SLO period the error budget is counted over.")
    description: str = Field("", description="What the flow is, for people.")
    runbook: Url = Field("", description="Its alerts' runbook: a path under `runbook_base_url`, or an absolute URL.")
    labels: Labels = Field(
        description='Labels its alerts carry, e.g. `{ team = "payments" }`: what routes, silences and maintenance '
        "windows match on. relops' own label names are reserved."
    )
    exclude_maintenance: bool = Field(
        False,
        description="Leave the minutes of the maintenance windows that match this flow's alerts out of its burn "
        "rates and error budget (planned downtime is not charged to the budget).",
    )
    depends_on: DependsOn = Field(
        description="Dependencies (breaker names) whose open breaker explains this flow's failures: while one is "
        "open or half-open, its alerts are inhibited (recorded, not notified)."
    )
    spans: SpanRules | None = Field(
        None,
        description="Count this flow from the OpenTelemetry spans sent to the intake's `POST /v1/traces`: which "
        "spans count for it and which of them are bad. Unset: the flow takes no spans.",
    )
    prometheus: PrometheusSource | None = Field(
        None,
        description="Take this flow's counts from counters in Prometheus instead of from services "
        '(`{ good = "…", total = "…" }` or `bad` + `total`): relops pulls each closed minute\'s exact increase, '
        "and refuses pushed outcomes for the flow.",
    )

    @model_validator(mode="after")
    def _one_source(self) -> FlowConfig:
        # The intake sends a flow's spans on as pushed outcomes, which a flow counted from Prometheus
        # refuses: with both, every span would be refused, or, were it not, counted twice.
        if self.spans is not None and self.prometheus is not None:
            raise ValueError(
                "takes its counts from Prometheus (prometheus) and from spans ([flows.spans]); each event would "
                "count twice: keep one"
            )
        return self

    @property
    def error_allowance(self) -> Decimal:
        """1 - objective, as an exact fraction of events allowed to fail."""
        return (Decimal(100) - self.objective_percent) / Decimal(100)

    @property
    def period_s(self) -> int:
        return self.period_days * 86400


class ChannelSettings(BaseModel):
    """One alert channel ([alerts.channels.NAME]); keys beyond these are the channel's own options."""

    model_config = ConfigDict(extra="allow", frozen=True, strict=True, allow_inf_nan=False)

    enabled: bool = Field(True, description="false: the channel delivers nothing.")
    severities: tuple[Literal["warning", "critical"], ...] | None = Field(
        None, strict=False, description="Severities routed to this channel; unset: the channel type's default."
    )
    rate_per_s: float | None = Field(
        None,
        gt=0,
        le=1000,
        description="Messages per second to this destination, a token bucket in Redis shared by every worker; "
        "unset: the channel type's default.",
    )
    burst: int = Field(1, ge=1, le=1000, description="Messages the token bucket lets through at once.")
    max_attempts: int = Field(
        6,
        ge=1,
        le=30,
        description="Attempts per message before it becomes a dead letter. Trial calls that fail while the "
        "channel's breaker is open do not count: the receiver is known to be down.",
    )
    max_outage_wait_s: int = Field(
        21600,
        ge=1,
        le=7 * 86400,
        description="How long a message may wait out a known outage (breaker open) before it becomes a dead letter.",
    )
    connect_timeout_s: float = Field(3.0, gt=0, le=60, description="Seconds to wait for a connection.")
    read_timeout_s: float = Field(
        10.0,
        gt=0,
        le=300,
        description="Seconds to wait for an answer: a receiver that hangs holds a worker process this long per "
        "attempt until its breaker opens.",
    )
    silence_notices: bool | None = Field(
        None,
        description="Tell this channel when a silence is created and when it ends (who, why, what it muted); "
        "unset: the channel type's default. A `[receivers.NAME]` hears them only with its own "
        "`silence_notices = true`.",
    )

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class AlertsConfig(_Strict):
    """Routing, dedup and grouping of alert notifications."""

    dedup_window_s: int = Field(
        300,
        ge=1,
        le=86400,
        description="Later events with the same dedup key are suppressed per receiver for this long; a CRITICAL "
        "after a WARNING goes through.",
    )
    group_wait_s: float = Field(
        5.0, ge=0, le=600, description="Alerts for one receiver arriving within this long go out as one message."
    )
    critical_group_wait_s: float = Field(
        0.0,
        ge=0,
        le=600,
        description="The wait when the alert that opens a group is CRITICAL (0: a lone page goes at once). "
        "Alerts that follow it within `group_wait_s` still go out together, and a CRITICAL that arrives while "
        "a group is waiting brings that group's flush forward to this.",
    )
    group_interval_s: float = Field(
        1.0,
        ge=0,
        le=600,
        description="Alerts that keep arriving right after a flush (a storm still coming in) go out after this "
        "shorter wait rather than a whole new group window (Alertmanager's group_interval).",
    )
    # At most 16: a Slack message holds 50 blocks (three per alert, plus its header and count line).
    group_max_full: int = Field(
        5,
        ge=1,
        le=16,
        description="A grouped message shows this many alerts in full, worst first, and counts the rest; fewer "
        "when their text would pass Slack's 12,000-character message limit.",
    )
    retry_base_s: float = Field(
        2.0,
        gt=0,
        le=600,
        description="First retry of a failed send after about this long, doubling (with jitter) up to `retry_max_s`.",
    )
    retry_max_s: float = Field(300.0, gt=0, le=600, description="The longest wait between two attempts.")
    channels: dict[str, ChannelSettings] = Field(default_factory=dict)


class JobConfig(_Strict):
    """A monitored scheduled job: when it should start, and how long it may take."""

    name: Name = Field(description="The job's name, as its runs report it; unique among jobs.")
    #: Bounded: a missed-run alert quotes it, and alert summaries have a length limit.
    schedule: str | None = Field(
        None,
        max_length=500,
        description='When it starts: a cron expression (`"0 9 * * 1"`) evaluated in `timezone`, DST-correct. '
        "Give this or `period_s`.",
    )
    period_s: int | None = Field(None, ge=60, le=366 * 86400, description="Or: it starts every this many seconds.")
    timezone: str = Field("UTC", description="The IANA time zone of `schedule` (e.g. Europe/Riga).")
    grace_s: int = Field(300, ge=0, le=7 * 86400, description="A run may start this late before it counts as missed.")
    max_runtime_s: int = Field(
        3600, ge=1, le=7 * 86400, description="A started run with no end after this long is overrunning (WARNING)."
    )
    failure_threshold: int = Field(1, ge=1, le=100, description="Consecutive failed runs that raise a CRITICAL alert.")
    description: str = Field("", description="What the job does, for people.")
    runbook: Url = Field("", description="Its alerts' runbook: a path under `runbook_base_url`, or an absolute URL.")
    labels: Labels = Field(description="Labels its alerts carry, as for a flow.")
    depends_on: DependsOn = Field(
        description="Dependencies (breaker names) whose open breaker explains this job's failures, as for a flow."
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        # OSError: the key is looked up as a file path ("America" is a directory, a 300-character
        # name is too long for the file system).
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise ValueError(f"unknown time zone {quoted(value)} (use an IANA name like Europe/Riga)") from None
        return value

    @model_validator(mode="after")
    def _one_schedule(self) -> JobConfig:
        if (self.schedule is None) == (self.period_s is None):
            raise ValueError("give exactly one of schedule (a cron expression) or period_s")
        if self.schedule is not None:
            _check_cron_expression(self.schedule, self.timezone)
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def _check_cron_expression(schedule: str, timezone: str) -> None:
    try:
        CronSim(schedule, datetime.now(ZoneInfo(timezone)))
    except CronSimError as exc:
        raise ValueError(f"schedule {quoted(schedule)} is not a cron expression: {exc}") from None


class CronConfig(_Strict):
    """How cron health is checked."""

    check_interval_s: int = Field(
        30, ge=5, le=3600, description="Beat sends `relops.check_cron_health` (deadlines, overruns) this often."
    )
    lag_backlog: int = Field(
        100,
        ge=1,
        le=MAX_COUNT,
        description="More `cron`-queue messages than this waiting means relops itself is behind: a late job is "
        "then reported as unknown (relops lagging), not missed.",
    )
    result_max_bytes: int = Field(
        16384, ge=256, le=1_048_576, description="A cron-run result larger than this (JSON bytes) is rejected."
    )


class IntakeConfig(_Strict):
    """The HTTP intake's limits."""

    max_outcome_body_bytes: int = Field(
        1_048_576,
        ge=1024,
        le=16 * 1_048_576,
        description="A `POST /api/v1/outcomes` body above this is refused with 413 (5,000 counts fit in about 400 KB).",
    )
    max_ping_body_bytes: int = Field(
        65_536,
        ge=256,
        le=1_048_576,
        description="A cron ping's body (its result or error text) above this is refused with 413.",
    )
    open_run_ttl_s: int = Field(
        7 * 86400,
        ge=60,
        le=31 * 86400,
        description="A start without a run id waits this long for the end that pairs with it.",
    )
    refusal_rate_per_s: float = Field(
        10.0,
        gt=0,
        le=100_000,
        description="Refusals one client address may cause per second (400-415, 422; its own token bucket, per "
        "intake process): past them the address's refusals are answered 429, without the detail. Accepted "
        "requests never use these tokens, so a service behind a shared proxy address keeps working.",
    )
    refusal_burst: int = Field(
        100,
        ge=1,
        le=1_000_000,
        description="The refusals an address may cause at once before `refusal_rate_per_s` applies.",
    )
    max_queued_reports: int = Field(
        5000,
        ge=10,
        le=1_000_000,
        description="Checked reports waiting for Redis and the broker at most; past it a report is answered 503 "
        "at once (a stalled broker must not grow the intake's memory without bound).",
    )
    max_otlp_body_bytes: int = Field(
        8 * 1_048_576,
        ge=65_536,
        le=64 * 1_048_576,
        description="A `POST /v1/traces` body above this, before or after it is decompressed, is refused with 413 "
        "(OTLP's largest recommended limit is 64 MiB; an SDK's batch of 512 spans is a few hundred KB).",
    )
    max_alertmanager_body_bytes: int = Field(
        4 * 1_048_576,
        ge=1024,
        le=32 * 1_048_576,
        description="A `POST /api/v1/alertmanager` body (one Alertmanager webhook notification: the alerts of one "
        "group, about 1 KB each) above this is refused with 413. Alertmanager does not retry a 4xx: keep a "
        "receiver's `max_alerts` under what fits.",
    )
    alertmanager_severity_label: str = Field(
        "severity",
        description="The label of an Alertmanager alert whose value gives its relops severity "
        "(`alertmanager_critical`, `alertmanager_warning`).",
    )
    alertmanager_critical: list[str] = Field(
        ["critical"],
        description="Values of `alertmanager_severity_label` (any case) that make an Alertmanager alert critical.",
    )
    alertmanager_warning: list[str] = Field(
        ["warning"],
        description="Values (any case) that make it a warning. Any other value, or no such label, is taken as a "
        "warning too, and its incident says so (its summary and `details.alertmanager.severity`).",
    )

    alertmanager_labels: list[str] = Field(
        ["alertname"],
        description="Labels of Alertmanager's alerts that routes, silences and maintenance windows may match on, "
        "beside relops' own and those this config declares (a matcher on a label no alert can carry is refused, "
        "as a typo): for example `team`, `namespace`, `instance`.",
    )

    @field_validator("alertmanager_severity_label")
    @classmethod
    def _severity_label_name(cls, value: str) -> str:
        problem = label_problem(value, "x")
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("alertmanager_labels")
    @classmethod
    def _label_names(cls, values: list[str]) -> list[str]:
        if len(values) > MAX_LABELS:
            raise ValueError(f"lists {len(values)} labels, more than {MAX_LABELS}")
        for value in values:
            problem = label_problem(value, "x")
            if problem:
                raise ValueError(problem)
        return values

    @field_validator("alertmanager_critical", "alertmanager_warning")
    @classmethod
    def _severity_values(cls, values: list[str]) -> list[str]:
        if len(values) > 20:
            raise ValueError(f"lists {len(values)} values, more than 20")
        for value in values:
            problem = label_problem("severity", value)
            if problem:
                raise ValueError(problem.replace("label 'severity' must have", "each value must be"))
        return values

    @model_validator(mode="after")
    def _severities_apart(self) -> IntakeConfig:
        both = {v.lower() for v in self.alertmanager_critical} & {v.lower() for v in self.alertmanager_warning}
        if both:
            raise ValueError(f"alertmanager_critical and alertmanager_warning both list {sorted(both)[0]!r}")
        return self


class MetricsConfig(_Strict):
    """What the dashboard's `GET /metrics` exposes to Prometheus ([metrics])."""

    sloth_compatible: bool = Field(
        False,
        description="Also expose, for every flow, the series Sloth's recording rules make "
        "(`slo:sli_error:ratio_rate<window>`, `slo:objective:ratio`, `slo:error_budget:ratio`, "
        "`slo:time_period:days`, `slo:current_burn_rate:ratio`, `slo:period_burn_rate:ratio`, "
        "`slo:period_error_budget_remaining:ratio`, `sloth_slo_info`), with Sloth's labels, so dashboards "
        "made for Sloth read relops' flows. About 8 series per flow more, plus one per window.",
    )
    sloth_service: Name = Field(
        "relops",
        description="The `sloth_service` of a flow that has no `service` label (a flow's `service` label wins); "
        "its `sloth_id` is `<sloth_service>-<flow>`, as Sloth names an SLO.",
    )


def _breaker_keys() -> dict[str, Any]:
    """[breakers.NAME]'s settings: the client's BreakerSettings fields with their types, defaults and bounds."""
    return {
        setting.name: (
            SETTING_TYPES[setting.name],
            Field(
                setting.default,
                description=setting.metadata["description"],
                **setting.metadata["bounds"].limits(),
            ),
        )
        for setting in dataclasses.fields(ClientBreakerSettings)
    }


#: One dependency's circuit breaker ([breakers.NAME]): the client's breaker settings
#: (relops_client.breaker_settings.BreakerSettings declares each key, its default and its bounds) and the
#: labels its alerts carry.
BreakerSettings = create_model(
    "BreakerSettings",
    __base__=_Strict,
    __module__=__name__,
    __doc__="One dependency's circuit breaker ([breakers.NAME]).",
    **_breaker_keys(),
    labels=(Labels, Field(description="Labels the breaker's alerts carry, as for a flow.")),
)


class SilencesConfig(_Strict):
    """Limits on operators' silences ([silences])."""

    max_duration_s: int = Field(
        7 * 86400,
        ge=60,
        le=90 * 86400,
        description="No silence may last longer: a forgotten one must not hide real pages for long.",
    )
    max_silences: int = Field(
        1000,
        ge=1,
        le=100_000,
        description="Silences active or pending at once, at most (Alertmanager: `--silences.max-silences`). Every "
        "firing alert is checked against the active ones, so a flood of them must not slow routing.",
    )
    max_matchers: int = Field(
        20,
        ge=1,
        le=100,
        description="Matchers of one silence, at most (in the spirit of Alertmanager's "
        "`--silences.max-silence-size-bytes`: a matcher is at most 400 characters).",
    )


class MaintenanceConfig(_Strict):
    """A recurring maintenance window ([[maintenance]]): alerts matching it are silenced while it
    lasts, and flows with exclude_maintenance leave its minutes out of their error budget."""

    name: Name = Field(description="The window's name; unique among maintenance windows.")
    schedule: str = Field(
        max_length=500,
        description="When each window starts: a cron expression evaluated in `timezone` (DST-correct).",
    )
    duration_s: int = Field(ge=60, le=7 * 86400, description="How long each window lasts.")
    timezone: str = Field("UTC", description="The IANA time zone of `schedule`.")
    matchers: tuple[str, ...] = Field(
        min_length=1,
        max_length=20,
        strict=False,
        description='Label matchers, e.g. `["flow=checkout", "team=payments"]`: an alert must satisfy all of them.',
    )
    description: str = Field("", description="What the window is for, for people.")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return JobConfig._known_zone(value)

    @field_validator("matchers")
    @classmethod
    def _matchers(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for text in value:
            try:
                parse_matcher(text)
            except InputRejected as exc:
                raise ValueError(exc.reason) from None
        return value

    @model_validator(mode="after")
    def _schedule(self) -> MaintenanceConfig:
        _check_cron_expression(self.schedule, self.timezone)
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def parsed_matchers(self) -> tuple[Matcher, ...]:
        return tuple(parse_matcher(text) for text in self.matchers)


#: Breakers every deployment has; the config file may tune them and add others.


class RelopsConfig(_Strict):
    """The whole config file."""

    runbook_base_url: Url = Field("", description="The prefix of relative runbook paths in alerts.")
    dashboard_url: Url = Field("", description="The dashboard's address, linked from alert messages.")
    evaluation: EvaluationConfig = EvaluationConfig()
    alerts: AlertsConfig = AlertsConfig()
    cron: CronConfig = CronConfig()
    intake: IntakeConfig = IntakeConfig()
    metrics: MetricsConfig = MetricsConfig()
    sources: SourcesConfig = SourcesConfig()
    breakers: dict[Name, BreakerSettings] = Field(default_factory=dict)
    flows: tuple[FlowConfig, ...] = Field((), strict=False)
    jobs: tuple[JobConfig, ...] = Field((), strict=False)
    silences: SilencesConfig = SilencesConfig()
    maintenance: tuple[MaintenanceConfig, ...] = Field((), strict=False)
    #: Named destinations beyond the default ones (one per channel type, named after it).
    receivers: dict[ReceiverName, ReceiverConfig] = Field(default_factory=dict)
    #: The route tree's root: every alert; unset, it sends each alert to the default receivers.
    route: RouteConfig = RouteConfig()

    @model_validator(mode="after")
    def _dependencies_known(self) -> RelopsConfig:
        known = self.breaker_settings()
        for kind, items in (("flow", self.flows), ("job", self.jobs)):
            for item in items:
                unknown = [d for d in item.depends_on if d not in known]
                if unknown:
                    raise ValueError(
                        f"{kind} {quoted(item.name)} field 'depends_on': {quoted(unknown[0])} is not a dependency "
                        f"([breakers.NAME]); known: {', '.join(sorted(known))}"
                    )
        return self

    @model_validator(mode="after")
    def _root_route_matches_everything(self) -> RelopsConfig:
        if self.route.matchers:
            raise ValueError("route: the root route matches every alert: put matchers on its routes")
        if self.route.continue_:
            raise ValueError("route: 'continue' means nothing on the root route")
        return self

    @model_validator(mode="after")
    def _route_labels_known(self) -> RelopsConfig:
        known = self.label_names()
        pending = [("route", self.route)]
        while pending:
            where, route = pending.pop()
            for matcher in route.parsed_matchers:
                if matcher.name not in known:
                    raise ValueError(
                        f"{where}{f' {quoted(route.name)}' if route.name else ''}: label {matcher.name!r} is not "
                        f"one relops sets or this config declares ({', '.join(sorted(known))})"
                    )
            pending += [(f"{where}.routes[{i}]", child) for i, child in enumerate(route.routes)]
        return self

    @model_validator(mode="after")
    def _receiver_settings_valid(self) -> RelopsConfig:
        for name in self.receivers:
            try:
                self.receiver_settings(name)
            except ValidationError as exc:
                first = exc.errors()[0]
                field = ".".join(map(str, first["loc"])) or "settings"
                raise ValueError(f"receiver {quoted(name)} field {quoted(field)}: {first['msg']}") from None
        return self

    def receiver_settings(self, name: str) -> ChannelSettings:
        """A configured receiver's delivery settings: its own keys over its type's [alerts.channels.TYPE]."""
        receiver = self.receivers[name]
        base = self.alerts.channels.get(receiver.type, ChannelSettings())
        return ChannelSettings.model_validate({**base.model_dump(exclude_unset=True), **receiver.overrides})

    @model_validator(mode="after")
    def _maintenance_labels_known(self) -> RelopsConfig:
        known = self.label_names()
        for window in self.maintenance:
            for matcher in window.parsed_matchers:
                if matcher.name not in known:
                    raise ValueError(
                        f"maintenance {quoted(window.name)}: label {matcher.name!r} is not one relops sets or "
                        f"this config declares ({', '.join(sorted(known))})"
                    )
        return self

    def label_names(self) -> set[str]:
        """Every label an alert of this installation can carry: relops' own, the config's, and those
        its Alertmanager's alerts are declared to carry."""
        declared = [item.labels for item in (*self.flows, *self.jobs, *self.breakers.values())]
        return {*RESERVED, *(name for labels in declared for name in labels), *self.intake.alertmanager_labels}

    @model_validator(mode="after")
    def _names_unique(self) -> RelopsConfig:
        for kind, items in (("flow", self.flows), ("job", self.jobs), ("maintenance window", self.maintenance)):
            names = [item.name for item in items]
            duplicates = sorted({n for n in names if names.count(n) > 1})
            if duplicates:
                raise ValueError(f"{kind} name {quoted(duplicates[0])} appears more than once")
        return self

    @model_validator(mode="after")
    def _runbook_urls_fit(self) -> RelopsConfig:
        for kind, items in (("flow", self.flows), ("job", self.jobs)):
            for item in items:
                length = len(self.runbook_url(item))
                if length > MAX_URL_CHARS:
                    raise ValueError(
                        f"{kind} {quoted(item.name)}: runbook URL (runbook_base_url + runbook) is {length} "
                        f"characters, more than {MAX_URL_CHARS}; its alerts would be refused"
                    )
        return self

    def breaker_settings(self) -> dict[str, BreakerSettings]:
        """Every known dependency: the defaults and each receiver's, tuned or extended by the config file."""
        receivers = {spec.breaker or name: BreakerSettings() for name, spec in self.receivers.items()}
        return {**{name: BreakerSettings() for name in DEFAULT_BREAKERS}, **receivers, **self.breakers}

    # Cached per tuple of items: the alert router asks for every alert, and a config holds thousands
    # of flows. Keyed by the tuple itself, so a model_copy with other flows gets its own map.
    @property
    def jobs_by_name(self) -> dict[str, JobConfig]:
        return _by_name(self.jobs)

    @property
    def flows_by_name(self) -> dict[str, FlowConfig]:
        return _by_name(self.flows)

    @property
    def pushed_flows_by_name(self) -> dict[str, FlowConfig]:
        """The flows whose counts services push: every flow without a source."""
        return _by_name(self._pushed_and_refused[0])

    @property
    def sourced_flow_refusals(self) -> dict[str, str]:
        """Why a pushed outcome for each flow with a source is refused (callers must not change it)."""
        return self._pushed_and_refused[1]

    @property
    def _pushed_and_refused(self) -> tuple[tuple[FlowConfig, ...], dict[str, str]]:
        # Built once per tuple of flows: every outcome batch asks.
        found = _PUSHED.get(id(self.flows))
        if found is None or found[0] is not self.flows:
            if len(_PUSHED) > 64:
                _PUSHED.clear()
            pushed = tuple(f for f in self.flows if f.prometheus is None)
            refused = {f.name: SOURCED_FLOW_REFUSAL for f in self.flows if f.prometheus is not None}
            found = _PUSHED[id(self.flows)] = (self.flows, (pushed, refused))
        return found[1]

    def runbook_url(self, item: FlowConfig | JobConfig) -> str:
        if not item.runbook or "://" in item.runbook or not self.runbook_base_url:
            return item.runbook
        return self.runbook_base_url.rstrip("/") + "/" + item.runbook.lstrip("/")


_BY_NAME: dict[int, tuple[tuple[Any, ...], dict[str, Any]]] = {}
_PUSHED: dict[int, tuple[tuple[Any, ...], tuple[tuple[Any, ...], dict[str, str]]]] = {}
#: The rejection of an outcome pushed for a flow that takes its counts from a source.
SOURCED_FLOW_REFUSAL = (
    "takes its counts from Prometheus ([[flows]] prometheus): pushed outcomes would count its events twice, "
    "so relops refuses them"
)


def _by_name(items: tuple[Any, ...]) -> dict[str, Any]:
    """{item.name: item}, built once per tuple (callers must not change it)."""
    found = _BY_NAME.get(id(items))
    if found is None or found[0] is not items:
        if len(_BY_NAME) > 64:  # configs replaced in tests; a process normally has one or two
            _BY_NAME.clear()
        found = _BY_NAME[id(items)] = (items, {item.name: item for item in items})
    return found[1]


def unreachable_thresholds(flow: FlowConfig, windows: tuple[WindowRule, ...]) -> list[str]:
    """Thresholds the flow can never exceed: the burn rate tops out at 1 / (1 - objective)."""
    max_burn = Decimal(1) / flow.error_allowance
    problems = []
    for rule in windows:
        for level, threshold in (("warning_burn", rule.warning_burn), ("critical_burn", rule.critical_burn)):
            if threshold >= max_burn:
                problems.append(
                    f"window {rule.name!r} {level}={threshold} can never fire: with objective "
                    f"{flow.objective_percent}% the burn rate cannot exceed {float(max_burn):g}x "
                    "(every event failing); raise the objective or lower the threshold"
                )
    return problems
