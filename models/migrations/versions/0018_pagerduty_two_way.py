"""PagerDuty both ways: the dashboard's acknowledge and resolve tell the receivers that follow an
incident's life (relops_web may owe them a notification, in the transaction of the change), and an
acknowledgement or resolution made in PagerDuty is audited ``via = 'pagerduty'``.

Revision ID: 0018_pagerduty_two_way
Revises: 0017_slack_users
Create Date: 2026-12-07
"""

from alembic import op

revision = "0018_pagerduty_two_way"
down_revision = "0017_slack_users"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("GRANT INSERT ON ops_notifications TO relops_web")
    op.execute("GRANT USAGE ON SEQUENCE ops_notifications_id_seq TO relops_web")
    op.drop_constraint("ck_ops_audit_via", "ops_audit", type_="check")
    op.create_check_constraint("ck_ops_audit_via", "ops_audit", "via IN ('web', 'api', 'cli', 'slack', 'pagerduty')")


def downgrade() -> None:
    # The older check has no 'pagerduty': those rows keep their actor ("PagerDuty: <user>") as 'api'.
    op.execute("UPDATE ops_audit SET via = 'api' WHERE via = 'pagerduty'")
    op.drop_constraint("ck_ops_audit_via", "ops_audit", type_="check")
    op.create_check_constraint("ck_ops_audit_via", "ops_audit", "via IN ('web', 'api', 'cli', 'slack')")
    op.execute("REVOKE USAGE ON SEQUENCE ops_notifications_id_seq FROM relops_web")
    op.execute("REVOKE INSERT ON ops_notifications FROM relops_web")
