"""The relops config file (TOML): critical flows and the burn-rate evaluation rules.

Loaded and validated once at start. Every error names the file, the item and the field, so a bad
deployment fails before the first tick instead of evaluating with half a config.
"""

from __future__ import annotations

import re
import tomllib
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from relops.errors import ConfigError

#: Printable text without control characters: names reach logs, Slack and HTML, which escape them,
#: but a newline in a name would still forge log lines.
_NAME_PATTERN = re.compile(r"^[^\x00-\x1f\x7f]{1,200}$")

Percent = Annotated[Decimal, Field(gt=0, lt=100)]


def _printable_name(value: str) -> str:
    if not _NAME_PATTERN.match(value):
        raise ValueError("must be 1-200 printable characters (no control characters)")
    return value


#: A flow's or job's name.
Name = Annotated[str, AfterValidator(_printable_name)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WindowRule(_Strict):
    """One burn-rate window and its thresholds (the design's multi-window rules)."""

    name: str = Field(min_length=1, max_length=20)
    window_s: int = Field(gt=0)
    #: Fewer events than this in the window: "insufficient data", never a breach.
    min_events: int = Field(ge=1)
    warning_burn: Decimal = Field(gt=0)
    critical_burn: Decimal = Field(gt=0)
    #: Optional short confirmation window (SRE Workbook: window/12): a rule fires only while both
    #: the long and the short window burn above its threshold, so alerts clear soon after recovery.
    confirm_window_s: int | None = Field(None, gt=0)
    #: Optional floor on bad events for low-traffic flows: fewer bad events never breach.
    min_bad_events: int = Field(0, ge=0)

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

    tick_interval_s: int = Field(300, ge=10, le=3600)
    #: Flows per evaluate_flows task: one batched query per chunk (see README, "Evaluation").
    chunk_size: int = Field(100, ge=1, le=5000)
    #: Period events below which an exhausted budget is not called CRITICAL (sparse data).
    budget_min_events: int = Field(30, ge=1)
    windows: tuple[WindowRule, ...] = DEFAULT_WINDOWS
    #: Minute rows are kept this long beyond the longest window, for late data and the window edges.
    minute_retention_margin_s: int = Field(7200, ge=3600)
    snapshot_retention_days: int = Field(30, ge=1, le=3650)

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
        return self.longest_window_s + self.minute_retention_margin_s


class FlowConfig(_Strict):
    """A critical user flow with an availability SLO."""

    name: Name
    objective_percent: Percent
    period_days: int = Field(30, ge=1, le=365)
    description: str = ""
    #: Path under the runbook base URL, or an absolute URL.
    runbook: str = ""

    @property
    def error_allowance(self) -> Decimal:
        """1 - objective, as an exact fraction of events allowed to fail."""
        return (Decimal(100) - self.objective_percent) / Decimal(100)

    @property
    def period_s(self) -> int:
        return self.period_days * 86400


class ChannelSettings(BaseModel):
    """One alert channel ([alerts.channels.NAME]); keys beyond these are the channel's own options."""

    model_config = ConfigDict(extra="allow", frozen=True)

    enabled: bool = True
    #: Severities routed to this channel; unset: the channel's default (webhook: warning and
    #: critical, email: critical).
    severities: tuple[Literal["warning", "critical"], ...] | None = None
    #: Messages per second to this destination, shared by every worker; unset: the channel's default.
    rate_per_s: float | None = Field(None, gt=0, le=1000)
    burst: int = Field(1, ge=1, le=1000)
    #: Attempts per message before it becomes a dead letter.
    max_attempts: int = Field(6, ge=1, le=30)
    connect_timeout_s: float = Field(3.0, gt=0, le=60)
    read_timeout_s: float = Field(10.0, gt=0, le=300)

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class AlertsConfig(_Strict):
    """Routing, dedup and grouping of alert notifications."""

    #: Later events with the same dedup key are suppressed per channel for this long.
    dedup_window_s: int = Field(300, ge=1, le=86400)
    #: Alerts for one channel arriving within this long go out as one message.
    group_wait_s: float = Field(5.0, ge=0, le=600)
    #: Alerts that keep arriving right after a flush (a storm still coming in) go out after this
    #: shorter wait rather than a whole new group window (Alertmanager's group_interval).
    group_interval_s: float = Field(1.0, ge=0, le=600)
    #: A grouped message shows this many alerts in full, worst first, and counts the rest.
    group_max_full: int = Field(5, ge=1, le=50)
    #: First retry of a failed send after about this long, doubling (with jitter) up to retry_max_s.
    retry_base_s: float = Field(2.0, gt=0, le=600)
    retry_max_s: float = Field(300.0, gt=0, le=600)
    channels: dict[str, ChannelSettings] = Field(default_factory=dict)


class JobConfig(_Strict):
    """A monitored scheduled job: when it should start, and how long it may take."""

    name: Name
    #: A cron expression ("0 9 * * 1"), evaluated in ``timezone``; or give period_s instead.
    schedule: str | None = None
    period_s: int | None = Field(None, ge=60, le=366 * 86400)
    timezone: str = "UTC"
    #: A run may start this late before it counts as missed.
    grace_s: int = Field(300, ge=0, le=7 * 86400)
    #: A started run with no end after this long is overrunning.
    max_runtime_s: int = Field(3600, ge=1, le=7 * 86400)
    #: Consecutive failed runs that raise a CRITICAL alert.
    failure_threshold: int = Field(1, ge=1, le=100)
    description: str = ""
    runbook: str = ""

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name like Europe/Riga)") from None
        return value

    @model_validator(mode="after")
    def _one_schedule(self) -> JobConfig:
        if (self.schedule is None) == (self.period_s is None):
            raise ValueError("give exactly one of schedule (a cron expression) or period_s")
        if self.schedule is not None:
            try:
                CronSim(self.schedule, datetime.now(ZoneInfo(self.timezone)))
            except CronSimError as exc:
                raise ValueError(f"schedule {self.schedule!r} is not a cron expression: {exc}") from None
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class CronConfig(_Strict):
    """How cron health is checked."""

    #: Beat sends relops.check_cron_health this often.
    check_interval_s: int = Field(30, ge=5, le=3600)
    #: More cron-queue messages than this waiting means relops itself is behind.
    lag_backlog: int = Field(100, ge=1)
    #: A cron-run result larger than this (JSON bytes) is rejected.
    result_max_bytes: int = Field(16384, ge=256, le=1_048_576)


class BreakerSettings(_Strict):
    """One dependency's circuit breaker ([breakers.NAME])."""

    #: Consecutive failures that open the breaker (used unless failure_rate is set).
    failure_threshold: int = Field(5, ge=1, le=10_000)
    #: Failure rate over window_s that opens it once min_calls calls were seen, e.g. 0.5.
    failure_rate: float | None = Field(None, gt=0, le=1)
    window_s: float = Field(60, gt=0, le=3600)
    min_calls: int = Field(20, ge=1)
    #: A call slower than this counts as a failure even when it succeeded.
    latency_threshold_ms: float | None = Field(None, gt=0)
    #: How long OPEN fails fast before trial calls are let through.
    open_s: float = Field(30, gt=0, le=86400)
    #: Trial calls HALF_OPEN admits across every process together; that many successes close it.
    half_open_probes: int = Field(1, ge=1, le=1000)
    #: A trial call that never reports back frees its permit after this long.
    probe_lease_s: float = Field(30, gt=0, le=3600)
    #: How long a process trusts its last view of the shared state before asking Redis again: the
    #: cost per call in CLOSED is one Redis round trip per this interval, and a process may keep
    #: calling for up to this long after another process opened the breaker.
    refresh_s: float = Field(1.0, ge=0, le=60)


#: Breakers every deployment has; the config file may tune them and add others.
DEFAULT_BREAKERS = ("postgres", "google_calendar", "resend_email", "webhook")


class RelopsConfig(_Strict):
    """The whole config file."""

    #: Base for relative runbook paths and dashboard links in alerts.
    runbook_base_url: str = ""
    dashboard_url: str = ""
    evaluation: EvaluationConfig = EvaluationConfig()
    alerts: AlertsConfig = AlertsConfig()
    cron: CronConfig = CronConfig()
    breakers: dict[str, BreakerSettings] = Field(default_factory=dict)
    flows: tuple[FlowConfig, ...] = ()
    jobs: tuple[JobConfig, ...] = ()

    @model_validator(mode="after")
    def _names_unique(self) -> RelopsConfig:
        for kind, items in (("flow", self.flows), ("job", self.jobs)):
            names = [item.name for item in items]
            duplicates = sorted({n for n in names if names.count(n) > 1})
            if duplicates:
                raise ValueError(f"{kind} name {duplicates[0]!r} appears more than once")
        return self

    def breaker_settings(self) -> dict[str, BreakerSettings]:
        """Every known dependency: the defaults, tuned or extended by the config file."""
        return {**{name: BreakerSettings() for name in DEFAULT_BREAKERS}, **self.breakers}

    @property
    def jobs_by_name(self) -> dict[str, JobConfig]:
        return {j.name: j for j in self.jobs}

    def flow(self, name: str) -> FlowConfig | None:
        return self.flows_by_name.get(name)

    @property
    def flows_by_name(self) -> dict[str, FlowConfig]:
        return {f.name: f for f in self.flows}

    def runbook_url(self, item: FlowConfig | JobConfig) -> str:
        if not item.runbook or "://" in item.runbook or not self.runbook_base_url:
            return item.runbook
        return self.runbook_base_url.rstrip("/") + "/" + item.runbook.lstrip("/")


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


def _describe_location(data: dict[str, Any], loc: tuple[int | str, ...]) -> str:
    """Turn a pydantic error location into words: flow 'checkout', field 'objective_percent'."""
    if len(loc) >= 2 and loc[0] == "flows" and isinstance(loc[1], int):
        flows = data.get("flows") or []
        raw = flows[loc[1]] if loc[1] < len(flows) and isinstance(flows[loc[1]], dict) else {}
        label = f"flow {raw.get('name')!r}" if raw.get("name") else f"flows[{loc[1]}]"
        rest = loc[2:]
        return f"{label} field {'.'.join(map(str, rest))!r}" if rest else label
    if len(loc) >= 2 and loc[0] == "jobs" and isinstance(loc[1], int):
        jobs = data.get("jobs") or []
        raw = jobs[loc[1]] if loc[1] < len(jobs) and isinstance(jobs[loc[1]], dict) else {}
        label = f"job {raw.get('name')!r}" if raw.get("name") else f"jobs[{loc[1]}]"
        rest = loc[2:]
        return f"{label} field {'.'.join(map(str, rest))!r}" if rest else label
    if len(loc) >= 3 and loc[:2] == ("evaluation", "windows") and isinstance(loc[2], int):
        windows = (data.get("evaluation") or {}).get("windows") or []
        raw = windows[loc[2]] if loc[2] < len(windows) and isinstance(windows[loc[2]], dict) else {}
        label = f"window {raw.get('name')!r}" if raw.get("name") else f"evaluation.windows[{loc[2]}]"
        rest = loc[3:]
        return f"{label} field {'.'.join(map(str, rest))!r}" if rest else label
    return f"field {'.'.join(map(str, loc))!r}" if loc else "top level"


def parse_config(data: dict[str, Any], source: str) -> RelopsConfig:
    """Validate already-parsed TOML data; errors name the source, the item and the field."""
    try:
        config = RelopsConfig.model_validate(data)
    except ValidationError as exc:
        lines = [f"{source}: {_describe_location(data, err['loc'])}: {err['msg']}" for err in exc.errors()]
        raise ConfigError("invalid config:\n  " + "\n  ".join(lines)) from None
    problems = [
        f"{source}: flow {flow.name!r} field 'objective_percent': {problem}"
        for flow in config.flows
        for problem in unreachable_thresholds(flow, config.evaluation.windows)
    ]
    if problems:
        raise ConfigError("invalid config:\n  " + "\n  ".join(problems))
    from relops.channels.registry import check_channel_config  # the registry imports this module

    check_channel_config(config.alerts, source)
    return config


def load_config(path: Path) -> RelopsConfig:
    """Read and validate the config file at ``path``."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found (set RELOPS_CONFIG to its path)") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc.strerror}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return parse_config(data, str(path))
