"""The acceptance month: three customers, one on each revenue stream, invoiced for October 2026
and checked against totals recomputed here from the ledger and the catalogue alone."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pypdfium2
import stripe
from PIL import Image
from sqlalchemy import select

from levante import billing
from levante.audit import Actor
from levante.billing.invoices import Generated, create_top_up_invoice
from levante.billing.wallet import grant_credits, wallet_state
from levante.storage import Database
from levante.storage.models import Charge, Invoice, InvoiceLine, InvoiceSequence, UsageRecord
from tests.billing.conftest import RATES, SELLER, record_usage, utc
from tests.helpers import make_tenant

WEBHOOK_SECRET = "whsec_test_month"
SETTINGS = SELLER.model_copy(update={"stripe_webhook_secret": WEBHOOK_SECRET})
CLOSE = utc(2026, 11, 2, 6)  # the invoice run, after October has closed


def cents(amount: Decimal) -> int:
    return int((amount * 100).to_integral_value(ROUND_HALF_UP))


def generate(database: Database, period: str, now: datetime) -> list[Generated]:
    run = billing.invoice_period(
        database,
        Actor.command_line(),
        period,
        settings=SETTINGS,
        default_currency="USD",
        settle_seconds=3600,
        now=now,
    )
    return run.results


def snapshot(database: Database) -> list[tuple[Any, ...]]:
    with database.session() as session:
        invoices = session.scalars(select(Invoice).order_by(Invoice.id)).all()
        return [
            (
                i.id, i.number, i.status, i.total_cents, i.tax_cents, i.issued_at,
                [(x.description, x.amount_cents) for x in session.scalars(
                    select(InvoiceLine).where(InvoiceLine.invoice_id == i.id).order_by(InvoiceLine.position))],
            )
            for i in invoices
        ]  # fmt: skip


def signed(payload: dict[str, Any]) -> tuple[bytes, str]:
    body = json.dumps(payload)
    return body.encode(), stripe.WebhookSignature.generate_signature_header(body, WEBHOOK_SECRET)


def usage_cost(database: Database, org: str, currency: str) -> dict[str, Decimal]:
    """What October's usage costs, per day, from the ledger's token counts and the catalogue's
    rates (not from the costs the ledger stored)."""
    fresh, cached, output = (Decimal(r) / 1_000_000 for r in RATES[currency])
    per_day: dict[str, Decimal] = {}
    with database.session() as session:
        for r in session.scalars(select(UsageRecord).where(UsageRecord.organization_id == org)):
            cost = (r.prompt_tokens - r.cached_tokens) * fresh + r.cached_tokens * cached
            cost += r.completion_tokens * output
            per_day[r.usage_date.isoformat()] = per_day.get(r.usage_date.isoformat(), 0) + cost
    return per_day


def test_a_month_of_three_customers(catalog: Database, tmp_path: Path) -> None:
    database = catalog
    apex = make_tenant(database, "Apex Inc").organization_id  # US, API only, prepaid
    bleu = make_tenant(database, "Camille Bleu").organization_id  # French consumer, chat
    carl = make_tenant(database, "Carl GmbH").organization_id  # German business, enterprise
    with database.session() as session:
        for org, change in (
            (apex, billing.AccountChange(country="US", is_business=True, prepaid_only=True)),
            (bleu, billing.AccountChange(country="FR", currency="EUR")),
            (carl, billing.AccountChange(country="DE", is_business=True, currency="EUR",
                                         vat_number="DE123456789", legal_name="Carl GmbH")),
        ):  # fmt: skip
            billing.update_account(
                session, org, change, default_currency="USD", actor=Actor("test")
            )

    # Apex buys $50 of credits in September and pays through Stripe; it also gets $10 free
    # credits that expire on October 15.
    with database.session() as session:
        top_up = create_top_up_invoice(
            session, apex, 5000, settings=SETTINGS, default_currency="USD", now=utc(2026, 9, 28, 10)
        )
        top_up_id = top_up.id
    event = {
        "id": "evt_topup_1",
        "type": "checkout.session.completed",
        "data": {"object": {"id": "cs_test_1", "payment_status": "paid", "amount_total": 5000,
                            "currency": "usd", "metadata": {"invoice_id": top_up_id}}},
    }  # fmt: skip
    payload, header = signed(event)
    with database.session() as session:
        outcome = billing.handle_stripe_webhook(
            session, payload, header, settings=SETTINGS, now=utc(2026, 9, 28, 10, 5)
        )
        assert outcome.result == "paid"
        grant_credits(
            session, apex, 10 * 10**9, currency="USD", expires_on=date(2026, 10, 15),
            now=utc(2026, 9, 30, 12), actor=Actor("test"),
        )  # fmt: skip
    for day, prompt, cached, completion in (
        (3, 5_000_000, 0, 5_000_000),
        (10, 4_000_000, 1_000_000, 4_000_000),
        (20, 20_000_000, 0, 25_000_000),
        (25, 10_000_000, 0, 10_000_000),
    ):
        record_usage(database, apex, utc(2026, 10, day, 14), currency="USD", prompt=prompt,
                     cached=cached, completion=completion)  # fmt: skip

    # Camille subscribes to Chat Pro on October 1 and moves to Chat Team with 3 seats on
    # October 16; she also uses the API a little.
    with database.session() as session:
        pro = billing.subscribe(session, bleu, "chat-pro-monthly", now=utc(2026, 10, 1, 9),
                                default_currency="USD", actor=Actor("test"))  # fmt: skip
        billing.change(session, bleu, pro.id, plan_code="chat-team-monthly", quantity=3,
                       now=utc(2026, 10, 16, 12), actor=Actor("test"))  # fmt: skip
    record_usage(database, bleu, utc(2026, 10, 12, 8), currency="EUR", prompt=1_000_000,
                 completion=1_000_000)  # fmt: skip

    # Carl GmbH signs a 50-seat licence and premium support for a year from October 1, and
    # uses the API on its own account.
    with database.session() as session:
        billing.subscribe(session, carl, "enterprise-seat", quantity=50, now=utc(2026, 10, 1),
                          default_currency="USD", actor=Actor("test"))  # fmt: skip
        billing.subscribe(session, carl, "support-premium", now=utc(2026, 10, 1),
                          default_currency="USD", actor=Actor("test"))  # fmt: skip
    record_usage(database, carl, utc(2026, 10, 5, 16), currency="EUR", prompt=100_000_000,
                 completion=50_000_000)  # fmt: skip

    first = generate(database, "2026-10", CLOSE)
    assert sorted(r.outcome for r in first) == ["created"] * 3
    with database.session() as session:
        by_org = {
            i.organization_id: i
            for i in session.scalars(select(Invoice).where(Invoice.period == "2026-10"))
        }
        assert all(i.status in ("finalized", "paid") for i in by_org.values())

        # Apex: usage covered by credits, first from the grant (until it expires), then from
        # the top-up; nothing to pay, no VAT outside the EU.
        days = usage_cost(database, apex, "USD")
        grant_left, grant_used, top_up_used = Decimal(10), Decimal(0), Decimal(0)
        for usage_day, cost in sorted(days.items()):
            from_grant = min(grant_left, cost) if usage_day < "2026-10-15" else Decimal(0)
            grant_left -= from_grant
            grant_used += from_grant
            top_up_used += cost - from_grant
        usage = sum(days.values(), Decimal(0))
        invoice = by_org[apex]
        assert invoice.currency == "USD"
        assert invoice.subtotal_cents == cents(usage) == 3402
        assert invoice.credits_cents == cents(grant_used) + cents(top_up_used) == 3402
        assert (invoice.tax_scheme, invoice.tax_cents, invoice.total_cents) == ("outside_eu", 0, 0)
        assert invoice.status == "paid"
        wallet = wallet_state(session, apex, "USD", CLOSE)
        assert wallet.expired_nanos == (10 - grant_used) * 10**9
        assert wallet.balance_nanos == (50 - top_up_used) * 10**9

        # Camille: Chat Pro for October, the unused half-month credited, Chat Team x3 for the
        # rest of the period, and API usage; French VAT at 20%.
        start, switch, end = utc(2026, 10, 1, 9), utc(2026, 10, 16, 12), utc(2026, 11, 1, 9)
        share = Decimal((end - switch).total_seconds()) / Decimal((end - start).total_seconds())
        api = sum(usage_cost(database, bleu, "EUR").values(), Decimal(0))
        lines = [
            cents(Decimal("0.18")), cents(Decimal("0.54")),  # API input, output
            cents(Decimal("14.99")),
            -cents(Decimal("14.99") * share),
            cents(Decimal("24.99") * 3 * share),
        ]  # fmt: skip
        assert api == Decimal("0.72")
        invoice = by_org[bleu]
        amounts = session.scalars(
            select(InvoiceLine.amount_cents).where(InvoiceLine.invoice_id == invoice.id)
        ).all()
        assert sorted(amounts) == sorted(lines)
        subtotal = sum(lines)
        vat = cents(Decimal(subtotal) / 100 * Decimal("0.20"))
        assert (invoice.subtotal_cents, invoice.tax_cents) == (subtotal, vat)
        assert invoice.total_cents == subtotal + vat == 5570
        assert (invoice.tax_scheme, invoice.tax_rate) == ("standard", "20")

        # Carl GmbH: a year of 50 seats and of premium support, and its usage; reverse charge.
        api = sum(usage_cost(database, carl, "EUR").values(), Decimal(0))
        expected = cents(Decimal(600) * 50) + cents(Decimal(24000)) + cents(api)
        invoice = by_org[carl]
        assert invoice.subtotal_cents == invoice.total_cents == expected == 5404500
        assert (invoice.tax_scheme, invoice.tax_cents) == ("reverse_charge", 0)
        assert "DE123456789" in invoice.tax_note
        assert "Article 196" in invoice.tax_note

        # November's renewals exist but belong to November's invoice.
        renewals = session.scalars(
            select(Charge).where(Charge.charged_at >= utc(2026, 11, 1))
        ).all()
        assert [c.amount_nanos for c in renewals] == [parse(74.97)]
        assert renewals[0].invoice_id is None

    # Running the period again changes nothing; numbers run on without a gap.
    before = snapshot(database)
    again = generate(database, "2026-10", utc(2026, 11, 3))
    assert sorted(r.outcome for r in again) == ["unchanged"] * 3
    assert snapshot(database) == before
    with database.session() as session:
        numbers = sorted(n for n in session.scalars(select(Invoice.number)) if n)
        assert numbers == [f"LEV-{n:06d}" for n in range(1, 5)]
        assert session.get_one(InvoiceSequence, "invoice").last_number == 4

        # Every invoice's PDF opens, renders to a picture, and shows every line.
        for invoice in session.scalars(select(Invoice)):
            printed = billing.invoice_lines(session, invoice)
            pdf = billing.render_pdf(invoice, printed)
            picture = render_png(pdf, tmp_path / f"{invoice.number}.png")
            assert picture.convert("L").getextrema() == (0, 255)  # ink on paper
            text = pdf_text(pdf)
            assert invoice.number
            assert invoice.number in text
            for line in printed:
                assert line.description[:40] in text, line.description
                assert billing_amount(line.amount_cents) in text


def parse(amount: float) -> int:
    return int(Decimal(str(amount)) * 10**9)


def billing_amount(amount_cents: int) -> str:
    from levante.pricing import format_cents

    return format_cents(amount_cents)


def render_png(pdf: bytes, path: Path) -> Image.Image:
    document = pypdfium2.PdfDocument(pdf)
    try:
        picture = document[0].render(scale=1.5).to_pil()
    finally:
        document.close()
    picture.save(path)
    return Image.open(path)


def pdf_text(pdf: bytes) -> str:
    document = pypdfium2.PdfDocument(pdf)
    try:
        return "\n".join(page.get_textpage().get_text_range() for page in document)
    finally:
        document.close()
