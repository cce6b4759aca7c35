"""Invoices: one per organisation, calendar month and currency, with every revenue stream on it.

A period's invoice bills the month's API usage from the ledger (per model and price: input,
cached input and output tokens), every fee charged up to the month's end that no invoice has
billed yet (subscription periods, prorations, carried balances), and the prepaid credits the
month's usage burned. VAT follows the customer (``levante.billing.tax``).

An invoice is a draft until its month is closed — the month has ended, no request that started
in it can still be running (``settle_seconds``), and none holds a reservation — and is then
finalized with the next number of one sequence. The sequence's row is locked while a number is
taken, in the transaction that finalizes, so numbers are consecutive with no gaps. Generating
a period again rebuilds its drafts from the same rows and leaves finalized invoices alone, so
it changes nothing.

Amounts on an invoice are in cents. Each line is rounded once, from the ledger's nanos; totals
are sums of lines; VAT is rounded half up on the taxable total.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Select, delete, func, or_, select, update
from sqlalchemy.orm import Session

from levante import audit
from levante.audit import Actor
from levante.billing.accounts import ensure_account
from levante.billing.subscriptions import renew_due
from levante.billing.tax import TaxTreatment, treatment
from levante.billing.wallet import wallet_state
from levante.errors import ConflictError, InvalidRequestError, NotFoundError
from levante.pricing import CENT, format_amount, to_cents
from levante.settings import BillingSettings
from levante.storage import new_id, next_number
from levante.storage.models import (
    BillingAccount,
    Charge,
    Invoice,
    InvoiceLine,
    Organization,
    Price,
    Reservation,
    UsageRecord,
)
from levante.vocabulary import ChargeKind, InvoiceKind, InvoiceStatus

DRAFT, FINALIZED, PAID, VOID = InvoiceStatus
PERIOD, TOP_UP, CHARGES = InvoiceKind
_PERIOD = re.compile(r"^(\d{4})-(\d{2})$")
MAX_TOP_UP_CENTS = 100_000_000  # one million


@dataclass(frozen=True, slots=True)
class Line:
    kind: str  # usage | charge | credit | carried | top_up
    product: str
    description: str
    quantity: int
    unit: str
    unit_price: str
    amount_cents: int


def parse_period(period: str) -> tuple[datetime, datetime]:
    """``YYYY-MM`` as the month's bounds in UTC."""
    match = _PERIOD.match(period)
    if match is None or not 1 <= int(match[2]) <= 12 or not 2000 <= int(match[1]) <= 9000:
        raise InvalidRequestError(f"'{period}' is not a period; use YYYY-MM", param="period")
    year, month = int(match[1]), int(match[2])
    start = datetime(year, month, 1, tzinfo=UTC)
    days = calendar.monthrange(year, month)[1]
    return start, start + timedelta(days=days)


@dataclass(frozen=True, slots=True)
class Generated:
    invoice: Invoice
    outcome: str  # created | updated | unchanged


def organizations_to_invoice(session: Session, period: str) -> list[str]:
    """Organisations with something to bill in the period: priced usage, or fees not yet
    invoiced, or a draft to bring up to date."""
    start, end = parse_period(period)
    usage = select(UsageRecord.organization_id).where(
        UsageRecord.usage_date >= start.date(),
        UsageRecord.usage_date < end.date(),
        UsageRecord.cost_nanos > 0,
    )
    charges = select(Charge.organization_id).where(
        Charge.invoice_id.is_(None), Charge.charged_at < end
    )
    drafts = select(Invoice.organization_id).where(
        Invoice.period == period, Invoice.status == DRAFT
    )
    ids: set[str] = set()
    for query in (usage, charges, drafts):
        ids.update(session.scalars(query.distinct()))
    return sorted(ids)


def generate_for(
    session: Session,
    organization_id: str,
    period: str,
    *,
    settings: BillingSettings,
    default_currency: str,
    now: datetime,
    settle_seconds: float,
    finalize: bool = True,
) -> list[Generated]:
    """Build (or rebuild) the organisation's invoices for the period, one per currency, and
    finalize them if the period is closed and ``finalize`` is set."""
    start, end = parse_period(period)
    renew_due(session, now, organization_id)
    ensure_account(session, organization_id, default_currency)
    # One invoice run per organisation at a time: a second waits here, then finds the first's.
    account = session.get_one(
        BillingAccount, organization_id, with_for_update=True, populate_existing=True
    )
    closed = now >= end + timedelta(seconds=settle_seconds) and not session.scalar(
        select(Reservation.request_id)
        .where(Reservation.organization_id == organization_id, Reservation.started_at < end)
        .limit(1)
    )
    currencies = set(
        session.scalars(
            select(UsageRecord.currency)
            .where(
                UsageRecord.organization_id == organization_id,
                UsageRecord.usage_date >= start.date(),
                UsageRecord.usage_date < end.date(),
                UsageRecord.currency.is_not(None),
            )
            .distinct()
        )
    )
    currencies.update(
        session.scalars(
            select(Charge.currency)
            .where(
                Charge.organization_id == organization_id,
                Charge.charged_at < end,
                Charge.invoice_id.is_(None),
            )
            .distinct()
        )
    )
    currencies.update(
        session.scalars(
            select(Invoice.currency).where(
                Invoice.organization_id == organization_id,
                Invoice.period == period,
                Invoice.status == DRAFT,
            )
        )
    )
    results: list[Generated] = []
    for currency in sorted(c for c in currencies if c):
        existing = session.scalar(
            select(Invoice).where(
                Invoice.organization_id == organization_id,
                Invoice.kind == PERIOD,
                Invoice.period == period,
                Invoice.currency == currency,
                Invoice.status != VOID,
            )
        )
        if existing is not None and existing.status != DRAFT:
            results.append(Generated(existing, "unchanged"))
            continue
        invoice = existing or _new_invoice(session, account, PERIOD, currency, period, settings)
        if existing is not None:
            _clear(session, invoice)
        lines = _usage_lines(session, organization_id, currency, start, end)
        lines += _charge_lines(session, invoice, organization_id, currency, end)
        lines += _credit_lines(session, account, currency, period, end, lines)
        if not any(line.amount_cents for line in lines):
            _discard(session, invoice)
            continue
        _fill(session, invoice, lines, account, settings)
        outcome = "created" if existing is None else "updated"
        if closed and finalize:
            _finalize(session, invoice, settings, now)
        results.append(Generated(invoice, outcome))
    return results


def lock_account(session: Session, organization_id: str, default_currency: str) -> BillingAccount:
    """The organisation's billing account, row-locked for the transaction: whatever adds to
    or bills its charges takes turns with the invoice run."""
    ensure_account(session, organization_id, default_currency)
    return session.get_one(
        BillingAccount, organization_id, with_for_update=True, populate_existing=True
    )


def is_billed(session: Session, charge: Charge) -> bool:
    """Whether an issued invoice holds the charge: a draft's charges go back to the pool when
    it is rebuilt, so a charge on a draft may still change."""
    if charge.invoice_id is None:
        return False
    return session.get_one(Invoice, charge.invoice_id).status != DRAFT


def create_top_up_invoice(
    session: Session,
    organization_id: str,
    amount_cents: int,
    *,
    settings: BillingSettings,
    default_currency: str,
    now: datetime,
) -> Invoice:
    """An invoice for prepaid credits, finalized at once; paying it credits the wallet. An
    organisation has at most one unpaid top-up invoice: each takes a number of the legal
    sequence, so they are not made on a whim."""
    if not 100 <= amount_cents <= MAX_TOP_UP_CENTS:
        raise InvalidRequestError("a top-up is between 1.00 and 1,000,000.00", param="amount")
    ensure_account(session, organization_id, default_currency)
    # The account's row lock makes two concurrent top-ups take turns.
    account = session.get_one(
        BillingAccount, organization_id, with_for_update=True, populate_existing=True
    )
    open_one = session.scalar(
        select(Invoice.number).where(
            Invoice.organization_id == organization_id,
            Invoice.kind == TOP_UP,
            Invoice.status == "finalized",
        )
    )
    if open_one is not None:
        raise ConflictError(
            f"top-up invoice {open_one} is still unpaid: pay it (or have it voided) before "
            "asking for another",
            code="top_up_pending",
        )
    invoice = _new_invoice(session, account, TOP_UP, account.currency, None, settings)
    line = Line("top_up", "api", "Prepaid API credits", 1, "credit", "", amount_cents)
    _fill(session, invoice, [line], account, settings)
    _finalize(session, invoice, settings, now)
    return invoice


def invoice_pending_charges(
    session: Session,
    organization_id: str,
    *,
    settings: BillingSettings,
    default_currency: str,
    now: datetime,
    only: Sequence[str] | None = None,
) -> Invoice | None:
    """Invoice at once the fees charged so far that no invoice bills yet (a new subscription
    paid up front), or ``only`` the charges with those ids (a pack bought on its own); None
    if there are none."""
    renew_due(session, now, organization_id)
    account = lock_account(session, organization_id, default_currency)
    invoice = _new_invoice(session, account, CHARGES, account.currency, None, settings)
    lines = _charge_lines(
        session, invoice, organization_id, account.currency, now + timedelta(microseconds=1),
        only=only,
    )  # fmt: skip
    if not any(line.amount_cents for line in lines):
        _discard(session, invoice)
        return None
    _fill(session, invoice, lines, account, settings)
    _finalize(session, invoice, settings, now)
    return invoice


def void_invoice(session: Session, invoice: Invoice, *, now: datetime, actor: Actor) -> Invoice:
    """Void a finalized, unpaid invoice: its number stays used, the fees it billed go back to
    be invoiced again, and generating its period makes a new invoice. A draft is deleted."""
    if invoice.status in (PAID, VOID):
        raise ConflictError(f"invoice {invoice.number or invoice.id} is {invoice.status}")
    if invoice.paid_cents:
        raise ConflictError("an invoice with payments on it cannot be voided")
    carried = session.scalar(select(Charge).where(Charge.idempotency_key == f"carry:{invoice.id}"))
    if carried is not None:
        if carried.invoice_id is not None:
            raise ConflictError(
                "the balance this invoice carried forward is already invoiced; void that first"
            )
        session.delete(carried)
    session.execute(update(Charge).where(Charge.invoice_id == invoice.id).values(invoice_id=None))
    if invoice.status == DRAFT:
        session.delete(invoice)
        return invoice
    invoice.status, invoice.voided_at = VOID, now
    audit.record(
        session,
        organization_id=invoice.organization_id,
        actor=actor,
        action="invoice.voided",
        target=invoice.id,
        details={"number": invoice.number},
    )
    return invoice


def get_invoice(session: Session, ref: str, organization_id: str | None = None) -> Invoice:
    """An invoice by id or number; with ``organization_id``, only one of that organisation."""
    invoice = session.scalar(select(Invoice).where(or_(Invoice.id == ref, Invoice.number == ref)))
    if invoice is None or (
        organization_id is not None and invoice.organization_id != organization_id
    ):
        raise NotFoundError(f"invoice '{ref}' does not exist")
    return invoice


def invoice_lines(session: Session, invoice: Invoice) -> list[InvoiceLine]:
    return list(
        session.scalars(
            select(InvoiceLine)
            .where(InvoiceLine.invoice_id == invoice.id)
            .order_by(InvoiceLine.position)
        )
    )


def list_invoices(
    session: Session,
    organization_id: str | None = None,
    *,
    period: str | None = None,
    status: str | None = None,
    limit: int = 100,
) -> list[Invoice]:
    query = invoices_query(organization_id, period=period, status=status)
    return list(session.scalars(query.limit(limit)))


def invoices_query(
    organization_id: str | None, *, period: str | None, status: str | None
) -> Select[Any]:
    """Invoices of an organisation (every one's with None), of a month or a status, newest
    first."""
    query = select(Invoice)
    if organization_id is not None:
        query = query.where(Invoice.organization_id == organization_id)
    if period is not None:
        parse_period(period)
        query = query.where(Invoice.period == period)
    if status is not None:
        if status not in {s.value for s in InvoiceStatus}:
            raise InvalidRequestError(f"'{status}' is not an invoice status", param="status")
        query = query.where(Invoice.status == status)
    return query.order_by(Invoice.created_at.desc(), Invoice.id.desc())


# -- building -------------------------------------------------------------------------------------


def _new_invoice(
    session: Session,
    account: BillingAccount,
    kind: str,
    currency: str,
    period: str | None,
    settings: BillingSettings,
) -> Invoice:
    invoice = Invoice(
        id=new_id("inv"),
        organization_id=account.organization_id,
        kind=kind,
        period=period,
        currency=currency,
        status=DRAFT,
        customer={},
        seller={},
        tax_scheme="none",
        tax_rate="0",
        tax_note="",
    )
    session.add(invoice)
    session.flush()
    return invoice


def _clear(session: Session, invoice: Invoice) -> None:
    session.execute(delete(InvoiceLine).where(InvoiceLine.invoice_id == invoice.id))
    session.execute(update(Charge).where(Charge.invoice_id == invoice.id).values(invoice_id=None))


def _discard(session: Session, invoice: Invoice) -> None:
    _clear(session, invoice)
    session.delete(invoice)
    session.flush()


def _usage_lines(
    session: Session, organization_id: str, currency: str, start: datetime, end: datetime
) -> list[Line]:
    rows = session.execute(
        select(
            UsageRecord.product,
            UsageRecord.model,
            UsageRecord.price_id,
            func.sum(UsageRecord.prompt_tokens - UsageRecord.cached_tokens),
            func.sum(UsageRecord.cached_tokens),
            func.sum(UsageRecord.completion_tokens),
            func.sum(UsageRecord.input_cost_nanos),
            func.sum(UsageRecord.cached_cost_nanos),
            func.sum(UsageRecord.output_cost_nanos),
        )
        .where(
            UsageRecord.organization_id == organization_id,
            UsageRecord.currency == currency,
            UsageRecord.usage_date >= start.date(),
            UsageRecord.usage_date < end.date(),
        )
        .group_by(UsageRecord.product, UsageRecord.model, UsageRecord.price_id)
        .order_by(UsageRecord.product, UsageRecord.model, UsageRecord.price_id)
    ).all()
    prices = {
        p.id: p
        for p in session.scalars(select(Price).where(Price.id.in_({r[2] for r in rows if r[2]})))
    }
    lines: list[Line] = []
    for product, model, price_id, fresh, cached, output, c_in, c_cached, c_out in rows:
        price = prices.get(price_id) if price_id else None
        # Usage a self-hosted site reported is told apart from usage of the API.
        name = f"{model} (self-hosted)" if product == "enterprise" else model
        for what, tokens, cost, rate in (
            ("input tokens", fresh, c_in, price.input_nanos if price else None),
            ("cached input tokens", cached, c_cached, price.cached_input_nanos if price else None),
            ("output tokens", output, c_out, price.output_nanos if price else None),
        ):
            if not tokens:
                continue
            lines.append(
                Line(
                    "usage",
                    product,
                    f"{name}: {what}",
                    int(tokens),
                    "tokens",
                    "" if rate is None else f"{format_amount(rate)} / 1M",
                    to_cents(int(cost or 0)),
                )
            )
    return lines


def _charge_lines(
    session: Session,
    invoice: Invoice,
    organization_id: str,
    currency: str,
    until: datetime,
    *,
    only: Sequence[str] | None = None,
) -> list[Line]:
    query = select(Charge).where(
        Charge.organization_id == organization_id,
        Charge.currency == currency,
        Charge.invoice_id.is_(None),
        Charge.charged_at < until,
    )
    if only is not None:
        query = query.where(Charge.id.in_(only))
    charges = session.scalars(query.order_by(Charge.charged_at, Charge.created_at, Charge.id)).all()
    lines = []
    for charge in charges:
        charge.invoice_id = invoice.id
        unit, unit_price = "unit", ""
        if charge.kind in (ChargeKind.SUBSCRIPTION, ChargeKind.HOUR_PACK):
            unit_price = format_amount(charge.amount_nanos // charge.quantity)
        elif charge.kind == ChargeKind.SERVICES:
            unit = "minute"  # consulting time, its rate in the description
        # A support contract's service credit is a credit on the invoice, like prepaid ones.
        kind = "credit" if charge.kind == ChargeKind.SERVICE_CREDIT else "charge"
        lines.append(
            Line(
                kind,
                charge.product,
                charge.description,
                charge.quantity,
                unit,
                unit_price,
                to_cents(charge.amount_nanos),
            )
        )
    return lines


def _credit_lines(
    session: Session,
    account: BillingAccount,
    currency: str,
    period: str,
    end: datetime,
    lines: Sequence[Line],
) -> list[Line]:
    if currency != account.currency:
        return []
    state = wallet_state(
        session, account.organization_id, currency, end - timedelta(microseconds=1)
    )
    grants, top_ups = state.consumed_by_month.get(period, (0, 0))
    room = sum(line.amount_cents for line in lines if line.kind == "usage")
    out = []
    for what, nanos in (("Free credits applied", grants), ("Prepaid credits applied", top_ups)):
        cents = min(to_cents(nanos), room)
        if cents > 0:
            out.append(Line("credit", "api", what, 1, "", "", -cents))
            room -= cents
    return out


def tax_treatment(account: BillingAccount, settings: BillingSettings) -> TaxTreatment:
    """The VAT an invoice to this account carries (the one rule for invoices and prices)."""
    return _treatment(account, settings)


def _treatment(account: BillingAccount, settings: BillingSettings) -> TaxTreatment:
    return treatment(
        seller_country=settings.seller_country,
        customer_country=account.country,
        is_business=account.is_business,
        vat_number=account.vat_number,
        overrides=settings.vat_rates,
    )


def _fill(
    session: Session,
    invoice: Invoice,
    lines: list[Line],
    account: BillingAccount,
    settings: BillingSettings,
) -> None:
    tax = _treatment(account, settings)
    subtotal = sum(line.amount_cents for line in lines if line.kind != "credit")
    credits = -sum(line.amount_cents for line in lines if line.kind == "credit")
    taxable = subtotal - credits
    if taxable < 0:  # more credited (a downgrade) than owed: carry it to the next invoice
        lines = [
            *lines,
            Line("carried", "api", "Balance carried to the next invoice", 1, "", "", -taxable),
        ]
        subtotal, taxable = subtotal - taxable, 0
    for position, line in enumerate(lines, start=1):
        session.add(
            InvoiceLine(
                invoice_id=invoice.id,
                position=position,
                kind=line.kind,
                product=line.product,
                description=line.description[:300],
                quantity=line.quantity,
                unit=line.unit,
                unit_price=line.unit_price,
                amount_cents=line.amount_cents,
            )
        )
    _snapshot_parties(session, invoice, settings)
    invoice.tax_scheme = tax.scheme
    invoice.tax_rate = tax.rate_text
    invoice.tax_note = tax.note
    invoice.subtotal_cents = subtotal
    invoice.credits_cents = credits
    invoice.taxable_cents = taxable
    invoice.tax_cents = tax.tax_cents(taxable)
    invoice.total_cents = taxable + invoice.tax_cents
    session.flush()


def _finalize(session: Session, invoice: Invoice, settings: BillingSettings, now: datetime) -> None:
    invoice.number = _next_number(session, settings.invoice_prefix)
    invoice.status = FINALIZED
    invoice.issued_at = now
    invoice.due_at = now + timedelta(days=settings.payment_terms_days)
    if invoice.total_cents == 0:
        invoice.status, invoice.paid_at = PAID, now
    carried = session.scalar(
        select(InvoiceLine.amount_cents).where(
            InvoiceLine.invoice_id == invoice.id, InvoiceLine.kind == "carried"
        )
    )
    if carried:
        session.add(
            Charge(
                id=new_id("ch"),
                organization_id=invoice.organization_id,
                kind="carried",
                product="api",
                description=f"Balance carried from invoice {invoice.number}",
                quantity=1,
                amount_nanos=-carried * CENT,
                currency=invoice.currency,
                charged_at=now,
                idempotency_key=f"carry:{invoice.id}",
            )
        )
    audit.record(
        session,
        organization_id=invoice.organization_id,
        actor="billing",
        action="invoice.finalized",
        target=invoice.id,
        details={"number": invoice.number, "total": invoice.total_cents, "kind": invoice.kind},
    )
    session.flush()


def _next_number(session: Session, prefix: str) -> str:
    return f"{prefix}-{next_number(session, 'invoice'):06d}"


def _snapshot_parties(session: Session, invoice: Invoice, settings: BillingSettings) -> None:
    """Copy who buys and who sells onto the invoice (every build of it, finalizing included,
    starts with :func:`_fill`): a finalized invoice keeps them as they were when issued."""
    account = session.get_one(BillingAccount, invoice.organization_id)
    org = session.get_one(Organization, invoice.organization_id)
    invoice.customer = _customer(account, org)
    invoice.seller = seller_of(settings)


def seller_of(settings: BillingSettings) -> dict[str, Any]:
    """Who sells, as an invoice prints them: name, address, VAT number and bank account."""
    return {
        "name": settings.seller_name,
        "address": settings.seller_address,
        "country": settings.seller_country,
        "vat_number": settings.seller_vat_number,
        "iban": settings.seller_iban,
        "bic": settings.seller_bic,
    }


def _customer(account: BillingAccount, org: Organization) -> dict[str, Any]:
    return {
        "organization_id": org.id,
        "name": account.legal_name or org.name,
        "email": account.email,
        "address": account.address,
        "country": account.country,
        "vat_number": account.vat_number,
        "is_business": account.is_business,
    }
