"""A job's runs in time order, for its page and the dashboard's strip of last runs: an index on
(name, the moment a run is placed at: its start, else its end, else when it was received).

Revision ID: 0012_run_history_index
Revises: 0011_report_keys
Create Date: 2026-11-30
"""

from alembic import op

revision = "0012_run_history_index"
down_revision = "0011_report_keys"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "CREATE INDEX ix_ops_cron_executions_name_placed "
        "ON ops_cron_executions (name, (coalesce(started_at, finished_at, received_at)))"
    )


def downgrade() -> None:
    op.drop_index("ix_ops_cron_executions_name_placed", table_name="ops_cron_executions")
