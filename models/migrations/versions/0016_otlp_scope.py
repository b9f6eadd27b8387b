"""Report keys take the scope ``otlp``: the key an OpenTelemetry SDK or Collector exports spans to the
intake with (``POST /v1/traces``).

Revision ID: 0016_otlp_scope
Revises: 0015_metrics
Create Date: 2026-12-07
"""

from alembic import op

revision = "0016_otlp_scope"
down_revision = "0015_metrics"
branch_labels = None
depends_on = None

REPORT_SCOPES = "ARRAY['outcomes', 'cron', 'alerts', 'otlp']::text[]"
BEFORE = "ARRAY['outcomes', 'cron', 'alerts']::text[]"


def upgrade() -> None:
    op.drop_constraint("ck_ops_report_keys_scopes", "ops_report_keys", type_="check")
    op.create_check_constraint(
        "ck_ops_report_keys_scopes",
        "ops_report_keys",
        f"scopes <@ {REPORT_SCOPES} OR scopes = ARRAY['metrics']::text[]",
    )


def downgrade() -> None:
    # A key left with no scope would be a key that can do nothing: it is revoked instead.
    op.execute("UPDATE ops_report_keys SET scopes = array_remove(scopes, 'otlp')")
    op.execute("UPDATE ops_report_keys SET revoked_at = now() WHERE scopes = '{}' AND revoked_at IS NULL")
    op.drop_constraint("ck_ops_report_keys_scopes", "ops_report_keys", type_="check")
    op.create_check_constraint(
        "ck_ops_report_keys_scopes", "ops_report_keys", f"scopes <@ {BEFORE} OR scopes = ARRAY['metrics']::text[]"
    )
