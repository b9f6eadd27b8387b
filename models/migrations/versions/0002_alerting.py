"""Alert routing: incidents, the notification outbox, dead letters.

Revision ID: 0002_alerting
Revises: 0001_core
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

revision = "0002_alerting"
down_revision = "0001_core"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("ops_alert_events", sa.Column("status", sa.Text, nullable=False, server_default="firing"))
    op.create_table(
        "ops_incidents",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("fingerprint", sa.Text, nullable=False, unique=True),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("severity", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("runbook_url", sa.Text, nullable=False, server_default=""),
        sa.Column("first_seen", TZ, nullable=False),
        sa.Column("last_seen", TZ, nullable=False),
        sa.Column("opened_at", TZ, nullable=False),
        sa.Column("acknowledged_at", TZ),
        sa.Column("resolved_at", TZ),
        sa.Column("occurrences", sa.BigInteger, nullable=False),
        sa.Column("last_event", JSONB, nullable=False),
        sa.Column("notified_channels", ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.CheckConstraint("status IN ('open', 'acknowledged', 'resolved')", name="ck_ops_incidents_status"),
    )
    op.create_index("ix_ops_incidents_status", "ops_incidents", ["status"])
    op.create_index("ix_ops_incidents_severity", "ops_incidents", ["severity"])

    op.create_table(
        "ops_notifications",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("incident_id", sa.BigInteger, sa.ForeignKey("ops_incidents.id"), nullable=False),
        sa.Column("channel", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("severity", sa.Text, nullable=False),
        sa.Column("payload", JSONB, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("message_key", sa.Text),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.Column("claimed_at", TZ),
        sa.Column("next_attempt_at", TZ),
        sa.Column("delivered_at", TZ),
        sa.Column("last_error", sa.Text),
        sa.CheckConstraint("status IN ('pending', 'sending', 'delivered', 'dead')", name="ck_ops_notifications_status"),
    )
    op.create_index("ix_ops_notifications_channel_status", "ops_notifications", ["channel", "status", "created_at"])
    op.create_index("ix_ops_notifications_message_key", "ops_notifications", ["message_key"])
    op.create_index("ix_ops_notifications_incident_id", "ops_notifications", ["incident_id"])

    op.create_table(
        "ops_dead_letters",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("channel", sa.Text, nullable=False),
        sa.Column("message_key", sa.Text, nullable=False, unique=True),
        sa.Column("notifications", sa.Integer, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("alerts", JSONB, nullable=False),
        sa.Column("failed_at", TZ, nullable=False, server_default=sa.func.now()),
    )


def downgrade() -> None:
    op.drop_table("ops_dead_letters")
    op.drop_table("ops_notifications")
    op.drop_table("ops_incidents")
    op.drop_column("ops_alert_events", "status")
