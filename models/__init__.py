"""PostgreSQL tables. Table names are part of the contract (README, "Integration")."""

from models.tables import (
    AlertEvent,
    Base,
    BurnRateSnapshot,
    EvaluationTick,
    FlowHour,
    FlowMinute,
    IngestedBatch,
    RejectedInput,
)

__all__ = [
    "AlertEvent",
    "Base",
    "BurnRateSnapshot",
    "EvaluationTick",
    "FlowHour",
    "FlowMinute",
    "IngestedBatch",
    "RejectedInput",
]
