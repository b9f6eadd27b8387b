"""Flow counters per UTC day, filled from the hour rows: an SLO period's sum reads about 30 day rows
and the hours at its edges instead of 720 hour rows.

Revision ID: 0013_flow_days
Revises: 0012_run_history_index
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_flow_days"
down_revision = "0012_run_history_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ops_flow_days",
        sa.Column("flow", sa.Text, primary_key=True),
        sa.Column("day", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("good", sa.BigInteger, nullable=False),
        sa.Column("bad", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_ops_flow_days_day", "ops_flow_days", ["day"])
    # Workers of the previous release write hours only: migrate before starting the new ones.
    op.execute(
        "INSERT INTO ops_flow_days (flow, day, good, bad) "
        "SELECT flow, date_trunc('day', hour, 'UTC'), sum(good), sum(bad) FROM ops_flow_hours GROUP BY 1, 2"
    )
    op.execute("REVOKE ALL ON ops_flow_days FROM PUBLIC")
    op.execute("GRANT SELECT, INSERT, UPDATE, DELETE ON ops_flow_days TO relops_worker")
    op.execute("GRANT SELECT ON ops_flow_days TO relops_web")


def downgrade() -> None:
    op.drop_table("ops_flow_days")
