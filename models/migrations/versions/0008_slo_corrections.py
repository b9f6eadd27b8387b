"""SLO corrections: spans of a flow's events left out of its burn rates and error budget.

ops_slo_corrections holds the one-off corrections operators add after the fact; maintenance
windows are corrections too for flows with exclude_maintenance (from the config, not stored).
Snapshots record how many events the corrections left out and the budget without them.

Revision ID: 0008_slo_corrections
Revises: 0007_silences
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_slo_corrections"
down_revision = "0007_silences"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ops_slo_corrections",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("flow", sa.Text, nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("created_by", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("ends_at > starts_at", name="ck_ops_slo_corrections_span"),
    )
    op.create_index("ix_ops_slo_corrections_flow", "ops_slo_corrections", ["flow", "ends_at"])
    op.add_column(
        "ops_burn_rate_snapshots", sa.Column("excluded_events", sa.BigInteger, nullable=False, server_default="0")
    )
    op.add_column(
        "ops_burn_rate_snapshots", sa.Column("excluded_errors", sa.BigInteger, nullable=False, server_default="0")
    )
    op.add_column("ops_burn_rate_snapshots", sa.Column("budget_remaining_uncorrected", sa.Numeric))
    op.execute("REVOKE ALL ON ops_slo_corrections FROM PUBLIC")
    op.execute("GRANT SELECT, INSERT ON ops_slo_corrections TO relops_worker")
    op.execute("GRANT SELECT ON ops_slo_corrections TO relops_web")
    op.execute("GRANT USAGE ON SEQUENCE ops_slo_corrections_id_seq TO relops_worker")


def downgrade() -> None:
    for column in ("budget_remaining_uncorrected", "excluded_errors", "excluded_events"):
        op.drop_column("ops_burn_rate_snapshots", column)
    op.drop_table("ops_slo_corrections")
