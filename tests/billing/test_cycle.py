"""The billing cycle: low-balance events once per crossing, dunning after the grace period."""

from __future__ import annotations

from sqlalchemy import select

from levante import billing
from levante.audit import Actor
from levante.billing.invoices import create_top_up_invoice
from levante.billing.wallet import grant_credits
from levante.settings import BillingSettings
from levante.storage import Database
from levante.storage.models import AuditEvent, BillingAccount, Invoice
from tests.billing.conftest import record_usage, utc
from tests.helpers import make_tenant

TERMS = BillingSettings(payment_terms_days=14, dunning_grace_days=7)


def events(database: Database, org: str, action: str) -> int:
    with database.session() as session:
        return len(
            session.scalars(
                select(AuditEvent).where(
                    AuditEvent.organization_id == org, AuditEvent.action == action
                )
            ).all()
        )


def test_a_low_balance_is_reported_once_per_crossing(catalog: Database) -> None:
    org = make_tenant(catalog, "Low").organization_id
    with catalog.session() as session:
        billing.update_account(
            session, org, billing.AccountChange(low_balance_threshold="5"),
            default_currency="USD", actor=Actor("t"),
        )  # fmt: skip
        grant_credits(
            session,
            org,
            8 * 10**9,
            currency="USD",
            expires_on=None,
            now=utc(2026, 3, 1),
            actor=Actor("t"),
        )
    # $4.00 of output tokens at $0.60 per million.
    record_usage(
        catalog, org, utc(2026, 3, 2), currency="USD", prompt=0, completion=20_000_000 // 3
    )
    for day in (3, 4):
        with catalog.session() as session:
            report = billing.run_cycle(session, TERMS, utc(2026, 3, day))
        assert report.low_balance == ([org] if day == 3 else [])
    assert events(catalog, org, "wallet.low_balance") == 1
    with catalog.session() as session:
        grant_credits(
            session,
            org,
            10 * 10**9,
            currency="USD",
            expires_on=None,
            now=utc(2026, 3, 5),
            actor=Actor("t"),
        )
        billing.run_cycle(session, TERMS, utc(2026, 3, 5))
        assert not session.get_one(BillingAccount, org).low_balance_alerted
    record_usage(
        catalog, org, utc(2026, 3, 6), currency="USD", prompt=0, completion=50_000_000 // 3
    )
    with catalog.session() as session:
        assert billing.run_cycle(session, TERMS, utc(2026, 3, 7)).low_balance == [org]
    assert events(catalog, org, "wallet.low_balance") == 2


def test_an_overdue_invoice_restricts_after_the_grace_period(catalog: Database) -> None:
    org = make_tenant(catalog, "Late").organization_id
    with catalog.session() as session:
        invoice = create_top_up_invoice(
            session, org, 5000, settings=TERMS, default_currency="EUR", now=utc(2026, 3, 1)
        )
        assert invoice.due_at == utc(2026, 3, 15)
    for day, restricted in ((15, []), (21, []), (22, [org]), (23, [])):
        with catalog.session() as session:
            assert billing.run_cycle(session, TERMS, utc(2026, 3, day, 1)).restricted == restricted
    with catalog.session() as session:
        account = session.get_one(BillingAccount, org)
        assert (account.state, account.restricted_at) == ("restricted", utc(2026, 3, 22, 1))
        billing.record_payment(
            session, session.get_one(Invoice, invoice.id), provider="manual", reference="late",
            now=utc(2026, 3, 25), actor=Actor("t"),
        )  # fmt: skip
        assert account.state == "active"
    assert events(catalog, org, "account.restricted") == 1
    assert events(catalog, org, "account.restored") == 1
