"""Report keys take the scope ``alerts``: the key an Alertmanager posts its webhook notifications to
the intake with (``POST /api/v1/alertmanager``).

Revision ID: 0014_alerts_scope
Revises: 0013_flow_days
Create Date: 2026-12-07
"""

from alembic import op

revision = "0014_alerts_scope"
down_revision = "0013_flow_days"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_constraint("ck_ops_report_keys_scopes", "ops_report_keys", type_="check")
    op.create_check_constraint(
        "ck_ops_report_keys_scopes", "ops_report_keys", "scopes <@ ARRAY['outcomes', 'cron', 'alerts']::text[]"
    )


def downgrade() -> None:
    # A key with the alerts scope would break the older constraint: it loses that scope (and a key
    # left with none is revoked, since it could do nothing).
    op.execute("UPDATE ops_report_keys SET scopes = array_remove(scopes, 'alerts')")
    op.execute("UPDATE ops_report_keys SET revoked_at = now() WHERE scopes = '{}' AND revoked_at IS NULL")
    op.drop_constraint("ck_ops_report_keys_scopes", "ops_report_keys", type_="check")
    op.create_check_constraint(
        "ck_ops_report_keys_scopes", "ops_report_keys", "scopes <@ ARRAY['outcomes', 'cron']::text[]"
    )
