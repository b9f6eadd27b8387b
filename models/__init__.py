"""PostgreSQL tables. Table names are part of the contract (README, "Integration")."""

from models.tables import (
    AlertEvent,
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
    User,
)

__all__ = [
    "AlertEvent",
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
    "User",
]
