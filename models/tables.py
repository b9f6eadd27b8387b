"""Table definitions. Alembic migrations under models/migrations create them; keep both in step."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    Text,
    UniqueConstraint,
    false,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class FlowMinute(Base):
    """Good/bad counters per flow and minute; kept for the longest window plus a margin."""

    __tablename__ = "ops_flow_minutes"

    flow: Mapped[str] = mapped_column(Text, primary_key=True)
    minute: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    good: Mapped[int] = mapped_column(BigInteger, nullable=False)
    bad: Mapped[int] = mapped_column(BigInteger, nullable=False)

    __table_args__ = (Index("ix_ops_flow_minutes_minute", "minute"),)


class FlowHour(Base):
    """The same counters per hour, written with the minutes; kept for the longest SLO period."""

    __tablename__ = "ops_flow_hours"

    flow: Mapped[str] = mapped_column(Text, primary_key=True)
    hour: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    good: Mapped[int] = mapped_column(BigInteger, nullable=False)
    bad: Mapped[int] = mapped_column(BigInteger, nullable=False)

    __table_args__ = (Index("ix_ops_flow_hours_hour", "hour"),)


class FlowDay(Base):
    """The same counters per UTC day, written with the hours: an SLO period's sum reads about 30 day
    rows and the hours at its edges instead of 720 hour rows."""

    __tablename__ = "ops_flow_days"

    flow: Mapped[str] = mapped_column(Text, primary_key=True)
    day: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    good: Mapped[int] = mapped_column(BigInteger, nullable=False)
    bad: Mapped[int] = mapped_column(BigInteger, nullable=False)

    __table_args__ = (Index("ix_ops_flow_days_day", "day"),)


class IngestedBatch(Base):
    """Batch ids already counted: a redelivered batch finds its id here and changes nothing."""

    __tablename__ = "ops_ingested_batches"

    batch_id: Mapped[str] = mapped_column(Text, primary_key=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    accepted: Mapped[int] = mapped_column(Integer, nullable=False)
    rejected: Mapped[int] = mapped_column(Integer, nullable=False)

    __table_args__ = (Index("ix_ops_ingested_batches_received_at", "received_at"),)


class RejectedInput(Base):
    """Every rejected payload or item, with the field and the reason, so none is silent."""

    __tablename__ = "ops_rejected_inputs"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    task: Mapped[str] = mapped_column(Text, nullable=False)
    #: The batch id, alert dedup key or task id the rejected input came with.
    reference: Mapped[str | None] = mapped_column(Text)
    item_index: Mapped[int | None] = mapped_column(Integer)
    field: Mapped[str] = mapped_column(Text, nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    #: The offending input, truncated.
    excerpt: Mapped[str] = mapped_column(Text, nullable=False)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())

    __table_args__ = (Index("ix_ops_rejected_inputs_received_at", "received_at"),)


class EvaluationTick(Base):
    """One row per tick slot: a second tick for the same slot (two beats) is skipped."""

    __tablename__ = "ops_evaluation_ticks"

    slot: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    as_of: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    flows: Mapped[int] = mapped_column(Integer, nullable=False)
    chunks: Mapped[int] = mapped_column(Integer, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())


class BurnRateSnapshot(Base):
    """One evaluation of one flow, for trends and the dashboard."""

    __tablename__ = "ops_burn_rate_snapshots"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    flow: Mapped[str] = mapped_column(Text, nullable=False)
    evaluated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    severity: Mapped[str] = mapped_column(Text, nullable=False)
    objective_percent: Mapped[Decimal] = mapped_column(Numeric, nullable=False)
    budget_remaining: Mapped[Decimal | None] = mapped_column(Numeric)
    time_to_exhaustion_s: Mapped[int | None] = mapped_column(BigInteger)
    period_events: Mapped[int] = mapped_column(BigInteger, nullable=False)
    period_errors: Mapped[int] = mapped_column(BigInteger, nullable=False)
    #: Non-empty windows: [{window, window_s, events, errors, burn_rate, status}]
    windows: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, nullable=False)
    #: Events of the period that corrections (maintenance windows, one-off corrections) left out.
    excluded_events: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    excluded_errors: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    #: The budget as it would be without the corrections.
    budget_remaining_uncorrected: Mapped[Decimal | None] = mapped_column(Numeric)

    __table_args__ = (
        UniqueConstraint("flow", "evaluated_at", name="uq_ops_burn_rate_snapshots_flow_evaluated_at"),
        Index("ix_ops_burn_rate_snapshots_evaluated_at", "evaluated_at"),
    )


class AlertEvent(Base):
    """Every alert event the alert queue consumed, as received."""

    __tablename__ = "ops_alert_events"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    dedup_key: Mapped[str] = mapped_column(Text, nullable=False)
    fingerprint: Mapped[str] = mapped_column(Text, nullable=False)
    severity: Mapped[str] = mapped_column(Text, nullable=False)
    source: Mapped[str] = mapped_column(Text, nullable=False)
    title: Mapped[str] = mapped_column(Text, nullable=False)
    summary: Mapped[str] = mapped_column(Text, nullable=False)
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    runbook_url: Mapped[str] = mapped_column(Text, nullable=False)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    #: firing or resolved
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default="firing")
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    labels: Mapped[dict[str, str]] = mapped_column(JSONB, nullable=False, server_default="{}")
    #: "silence:<id>" or "maintenance:<name>" when a silence muted this event.
    silenced_by: Mapped[str | None] = mapped_column(Text)
    #: The dependency whose open breaker inhibited it ("dependency:<name>").
    inhibited_by: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_ops_alert_events_fingerprint", "fingerprint"),
        Index("ix_ops_alert_events_received_at", "received_at"),
    )


class Incident(Base):
    """One row per fingerprint: opened by its first alert, resolved when the condition clears,
    reopened by a later alert. Database-level uniqueness keeps concurrent workers to one row."""

    __tablename__ = "ops_incidents"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    fingerprint: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    #: open, acknowledged or resolved
    status: Mapped[str] = mapped_column(Text, nullable=False)
    severity: Mapped[str] = mapped_column(Text, nullable=False)
    source: Mapped[str] = mapped_column(Text, nullable=False)
    title: Mapped[str] = mapped_column(Text, nullable=False)
    runbook_url: Mapped[str] = mapped_column(Text, nullable=False, server_default="")
    first_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    #: Start of the current episode (first_seen, or the last reopening).
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    occurrences: Mapped[int] = mapped_column(BigInteger, nullable=False)
    last_event: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    #: The receivers notified during the current episode: receiver -> {at, severity, via}. They get
    #: the "resolved" message; a repeat counts from ``at``.
    notified: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, server_default="{}")
    #: The route(s) its latest alert landed on ("route.routes[0] 'payments'").
    route: Mapped[str | None] = mapped_column(Text)
    #: Escalation steps taken in the current (or, once resolved, the last) episode: [{step, to, after_s, at}].
    escalations: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, nullable=False, server_default="[]")
    #: The labels of its latest event.
    labels: Mapped[dict[str, str]] = mapped_column(JSONB, nullable=False, server_default="{}")
    #: "silence:<id>" or "maintenance:<name>" while a silence mutes it; cleared when it ends.
    silenced_by: Mapped[str | None] = mapped_column(Text)
    #: "dependency:<name>" while an open breaker of a dependency it depends on explains it.
    inhibited_by: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint("status IN ('open', 'acknowledged', 'resolved')", name="ck_ops_incidents_status"),
        Index("ix_ops_incidents_status", "status"),
        Index("ix_ops_incidents_severity", "severity"),
        Index("ix_ops_incidents_silenced_by", "silenced_by"),
        Index("ix_ops_incidents_inhibited_by", "inhibited_by"),
    )


class Notification(Base):
    """The outbox: one row per alert (or resolution) owed to one channel, until it is delivered
    or dead. Every alert routed to a channel is accounted for here."""

    __tablename__ = "ops_notifications"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    #: None for notices that belong to no incident (a silence created or ended).
    incident_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("ops_incidents.id"))
    #: The channel type (webhook, email).
    channel: Mapped[str] = mapped_column(Text, nullable=False)
    #: The receiver it is owed to (a type's default receiver has the type's name).
    receiver: Mapped[str] = mapped_column(Text, nullable=False)
    #: firing or resolved
    kind: Mapped[str] = mapped_column(Text, nullable=False)
    severity: Mapped[str] = mapped_column(Text, nullable=False)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    #: pending -> sending (claimed into message_key) -> delivered | dead
    status: Mapped[str] = mapped_column(Text, nullable=False)
    message_key: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: When the message was first handed to its receiver (an idempotency key's lifetime counts from here).
    first_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint("status IN ('pending', 'sending', 'delivered', 'dead')", name="ck_ops_notifications_status"),
        Index("ix_ops_notifications_channel_status", "channel", "status", "created_at"),
        Index("ix_ops_notifications_receiver_status", "receiver", "status", "created_at"),
        Index("ix_ops_notifications_message_key", "message_key"),
        Index("ix_ops_notifications_incident_id", "incident_id"),
    )


class DeadLetter(Base):
    """A message that could not be delivered after its last attempt, with the reason."""

    __tablename__ = "ops_dead_letters"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(Text, nullable=False)
    receiver: Mapped[str] = mapped_column(Text, nullable=False)
    message_key: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    notifications: Mapped[int] = mapped_column(Integer, nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    #: The fingerprints and titles of the alerts the message held.
    alerts: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, nullable=False)
    failed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())


class CronExecution(Base):
    """One run of a scheduled job: its start and end events merge here, in whatever order."""

    __tablename__ = "ops_cron_executions"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    run_id: Mapped[str] = mapped_column(Text, nullable=False)
    #: running, success or failure
    status: Mapped[str] = mapped_column(Text, nullable=False)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    duration_ms: Mapped[int | None] = mapped_column(BigInteger)
    result: Mapped[Any | None] = mapped_column(JSONB)
    error: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())

    __table_args__ = (
        UniqueConstraint("name", "run_id", name="uq_ops_cron_executions_name_run_id"),
        CheckConstraint("status IN ('running', 'success', 'failure')", name="ck_ops_cron_executions_status"),
        Index("ix_ops_cron_executions_name_finished_at", "name", "finished_at"),
        # A run's place in its job's history (migration 0012): its start, else its end.
        Index(
            "ix_ops_cron_executions_name_placed",
            "name",
            text("coalesce(started_at, finished_at, received_at)"),
        ),
    )


class CronJob(Base):
    """The health state of one monitored job; deadlines are stored so detection is one indexed query."""

    __tablename__ = "ops_cron_jobs"

    name: Mapped[str] = mapped_column(Text, primary_key=True)
    #: ok, running, failing, missed, overrun, or unknown (relops itself was lagging)
    state: Mapped[str] = mapped_column(Text, nullable=False)
    #: No start by then: the run is missed (next scheduled start + grace).
    next_deadline: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    running_run_id: Mapped[str | None] = mapped_column(Text)
    running_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: Still running by then: the run is overrunning (start + max runtime).
    overrun_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_run_id: Mapped[str | None] = mapped_column(Text)
    last_status: Mapped[str | None] = mapped_column(Text)
    last_finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    consecutive_failures: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())

    __table_args__ = (
        Index("ix_ops_cron_jobs_next_deadline", "next_deadline"),
        Index("ix_ops_cron_jobs_overrun_at", "overrun_at"),
    )


class User(Base):
    """Someone who may use the dashboard or the API; only a hash of the token is kept."""

    __tablename__ = "ops_users"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    #: admin or viewer
    role: Mapped[str] = mapped_column(Text, nullable=False)
    token_hash: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    #: Set by `relops users revoke`: the token and every session stop working.
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: The Slack user (U…) whose clicks on an alert's buttons act as this user (`relops users set-slack`).
    slack_user_id: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint("role IN ('admin', 'viewer')", name="ck_ops_users_role"),
        Index("ux_ops_users_slack_user_id", "slack_user_id", unique=True),
    )


class Session(Base):
    """A signed-in browser: the cookie carries a random id, the table only its hash."""

    __tablename__ = "ops_sessions"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    session_hash: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("ops_users.id", ondelete="CASCADE"), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    #: created_at plus the absolute lifetime (12 h by default), whatever the activity.
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    #: An idle session (no request for the idle timeout) ends too.
    last_used_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    #: The address the session was opened from.
    client: Mapped[str] = mapped_column(Text, nullable=False)

    __table_args__ = (Index("ix_ops_sessions_user_id", "user_id"),)


class AuditEntry(Base):
    """Who changed what, when and from where: appended, never changed or deleted by relops' roles."""

    __tablename__ = "ops_audit"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    #: The user name (web, api) or the operating-system user (cli).
    actor: Mapped[str] = mapped_column(Text, nullable=False)
    #: web (a signed-in page), api (a bearer token), cli, or slack (a button of an alert message)
    via: Mapped[str] = mapped_column(Text, nullable=False)
    #: The client address, or the host the CLI ran on.
    source: Mapped[str] = mapped_column(Text, nullable=False)
    #: e.g. incident.ack, incident.resolve, user.add, user.revoke, user.rotate, user.set_role, session.login
    action: Mapped[str] = mapped_column(Text, nullable=False)
    #: e.g. "incident 42", "user alice"
    target: Mapped[str] = mapped_column(Text, nullable=False)
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, server_default="{}")

    __table_args__ = (
        CheckConstraint("via IN ('web', 'api', 'cli', 'slack', 'pagerduty')", name="ck_ops_audit_via"),
        Index("ix_ops_audit_at", "at"),
    )


class Silence(Base):
    """An operator's "be quiet": alerts whose labels match are recorded but notify nobody."""

    __tablename__ = "ops_silences"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    #: [{"name": "flow", "op": "=", "value": "checkout"}, ...]; op one of =, !=, =~, !~
    matchers: Mapped[list[dict[str, str]]] = mapped_column(JSONB, nullable=False)
    #: A silence without matchers mutes everything, and only when asked for explicitly.
    match_all: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=false())
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    created_by: Mapped[str] = mapped_column(Text, nullable=False)
    created_via: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    #: Set when someone ended it before ends_at.
    expired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    expired_by: Mapped[str | None] = mapped_column(Text)
    #: Alert events it muted.
    muted: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    #: When the channels were told it started, and that it ended.
    start_noticed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    end_noticed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ck_ops_silences_window"),
        CheckConstraint("match_all OR jsonb_array_length(matchers) > 0", name="ck_ops_silences_matchers"),
        Index("ix_ops_silences_ends_at", "ends_at"),
    )


class SloCorrection(Base):
    """A span of one flow's events left out of its burn rates and budget, added after the fact."""

    __tablename__ = "ops_slo_corrections"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    flow: Mapped[str] = mapped_column(Text, nullable=False)
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    created_by: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())

    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ck_ops_slo_corrections_span"),
        Index("ix_ops_slo_corrections_flow", "flow", "ends_at"),
    )


class ReportKey(Base):
    """A report-only key for the HTTP intake, or a metrics key for Prometheus; only a hash of the
    key is kept."""

    __tablename__ = "ops_report_keys"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    key_hash: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    #: Subset of {outcomes, cron, alerts}, or exactly {metrics} (reads the dashboard's /metrics, nothing else).
    scopes: Mapped[list[str]] = mapped_column(ARRAY(Text), nullable=False)
    #: NULL: any flow (jobs: any job); otherwise only these.
    flows: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    jobs: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    rate_per_s: Mapped[float] = mapped_column(Float, nullable=False)
    burst: Mapped[int] = mapped_column(Integer, nullable=False)
    created_by: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    #: Set by `relops keys revoke`: the key stops working within a second.
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint(
            "scopes <@ ARRAY['outcomes', 'cron', 'alerts', 'otlp']::text[] OR scopes = ARRAY['metrics']::text[]",
            name="ck_ops_report_keys_scopes",
        ),
        CheckConstraint("rate_per_s > 0 AND burst >= 1", name="ck_ops_report_keys_rate"),
    )


class IntakeTotal(Base):
    """The intake's requests per endpoint and answer status since the table was made: added to every
    second by each intake, never pruned, so the counters read from it only go up."""

    __tablename__ = "ops_intake_totals"

    #: outcomes, cron (key in the Authorization header), ping (key in the URL), other (no endpoint)
    endpoint: Mapped[str] = mapped_column(Text, primary_key=True)
    #: The HTTP status answered (202 accepted; 4xx and 5xx refused).
    status: Mapped[int] = mapped_column(Integer, primary_key=True)
    requests: Mapped[int] = mapped_column(BigInteger, nullable=False)
    #: When this (endpoint, status) was first counted: the counter's creation time.
    since: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())

    __table_args__ = (CheckConstraint("requests >= 0", name="ck_ops_intake_totals_requests"),)
