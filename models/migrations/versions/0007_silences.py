"""Labels on alert events and incidents, and silences.

ops_silences holds every silence (matchers, window, reason, who) and how many alerts it muted; an
alert event and its incident name the silence or maintenance window that muted them. Silence
notices on the channels have no incident, so a notification's incident becomes optional.

Revision ID: 0007_silences
Revises: 0006_web_access
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0007_silences"
down_revision = "0006_web_access"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("ops_alert_events", "ops_incidents"):
        op.add_column(table, sa.Column("labels", JSONB, nullable=False, server_default="{}"))
        op.add_column(table, sa.Column("silenced_by", sa.Text))
    op.alter_column("ops_notifications", "incident_id", nullable=True)
    op.create_table(
        "ops_silences",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("matchers", JSONB, nullable=False),
        sa.Column("match_all", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("created_by", sa.Text, nullable=False),
        sa.Column("created_via", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("expired_at", sa.DateTime(timezone=True)),
        sa.Column("expired_by", sa.Text),
        sa.Column("muted", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("start_noticed_at", sa.DateTime(timezone=True)),
        sa.Column("end_noticed_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint("ends_at > starts_at", name="ck_ops_silences_window"),
        sa.CheckConstraint("match_all OR jsonb_array_length(matchers) > 0", name="ck_ops_silences_matchers"),
    )
    op.create_index("ix_ops_silences_ends_at", "ops_silences", ["ends_at"])
    op.create_index("ix_ops_incidents_silenced_by", "ops_incidents", ["silenced_by"])
    op.execute("REVOKE ALL ON ops_silences FROM PUBLIC")
    op.execute("GRANT SELECT, INSERT, UPDATE ON ops_silences TO relops_worker, relops_web")
    op.execute("GRANT USAGE ON SEQUENCE ops_silences_id_seq TO relops_worker, relops_web")


def downgrade() -> None:
    op.drop_table("ops_silences")
    op.execute("DELETE FROM ops_notifications WHERE incident_id IS NULL")
    op.alter_column("ops_notifications", "incident_id", nullable=False)
    op.drop_index("ix_ops_incidents_silenced_by", "ops_incidents")
    for table in ("ops_alert_events", "ops_incidents"):
        op.drop_column(table, "silenced_by")
        op.drop_column(table, "labels")
