"""proven addresses: sign-ups wait for their mailed link, password links say what they are for,
attempts are throttled by subject, sessions carry the page's next notice, and a key's last
use is found by its index

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 16:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from levante.storage.types import UTCDateTime

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # A key's last use, read from the ledger (the console's keys page).
    op.create_index("ix_usage_records_key_started", "usage_records", ["api_key_id", "started_at"])
    op.drop_index("ix_login_failures_subject_at", table_name="login_failures")
    op.drop_table("login_failures")
    op.create_table(
        "throttle_attempts",
        sa.Column("id", BigId, nullable=False, autoincrement=True),
        sa.Column("subject", sa.String(length=400), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_throttle_attempts")),
    )
    op.create_index("ix_throttle_attempts_subject_at", "throttle_attempts", ["subject", "at"])
    op.create_table(
        "signup_requests",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("used_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signup_requests")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_signup_requests_token_hash")),
    )
    op.create_index("ix_signup_requests_email", "signup_requests", ["email"])
    with op.batch_alter_table("password_resets") as batch:
        batch.add_column(
            sa.Column("purpose", sa.String(length=16), nullable=False, server_default="reset")
        )
        batch.create_check_constraint(
            op.f("ck_password_resets_purpose"), "\"purpose\" IN ('reset', 'claim')"
        )
    with op.batch_alter_table("web_sessions") as batch:
        batch.add_column(sa.Column("notice", sa.String(length=500), nullable=True))


def downgrade() -> None:
    op.drop_index("ix_usage_records_key_started", table_name="usage_records")
    with op.batch_alter_table("web_sessions") as batch:
        batch.drop_column("notice")
    with op.batch_alter_table("password_resets") as batch:
        batch.drop_constraint(op.f("ck_password_resets_purpose"), type_="check")
        batch.drop_column("purpose")
    op.drop_index("ix_signup_requests_email", table_name="signup_requests")
    op.drop_table("signup_requests")
    op.drop_index("ix_throttle_attempts_subject_at", table_name="throttle_attempts")
    op.drop_table("throttle_attempts")
    op.create_table(
        "login_failures",
        sa.Column("id", BigId, nullable=False, autoincrement=True),
        sa.Column("subject", sa.String(length=400), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_failures")),
    )
    op.create_index("ix_login_failures_subject_at", "login_failures", ["subject", "at"])
