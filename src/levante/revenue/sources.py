"""What the revenue figures are read from: the charges subscriptions made (with the end of
their subscription), the lines of issued invoices, and the payments against them. Each
reader is one grouped query; nothing here is kept or copied."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from levante.revenue.months import end_of, month_of, start_of
from levante.storage.models import (
    BillingAccount,
    Charge,
    Invoice,
    InvoiceLine,
    Organization,
    Payment,
    Subscription,
)
from levante.vocabulary import ChargeKind, InvoiceKind, InvoiceStatus, LineKind

ISSUED = (InvoiceStatus.FINALIZED, InvoiceStatus.PAID)
RECURRING = (ChargeKind.SUBSCRIPTION, ChargeKind.PRORATION)


@dataclass(frozen=True, slots=True)
class RecurringCharge:
    """A subscription's period charge or proration, and when its subscription ended."""

    id: str
    organization_id: str
    subscription_id: str
    kind: str
    stream: str
    amount_nanos: int
    currency: str
    period_start: datetime
    period_end: datetime
    ended_at: datetime | None


@dataclass(frozen=True, slots=True)
class InvoicedAmount:
    """What one organisation's issued invoices billed in a month, per stream and line kind,
    before tax (in cents of the invoice's currency)."""

    organization_id: str
    month: str
    stream: str
    line_kind: str
    currency: str
    cents: int


@dataclass(frozen=True, slots=True)
class Collected:
    """A payment, and the month it arrived in."""

    organization_id: str
    invoice_id: str
    month: str
    cents: int
    currency: str


@dataclass(frozen=True, slots=True)
class InvoiceShape:
    """An issued invoice's total with tax, and its lines' sums per stream before tax."""

    total_cents: int
    streams: dict[str, int]


def recurring_charges(
    session: Session, until: datetime, organization_id: str | None = None
) -> list[RecurringCharge]:
    """Every subscription charge and proration that began before ``until``."""
    query = (
        select(
            Charge.id,
            Charge.organization_id,
            Charge.subscription_id,
            Charge.kind,
            Charge.product,
            Charge.amount_nanos,
            Charge.currency,
            Charge.period_start,
            Charge.period_end,
            Subscription.ended_at,
        )
        .join(Subscription, Subscription.id == Charge.subscription_id)
        .where(
            Charge.kind.in_(RECURRING),
            Charge.period_start.is_not(None),
            Charge.period_end.is_not(None),
            Charge.period_start < until,
        )
    )
    if organization_id is not None:
        query = query.where(Charge.organization_id == organization_id)
    out = []
    for id_, org, sub, kind, stream, amount, currency, start, end, ended in session.execute(query):
        assert sub is not None  # joined to its subscription
        assert start is not None  # as filtered
        assert end is not None
        out.append(
            RecurringCharge(id_, org, sub, kind, stream, amount, currency, start, end, ended)
        )
    return out


def invoiced(
    session: Session, first: str, last: str, organization_id: str | None = None
) -> list[InvoicedAmount]:
    """The issued invoices' lines from ``first`` to ``last``, summed per organisation, month,
    stream and line kind. A month's invoice belongs to its period; an invoice made on its own
    (prepaid credits, an hour pack) to the month it was issued in."""
    rows: list[InvoicedAmount] = []
    lo, hi = start_of(first), end_of(last)
    by_period = (
        select(
            Invoice.organization_id,
            Invoice.period,
            InvoiceLine.product,
            InvoiceLine.kind,
            Invoice.currency,
            func.sum(InvoiceLine.amount_cents),
        )
        .join(InvoiceLine, InvoiceLine.invoice_id == Invoice.id)
        .where(
            Invoice.status.in_(ISSUED),
            Invoice.kind == InvoiceKind.PERIOD,
            Invoice.period >= first,
            Invoice.period <= last,
        )
        .group_by(
            Invoice.organization_id,
            Invoice.period,
            InvoiceLine.product,
            InvoiceLine.kind,
            Invoice.currency,
        )
    )
    if organization_id is not None:
        by_period = by_period.where(Invoice.organization_id == organization_id)
    for org, period, stream, kind, currency, cents in session.execute(by_period):
        assert period is not None  # a month's invoice has its period
        rows.append(InvoicedAmount(org, period, stream, kind, currency, int(cents or 0)))
    alone = (
        select(
            Invoice.organization_id,
            Invoice.issued_at,
            InvoiceLine.product,
            InvoiceLine.kind,
            Invoice.currency,
            InvoiceLine.amount_cents,
        )
        .join(InvoiceLine, InvoiceLine.invoice_id == Invoice.id)
        .where(
            Invoice.status.in_(ISSUED),
            Invoice.kind != InvoiceKind.PERIOD,
            Invoice.issued_at >= lo,
            Invoice.issued_at < hi,
        )
    )
    if organization_id is not None:
        alone = alone.where(Invoice.organization_id == organization_id)
    for org, issued_at, stream, kind, currency, cents in session.execute(alone):
        assert issued_at is not None  # an issued invoice
        rows.append(InvoicedAmount(org, month_of(issued_at), stream, kind, currency, int(cents)))
    return rows


def payments(
    session: Session, first: str, last: str, organization_id: str | None = None
) -> tuple[list[Collected], dict[str, InvoiceShape]]:
    """The payments received from ``first`` to ``last``, and the shape of each invoice they
    paid (to share a payment out between the streams it paid for)."""
    query = select(
        Payment.organization_id, Payment.invoice_id, Payment.created_at, Payment.amount_cents,
        Payment.currency,
    ).where(Payment.created_at >= start_of(first), Payment.created_at < end_of(last))  # fmt: skip
    if organization_id is not None:
        query = query.where(Payment.organization_id == organization_id)
    paid = [
        Collected(org, invoice, month_of(at), int(cents), currency)
        for org, invoice, at, cents, currency in session.execute(query)
    ]
    shapes: dict[str, InvoiceShape] = {}
    ids = sorted({p.invoice_id for p in paid})
    for chunk in (ids[i : i + 500] for i in range(0, len(ids), 500)):
        lines = session.execute(
            select(
                Invoice.id,
                Invoice.total_cents,
                InvoiceLine.product,
                func.sum(InvoiceLine.amount_cents),
            )
            .join(InvoiceLine, InvoiceLine.invoice_id == Invoice.id)
            .where(Invoice.id.in_(chunk))
            .group_by(Invoice.id, Invoice.total_cents, InvoiceLine.product)
        )
        for invoice_id, total, stream, cents in lines:
            shape = shapes.setdefault(invoice_id, InvoiceShape(int(total), {}))
            shape.streams[stream] = int(cents or 0)
    return paid, shapes


@dataclass(frozen=True, slots=True)
class Customer:
    id: str
    name: str
    slug: str
    currency: str | None
    is_operator: bool


def customers(session: Session, ids: set[str] | None = None) -> dict[str, Customer]:
    """The organisations by id, with their billing currency."""
    query = select(
        Organization.id, Organization.name, Organization.slug, BillingAccount.currency,
        Organization.is_operator,
    ).outerjoin(BillingAccount, BillingAccount.organization_id == Organization.id)  # fmt: skip
    if ids is not None:
        query = query.where(Organization.id.in_(ids)) if len(ids) <= 500 else query
    return {row[0]: Customer(*row) for row in session.execute(query)}


USAGE = LineKind.USAGE
