"""Core tables: flow counters, ingest bookkeeping, evaluation ticks, snapshots, alert events.

Revision ID: 0001_core
Revises:
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001_core"
down_revision = None
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    for name, bucket in (("ops_flow_minutes", "minute"), ("ops_flow_hours", "hour")):
        op.create_table(
            name,
            sa.Column("flow", sa.Text, primary_key=True),
            sa.Column(bucket, TZ, primary_key=True),
            sa.Column("good", sa.BigInteger, nullable=False),
            sa.Column("bad", sa.BigInteger, nullable=False),
        )
        op.create_index(f"ix_{name}_{bucket}", name, [bucket])

    op.create_table(
        "ops_ingested_batches",
        sa.Column("batch_id", sa.Text, primary_key=True),
        sa.Column("received_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.Column("accepted", sa.Integer, nullable=False),
        sa.Column("rejected", sa.Integer, nullable=False),
    )
    op.create_index("ix_ops_ingested_batches_received_at", "ops_ingested_batches", ["received_at"])

    op.create_table(
        "ops_rejected_inputs",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("task", sa.Text, nullable=False),
        sa.Column("reference", sa.Text),
        sa.Column("item_index", sa.Integer),
        sa.Column("field", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("excerpt", sa.Text, nullable=False),
        sa.Column("received_at", TZ, nullable=False, server_default=sa.func.now()),
    )
    op.create_index("ix_ops_rejected_inputs_received_at", "ops_rejected_inputs", ["received_at"])

    op.create_table(
        "ops_evaluation_ticks",
        sa.Column("slot", TZ, primary_key=True),
        sa.Column("as_of", TZ, nullable=False),
        sa.Column("flows", sa.Integer, nullable=False),
        sa.Column("chunks", sa.Integer, nullable=False),
        sa.Column("created_at", TZ, nullable=False, server_default=sa.func.now()),
    )

    op.create_table(
        "ops_burn_rate_snapshots",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("flow", sa.Text, nullable=False),
        sa.Column("evaluated_at", TZ, nullable=False),
        sa.Column("severity", sa.Text, nullable=False),
        sa.Column("objective_percent", sa.Numeric, nullable=False),
        sa.Column("budget_remaining", sa.Numeric),
        sa.Column("time_to_exhaustion_s", sa.BigInteger),
        sa.Column("period_events", sa.BigInteger, nullable=False),
        sa.Column("period_errors", sa.BigInteger, nullable=False),
        sa.Column("windows", JSONB, nullable=False),
        sa.UniqueConstraint("flow", "evaluated_at", name="uq_ops_burn_rate_snapshots_flow_evaluated_at"),
    )
    op.create_index("ix_ops_burn_rate_snapshots_evaluated_at", "ops_burn_rate_snapshots", ["evaluated_at"])

    op.create_table(
        "ops_alert_events",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("dedup_key", sa.Text, nullable=False),
        sa.Column("fingerprint", sa.Text, nullable=False),
        sa.Column("severity", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("details", JSONB, nullable=False),
        sa.Column("runbook_url", sa.Text, nullable=False),
        sa.Column("occurred_at", TZ, nullable=False),
        sa.Column("received_at", TZ, nullable=False, server_default=sa.func.now()),
    )
    op.create_index("ix_ops_alert_events_fingerprint", "ops_alert_events", ["fingerprint"])
    op.create_index("ix_ops_alert_events_received_at", "ops_alert_events", ["received_at"])


def downgrade() -> None:
    for table in (
        "ops_alert_events",
        "ops_burn_rate_snapshots",
        "ops_evaluation_ticks",
        "ops_rejected_inputs",
        "ops_ingested_batches",
        "ops_flow_hours",
        "ops_flow_minutes",
    ):
        op.drop_table(table)
