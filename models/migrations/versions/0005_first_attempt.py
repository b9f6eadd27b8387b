"""ops_notifications.first_attempt_at: when a message was first handed to its receiver.

An idempotency key protects a resend only while the receiver remembers it (Resend: 24 h); the
email channel refuses to resend a message whose first attempt is older than that.

Revision ID: 0005_first_attempt
Revises: 0004_access
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_first_attempt"
down_revision = "0004_access"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("ops_notifications", sa.Column("first_attempt_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    op.drop_column("ops_notifications", "first_attempt_at")
