"""Inhibition: an incident whose flow or job depends on a dependency with an open breaker records
what inhibits it (ops_incidents.inhibited_by, "dependency:<name>"), as silenced_by records a silence;
so does each alert event it inhibited (ops_alert_events.inhibited_by).

Revision ID: 0010_inhibition
Revises: 0009_receivers
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_inhibition"
down_revision = "0009_receivers"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("ops_alert_events", sa.Column("inhibited_by", sa.Text))
    op.add_column("ops_incidents", sa.Column("inhibited_by", sa.Text))
    op.create_index("ix_ops_incidents_inhibited_by", "ops_incidents", ["inhibited_by"])


def downgrade() -> None:
    op.drop_index("ix_ops_incidents_inhibited_by", "ops_incidents")
    op.drop_column("ops_incidents", "inhibited_by")
    op.drop_column("ops_alert_events", "inhibited_by")
