"""PostgreSQL tables. Table names are part of the contract (README, "Integration")."""

from models.tables import (
    AlertEvent,
    AuditEntry,
    Base,
    BurnRateSnapshot,
    CronExecution,
    CronJob,
    DeadLetter,
    EvaluationTick,
    FlowHour,
    FlowMinute,
    Incident,
    IngestedBatch,
    Notification,
    RejectedInput,
    Session,
    User,
)

__all__ = [
    "AlertEvent",
    "AuditEntry",
    "Base",
    "BurnRateSnapshot",
    "CronExecution",
    "CronJob",
    "DeadLetter",
    "EvaluationTick",
    "FlowHour",
    "FlowMinute",
    "Incident",
    "IngestedBatch",
    "Notification",
    "RejectedInput",
    "Session",
    "User",
]
