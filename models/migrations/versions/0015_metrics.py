"""Metrics for Prometheus: metrics keys, and request totals of the intake that retention never lowers.

- ``ops_report_keys`` takes the scope ``metrics``, alone (never with ``outcomes`` or ``cron``): the
  key Prometheus scrapes the dashboard's /metrics with, made, listed, revoked and audited like a
  report key.
- The dashboard's role may not read key hashes (0011). It checks a scraper's key through
  ``ops_metrics_key(hash)``, a function that runs as its owner and answers for one hash at a time:
  the name and scopes of the live key with that hash, or nothing. It never lists keys or hashes.
- ``ops_intake_totals``: the intake's requests per endpoint and answer status since the table was
  made, added to every second by each intake process and never pruned, so the counters exported
  from it only go up (``ops_rejected_inputs`` is pruned after 30 days: counts read from it would drop).

Revision ID: 0014_metrics
Revises: 0013_flow_days
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0015_metrics"
down_revision = "0014_alerts_scope"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_constraint("ck_ops_report_keys_scopes", "ops_report_keys", type_="check")
    op.create_check_constraint(
        "ck_ops_report_keys_scopes",
        "ops_report_keys",
        "scopes <@ ARRAY['outcomes', 'cron', 'alerts']::text[] OR scopes = ARRAY['metrics']::text[]",
    )
    # SECURITY DEFINER with the search path fixed at creation, so no caller can put a table of its
    # own in front of ops_report_keys.
    op.execute(
        "CREATE FUNCTION ops_metrics_key(wanted text) RETURNS TABLE (id bigint, name text, scopes text[]) "
        "LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS "
        "$$ SELECT k.id, k.name, k.scopes FROM ops_report_keys k "
        "WHERE k.key_hash = wanted AND k.revoked_at IS NULL $$"
    )
    op.execute("REVOKE ALL ON FUNCTION ops_metrics_key(text) FROM PUBLIC")
    op.execute("GRANT EXECUTE ON FUNCTION ops_metrics_key(text) TO relops_web")
    op.create_table(
        "ops_intake_totals",
        sa.Column("endpoint", sa.Text, primary_key=True),
        sa.Column("status", sa.Integer, primary_key=True),
        sa.Column("requests", sa.BigInteger, nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("requests >= 0", name="ck_ops_intake_totals_requests"),
    )
    op.execute("REVOKE ALL ON ops_intake_totals FROM PUBLIC")
    op.execute("GRANT SELECT, INSERT, UPDATE ON ops_intake_totals TO relops_worker")
    op.execute("GRANT SELECT ON ops_intake_totals TO relops_web")


def downgrade() -> None:
    op.drop_table("ops_intake_totals")
    op.execute("DROP FUNCTION ops_metrics_key(text)")
    op.execute("DELETE FROM ops_report_keys WHERE scopes = ARRAY['metrics']::text[]")
    op.drop_constraint("ck_ops_report_keys_scopes", "ops_report_keys", type_="check")
    op.create_check_constraint(
        "ck_ops_report_keys_scopes", "ops_report_keys", "scopes <@ ARRAY['outcomes', 'cron', 'alerts']::text[]"
    )
