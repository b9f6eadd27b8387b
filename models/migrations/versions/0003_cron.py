"""Cron health: executions and the monitored jobs' state.

Revision ID: 0003_cron
Revises: 0002_alerting
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0003_cron"
down_revision = "0002_alerting"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "ops_cron_executions",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("run_id", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("started_at", TZ),
        sa.Column("finished_at", TZ),
        sa.Column("duration_ms", sa.BigInteger),
        sa.Column("result", JSONB),
        sa.Column("error", sa.Text),
        sa.Column("received_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.UniqueConstraint("name", "run_id", name="uq_ops_cron_executions_name_run_id"),
        sa.CheckConstraint("status IN ('running', 'success', 'failure')", name="ck_ops_cron_executions_status"),
    )
    op.create_index("ix_ops_cron_executions_name_finished_at", "ops_cron_executions", ["name", "finished_at"])
    op.create_table(
        "ops_cron_jobs",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("next_deadline", TZ),
        sa.Column("running_run_id", sa.Text),
        sa.Column("running_since", TZ),
        sa.Column("overrun_at", TZ),
        sa.Column("last_run_id", sa.Text),
        sa.Column("last_status", sa.Text),
        sa.Column("last_finished_at", TZ),
        sa.Column("consecutive_failures", sa.Integer, nullable=False, server_default="0"),
        sa.Column("updated_at", TZ, nullable=False, server_default=sa.func.now()),
    )
    op.create_index("ix_ops_cron_jobs_next_deadline", "ops_cron_jobs", ["next_deadline"])
    op.create_index("ix_ops_cron_jobs_overrun_at", "ops_cron_jobs", ["overrun_at"])


def downgrade() -> None:
    op.drop_table("ops_cron_jobs")
    op.drop_table("ops_cron_executions")
