"""Receivers and routes: the outbox and dead letters say which receiver they are for, and an
incident records when each receiver last heard of it (repeat intervals count from there).

ops_notifications.channel stays the channel type (webhook, email); the new receiver column names
the destination (the type's default receiver has the type's name, so existing rows keep theirs).
ops_incidents.notified replaces notified_channels: a map receiver -> {at, severity, via};
ops_incidents.escalations lists the escalation steps taken in the current episode.

Revision ID: 0009_receivers
Revises: 0008_slo_corrections
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

revision = "0009_receivers"
down_revision = "0008_slo_corrections"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("ops_notifications", "ops_dead_letters"):
        op.add_column(table, sa.Column("receiver", sa.Text))
        op.execute(f"UPDATE {table} SET receiver = channel")
        op.alter_column(table, "receiver", nullable=False)
    op.create_index("ix_ops_notifications_receiver_status", "ops_notifications", ["receiver", "status", "created_at"])
    op.add_column("ops_incidents", sa.Column("notified", JSONB, nullable=False, server_default="{}"))
    op.execute(
        "UPDATE ops_incidents SET notified = (SELECT coalesce(jsonb_object_agg(c, jsonb_build_object("
        "'at', to_jsonb(last_seen), 'severity', severity, 'via', 'route')), '{}'::jsonb) "
        "FROM unnest(notified_channels) c)"
    )
    op.drop_column("ops_incidents", "notified_channels")
    op.add_column("ops_incidents", sa.Column("route", sa.Text))
    op.add_column("ops_incidents", sa.Column("escalations", JSONB, nullable=False, server_default="[]"))
    # The dashboard's resolve clears who heard of the episode, as it cleared notified_channels.
    op.execute("GRANT UPDATE (notified) ON ops_incidents TO relops_web")


def downgrade() -> None:
    op.drop_column("ops_incidents", "escalations")
    op.drop_column("ops_incidents", "route")
    op.add_column("ops_incidents", sa.Column("notified_channels", ARRAY(sa.Text), nullable=False, server_default="{}"))
    op.execute("UPDATE ops_incidents SET notified_channels = ARRAY(SELECT jsonb_object_keys(notified))")
    op.execute("GRANT UPDATE (notified_channels) ON ops_incidents TO relops_web")
    op.drop_column("ops_incidents", "notified")
    op.drop_index("ix_ops_notifications_receiver_status", "ops_notifications")
    for table in ("ops_notifications", "ops_dead_letters"):
        op.drop_column(table, "receiver")
