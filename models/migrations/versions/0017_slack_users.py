"""Users linked to Slack: ``ops_users.slack_user_id`` (set by ``relops users set-slack``), so a click
on an alert message's Acknowledge, Resolve or Silence 1 h button in Slack acts as that relops user;
audit rows may say ``via = 'slack'``.

The intake, which takes the clicks, connects as relops_worker, which may read no user until now:
it may read a user's id, name, role, revocation and Slack id, never the token hash.

Revision ID: 0017_slack_users
Revises: 0016_otlp_scope
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0017_slack_users"
down_revision = "0016_otlp_scope"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("ops_users", sa.Column("slack_user_id", sa.Text))
    # One relops user per Slack user: a click must name one person.
    op.create_index("ux_ops_users_slack_user_id", "ops_users", ["slack_user_id"], unique=True)
    op.drop_constraint("ck_ops_audit_via", "ops_audit", type_="check")
    op.create_check_constraint("ck_ops_audit_via", "ops_audit", "via IN ('web', 'api', 'cli', 'slack')")
    op.execute("GRANT SELECT (id, name, role, revoked_at, slack_user_id) ON ops_users TO relops_worker")


def downgrade() -> None:
    op.execute("REVOKE SELECT (id, name, role, revoked_at, slack_user_id) ON ops_users FROM relops_worker")
    # The rows stay, said as the API's (their source, "slack <workspace> <user>", still says where
    # from): the schema before this had no word for Slack.
    op.execute("UPDATE ops_audit SET via = 'api' WHERE via = 'slack'")
    op.drop_constraint("ck_ops_audit_via", "ops_audit", type_="check")
    op.create_check_constraint("ck_ops_audit_via", "ops_audit", "via IN ('web', 'api', 'cli')")
    op.drop_index("ux_ops_users_slack_user_id", "ops_users")
    op.drop_column("ops_users", "slack_user_id")
