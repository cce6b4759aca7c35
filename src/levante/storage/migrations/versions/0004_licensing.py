"""licensing: issued licences, node activations, imported usage reports

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 01:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from levante.storage.types import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "licenses",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("organization_id", sa.String(length=32), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("file", sa.Text(), nullable=False),
        sa.Column("issued_at", UTCDateTime(), nullable=False),
        sa.Column("starts_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("grace_days", sa.Integer(), nullable=False),
        sa.Column("max_seats", sa.Integer(), nullable=True),
        sa.Column("max_nodes", sa.Integer(), nullable=True),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.Column("site_public_key", sa.String(length=64), nullable=True),
        sa.Column("seats_reported", sa.Integer(), nullable=True),
        sa.Column("last_report_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_licenses_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_licenses")),
    )
    op.create_index(op.f("ix_licenses_organization_id"), "licenses", ["organization_id"])
    op.create_table(
        "license_activations",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("license_id", sa.String(length=32), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("hostname", sa.String(length=200), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_seen", UTCDateTime(), nullable=False),
        sa.Column("deactivated_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["license_id"], ["licenses.id"], name=op.f("fk_license_activations_license_id_licenses")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_license_activations")),
        sa.UniqueConstraint(
            "license_id", "fingerprint", name=op.f("uq_license_activations_license_id_fingerprint")
        ),
    )
    op.create_index(
        op.f("ix_license_activations_license_id"), "license_activations", ["license_id"]
    )
    op.create_table(
        "license_reports",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("license_id", sa.String(length=32), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("imported_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["license_id"], ["licenses.id"], name=op.f("fk_license_reports_license_id_licenses")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_license_reports")),
    )
    op.create_index(op.f("ix_license_reports_license_id"), "license_reports", ["license_id"])


def downgrade() -> None:
    for table in ("license_reports", "license_activations", "licenses"):
        op.drop_table(table)
