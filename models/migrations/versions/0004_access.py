"""Access: users with hashed API tokens, and database roles for workers and the web service.

relops_worker writes the ops tables; relops_web reads them (and may change an incident's status,
the dashboard's ack/resolve); PUBLIC gets nothing, so no other role can read ops data (the
design's P1 finding: ops data readable by every authenticated user).

Revision ID: 0004_access
Revises: 0003_cron
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_access"
down_revision = "0003_cron"
branch_labels = None
depends_on = None

OPS_TABLES = (
    "ops_flow_minutes",
    "ops_flow_hours",
    "ops_ingested_batches",
    "ops_rejected_inputs",
    "ops_evaluation_ticks",
    "ops_burn_rate_snapshots",
    "ops_alert_events",
    "ops_incidents",
    "ops_notifications",
    "ops_dead_letters",
    "ops_cron_executions",
    "ops_cron_jobs",
    "ops_users",
)
ROLES = ("relops_worker", "relops_web")


def upgrade() -> None:
    op.create_table(
        "ops_users",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("name", sa.Text, nullable=False, unique=True),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("token_hash", sa.Text, nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("role IN ('admin', 'viewer')", name="ck_ops_users_role"),
    )
    # Roles belong to the whole server: create them once, grant per database.
    for role in ROLES:
        op.execute(
            f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') "
            f"THEN CREATE ROLE {role} LOGIN; END IF; END $$"
        )
        op.execute(f"DO $$ BEGIN EXECUTE format('GRANT CONNECT ON DATABASE %I TO {role}', current_database()); END $$")
        op.execute(f"GRANT USAGE ON SCHEMA public TO {role}")
    tables = ", ".join(OPS_TABLES)
    op.execute(f"REVOKE ALL ON {tables} FROM PUBLIC")
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {tables} TO relops_worker")
    op.execute("REVOKE ALL ON ops_users FROM relops_worker")
    op.execute("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO relops_worker")
    op.execute(f"GRANT SELECT ON {tables} TO relops_web")
    op.execute("GRANT UPDATE (status, acknowledged_at, resolved_at, notified_channels) ON ops_incidents TO relops_web")


def downgrade() -> None:
    op.execute("ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM relops_worker, relops_web")
    op.execute("ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON SEQUENCES FROM relops_worker")
    tables = ", ".join(OPS_TABLES)
    for role in ROLES:
        op.execute(f"REVOKE ALL ON {tables} FROM {role}")
        op.execute(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {role}")
        op.execute(f"REVOKE USAGE ON SCHEMA public FROM {role}")
        op.execute(
            f"DO $$ BEGIN EXECUTE format('REVOKE CONNECT ON DATABASE %I FROM {role}', current_database()); END $$"
        )
    op.drop_table("ops_users")
