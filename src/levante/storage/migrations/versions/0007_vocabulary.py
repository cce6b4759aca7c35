"""the domain's words as CHECK constraints: statuses, kinds, roles, products and currencies

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 01:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from levante.errors import ConfigurationError

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# A frozen copy of the sets in levante.vocabulary as of this revision (the licence tables'
# statuses had theirs from 0005).
CHECKS: dict[str, list[tuple[str, str]]] = {
    "billing_accounts": [
        ("ck_billing_accounts_currency", "\"currency\" IN ('EUR', 'USD')"),
        ("ck_billing_accounts_state", "\"state\" IN ('active', 'restricted')"),
    ],
    "charges": [
        ("ck_charges_currency", "\"currency\" IN ('EUR', 'USD')"),
        ("ck_charges_kind", "\"kind\" IN ('subscription', 'proration', 'carried')"),
        ("ck_charges_product", "\"product\" IN ('api', 'chat', 'enterprise', 'support')"),
    ],
    "invitations": [
        ("ck_invitations_role", "\"role\" IN ('owner', 'admin', 'billing', 'member')"),
    ],
    "invoice_lines": [
        ("ck_invoice_lines_kind", "\"kind\" IN ('usage', 'charge', 'credit', 'top_up', 'carried')"),
        ("ck_invoice_lines_product", "\"product\" IN ('api', 'chat', 'enterprise', 'support')"),
    ],
    "invoices": [
        ("ck_invoices_currency", "\"currency\" IN ('EUR', 'USD')"),
        ("ck_invoices_kind", "\"kind\" IN ('period', 'top_up', 'charges')"),
        ("ck_invoices_status", "\"status\" IN ('draft', 'finalized', 'paid', 'void')"),
    ],
    "memberships": [
        ("ck_memberships_role", "\"role\" IN ('owner', 'admin', 'billing', 'member')"),
    ],
    "paid_spend": [
        ("ck_paid_spend_currency", "\"currency\" IN ('EUR', 'USD')"),
    ],
    "payments": [
        ("ck_payments_currency", "\"currency\" IN ('EUR', 'USD')"),
        ("ck_payments_provider", "\"provider\" IN ('manual', 'stripe')"),
    ],
    "plan_prices": [
        ("ck_plan_prices_currency", "\"currency\" IN ('EUR', 'USD')"),
    ],
    "plans": [
        ("ck_plans_interval", "\"interval\" IN ('month', 'year')"),
        ("ck_plans_product", "\"product\" IN ('api', 'chat', 'enterprise', 'support')"),
        ("ck_plans_unit", "\"unit\" IN ('flat', 'seat', 'gpu')"),
    ],
    "prices": [
        ("ck_prices_currency", "\"currency\" IN ('EUR', 'USD')"),
    ],
    "reservations": [
        ("ck_reservations_product", "\"product\" IN ('api', 'chat', 'enterprise', 'support')"),
    ],
    "subscriptions": [
        ("ck_subscriptions_currency", "\"currency\" IN ('EUR', 'USD')"),
        ("ck_subscriptions_status", "\"status\" IN ('trialing', 'active', 'canceled')"),
    ],
    "usage_records": [
        ("ck_usage_records_currency", "\"currency\" IS NULL OR \"currency\" IN ('EUR', 'USD')"),
        ("ck_usage_records_product", "\"product\" IN ('api', 'chat', 'enterprise', 'support')"),
        (
            "ck_usage_records_status",
            "\"status\" IN ('completed', 'cancelled', 'failed', 'interrupted')",
        ),
    ],
    "wallet_entries": [
        ("ck_wallet_entries_currency", "\"currency\" IN ('EUR', 'USD')"),
        ("ck_wallet_entries_kind", "\"kind\" IN ('top_up', 'grant')"),
    ],
    "webhook_events": [
        ("ck_webhook_events_provider", "\"provider\" IN ('manual', 'stripe')"),
    ],
}


def upgrade() -> None:
    bind = op.get_bind()
    wrong = []
    for table, checks in CHECKS.items():
        for _, condition in checks:
            column = condition.split()[0]  # "quoted"
            rows = bind.execute(
                sa.text(f"SELECT DISTINCT {column} FROM {table} WHERE NOT ({condition})")
            ).all()
            name = column.strip('"')
            wrong += [f"{table}.{name} = {row[0]!r}" for row in rows]
    if wrong:
        raise ConfigurationError(
            "the database holds values Levante does not know; correct them, then upgrade: "
            + ", ".join(wrong)
        )
    for table, checks in CHECKS.items():
        with op.batch_alter_table(table) as batch:
            for name, condition in checks:
                batch.create_check_constraint(op.f(name), condition)


def downgrade() -> None:
    for table, checks in CHECKS.items():
        with op.batch_alter_table(table) as batch:
            for name, _ in checks:
                batch.drop_constraint(op.f(name), type_="check")
