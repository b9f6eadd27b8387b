"""Web access: server-side sessions, revocable users, and the audit trail.

ops_sessions holds only a hash of each session id (the cookie carries the id), with its user and
its limits; ops_users gains revoked_at; ops_audit records who changed what, when and from where.
The web role may create, touch and end sessions and append audit rows, never change or delete
one; the workers' role (the CLI's) may append audit rows too.

Revision ID: 0006_web_access
Revises: 0005_first_attempt
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0006_web_access"
down_revision = "0005_first_attempt"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("ops_users", sa.Column("revoked_at", sa.DateTime(timezone=True)))
    op.create_table(
        "ops_sessions",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("session_hash", sa.Text, nullable=False, unique=True),
        sa.Column("user_id", sa.BigInteger, sa.ForeignKey("ops_users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("client", sa.Text, nullable=False),
    )
    op.create_index("ix_ops_sessions_user_id", "ops_sessions", ["user_id"])
    op.create_table(
        "ops_audit",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("via", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("target", sa.Text, nullable=False),
        sa.Column("details", JSONB, nullable=False, server_default="{}"),
        sa.CheckConstraint("via IN ('web', 'api', 'cli')", name="ck_ops_audit_via"),
    )
    op.create_index("ix_ops_audit_at", "ops_audit", ["at"])
    op.execute("REVOKE ALL ON ops_sessions, ops_audit FROM PUBLIC")
    op.execute("GRANT SELECT, INSERT, DELETE, UPDATE (last_used_at) ON ops_sessions TO relops_web")
    op.execute("GRANT SELECT, INSERT ON ops_audit TO relops_web, relops_worker")
    op.execute("GRANT USAGE ON SEQUENCE ops_sessions_id_seq TO relops_web")
    op.execute("GRANT USAGE ON SEQUENCE ops_audit_id_seq TO relops_web, relops_worker")


def downgrade() -> None:
    op.drop_table("ops_audit")
    op.drop_table("ops_sessions")
    op.drop_column("ops_users", "revoked_at")
