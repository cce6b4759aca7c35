"""trust: a ledger that refuses negative usage, site keys bound to licences, held reports,
exact ledger keys for self-hosted usage

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 22:00:00
"""

from __future__ import annotations

import hashlib
from typing import Any

import sqlalchemy as sa
from alembic import op

from levante.storage.types import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _ledger_key(license_id: str, day: Any, model: str) -> str:
    # Frozen copy of levante.licensing.authority.ledger_key as of this revision.
    day_text = day if isinstance(day, str) else day.isoformat()
    digest = hashlib.sha256(f"{license_id}\n{day_text}\n{model}".encode()).hexdigest()
    return f"lic:{digest[:60]}"


def upgrade() -> None:
    bind = op.get_bind()
    with op.batch_alter_table("usage_records") as batch:
        batch.create_check_constraint(
            op.f("ck_usage_records_tokens_not_negative"),
            "prompt_tokens >= 0 AND completion_tokens >= 0 AND cached_tokens >= 0",
        )
        batch.create_check_constraint(
            op.f("ck_usage_records_cost_not_negative"),
            "input_cost_nanos >= 0 AND cached_cost_nanos >= 0 AND output_cost_nanos >= 0"
            " AND cost_nanos >= 0",
        )

    # Self-hosted usage was filed under "lic:{licence}:{day}:{model}" cut to 64 characters.
    records = sa.table(
        "usage_records",
        sa.column("id", sa.BigInteger),
        sa.column("request_id", sa.String),
        sa.column("request_metadata", sa.JSON),
        sa.column("usage_date", sa.Date),
        sa.column("model", sa.String),
    )
    rows = bind.execute(
        sa.select(
            records.c.id, records.c.request_metadata, records.c.usage_date, records.c.model
        ).where(records.c.request_id.like("lic:%"))
    ).all()
    for row_id, metadata, day, model in rows:
        license_id = (metadata or {}).get("license_id")
        if license_id:
            bind.execute(
                records.update()
                .where(records.c.id == row_id)
                .values(request_id=_ledger_key(license_id, day, model))
            )

    op.create_table(
        "license_site_keys",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("license_id", sa.String(length=32), nullable=False),
        sa.Column("public_key", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=24), nullable=False),
        sa.Column("hostname", sa.String(length=200), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("bound_at", UTCDateTime(), nullable=True),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'bound', 'revoked')", name=op.f("ck_license_site_keys_status")
        ),
        sa.ForeignKeyConstraint(
            ["license_id"], ["licenses.id"], name=op.f("fk_license_site_keys_license_id_licenses")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_license_site_keys")),
        sa.UniqueConstraint(
            "license_id", "public_key", name=op.f("uq_license_site_keys_license_id_public_key")
        ),
    )
    op.create_index(op.f("ix_license_site_keys_license_id"), "license_site_keys", ["license_id"])
    op.create_table(
        "license_held_reports",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("license_id", sa.String(length=32), nullable=False),
        sa.Column("site_key", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("decided_at", UTCDateTime(), nullable=True),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.CheckConstraint(
            "status IN ('held', 'accepted', 'rejected')",
            name=op.f("ck_license_held_reports_status"),
        ),
        sa.ForeignKeyConstraint(
            ["license_id"],
            ["licenses.id"],
            name=op.f("fk_license_held_reports_license_id_licenses"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_license_held_reports")),
    )
    op.create_index(
        op.f("ix_license_held_reports_license_id"), "license_held_reports", ["license_id"]
    )

    # The key each licence's reports were pinned to so far stays trusted.
    licenses = sa.table(
        "licenses",
        sa.column("id", sa.String),
        sa.column("site_public_key", sa.String),
        sa.column("last_report_at", UTCDateTime()),
        sa.column("issued_at", UTCDateTime()),
    )
    keys = sa.table(
        "license_site_keys",
        *(sa.column(name) for name in ("id", "license_id", "public_key", "status", "source",
                                       "hostname", "created_at", "bound_at")),
    )  # fmt: skip
    pinned = bind.execute(
        sa.select(
            licenses.c.id, licenses.c.site_public_key, licenses.c.last_report_at,
            licenses.c.issued_at,
        ).where(licenses.c.site_public_key.is_not(None))
    ).all()  # fmt: skip
    for license_id, public_key, last_report, issued in pinned:
        when = last_report or issued
        bind.execute(
            keys.insert().values(
                id=f"sk_{hashlib.sha256(license_id.encode()).hexdigest()[:24]}",
                license_id=license_id, public_key=public_key, status="bound",
                source="legacy", hostname="", created_at=when, bound_at=when,
            )
        )  # fmt: skip
    # Not batch mode: rebuilding "licenses" on SQLite would drop a table other rows refer to.
    # SQLite has dropped plain columns in place since 3.35.
    op.execute("ALTER TABLE licenses DROP COLUMN site_public_key")

    # Paid spend per currency; what was counted so far was counted in the account's currency
    # (or the platform's default, USD, for organisations without an account).
    op.create_table(
        "paid_spend",
        sa.Column("organization_id", sa.String(length=32), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount_nanos", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("amount_nanos >= 0", name=op.f("ck_paid_spend_amount_not_negative")),
        sa.ForeignKeyConstraint(
            ["organization_id"], ["organizations.id"],
            name=op.f("fk_paid_spend_organization_id_organizations"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("organization_id", "currency", name=op.f("pk_paid_spend")),
    )  # fmt: skip
    op.execute(
        "INSERT INTO paid_spend (organization_id, currency, amount_nanos, updated_at) "
        "SELECT o.id, COALESCE(a.currency, 'USD'), o.paid_spend_nanos, CURRENT_TIMESTAMP "
        "FROM organizations o LEFT JOIN billing_accounts a ON a.organization_id = o.id "
        "WHERE o.paid_spend_nanos > 0"
    )
    op.execute("ALTER TABLE organizations DROP COLUMN paid_spend_nanos")


def downgrade() -> None:
    op.execute("ALTER TABLE organizations ADD COLUMN paid_spend_nanos BIGINT NOT NULL DEFAULT 0")
    op.drop_table("paid_spend")
    op.execute("ALTER TABLE licenses ADD COLUMN site_public_key VARCHAR(64)")
    op.drop_table("license_held_reports")
    op.drop_table("license_site_keys")
    with op.batch_alter_table("usage_records") as batch:
        batch.drop_constraint("ck_usage_records_cost_not_negative", type_="check")
        batch.drop_constraint("ck_usage_records_tokens_not_negative", type_="check")
