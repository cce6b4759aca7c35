"""prepaid consulting hour packs: plans bought once, the packs bought, their charges

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 14:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from levante.errors import ConfigurationError
from levante.storage.types import UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_INTERVALS_BEFORE = "\"interval\" IN ('month', 'year')"
_INTERVALS_AFTER = "\"interval\" IN ('month', 'year', 'once')"
_KINDS_BEFORE = "\"kind\" IN ('subscription', 'proration', 'carried', 'service_credit', 'services')"
_KINDS_AFTER = (
    "\"kind\" IN ('subscription', 'proration', 'carried', 'service_credit', 'services', "
    "'hour_pack')"
)


def _checks(pairs: list[tuple[str, str, str]]) -> None:
    for table, name, condition in pairs:
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(op.f(name), type_="check")
            batch.create_check_constraint(op.f(name), condition)


def upgrade() -> None:
    _checks([
        ("plans", "ck_plans_interval", _INTERVALS_AFTER),
        ("charges", "ck_charges_kind", _KINDS_AFTER),
    ])  # fmt: skip
    op.create_table(
        "support_hour_packs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("organization_id", sa.String(length=32), nullable=False),
        sa.Column("plan_id", sa.String(length=32), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("bought_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=True),
        sa.Column("charge_id", sa.String(length=32), nullable=False),
        sa.Column("bought_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"], ["organizations.id"],
            name=op.f("fk_support_hour_packs_organization_id_organizations"),
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["plans.id"], name=op.f("fk_support_hour_packs_plan_id_plans")
        ),
        sa.ForeignKeyConstraint(
            ["charge_id"], ["charges.id"], name=op.f("fk_support_hour_packs_charge_id_charges")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_support_hour_packs")),
        sa.UniqueConstraint("charge_id", name=op.f("uq_support_hour_packs_charge_id")),
    )  # fmt: skip
    op.create_index(
        "ix_support_hour_packs_org_bought", "support_hour_packs", ["organization_id", "bought_at"]
    )


def downgrade() -> None:
    bind = op.get_bind()
    bought = bind.execute(sa.text("SELECT COUNT(*) FROM support_hour_packs")).scalar()
    if bought:
        raise ConfigurationError(
            f"{bought} hour pack(s) have been bought and invoiced; the older schema cannot "
            "hold them, so this database stays at revision 0010"
        )
    op.drop_table("support_hour_packs")
    once = "SELECT id FROM plans WHERE \"interval\" = 'once'"
    bind.execute(sa.text(f"DELETE FROM plan_prices WHERE plan_id IN ({once})"))
    bind.execute(sa.text("DELETE FROM plans WHERE \"interval\" = 'once'"))
    _checks([
        ("plans", "ck_plans_interval", _INTERVALS_BEFORE),
        ("charges", "ck_charges_kind", _KINDS_BEFORE),
    ])  # fmt: skip
