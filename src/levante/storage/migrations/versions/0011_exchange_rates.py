"""the operator's dated exchange rates, for revenue reported in one currency

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 22:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from levante.storage.types import UTCDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_CURRENCIES = "('EUR', 'USD')"


def upgrade() -> None:
    op.create_table(
        "exchange_rates",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("base", sa.String(length=3), nullable=False),
        sa.Column("quote", sa.String(length=3), nullable=False),
        sa.Column("rate", sa.String(length=32), nullable=False),
        sa.Column("effective_on", sa.Date(), nullable=False),
        sa.Column("set_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("base <> quote", name=op.f("ck_exchange_rates_distinct_currencies")),
        sa.CheckConstraint(f'"base" IN {_CURRENCIES}', name=op.f("ck_exchange_rates_base")),
        sa.CheckConstraint(f'"quote" IN {_CURRENCIES}', name=op.f("ck_exchange_rates_quote")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_rates")),
        sa.UniqueConstraint(
            "base", "quote", "effective_on", name=op.f("uq_exchange_rates_base_quote_effective_on")
        ),
    )


def downgrade() -> None:
    op.drop_table("exchange_rates")
