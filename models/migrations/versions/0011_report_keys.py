"""Report keys for the HTTP intake: a name, a hash of the key (the key itself is shown once and
never stored), what it may report (scopes, and optionally only some flows or jobs) and its rate.

Only an owner writes keys (`relops keys add|revoke` use RELOPS_ADMIN_DATABASE_URL); the intake
reads them as relops_worker; the dashboard's role (relops_web) may see that keys exist, not
their hashes.

Revision ID: 0011_report_keys
Revises: 0010_inhibition
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY

revision = "0011_report_keys"
down_revision = "0010_inhibition"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ops_report_keys",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("name", sa.Text, nullable=False, unique=True),
        sa.Column("key_hash", sa.Text, nullable=False, unique=True),
        sa.Column("scopes", ARRAY(sa.Text), nullable=False),
        sa.Column("flows", ARRAY(sa.Text)),
        sa.Column("jobs", ARRAY(sa.Text)),
        sa.Column("rate_per_s", sa.Float, nullable=False),
        sa.Column("burst", sa.Integer, nullable=False),
        sa.Column("created_by", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint("scopes <@ ARRAY['outcomes', 'cron']::text[]", name="ck_ops_report_keys_scopes"),
        sa.CheckConstraint("rate_per_s > 0 AND burst >= 1", name="ck_ops_report_keys_rate"),
    )
    op.execute("REVOKE ALL ON ops_report_keys FROM PUBLIC")
    op.execute("GRANT SELECT ON ops_report_keys TO relops_worker")
    op.execute(
        "GRANT SELECT (id, name, scopes, flows, jobs, rate_per_s, burst, created_by, created_at, revoked_at) "
        "ON ops_report_keys TO relops_web"
    )


def downgrade() -> None:
    op.drop_table("ops_report_keys")
